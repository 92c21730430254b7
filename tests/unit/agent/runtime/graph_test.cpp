#include <doctest/doctest.h>

#include <algorithm>
#include <thread>

#include "tests/support/fake_components.hpp"

using namespace vigil;
using namespace vigil::testing;
using namespace std::chrono_literals;

namespace {

std::optional<runtime::Plan> plan_of(const std::string& text, config::Errors& errors) {
  auto root = yaml(text, errors);
  REQUIRE(errors.empty());
  static const auto factories = fake_factories();
  return runtime::validate_config(std::move(root), factories, errors);
}

std::string all(const config::Errors& errors) {
  std::string s;
  for (const auto& e : errors) s += e.str() + "\n";
  return s;
}

bool has(const config::Errors& errors, const std::string& needle) {
  return std::any_of(errors.begin(), errors.end(), [&](const config::Error& e) {
    return e.str().find(needle) != std::string::npos;
  });
}

const char* kBase =
    "receivers:\n"
    "  fake:\n"
    "exporters:\n"
    "  rec:\n"
    "service:\n"
    "  pipelines:\n"
    "    logs:\n"
    "      receivers: [fake]\n"
    "      exporters: [rec]\n";

}  // namespace

TEST_CASE("component IDs") {
  runtime::ComponentId id;
  std::string err;
  CHECK(runtime::parse_component_id("otlp", id, err));
  CHECK(id.type == "otlp");
  CHECK(id.name.empty());
  CHECK(runtime::parse_component_id("otlp/app-1", id, err));
  CHECK(id.type == "otlp");
  CHECK(id.name == "app-1");
  CHECK(id.str() == "otlp/app-1");
  CHECK_FALSE(runtime::parse_component_id("otlp/", id, err));
  CHECK_FALSE(runtime::parse_component_id("/x", id, err));
  CHECK_FALSE(runtime::parse_component_id("ot lp", id, err));
  CHECK_FALSE(runtime::parse_component_id("otlp/a/b", id, err));
}

TEST_CASE("a minimal config validates, with service defaults") {
  config::Errors errors;
  auto plan = plan_of(kBase, errors);
  INFO(all(errors));
  REQUIRE(plan);
  CHECK(plan->pipelines.size() == 1);
  CHECK(plan->pipelines[0].signal == Signal::kLogs);
  CHECK(plan->shutdown_timeout == 10s);
  CHECK(plan->metrics_address == "127.0.0.1:8888");
  CHECK(plan->log_level == "info");
}

TEST_CASE("every config error is reported at once, with location and component ID") {
  config::Errors errors;
  auto plan = plan_of(
      "receivers:\n"
      "  fake:\n"
      "    endpoint: 1\n"
      "    color: red\n"           // unknown key
      "  nosuch/a:\n"             // unknown type
      "processors:\n"
      "  tag:\n"
      "    mutates: maybe\n"      // wrong type
      "exporters:\n"
      "  rec:\n"
      "    sending_queue:\n"
      "      queue_size: 0\n"     // out of range
      "extensions:\n"
      "  ext:\n"
      "service:\n"
      "  extensions: [ext, ghost]\n"  // undefined extension
      "  pipelines:\n"
      "    logs:\n"
      "      receivers: [fake, missing]\n"  // undefined receiver
      "      processors: [tag]\n"
      "      exporters: [rec, rec]\n"       // listed twice
      "    traces:\n"
      "      receivers: [fake]\n"
      "      processors: [tag]\n"           // tag does not support traces
      "      exporters: [rec]\n"            // rec does not support traces
      "    events:\n"                       // invalid pipeline ID
      "      receivers: [fake]\n"
      "      exporters: [rec]\n"
      "bogus: 1\n",                         // unknown top-level key
      errors);
  INFO(all(errors));
  CHECK_FALSE(plan);
  CHECK(has(errors, "test.yaml:4:5: fake: unknown key 'color'"));
  CHECK(has(errors, "test.yaml:5:3: nosuch/a: unknown receiver type 'nosuch' (known types: fake)"));
  CHECK(has(errors, "test.yaml:8:14: tag:"));
  CHECK(has(errors, "test.yaml:12:19: rec:"));
  CHECK(has(errors, "service: extension 'ghost' is not defined in extensions"));
  CHECK(has(errors, "test.yaml:19:25: pipeline logs: receiver 'missing' is not defined in receivers or connectors"));
  CHECK(has(errors, "pipeline logs: 'rec' is listed twice in exporters"));
  CHECK(has(errors, "pipeline traces: processor 'tag' does not support traces"));
  CHECK(has(errors, "pipeline traces: exporter 'rec' does not support traces"));
  CHECK(has(errors, "invalid pipeline ID 'events'"));
  CHECK(has(errors, "test.yaml:29:1: unknown top-level key 'bogus'"));
  CHECK(errors.size() >= 11);
}

