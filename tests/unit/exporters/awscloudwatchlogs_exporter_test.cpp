// The awscloudwatchlogs exporter: config validation, the message of a record (raw and JSON),
// and send() against a scripted local server (destinations from resource attributes, the
// retry hand-over rule).

#include "exporters/awscloudwatchlogs/awscloudwatchlogs_exporter.hpp"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <prometheus/counter.h>

#include "agent/aws/cloudwatch_logs.hpp"
#include "agent/model/batch.hpp"
#include "agent/telemetry/telemetry.hpp"
#include "tests/support/config_test_support.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/unit/exporters/exporter_test_support.hpp"

namespace vigil::exporters {
namespace {

using vigil::testing::component_config_errors;
using vigil::testing::mentions;
using vigil::testing::fake_http::FakeHttpServer;
using vigil::testing::fake_http::Request;
using vigil::testing::fake_http::Response;

namespace fakes {
class StaticCredentials : public aws::CredentialsProvider {
 public:
  component::Status get(aws::Credentials& out) override {
    out.access_key_id = "AKIDEXPORTER";
    out.secret_access_key = "exporter-secret";
    return component::Status::ok();
  }
};
}  // namespace fakes

const std::string kBase = "log_group_name: /aws/vigil/{service.name}\nlog_stream_name: \"{k8s.pod.name}\"\n";

TEST_CASE("awscloudwatchlogs config: retention, tags, names") {
  const component::Factory f = awscloudwatchlogs_exporter_factory();
  CHECK(
      component_config_errors(f, kBase + "region: eu-west-1\nlog_retention: 7\ntags: {team: obs}\n").empty());
  CHECK(component_config_errors(f, kBase + "log_retention: 3653\n").empty());
  CHECK(mentions(component_config_errors(f, kBase + "log_retention: 2\n"), "log_retention: 2 is not"));
  CHECK(mentions(component_config_errors(f, kBase + "log_retention: 4000\n"), "3653"));
  CHECK(mentions(component_config_errors(f, kBase + "tags: {\"aws:x\": y}\n"), "reserved"));
  CHECK(mentions(component_config_errors(f, kBase + "tags: {\"bad!\": y}\n"), "tag key"));
  std::string many = kBase + "tags:\n";
  for (int i = 0; i < 51; ++i) many += "  k" + std::to_string(i) + ": v\n";
  CHECK(mentions(component_config_errors(f, many), "at most 50"));
  CHECK(mentions(component_config_errors(f, "log_group_name: \"has space\"\nlog_stream_name: s\n"),
                 "log_group_name"));
  CHECK(mentions(component_config_errors(f, "log_group_name: g\nlog_stream_name: \"a:b\"\n"),
                 "log_stream_name"));
  CHECK_FALSE(component_config_errors(f, "log_stream_name: s\n").empty());  // log_group_name is required
  CHECK(mentions(component_config_errors(f, kBase + "endpoint: logs.example.com\n"), "endpoint"));
}

model::Batch two_services() {
  model::Batch b(model::Signal::kLogs);
  model::Arena& a = b.arena();
  const char* services[] = {"checkout", "cart"};
  const char* pods[] = {"pod-1", nullptr};  // the second resource lacks k8s.pod.name
  const std::uint64_t now_ns =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  for (int i = 0; i < 2; ++i) {
    model::ResourceLogs& rl = b.resource_logs().emplace_back(a);
    rl.resource.attributes.push_back(a, {"service.name", model::AnyValue::string(services[i])});
    if (pods[i] != nullptr)
      rl.resource.attributes.push_back(a, {"k8s.pod.name", model::AnyValue::string(pods[i])});
    model::ScopeLogs& sl = rl.scope_logs.emplace_back(a);
    for (int j = 0; j < 3; ++j) {
      model::LogRecord& r = sl.log_records.emplace_back(a);
      r.time_unix_nano = now_ns - static_cast<std::uint64_t>(3 - j) * 1'000'000;
      r.body = model::AnyValue::string(j == 0 ? "first" : j == 1 ? "second" : "third");
      r.severity_number = 9;
      r.severity_text = "INFO";
      r.trace_id[0] = 0xab;
      r.span_id[7] = 0x01;
      r.attributes.push_back(a, {"http.status", model::AnyValue::integer(200)});
    }
  }
  return b;
}

TEST_CASE("cloudwatch_log_message: raw body or the cwLogBody JSON object") {
  model::Batch b = two_services();
  const model::ResourceLogs& rl = b.resource_logs()[0];
  const model::LogRecord& r = rl.scope_logs[0].log_records[0];
  CHECK(cloudwatch_log_message(r, rl.resource, true) == "first");

  const std::string json = cloudwatch_log_message(r, rl.resource, false);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(json).get(root) == simdjson::SUCCESS);
  CHECK(std::string_view(root["body"]) == "first");
  CHECK(std::int64_t(root["severity_number"]) == 9);
  CHECK(std::string_view(root["severity_text"]) == "INFO");
  CHECK(std::string_view(root["trace_id"]) == "ab000000000000000000000000000000");
  CHECK(std::string_view(root["span_id"]) == "0000000000000001");
  CHECK(std::int64_t(root["attributes"]["http.status"]) == 200);
  CHECK(std::string_view(root["resource"]["service.name"]) == "checkout");
  CHECK(root["flags"].error() == simdjson::NO_SUCH_FIELD);  // zero fields are left out

