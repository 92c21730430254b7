#pragma once
// Builds a component config node from key/value text, as the YAML loader would.

#include <string>
#include <utility>
#include <vector>

#include "agent/config/schema.hpp"
#include "agent/config/value.hpp"

namespace vigil::testing {

inline config::Value config_map(const std::vector<std::pair<std::string, std::string>>& kv) {
  config::Value v;
  v.kind = config::Value::Kind::kMap;
  v.location = {"test.yaml", 1, 1};
  int line = 2;
  for (const auto& [key, text] : kv) {
    config::Value::Entry e;
    e.key = key;
    e.key_location = {"test.yaml", line, 3};
    e.value.kind = config::Value::Kind::kScalar;
    e.value.scalar = text;
    e.value.location = {"test.yaml", line, 3 + static_cast<int>(key.size()) + 2};
    v.entries.push_back(std::move(e));
    ++line;
  }
  return v;
}

}  // namespace vigil::testing