TEST_CASE("service and pipeline shape errors") {
  config::Errors errors;
  SUBCASE("no service") {
    CHECK_FALSE(plan_of("receivers: {fake: }\nexporters: {rec: }\n", errors));
    CHECK(has(errors, "missing 'service' section"));
  }
  SUBCASE("no pipelines") {
    CHECK_FALSE(plan_of("receivers: {fake: }\nexporters: {rec: }\nservice: {pipelines: {}}\n", errors));
    CHECK(has(errors, "at least one pipeline"));
  }
  SUBCASE("a pipeline without exporters") {
    CHECK_FALSE(plan_of("receivers: {fake: }\nservice: {pipelines: {logs: {receivers: [fake]}}}\n", errors));
    CHECK(has(errors, "'exporters' must list at least one component"));
  }
  SUBCASE("an unknown pipeline key") {
    CHECK_FALSE(plan_of(std::string(kBase) + "      extras: [x]\n", errors));
    CHECK(has(errors, "unknown key 'extras'"));
  }
  SUBCASE("an empty config") {
    CHECK_FALSE(plan_of("", errors));
    CHECK(has(errors, "the config is empty"));
  }
  SUBCASE("a bad log level") {
    CHECK_FALSE(plan_of(std::string(kBase) + "  telemetry: {logs: {level: chatty}}\n", errors));
    CHECK(has(errors, "service:"));
  }
}

TEST_CASE("connectors must be used on both sides, with a supported signal pair, without cycles") {
  config::Errors errors;
  SUBCASE("only as an exporter") {
    CHECK_FALSE(plan_of(
        "receivers: {fake: }\nexporters: {rec: }\nconnectors: {pass: }\n"
        "service: {pipelines: {logs: {receivers: [fake], exporters: [rec, pass]}}}\n",
        errors));
    CHECK(has(errors, "pass: connector is used as an exporter but not as a receiver"));
  }
  SUBCASE("only as a receiver") {
    CHECK_FALSE(plan_of(
        "receivers: {fake: }\nexporters: {rec: }\nconnectors: {pass: }\n"
        "service: {pipelines: {logs: {receivers: [fake, pass], exporters: [rec]}}}\n",
        errors));
    CHECK(has(errors, "connector is used as a receiver but not as an exporter"));
  }
  SUBCASE("an unsupported signal pair") {
    CHECK_FALSE(plan_of(
        "receivers: {fake: }\nexporters: {rec: }\nconnectors: {pass: }\n"
        "service: {pipelines: {traces: {receivers: [fake], exporters: [pass]},"
        " logs: {receivers: [pass], exporters: [rec]}}}\n",
        errors));
    CHECK(has(errors, "connector takes traces"));
  }
  SUBCASE("a cycle") {
    CHECK_FALSE(plan_of(
        "receivers: {fake: }\nexporters: {rec: }\nconnectors: {pass/a: , pass/b: }\n"
        "service: {pipelines: {logs/1: {receivers: [fake, pass/b], exporters: [pass/a]},"
        " logs/2: {receivers: [pass/a], exporters: [pass/b, rec]}}}\n",
        errors));
    CHECK(has(errors, "cycle"));
  }
  SUBCASE("a valid join") {
    auto plan = plan_of(
        "receivers: {fake/1: , fake/2: }\nexporters: {rec: }\nconnectors: {pass: }\n"
        "service: {pipelines: {logs/a: {receivers: [fake/1], exporters: [pass]},"
        " logs/b: {receivers: [fake/2], exporters: [pass]},"
        " logs/out: {receivers: [pass], exporters: [rec]}}}\n",
        errors);
    INFO(all(errors));
    CHECK(plan);
  }
}

