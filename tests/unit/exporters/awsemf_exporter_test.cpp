// The awsemf exporter: its config (schema and validation), output_destination stdout captured
// line by line, and cloudwatch against a fake CloudWatch Logs endpoint.

#include "exporters/awsemf/awsemf_exporter.hpp"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "agent/config/loader.hpp"
#include "agent/telemetry/telemetry.hpp"
#include "tests/support/config_test_support.hpp"
#include "tests/support/env_guard.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/unit/exporters/awsemf_test_support.hpp"
#include "tests/unit/exporters/exporter_test_support.hpp"

namespace vigil::exporters {
namespace {

using awsemf::testing::kSecond;
using awsemf::testing::MetricsBuilder;
using awsemf::testing::parse_emf;
using component::Status;
using model::AggregationTemporality;
using model::MetricType;
using vigil::testing::component_config_errors;
using vigil::testing::mentions;
namespace fake_http = vigil::testing::fake_http;

// The value of a self-metric series, or -1 when it does not exist.
double metric_value(telemetry::Telemetry& t, const std::string& name,
                    const std::map<std::string, std::string>& labels) {
  for (const auto& family : t.registry().Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      bool all = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
        all = all && found;
      }
      if (!all) continue;
      if (family.type == prometheus::MetricType::Counter) return m.counter.value;
      if (family.type == prometheus::MetricType::Gauge) return m.gauge.value;
    }
  }
  return -1;
}

// Options from YAML, as the service would read them (schema defaults applied).
AwsEmfExporterOptions options_from(const std::string& yaml) {
  const component::Factory f = awsemf_exporter_factory();
  REQUIRE(component_config_errors(f, yaml).empty());
  config::Errors errors;
  static std::vector<std::unique_ptr<config::Value>> keep;  // Settings reads the node lazily
  keep.push_back(std::make_unique<config::Value>(config::parse_yaml(yaml, "c.yaml", errors)));
  config::Settings settings(&f.schema, keep.back().get(), config::Location{"c.yaml", 1, 1});
  return read_awsemf_exporter_options(settings);
}

TEST_CASE("awsemf config: defaults are the Collector's") {
  const AwsEmfExporterOptions o = options_from("{}");
  CHECK(o.translator.log_group_name == "/metrics/default");
  CHECK(o.translator.log_stream_name == "otel-stream");
  CHECK(o.translator.metric_namespace.empty());
  CHECK(o.translator.rollup == awsemf::DimensionRollup::kZeroAndSingle);
  CHECK(o.translator.max_series == 1000);
  CHECK_FALSE(o.translator.resource_to_telemetry);
  CHECK(o.output_destination == AwsEmfExporterOptions::Destination::kCloudWatch);
}

TEST_CASE("awsemf config: every option is read") {
  const AwsEmfExporterOptions o = options_from(R"(
namespace: Shop
log_group_name: /aws/{service.name}
log_stream_name: "{k8s.pod.name}"
dimension_rollup_option: NoDimensionRollup
resource_to_telemetry_conversion: {enabled: true}
output_destination: stdout
region: eu-west-1
endpoint: http://127.0.0.1:1
role_arn: arn:aws:iam::123456789012:role/emf
max_series: 50
log_retention: 7
tags: {team: shop}
metric_declarations:
  - dimensions: [[region], [region, method], []]
    metric_name_selectors: ["^orders_", "lag$"]
    label_matchers:
      - label_names: [queue, env]
        separator: ":"
        regex: "^mail:prod$"
)");
  CHECK(o.translator.metric_namespace == "Shop");
  CHECK(o.translator.log_group_name == "/aws/{service.name}");
  CHECK(o.translator.log_stream_name == "{k8s.pod.name}");
  CHECK(o.translator.rollup == awsemf::DimensionRollup::kNone);
  CHECK(o.translator.resource_to_telemetry);
  CHECK(o.output_destination == AwsEmfExporterOptions::Destination::kStdout);
  CHECK(o.region == "eu-west-1");
  CHECK(o.endpoint == "http://127.0.0.1:1");
  CHECK(o.role_arn == "arn:aws:iam::123456789012:role/emf");
  CHECK(o.translator.max_series == 50);
  CHECK(o.log_retention_days == 7);
  REQUIRE(o.tags.size() == 1);
  REQUIRE(o.translator.metric_declarations.size() == 1);
  const auto& d = o.translator.metric_declarations[0];
  CHECK(d.dimensions == std::vector<std::vector<std::string>>{{"region"}, {"region", "method"}, {}});
  CHECK(d.metric_name_selectors == std::vector<std::string>{"^orders_", "lag$"});
  REQUIRE(d.label_matchers.size() == 1);
  CHECK(d.label_matchers[0].label_names == std::vector<std::string>{"queue", "env"});
  CHECK(d.label_matchers[0].separator == ":");
  CHECK(d.label_matchers[0].regex == "^mail:prod$");
}

