#pragma once
// The agent's own log: one line per event on stderr, with a level. Repeated messages under the
// same key are rate-limited (at most one per key every 10 s; the next one says how many were
// suppressed). Thread-safe. Callers never pass secrets.

#include <string>
#include <string_view>

namespace vigil::telemetry {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_log_level(Level level);
Level log_level();
// Parses "debug", "info", "warn", "error"; false when unknown.
bool parse_level(std::string_view text, Level& out);

void log(Level level, std::string_view component, std::string_view message);
// Rate-limited by `key` (for example component + reason).
void log_limited(Level level, std::string_view key, std::string_view component, std::string_view message);

}  // namespace vigil::telemetry