TEST_CASE("the graph wires receivers, processors, fan-out and connectors, and starts and stops in order") {
  config::Errors errors;
  auto plan = plan_of(
      "receivers: {fake/in: , fake/other: }\n"
      "processors: {tag/a: {tag: a}, tag/b: {tag: b}}\n"
      "exporters:\n"
      "  rec/1: {sending_queue: {enabled: false}}\n"
      "  rec/2: {sending_queue: {enabled: false}}\n"
      "  rec/3: {sending_queue: {enabled: false}}\n"
      "connectors: {pass: }\n"
      "extensions: {ext: }\n"
      "service:\n"
      "  extensions: [ext]\n"
      "  pipelines:\n"
      "    logs/in:\n"
      "      receivers: [fake/in]\n"
      "      processors: [tag/a]\n"
      "      exporters: [rec/1, pass]\n"
      "    logs/out:\n"
      "      receivers: [pass]\n"
      "      processors: [tag/b]\n"
      "      exporters: [rec/2]\n"
      "    logs/plain:\n"
      "      receivers: [fake/in]\n"
      "      exporters: [rec/3]\n",
      errors);
  INFO(all(errors));
  REQUIRE(plan);
  FakeHost host;
  std::string error;
  auto graph = runtime::Graph::build(*plan, host.telemetry_, error);
  REQUIRE(graph);
  journal().take();
  REQUIRE(graph->start(host).is_ok());
  auto started = journal().take();
  REQUIRE(started.size() == 8);
  CHECK(started.front() == "start extension ext");
  CHECK(started[1].rfind("start exporter", 0) == 0);
  // Downstream before upstream: the out pipeline's processor, then the connector, then tag/a.
  auto pos = [&](const std::string& e) { return std::find(started.begin(), started.end(), e) - started.begin(); };
  CHECK(pos("start processor tag/b") < pos("start connector pass"));
  CHECK(pos("start connector pass") < pos("start processor tag/a"));
  CHECK(pos("start processor tag/a") < pos("start receiver fake/in"));

  auto* in = FakeReceiver::get("fake/in");
  REQUIRE(in != nullptr);
  CHECK(FakeReceiver::get("fake/other") == nullptr);  // defined but in no pipeline: not created
  REQUIRE(in->push(make_logs(3)).is_ok());

  // logs/in tags with "a" and fans out to rec/1 and (through pass) to logs/out, which adds "b".
  // logs/plain gets its own copy, untouched by tag/a.
  CHECK(senders()["rec/1"]->received() == std::vector<std::string>{"r0+a", "r1+a", "r2+a"});
  CHECK(senders()["rec/2"]->received() == std::vector<std::string>{"r0+a+b", "r1+a+b", "r2+a+b"});
  CHECK(senders()["rec/3"]->received() == std::vector<std::string>{"r0", "r1", "r2"});

  graph->shutdown(component::Clock::now() + 2s);
  auto stopped = journal().take();
  REQUIRE(stopped.size() == 8);
  CHECK(stopped.front() == "stop receiver fake/in");
  CHECK(stopped.back() == "stop extension ext");
  auto spos = [&](const std::string& e) { return std::find(stopped.begin(), stopped.end(), e) - stopped.begin(); };
  CHECK(spos("stop processor tag/a") < spos("stop connector pass"));
  CHECK(spos("stop connector pass") < spos("stop processor tag/b"));
  CHECK(spos("stop processor tag/b") < spos("stop exporter rec/1"));
}

TEST_CASE("a failing start stops what started and reports the component") {
  config::Errors errors;
  auto plan = plan_of(kBase, errors);
  REQUIRE(plan);
  FakeHost host;
  std::string error;
  auto graph = runtime::Graph::build(*plan, host.telemetry_, error);
  REQUIRE(graph);
  FakeSender::fail_start = true;
  auto status = graph->start(host);
  FakeSender::fail_start = false;
  CHECK(status.is_permanent());
  CHECK(status.message().find("exporter rec") != std::string::npos);
}

