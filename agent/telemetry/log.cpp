#include "agent/telemetry/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <unordered_map>

namespace vigil::telemetry {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

struct Limited {
  std::chrono::steady_clock::time_point last{};
  std::uint64_t suppressed = 0;
};

std::mutex& limiter_mutex() {
  static std::mutex m;
  return m;
}
std::unordered_map<std::string, Limited>& limiter() {
  static std::unordered_map<std::string, Limited> m;
  return m;
}

constexpr auto kLimitWindow = std::chrono::seconds(10);
constexpr std::size_t kMaxLimiterKeys = 10000;

const char* level_text(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

void write_line(Level level, std::string_view component, std::string_view message, std::uint64_t suppressed) {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line;
  line.reserve(64 + component.size() + message.size());
  line.append(ts);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms));
  line.append(frac);
  line.append(" ");
  line.append(level_text(level));
  line.append(" ");
  if (!component.empty()) {
    line.append(component);
    line.append(": ");
  }
  for (char c : message) line.push_back(c == '\n' ? ' ' : c);
  if (suppressed != 0) {
    line.append(" (");
    line.append(std::to_string(suppressed));
    line.append(" similar messages suppressed)");
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void set_log_level(Level level) { g_level.store(static_cast<int>(level)); }
Level log_level() { return static_cast<Level>(g_level.load()); }

bool parse_level(std::string_view text, Level& out) {
  if (text == "debug") out = Level::kDebug;
  else if (text == "info") out = Level::kInfo;
  else if (text == "warn" || text == "warning") out = Level::kWarn;
  else if (text == "error") out = Level::kError;
  else return false;
  return true;
}

void log(Level level, std::string_view component, std::string_view message) {
  if (static_cast<int>(level) < g_level.load()) return;
  write_line(level, component, message, 0);
}

void log_limited(Level level, std::string_view key, std::string_view component, std::string_view message) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::uint64_t suppressed = 0;
  {
    std::lock_guard lock(limiter_mutex());
    auto& map = limiter();
    if (map.size() >= kMaxLimiterKeys) map.clear();  // bounded: forget old keys rather than grow
    Limited& entry = map[std::string(key)];
    auto now = std::chrono::steady_clock::now();
    if (entry.last != std::chrono::steady_clock::time_point{} && now - entry.last < kLimitWindow) {
      ++entry.suppressed;
      return;
    }
    entry.last = now;
    suppressed = entry.suppressed;
    entry.suppressed = 0;
  }
  write_line(level, component, message, suppressed);
}

}  // namespace vigil::telemetry