  // A map body, raw: its JSON.
  model::Batch m(model::Signal::kLogs);
  model::Arena& a = m.arena();
  model::KeyValue* kv = a.allocate_array<model::KeyValue>(2);
  kv[0] = {"msg", model::AnyValue::string("hi \"there\"")};
  kv[1] = {"n", model::AnyValue::floating(1.5)};
  model::LogRecord rec;
  rec.body = model::AnyValue::kvlist(kv, 2);
  CHECK(cloudwatch_log_message(rec, model::Resource{}, true) == R"({"msg":"hi \"there\"","n":1.5})");
}

TEST_CASE("attribute values as JSON and as text, one rule for awscloudwatchlogs and awsemf") {
  using model::AnyValue;
  const auto json = [](const AnyValue& v) {
    std::string out;
    aws::append_json_value(out, v);
    return out;
  };
  const auto text = [](const AnyValue& v) {
    std::string out;
    aws::append_value_text(out, v);
    return out;
  };
  // Bytes are base64 (Go's encoding of []byte, as the Collector marshals them), in both forms.
  CHECK(json(AnyValue::bytes(std::string_view("\x00\xff\x10", 3))) == R"("AP8Q")");
  CHECK(text(AnyValue::bytes("hi")) == "aGk=");
  // Doubles in shortest form; past 2^53 with an exponent; the non-finite as strings in JSON.
  CHECK(json(AnyValue::floating(0.1)) == "0.1");
  CHECK(json(AnyValue::floating(18446744073709551616.0)) == "1.8446744073709552e+19");
  CHECK(json(AnyValue::floating(std::nan(""))) == R"("NaN")");
  CHECK(text(AnyValue::floating(-std::numeric_limits<double>::infinity())) == "-Inf");
  CHECK(json(AnyValue::integer(-42)) == "-42");
  CHECK(text(AnyValue::boolean(true)) == "true");
  // Strings: quoted and escaped in JSON, as they are in text; empty: null, nothing.
  CHECK(json(AnyValue::string("a\"b\n")) == R"("a\"b\n")");
  CHECK(text(AnyValue::string("a\"b")) == "a\"b");
  CHECK(json(AnyValue{}) == "null");
  CHECK(text(AnyValue{}).empty());
  // Arrays and maps nest, and are JSON in text too.
  model::Batch b(model::Signal::kLogs);
  AnyValue* items = b.arena().allocate_array<AnyValue>(2);
  items[0] = AnyValue::integer(1);
  items[1] = AnyValue::floating(std::numeric_limits<double>::infinity());
  model::KeyValue* kv = b.arena().allocate_array<model::KeyValue>(1);
  kv[0] = {"xs", AnyValue::array(items, 2)};
  CHECK(json(AnyValue::kvlist(kv, 1)) == R"({"xs":[1,"+Inf"]})");
  CHECK(text(AnyValue::kvlist(kv, 1)) == R"({"xs":[1,"+Inf"]})");
}

struct ExporterFixture {
  FakeHttpServer server;
  telemetry::Telemetry telemetry;
  std::unique_ptr<AwsCloudWatchLogsExporter> exporter;
  testing::UnusedHost host;

  explicit ExporterFixture(bool raw = true) {
    AwsCloudWatchLogsOptions o;
    o.region = "us-east-2";
    o.endpoint = server.url();
    o.log_group_name = "/aws/vigil/{service.name}";
    o.log_stream_name = "{k8s.pod.name}";
    o.raw_log = raw;
    o.retry.initial_interval = std::chrono::milliseconds(1);
    o.retry.max_interval = std::chrono::milliseconds(2);
    o.retry.max_elapsed_time = std::chrono::milliseconds(50);
    exporter = std::make_unique<AwsCloudWatchLogsExporter>(o, "awscloudwatchlogs/t", telemetry);
    exporter->set_credentials_provider(std::make_shared<fakes::StaticCredentials>());
    REQUIRE(exporter->start(host).is_ok());
  }
  ~ExporterFixture() { exporter->shutdown({}); }