TEST_CASE("a reload hands queued batches to the new graph's exporter of the same ID") {
  config::Errors errors;
  const std::string text =
      "receivers: {fake: }\n"
      "exporters: {rec: {sending_queue: {num_consumers: 1}, retry_on_failure: {initial_interval: 5ms, max_elapsed_time: 0s}}}\n"
      "service: {pipelines: {logs: {receivers: [fake], exporters: [rec]}}}\n";
  auto plan1 = plan_of(text, errors);
  auto plan2 = plan_of(text, errors);
  REQUIRE(plan1);
  REQUIRE(plan2);
  FakeHost host;
  std::thread io([&] {
    auto guard = boost::asio::make_work_guard(host.io_);
    host.io_.run_for(20s);
  });
  std::string error;
  auto old_graph = runtime::Graph::build(*plan1, host.telemetry_, error);
  REQUIRE(old_graph);
  REQUIRE(old_graph->start(host).is_ok());
  auto* old_sender = senders()["rec"];
  FakeSender::block = true;  // the backend is down: batches wait in the queue
  auto* in = FakeReceiver::get("fake");
  for (int i = 0; i < 5; ++i) REQUIRE(in->push(make_logs(2, "b" + std::to_string(i) + "-")).is_ok());
  CHECK(old_graph->exporter("rec", Signal::kLogs) != nullptr);

  auto new_graph = runtime::Graph::build(*plan2, host.telemetry_, error);
  REQUIRE(new_graph);
  auto* new_sender = senders()["rec"];
  REQUIRE(new_sender != old_sender);
  old_graph->hand_over(*new_graph, component::Clock::now() + 2s);
  CHECK(old_sender->received().empty());
  FakeSender::block = false;
  REQUIRE(new_graph->start(host).is_ok());
  bool all = eventually_true([&] { return new_sender->received().size() == 10; }, 5s);
  CHECK(all);
  auto got = new_sender->received();
  REQUIRE(got.size() == 10);
  CHECK(got.front() == "b0-0");
  CHECK(got.back() == "b4-1");
  new_graph->shutdown(component::Clock::now() + 2s);
  host.io_.stop();
  io.join();
}

TEST_CASE("a reload whose new graph fails to start gives the queued batches back to the previous config") {
  config::Errors errors;
  const std::string text =
      "receivers: {fake: }\n"
      "exporters: {rec: {sending_queue: {num_consumers: 1}, retry_on_failure: {initial_interval: 5ms, max_elapsed_time: 0s}}}\n"
      "service: {pipelines: {logs: {receivers: [fake], exporters: [rec]}}}\n";
  auto plan = plan_of(text, errors);
  REQUIRE(plan);
  FakeHost host;
  std::thread io([&] {
    auto guard = boost::asio::make_work_guard(host.io_);
    host.io_.run_for(20s);
  });
  std::string error;
  auto first = runtime::Graph::build(*plan, host.telemetry_, error);
  REQUIRE(first);
  REQUIRE(first->start(host).is_ok());
  FakeSender::block = true;
  for (int i = 0; i < 4; ++i) REQUIRE(FakeReceiver::get("fake")->push(make_logs(1, "q" + std::to_string(i) + "-")).is_ok());

  auto next = runtime::Graph::build(*plan, host.telemetry_, error);
  REQUIRE(next);
  first->hand_over(*next, component::Clock::now() + 2s);
  FakeSender::fail_start = true;  // the new config cannot start (a port in use, say)
  auto status = next->start(host);
  FakeSender::fail_start = false;
  REQUIRE(status.is_permanent());
  CHECK(status.message().find("exporter rec") != std::string::npos);

  auto previous = runtime::Graph::build(*plan, host.telemetry_, error);
  REQUIRE(previous);
  next->hand_over(*previous, component::Clock::now() + 2s);
  FakeSender::block = false;
  REQUIRE(previous->start(host).is_ok());
  auto* sender = senders()["rec"];
  CHECK(eventually_true([&] { return sender->received().size() == 4; }, 5s));
  CHECK(sender->received() == std::vector<std::string>{"q0-0", "q1-0", "q2-0", "q3-0"});
  previous->shutdown(component::Clock::now() + 2s);
  host.io_.stop();
  io.join();
}

TEST_CASE("service errors and pipeline errors are reported in one run") {
  config::Errors errors;
  auto plan = plan_of(
      "receivers: {fake: }\n"
      "exporters: {rec: }\n"
      "extensions: {ext: }\n"
      "service:\n"
      "  shutdown_timeout: forever\n"
      "  extensions: [ext]\n"
      "  pipelines:\n"
      "    logs: {receivers: [fake], exporters: [nope]}\n",
      errors);
  INFO(all(errors));
  CHECK_FALSE(plan);
  CHECK(has(errors, "test.yaml:5:21: service:"));
  CHECK(has(errors, "'nope' is not defined"));
}

TEST_CASE("an extension listed twice is an error, not a port clash at start") {
  config::Errors errors;
  auto plan = plan_of(std::string(kBase) + "extensions: {ext: }\n", errors);
  REQUIRE(plan);
  errors.clear();
  auto twice = plan_of(
      "receivers: {fake: }\nexporters: {rec: }\nextensions: {ext: }\n"
      "service: {extensions: [ext, ext], pipelines: {logs: {receivers: [fake], exporters: [rec]}}}\n",
      errors);
  CHECK_FALSE(twice);
  CHECK(has(errors, "extension 'ext' is listed twice"));
}