TEST_CASE("awsemf config: every problem is reported") {
  const component::Factory f = awsemf_exporter_factory();
  CHECK(
      mentions(component_config_errors(f, "dimension_rollup_option: Everything"), "dimension_rollup_option"));
  CHECK(mentions(component_config_errors(f, "output_destination: kafka"), "output_destination"));
  CHECK(mentions(component_config_errors(f, "max_series: 0"), "max_series"));
  CHECK(mentions(component_config_errors(f, "max_retries: 3"), "max_retries"));  // unknown key
  CHECK(mentions(component_config_errors(f, "log_group_name: 'bad group!'"), "log_group_name"));
  CHECK(mentions(component_config_errors(f, "log_retention: 2"), "log_retention"));
  auto errors = component_config_errors(f, R"(
metric_declarations:
  - dimensions: [[a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w, x, y, z, aa, bb, cc, dd, ee]]
    metric_name_selectors: ["(unclosed"]
    label_matchers:
      - label_names: []
  - dimensions: [[a]]
    unknown: 1
)");
  CHECK(mentions(errors, "at most 30 dimensions"));
  CHECK(mentions(errors, "(unclosed"));
  CHECK(mentions(errors, "label_names must name"));
  CHECK(mentions(errors, "regex is required"));
  CHECK(mentions(errors, "unknown key 'unknown'"));
  CHECK(mentions(errors, "metric_name_selectors must list"));
  // A placeholder group is checked by CloudWatch once expanded, not here.
  CHECK(component_config_errors(f, "log_group_name: '/aws/{service.name}'").empty());
}

model::Batch counter_batch(double value, std::uint64_t time_s) {
  MetricsBuilder b({{"service.name", "shop"}}, "vigil.kpi");
  auto& m = b.metric("orders_created_total", MetricType::kSum, "{order}", AggregationTemporality::kCumulative,
                     true);
  b.number(m, value, time_s * kSecond, {{"region", "eu"}});
  return b.take();
}

TEST_CASE("output_destination stdout: one EMF document per line, self-metrics counted") {
  telemetry::Telemetry tel;
  std::mutex mu;
  std::vector<std::string> lines;
  AwsEmfExporterOptions o;
  o.output_destination = AwsEmfExporterOptions::Destination::kStdout;
  AwsEmfExporter e(o, "awsemf", tel, [&](std::string_view line) {
    std::lock_guard lock(mu);
    lines.emplace_back(line);
  });
  testing::UnusedHost host;
  REQUIRE(e.start(host).is_ok());
  CHECK(e.send(counter_batch(10, 1)).is_ok());  // the baseline: no line
  CHECK(lines.empty());
  CHECK(metric_value(tel, "vigil_awsemf_baseline_points_total", {{"exporter", "awsemf"}}) == 1);
  CHECK(e.send(counter_batch(17, 2)).is_ok());
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find('\n') == std::string::npos);
  auto emf = parse_emf(lines[0]);
  CHECK(emf.directives[0].ns == "shop");
  CHECK(emf.numbers.at("orders_created_total") == std::vector<double>{7});
  CHECK(emf.directives[0].metrics[0].second == "Count");
  CHECK(metric_value(tel, "vigil_awsemf_documents_total", {{"exporter", "awsemf"}}) == 1);
  // [OTelLib] and [OTelLib, region] (with one label, the full set is the single-label rollup).
  CHECK(metric_value(tel, "vigil_awsemf_series", {{"exporter", "awsemf"}}) == 2);
  e.shutdown(component::Clock::now());
}

TEST_CASE("stdout: drops are counted by reason, folds by the guard") {
  telemetry::Telemetry tel;
  std::vector<std::string> lines;
  AwsEmfExporterOptions o;
  o.output_destination = AwsEmfExporterOptions::Destination::kStdout;
  o.translator.max_series = 2;
  o.translator.rollup = awsemf::DimensionRollup::kNone;
  AwsEmfExporter e(o, "awsemf/x", tel, [&](std::string_view line) { lines.emplace_back(line); });
  testing::UnusedHost host;
  REQUIRE(e.start(host).is_ok());
  MetricsBuilder b({}, "");
  auto& g = b.metric("g", MetricType::kGauge);
  b.number(g, std::nan(""), kSecond);
  for (int i = 0; i < 5; ++i) b.number(g, 1, kSecond, {{"id", std::to_string(i)}});
  CHECK(e.send(b.batch()).is_ok());
  CHECK(metric_value(tel, "vigil_awsemf_dropped_points_total",
                     {{"exporter", "awsemf/x"}, {"reason", "non_finite"}}) == 1);
  CHECK(metric_value(tel, "vigil_awsemf_folded_points_total", {{"exporter", "awsemf/x"}}) == 3);
  CHECK(metric_value(tel, "vigil_awsemf_folded_series", {{"exporter", "awsemf/x"}}) == 3);
  CHECK(metric_value(tel, "vigil_awsemf_series", {{"exporter", "awsemf/x"}}) == 3);
  CHECK(lines.size() == 3);  // id=0, id=1, and the overflow document
}

