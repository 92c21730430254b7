#pragma once
// Builds a component config node from key/value text, as the YAML loader would; checks a
// component's YAML against its factory (schema, then its own validate()).

#include <string>
#include <utility>
#include <vector>

#include "agent/component/factory.hpp"
#include "agent/config/loader.hpp"
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

// The messages of every problem the factory finds in `yaml` (a component's config body).
inline std::vector<std::string> component_config_errors(const component::Factory& f, const std::string& yaml,
                                                        const std::string& id = "component") {
  config::Errors errors;
  config::Value node = config::parse_yaml(yaml, "c.yaml", errors);
  if (errors.empty()) {
    config::validate(f.schema, &node, config::Location{"c.yaml", 1, 1}, id, errors);
    if (errors.empty() && f.validate) {
      config::Settings settings(&f.schema, &node, config::Location{"c.yaml", 1, 1});
      f.validate(settings, id, errors);
    }
  }
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.message);
  return out;
}

// True when one of `errors` mentions `what`.
inline bool mentions(const std::vector<std::string>& errors, const std::string& what) {
  for (const auto& e : errors)
    if (e.find(what) != std::string::npos) return true;
  return false;
}

}  // namespace vigil::testing
