#include <doctest/doctest.h>

#include "agent/config/loader.hpp"
#include "agent/extensions/health_check/health_check.hpp"
#include "tests/support/http_test_support.hpp"

using namespace vigil;
using namespace vigil::testing;
using namespace std::chrono_literals;
using extensions::HealthCheckExtension;
using extensions::HealthCheckOptions;

TEST_CASE("health_check: 200 while pipelines are ready, 503 otherwise") {
  IoRunner runner;
  FakeHost host(runner.io());
  HealthCheckOptions o;
  o.endpoint = "127.0.0.1:0";
  o.path = "/health/status";
  HealthCheckExtension ext("health_check", o);
  REQUIRE(ext.start(host).is_ok());
  REQUIRE(ext.port() != 0);

  Client c(ext.port());
  auto r = c.request(http::verb::get, "/health/status");
  REQUIRE(r);
  CHECK(r->result_int() == 503);
  CHECK(r->body() == R"({"status":"Server not available"})");
  CHECK((*r)[http::field::content_type] == "application/json");

  host.ready = true;
  r = c.request(http::verb::get, "/health/status?verbose=1");
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(r->body() == R"({"status":"Server available"})");

  host.ready = false;
  r = c.request(http::verb::get, "/health/status");
  REQUIRE(r);
  CHECK(r->result_int() == 503);

  r = c.request(http::verb::get, "/");
  REQUIRE(r);
  CHECK(r->result_int() == 404);

  r = c.request(http::verb::post, "/health/status", "x");
  REQUIRE(r);
  CHECK(r->result_int() == 405);

  ext.shutdown(component::Clock::now() + 1s);
  CHECK(c.closed_by_peer());
  ext.shutdown(component::Clock::now());
}

TEST_CASE("health_check: factory defaults, validation and bind errors") {
  const component::Factory f = extensions::health_check_extension_factory();
  CHECK(f.type == "health_check");
  CHECK(f.kind == component::Kind::kExtension);

  config::Errors errors;
  config::Value empty = config::parse_yaml("{}", "c.yaml", errors);
  REQUIRE(errors.empty());
  config::Settings defaults(&f.schema, &empty, {});
  auto o = extensions::read_health_check_options(defaults);
  CHECK(o.endpoint == "127.0.0.1:13133");
  CHECK(o.path == "/");
  f.validate(defaults, "health_check", errors);
  CHECK(errors.empty());

  config::Value bad = config::parse_yaml("endpoint: nowhere\npath: health\n", "c.yaml", errors);
  REQUIRE(errors.empty());
  config::validate(f.schema, &bad, {}, "health_check", errors);
  REQUIRE(errors.empty());
  f.validate(config::Settings(&f.schema, &bad, {}), "health_check", errors);
  CHECK(errors.size() == 2);

  IoRunner runner;
  FakeHost host(runner.io());
  config::Value node = config::parse_yaml("endpoint: 127.0.0.1:0\n", "c.yaml", errors);
  config::Settings settings(&f.schema, &node, {});
  component::CreateSettings cs{"health_check", settings, host.telemetry(), ""};
  auto first = f.create_extension(cs);
  REQUIRE(first->start(host).is_ok());
  const auto port = dynamic_cast<HealthCheckExtension&>(*first).port();

  HealthCheckOptions taken;
  taken.endpoint = "127.0.0.1:" + std::to_string(port);
  HealthCheckExtension second("health_check/2", taken);
  auto s = second.start(host);
  CHECK(s.is_permanent());
  CHECK(s.message().find("Address already in use") != std::string::npos);

  host.ready = true;
  Client c(port);
  auto r = c.request(http::verb::get, "/");
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  first->shutdown(component::Clock::now());
}
