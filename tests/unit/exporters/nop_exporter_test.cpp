#include "exporters/nop/nop_exporter.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "agent/components.hpp"
#include "agent/config/loader.hpp"
#include "agent/otlp/proto_encoder.hpp"
#include "agent/runtime/graph.hpp"
#include "agent/telemetry/telemetry.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/runtime_test_support.hpp"
#include "tests/support/test_batches.hpp"
#include "tests/unit/exporters/exporter_test_support.hpp"

using namespace vigil;
using namespace std::chrono_literals;
namespace mt = vigil::model::testing;

namespace {

const component::Factory& nop_factory() {
  static const component::Factory f = exporters::nop_exporter_factory();
  return f;
}

std::optional<runtime::Plan> plan_of(const std::string& text, config::Errors& errors) {
  auto root = config::parse_yaml(text, "test.yaml", errors);
  REQUIRE(errors.empty());
  static const auto factories = builtin_factories();
  return runtime::validate_config(std::move(root), factories, errors);
}

std::string all(const config::Errors& errors) {
  std::string s;
  for (const auto& e : errors) s += e.str() + "\n";
  return s;
}

// otlp (HTTP) -> nop for every signal, on `port`, with `exporter_body` under `nop:`.
std::string nop_config(std::uint16_t port, const std::string& exporter_body = "") {
  return "receivers:\n"
         "  otlp:\n"
         "    protocols:\n"
         "      http:\n"
         "        endpoint: 127.0.0.1:" +
         std::to_string(port) +
         "\n"
         "exporters:\n"
         "  nop:\n" +
         exporter_body +
         "service:\n"
         "  pipelines:\n"
         "    traces:\n"
         "      receivers: [otlp]\n"
         "      exporters: [nop]\n"
         "    metrics:\n"
         "      receivers: [otlp]\n"
         "      exporters: [nop]\n"
         "    logs:\n"
         "      receivers: [otlp]\n"
         "      exporters: [nop]\n";
}

}  // namespace

TEST_CASE("nop: an exporter for every signal, without options or queue") {
  const component::Factory& f = nop_factory();
  CHECK(f.kind == component::Kind::kExporter);
  CHECK(f.type == "nop");
  CHECK(f.supports(model::Signal::kTraces));
  CHECK(f.supports(model::Signal::kMetrics));
  CHECK(f.supports(model::Signal::kLogs));
  CHECK_FALSE(f.exporter_queue);
  CHECK(f.schema.empty());
  REQUIRE(f.create_exporter);
  // It is one of the agent's components.
  const auto factories = builtin_factories();
  CHECK(std::any_of(factories.begin(), factories.end(), [](const component::Factory& x) {
    return x.kind == component::Kind::kExporter && x.type == "nop" && !x.description.empty() &&
           x.description.find("not implemented") == std::string::npos;
  }));
}

TEST_CASE("nop: accepts every batch of every signal, from many threads at once") {
  telemetry::Telemetry telemetry;
  const config::Schema schema = nop_factory().schema;
  const config::Value node = exporters::testing::map({});
  const config::Settings settings(&schema, &node, {});
  std::vector<std::unique_ptr<component::Sender>> senders;
  for (model::Signal s : {model::Signal::kTraces, model::Signal::kMetrics, model::Signal::kLogs}) {
    component::CreateSettings cs{"nop", settings, telemetry, ""};
    senders.push_back(nop_factory().create_exporter(cs, s));
    REQUIRE(senders.back() != nullptr);
  }
  exporters::testing::UnusedHost host;  // start() must not need the host
  for (auto& s : senders) CHECK(s->start(host).is_ok());

  CHECK(senders[0]->send(mt::full_traces()).is_ok());
  CHECK(senders[1]->send(mt::full_metrics()).is_ok());
  CHECK(senders[2]->send(mt::full_logs()).is_ok());
  CHECK(senders[2]->send(model::Batch(model::Signal::kLogs)).is_ok());  // empty

  const model::Batch logs = mt::make_logs({{50}});
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i)
        if (senders[2]->send(logs).is_ok()) ok.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  CHECK(ok.load() == 4000);

  const auto deadline = component::Clock::now() + 1s;
  for (auto& s : senders) {
    s->shutdown(deadline);
    s->shutdown(deadline);  // idempotent
  }
  // Safe without start().
  component::CreateSettings cs{"nop", settings, telemetry, ""};
  nop_factory().create_exporter(cs, model::Signal::kLogs)->shutdown(deadline);
}

TEST_CASE("nop: config takes no options and no sending queue") {
  config::Errors errors;
  auto plan = plan_of(nop_config(4318), errors);
  INFO(all(errors));
  CHECK(plan);
  CHECK(errors.empty());

  for (const char* body : {"    verbosity: basic\n", "    sending_queue:\n      enabled: false\n",
                           "    retry_on_failure:\n      enabled: false\n"}) {
    CAPTURE(body);
    config::Errors e;
    auto p = plan_of(nop_config(4318, body), e);
    CHECK_FALSE(p);
    REQUIRE_FALSE(e.empty());
    CHECK(all(e).find("nop") != std::string::npos);
  }
}

TEST_CASE("nop: otlp receiver -> nop, every item accepted and counted as sent") {
  const std::uint16_t port = testing::free_port();
  config::Errors errors;
  auto plan = plan_of(nop_config(port), errors);
  INFO(all(errors));
  REQUIRE(plan);
  testing::FakeHost host;
  std::string error;
  auto graph = runtime::Graph::build(*plan, host.telemetry(), error);
  INFO(error);
  REQUIRE(graph);
  CHECK(graph->exporter_count() == 3);
  auto started = graph->start(host);
  INFO(started.message());
  REQUIRE(started.is_ok());

  const std::vector<std::pair<std::string, std::string>> proto = {{"Content-Type", "application/x-protobuf"}};
  std::string body;
  for (int i = 0; i < 3; ++i) {
    otlp::encode_export_request(mt::make_logs({{10, 5}, {25}}, static_cast<std::uint64_t>(i) * 100), body);
    CHECK(testing::http_request("POST", port, "/v1/logs", body, proto).status == 200);
  }
  otlp::encode_export_request(mt::make_spans({{7}}), body);
  CHECK(testing::http_request("POST", port, "/v1/traces", body, proto).status == 200);
  otlp::encode_export_request(mt::full_metrics(), body);
  CHECK(testing::http_request("POST", port, "/v1/metrics", body, proto).status == 200);

  // Without a queue the send happens inside the request: the counts are final once answered.
  CHECK(host.telemetry().exporter("nop", model::Signal::kLogs).sent->Value() == 120);
  CHECK(host.telemetry().exporter("nop", model::Signal::kTraces).sent->Value() == 7);
  CHECK(host.telemetry().exporter("nop", model::Signal::kMetrics).sent->Value() ==
        static_cast<double>(mt::full_metrics().item_count()));
  CHECK(host.telemetry().exporter("nop", model::Signal::kMetrics).queue_size->Value() == 0);

  graph->shutdown(component::Clock::now() + 5s);
}
