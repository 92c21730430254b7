#pragma once
// Shared bits of the exporter tests: hand-built configs and a Host that is never used.

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "agent/component/component.hpp"
#include "agent/config/schema.hpp"
#include "agent/config/value.hpp"

namespace vigil::exporters::testing {

inline config::Value scalar(std::string s) {
  config::Value v;
  v.kind = config::Value::Kind::kScalar;
  v.scalar = std::move(s);
  return v;
}

inline config::Value map(std::vector<std::pair<std::string, config::Value>> entries) {
  config::Value v;
  v.kind = config::Value::Kind::kMap;
  for (auto& [k, val] : entries) v.entries.push_back({k, {}, std::move(val)});
  return v;
}

// start() of these exporters does not touch the host.
class UnusedHost : public component::Host {
 public:
  boost::asio::io_context& io_context() override { std::abort(); }
  telemetry::Telemetry& telemetry() override { std::abort(); }
  component::Extension* extension(std::string_view) override { return nullptr; }
  bool pipelines_ready() const override { return true; }
};

}  // namespace vigil::exporters::testing
