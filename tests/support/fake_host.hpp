#pragma once
// A Host for component tests that start extensions or look them up (auth extensions and the
// exporters and receivers that use them): its own io_context, which nothing runs (a test that
// needs one run brings its own), its own telemetry, pipelines always ready, and the extensions
// the test puts in `extensions`. Not thread-safe: fill `extensions` before starting anything.

#include <map>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "agent/component/component.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::testing::host_fakes {

class FakeHost : public component::Host {
 public:
  boost::asio::io_context& io_context() override { return io_; }
  telemetry::Telemetry& telemetry() override { return telemetry_; }
  component::Extension* extension(std::string_view id) override {
    auto it = extensions.find(std::string(id));
    return it == extensions.end() ? nullptr : it->second;
  }
  bool pipelines_ready() const override { return true; }

  std::map<std::string, component::Extension*> extensions;  // by ID; not owned

 private:
  boost::asio::io_context io_;
  telemetry::Telemetry telemetry_;
};

}  // namespace vigil::testing::host_fakes