TEST_CASE("the translator state survives a reload (same exporter ID)") {
  telemetry::Telemetry tel;
  std::vector<std::string> lines;
  AwsEmfExporterOptions o;
  o.output_destination = AwsEmfExporterOptions::Destination::kStdout;
  auto writer = [&](std::string_view line) { lines.emplace_back(line); };
  testing::UnusedHost host;
  auto first = std::make_unique<AwsEmfExporter>(o, "awsemf", tel, writer);
  REQUIRE(first->start(host).is_ok());
  CHECK(first->send(counter_batch(10, 1)).is_ok());
  // The reload builds the new exporter while the old one still exists.
  auto second = std::make_unique<AwsEmfExporter>(o, "awsemf", tel, writer);
  first.reset();
  REQUIRE(second->start(host).is_ok());
  CHECK(second->send(counter_batch(12, 2)).is_ok());
  REQUIRE(lines.size() == 1);  // not a second baseline
  CHECK(parse_emf(lines[0]).numbers.at("orders_created_total") == std::vector<double>{2});
}

// Credentials from the environment for the cloudwatch tests (the first provider of the chain);
// everything it changes is restored.
class AwsEnv : public vigil::testing::env::EnvGuard {
 public:
  AwsEnv() : vigil::testing::env::EnvGuard({"AWS_SESSION_TOKEN", "AWS_PROFILE"}) {
    set("AWS_ACCESS_KEY_ID", "AKIDEMFUNIT");
    set("AWS_SECRET_ACCESS_KEY", "emf-unit-secret");
    set("AWS_EC2_METADATA_DISABLED", "true");
  }
};

// The PutLogEvents bodies a fake CloudWatch Logs received: (group, stream, [(timestamp, message)]).
struct Put {
  std::string group, stream;
  std::vector<std::pair<std::int64_t, std::string>> events;
};

std::vector<Put> puts(const fake_http::FakeHttpServer& server) {
  std::vector<Put> out;
  for (const auto& r : server.requests()) {
    if (r.header("x-amz-target") != "Logs_20140328.PutLogEvents") continue;
    simdjson::dom::parser parser;
    simdjson::dom::element body;
    REQUIRE(parser.parse(r.body).get(body) == simdjson::SUCCESS);
    Put p;
    p.group = std::string(body["logGroupName"].get_string().value());
    p.stream = std::string(body["logStreamName"].get_string().value());
    for (auto e : body["logEvents"].get_array()) {
      p.events.emplace_back(e["timestamp"].get_int64().value(),
                            std::string(e["message"].get_string().value()));
    }
    out.push_back(std::move(p));
  }
  return out;
}

fake_http::Response ok_response() {
  return {200, {{"Content-Type", "application/x-amz-json-1.1"}}, "{}"};
}

// CloudWatch drops events older than 14 days: these tests use the present.
std::uint64_t now_s() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

AwsEmfExporterOptions cloudwatch_options(const std::string& endpoint) {
  AwsEmfExporterOptions o;
  o.region = "eu-west-1";
  o.endpoint = endpoint;
  o.translator.log_group_name = "/metrics/{service.name}";
  o.translator.log_stream_name = "emf";
  o.retry.initial_interval = std::chrono::milliseconds(5);
  o.retry.max_interval = std::chrono::milliseconds(20);
  o.retry.max_elapsed_time = std::chrono::seconds(5);
  return o;
}

// An awsemf exporter with cloudwatch_options(), `adjust`ed, started against a fake CloudWatch
// Logs endpoint that answers with `handler`.
struct StartedCloudWatch {
  explicit StartedCloudWatch(
      fake_http::FakeHttpServer::Handler handler = [](const fake_http::Request&) { return ok_response(); },
      const std::function<void(AwsEmfExporterOptions&)>& adjust = {})
      : server(std::move(handler)) {
    AwsEmfExporterOptions o = cloudwatch_options(server.url());
    if (adjust) adjust(o);
    exporter = std::make_unique<AwsEmfExporter>(o, "awsemf", tel);
    REQUIRE(exporter->start(host).is_ok());
  }
  double documents() { return metric_value(tel, "vigil_awsemf_documents_total", {{"exporter", "awsemf"}}); }

  AwsEnv env;
  fake_http::FakeHttpServer server;
  telemetry::Telemetry tel;
  std::unique_ptr<AwsEmfExporter> exporter;
  testing::UnusedHost host;
};