  double counter(const std::string& name, std::map<std::string, std::string> labels = {}) {
    labels["exporter"] = "awscloudwatchlogs/t";
    return telemetry.counter_family(name, "").Add(labels).Value();
  }
};

std::string body_field(const Request& r, const char* field) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(r.body).get(root) != simdjson::SUCCESS) return {};
  std::string_view v;
  if (root[field].get(v) != simdjson::SUCCESS) return {};
  return std::string(v);
}

TEST_CASE("send: one destination per resource, placeholders expanded, the missing one counted") {
  ExporterFixture f;
  f.server.set_handler([](const Request&) { return Response{200, {}, "{}"}; });
  CHECK(f.exporter->send(two_services()).is_ok());
  const auto reqs = f.server.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(body_field(reqs[0], "logGroupName") == "/aws/vigil/checkout");
  CHECK(body_field(reqs[0], "logStreamName") == "pod-1");
  CHECK(body_field(reqs[1], "logGroupName") == "/aws/vigil/cart");
  CHECK(body_field(reqs[1], "logStreamName") == "undefined");
  CHECK(reqs[0].body.find(R"("message":"first"},{"timestamp":)") != std::string::npos);
  CHECK(f.counter("vigil_awscloudwatchlogs_placeholder_missing_total") == 3);
  CHECK(f.counter("vigil_cloudwatchlogs_events_sent_total") == 6);
}

TEST_CASE("send: a failure before anything was delivered goes back to the helper; after, it does not") {
  ExporterFixture f;
  SUBCASE("first destination throttled: retryable, one request, nothing counted") {
    f.server.set_handler([](const Request&) {
      return Response{400, {}, R"({"__type":"ThrottlingException","message":"Rate exceeded"})"};
    });
    CHECK(f.exporter->send(two_services()).is_retryable());
    CHECK(f.server.count() == 1);
    CHECK(f.counter("vigil_cloudwatchlogs_events_dropped_total", {{"reason", "retries_exhausted"}}) == 0);
    CHECK(f.counter("vigil_awscloudwatchlogs_placeholder_missing_total") == 0);
  }
  SUBCASE("second destination throttled after the first was delivered: retried here, then dropped, counted") {
    int n = 0;
    f.server.set_handler([&n](const Request&) {
      return n++ == 0 ? Response{200, {}, "{}"}
                      : Response{400, {}, R"({"__type":"ThrottlingException","message":"Rate exceeded"})"};
    });
    CHECK(f.exporter->send(two_services()).is_ok());
    CHECK(f.server.count() >= 2);
    for (const auto& r : f.server.requests()) CHECK(body_field(r, "logGroupName") != "");
    // the first destination was never resent
    int first = 0;
    for (const auto& r : f.server.requests()) first += body_field(r, "logGroupName") == "/aws/vigil/checkout";
    CHECK(first == 1);
    CHECK(f.counter("vigil_cloudwatchlogs_events_dropped_total", {{"reason", "retries_exhausted"}}) == 3);
    CHECK(f.counter("vigil_cloudwatchlogs_events_sent_total") == 3);
  }
  SUBCASE("every request refused: permanent") {
    f.server.set_handler([](const Request&) {
      return Response{400, {}, R"({"__type":"InvalidParameterException","message":"no"})"};
    });
    CHECK(f.exporter->send(two_services()).is_permanent());
    CHECK(f.counter("vigil_cloudwatchlogs_events_dropped_total", {{"reason", "invalid_parameter"}}) == 6);
  }
}

TEST_CASE("send: JSON messages when raw_log is false") {
  ExporterFixture f(/*raw=*/false);
  f.server.set_handler([](const Request&) { return Response{200, {}, "{}"}; });
  CHECK(f.exporter->send(two_services()).is_ok());
  const auto reqs = f.server.requests();
  REQUIRE(reqs.size() == 2);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(reqs[0].body).get(root) == simdjson::SUCCESS);
  std::string_view message = root["logEvents"].at(0)["message"];
  simdjson::dom::parser inner;
  simdjson::dom::element m;
  REQUIRE(inner.parse(std::string(message)).get(m) == simdjson::SUCCESS);
  CHECK(std::string_view(m["body"]) == "first");
  CHECK(std::string_view(m["resource"]["k8s.pod.name"]) == "pod-1");
}

}  // namespace
}  // namespace vigil::exporters
