#pragma once
// Severity mapping of the stanza operators: a preset (`default`, `none`, `otel`/`aliases`) plus
// the user's `mapping` (alias -> value | list | {min, max} | 2xx..5xx), looked up case-insensitively
// without allocation. Severity numbers are OpenTelemetry's (1 trace .. 24 fatal4, 0 unset).
//
// Thread-safety: immutable after build; lookups from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/config/value.hpp"

namespace vigil::collectors::filelog::ops {

class SeverityMapping {
 public:
  // Builds from `preset` (null: default) and `mapping` (null: none). Problems are returned as
  // (location, message) pairs.
  bool build(const config::Value* preset, const config::Value* mapping,
             std::vector<std::pair<config::Location, std::string>>& problems);

  // The severity number of a value, or 0 when the mapping does not know it.
  int lookup(std::string_view text) const;
  int lookup(std::int64_t number) const;

  // "TRACE" .. "FATAL4" (the spec's short names), for overwrite_text.
  static std::string_view short_name(int severity);

 private:
  struct Range {
    std::int64_t min;
    std::int64_t max;
    int severity;
  };
  void add_exact(std::string key, int severity);
  void add_range(std::int64_t min, std::int64_t max, int severity);
  bool add_values(const config::Value& v, int severity,
                  std::vector<std::pair<config::Location, std::string>>& problems);

  std::vector<std::pair<std::string, int>> exact_;  // lower-case keys, sorted after build
  std::vector<Range> ranges_;                       // later ones win
  std::size_t longest_ = 0;
};

}  // namespace vigil::collectors::filelog::ops