TEST_CASE("output_destination cloudwatch: each document is one signed PutLogEvents event") {
  StartedCloudWatch cw;
  AwsEmfExporter& e = *cw.exporter;
  const std::uint64_t t0 = now_s();
  CHECK(e.send(counter_batch(3, t0 + 1)).is_ok());  // the baseline: nothing to send
  CHECK(puts(cw.server).empty());
  CHECK(e.send(counter_batch(8, t0 + 2)).is_ok());
  const auto p = puts(cw.server);
  REQUIRE(p.size() == 1);
  CHECK(p[0].group == "/metrics/shop");  // the placeholder, from the resource
  CHECK(p[0].stream == "emf");
  REQUIRE(p[0].events.size() == 1);
  const auto want_ms = static_cast<std::int64_t>((t0 + 2) * 1000);
  CHECK(p[0].events[0].first == want_ms);  // the data point's time, in ms
  const auto emf = parse_emf(p[0].events[0].second);
  CHECK(emf.timestamp == want_ms);
  CHECK(emf.numbers.at("orders_created_total") == std::vector<double>{5});
  const auto request = cw.server.requests().back();
  CHECK(request.header("authorization").find("AWS4-HMAC-SHA256 Credential=AKIDEMFUNIT/") == 0);
  CHECK(request.header("authorization").find("/eu-west-1/logs/aws4_request") != std::string::npos);
  CHECK(cw.documents() == 1);
  e.shutdown(component::Clock::now());
}

TEST_CASE("cloudwatch: a failure is handed back, and the retry sends the same documents once") {
  StartedCloudWatch cw;
  AwsEmfExporter& e = *cw.exporter;
  const std::uint64_t t0 = now_s();
  CHECK(e.send(counter_batch(100, t0 + 1)).is_ok());
  const model::Batch batch = counter_batch(160, t0 + 2);
  cw.server.script({503,
                    {{"Content-Type", "application/x-amz-json-1.1"}},
                    R"({"__type":"ServiceUnavailableException","message":"try later"})"});
  const Status first = e.send(batch);
  CHECK(first.is_retryable());
  CHECK(cw.documents() == 0);
  CHECK(e.send(batch).is_ok());  // what the exporter helper does: the same batch again
  const auto p = puts(cw.server);
  REQUIRE_FALSE(p.empty());
  const auto emf = parse_emf(p.back().events.at(0).second);
  CHECK(emf.numbers.at("orders_created_total") == std::vector<double>{60});  // not 0: the same delta
  CHECK(cw.documents() == 1);
  e.shutdown(component::Clock::now());
}

TEST_CASE("cloudwatch: once one log stream is delivered, another's failure is never handed back for a resend") {
  StartedCloudWatch cw(
      [](const fake_http::Request& r) {
        if (r.body.find("/metrics/b") != std::string::npos) {
          return fake_http::Response{503,
                                     {{"Content-Type", "application/x-amz-json-1.1"}},
                                     R"({"__type":"ServiceUnavailableException","message":"down"})"};
        }
        return ok_response();
      },
      [](AwsEmfExporterOptions& o) { o.retry.max_elapsed_time = std::chrono::milliseconds(200); });
  AwsEmfExporter& e = *cw.exporter;
  const std::uint64_t t0 = now_s();
  model::Batch batch(model::Signal::kMetrics);
  for (const char* service : {"a", "b"}) {
    MetricsBuilder b({{"service.name", service}}, "");
    b.number(b.metric("g", MetricType::kGauge), 1, (t0 + 1) * kSecond);
    batch.append(b.take());
  }
  // The client retries b itself (a is committed), then drops and counts b's events: not handed
  // back, since resending the batch would deliver a twice.
  const Status s = e.send(batch);
  INFO(s.message());
  CHECK_FALSE(s.is_retryable());
  int delivered_a = 0, tried_b = 0;
  for (const auto& p : puts(cw.server)) {
    delivered_a += p.group == "/metrics/a" ? 1 : 0;
    tried_b += p.group == "/metrics/b" ? 1 : 0;
  }
  CHECK(delivered_a == 1);
  CHECK(tried_b >= 2);
}

TEST_CASE("cloudwatch: start fails without a region") {
  AwsEnv env;
  env.unset("AWS_REGION");
  env.unset("AWS_DEFAULT_REGION");
  env.set("AWS_CONFIG_FILE", "/nonexistent/vigil-test-config");
  telemetry::Telemetry tel;
  AwsEmfExporterOptions o = cloudwatch_options("http://127.0.0.1:1");
  o.region.clear();
  AwsEmfExporter e(o, "awsemf", tel);
  testing::UnusedHost host;
  const Status s = e.start(host);
  CHECK(s.is_permanent());
  CHECK(s.message().find("region") != std::string::npos);
}

}  // namespace
}  // namespace vigil::exporters
