// Process-level tests: the real `vigil` binary on free loopback ports, fed over OTLP/HTTP,
// checked through its file exporter output, /metrics, the health endpoint, signals and exit codes.

#include <doctest/doctest.h>
#include <signal.h>
#include <simdjson.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "tests/integration/integration_support.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"

using namespace vigil::testing;
using namespace vigil::testing::integration;
using namespace std::chrono_literals;

namespace {

class Agent {
 public:
  explicit Agent(const std::string& batch_timeout = "100ms", const std::string& shutdown_timeout = "10s") {
    http_port = free_port();
    metrics_port = free_port();
    health_port = free_port();
    out_file = dir.file("out.jsonl");
    config_path = dir.file("vigil.yaml");
    write_file(config_path, config(out_file, batch_timeout, shutdown_timeout));
  }

  std::string config(const std::string& path, const std::string& batch_timeout,
                     const std::string& shutdown_timeout) const {
    return "receivers:\n"
           "  otlp:\n"
           "    protocols:\n"
           "      http:\n"
           "        endpoint: 127.0.0.1:" + std::to_string(http_port) + "\n"
           "processors:\n"
           "  batch:\n"
           "    timeout: " + batch_timeout + "\n"
           "exporters:\n"
           "  file:\n"
           "    path: " + path + "\n"
           "extensions:\n"
           "  health_check:\n"
           "    endpoint: 127.0.0.1:" + std::to_string(health_port) + "\n"
           "service:\n"
           "  shutdown_timeout: " + shutdown_timeout + "\n"
           "  extensions: [health_check]\n"
           "  telemetry:\n"
           "    metrics:\n"
           "      address: 127.0.0.1:" + std::to_string(metrics_port) + "\n"
           "  pipelines:\n"
           "    logs:\n"
           "      receivers: [otlp]\n"
           "      processors: [batch]\n"
           "      exporters: [file]\n"
           "    traces:\n"
           "      receivers: [otlp]\n"
           "      processors: [batch]\n"
           "      exporters: [file]\n"
           "    metrics:\n"
           "      receivers: [otlp]\n"
           "      exporters: [file]\n";
  }

  void start() {
    proc = std::make_unique<Process>(std::vector<std::string>{VIGIL_BINARY, "--config", config_path},
                                     std::map<std::string, std::string>{}, dir.file("stdout"), dir.file("stderr"));
    bool healthy = eventually([&] { return http_request("GET", health_port, "/").status == 200; }, 15s);
    INFO(proc->err());
    REQUIRE(healthy);
  }

  HttpResult post(const std::string& path, const std::string& body) {
    return http_request("POST", http_port, path, body, kProto);
  }
  std::string metrics() { return http_request("GET", metrics_port, "/metrics").body; }

  TempDir dir;
  std::uint16_t http_port, metrics_port, health_port;
  std::string out_file, config_path;
  std::unique_ptr<Process> proc;
};

}  // namespace

TEST_CASE("OTLP/HTTP data reaches the file exporter and the self-metrics count it") {
  Agent agent;
  agent.start();
  for (int i = 0; i < 3; ++i) CHECK(agent.post("/v1/logs", logs_request(5, "req" + std::to_string(i))).status == 200);
  for (int i = 0; i < 2; ++i) CHECK(agent.post("/v1/traces", traces_request(4)).status == 200);
  CHECK(agent.post("/v1/metrics", metrics_request(3)).status == 200);

  Counts counts;
  bool all = eventually(
      [&] {
        counts = count_file(agent.out_file);
        return counts.log_records == 15 && counts.spans == 8 && counts.points == 3;
      },
      10s);
  INFO("logs=" << counts.log_records << " spans=" << counts.spans << " points=" << counts.points);
  CHECK(all);
  CHECK(counts.bodies.find("req2-4") != std::string::npos);

  std::string m;
  bool counted = eventually(
      [&] {
        m = agent.metrics();
        return prometheus_value(m, "vigil_exporter_sent_log_records_total", {{"exporter", "file"}}) == 15;
      },
      10s);
  INFO(m);
  CHECK(counted);
  CHECK(prometheus_value(m, "vigil_receiver_accepted_log_records_total", {{"receiver", "otlp"}}) == 15);
  CHECK(prometheus_value(m, "vigil_receiver_accepted_spans_total", {{"receiver", "otlp"}}) == 8);
  CHECK(prometheus_value(m, "vigil_receiver_accepted_metric_points_total", {{"receiver", "otlp"}}) == 3);
  CHECK(prometheus_value(m, "vigil_exporter_sent_spans_total", {{"exporter", "file"}}) == 8);
  CHECK(prometheus_value(m, "vigil_exporter_sent_metric_points_total", {{"exporter", "file"}}) == 3);
  CHECK(prometheus_value(m, "vigil_build_info") == 1);
  CHECK(prometheus_value(m, "vigil_process_resident_memory_bytes") > 0);
  CHECK(prometheus_value(m, "vigil_process_cpu_seconds_total") >= 0);

  // Bad requests are refused with a clear answer and the agent goes on.
  auto bad = agent.post("/v1/logs", "this is not protobuf \xff\xff\xff");
  CHECK(bad.status == 400);
  CHECK(agent.post("/v1/logs", logs_request(1, "after")).status == 200);

  agent.proc->signal(SIGTERM);
  CHECK(agent.proc->wait(15s) == 0);
}

TEST_CASE("SIGTERM drains what the batch processor holds and exits 0") {
  Agent agent("30s");  // nothing leaves the batch processor before shutdown
  agent.start();
  for (int i = 0; i < 4; ++i) REQUIRE(agent.post("/v1/logs", logs_request(10, "held")).status == 200);
  CHECK(count_file(agent.out_file).log_records == 0);
  auto t0 = std::chrono::steady_clock::now();
  agent.proc->signal(SIGTERM);
  int rc = agent.proc->wait(15s);
  INFO(agent.proc->err());
  CHECK(rc == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < 12s);
  CHECK(count_file(agent.out_file).log_records == 40);
}

TEST_CASE("SIGHUP with a broken config keeps the agent running on the old one") {
  Agent agent;
  agent.start();
  REQUIRE(agent.post("/v1/logs", logs_request(2, "before")).status == 200);
  write_file(agent.config_path, "receivers: [unclosed\n  exporters: {\n");
  agent.proc->signal(SIGHUP);
  bool logged = eventually([&] { return agent.proc->err().find("keeping the running config") != std::string::npos; }, 10s);
  INFO(agent.proc->err());
  CHECK(logged);
  CHECK(agent.proc->running());
  CHECK(http_request("GET", agent.health_port, "/").status == 200);
  CHECK(agent.post("/v1/logs", logs_request(3, "after")).status == 200);
  CHECK(eventually([&] { return count_file(agent.out_file).log_records == 5; }, 10s));
  agent.proc->signal(SIGTERM);
  CHECK(agent.proc->wait(15s) == 0);
}

TEST_CASE("SIGHUP with a valid new config switches to it") {
  Agent agent;
  agent.start();
  REQUIRE(agent.post("/v1/logs", logs_request(2, "old")).status == 200);
  REQUIRE(eventually([&] { return count_file(agent.out_file).log_records == 2; }, 10s));
  std::string second = agent.dir.file("second.jsonl");
  write_file(agent.config_path, agent.config(second, "100ms", "10s"));
  agent.proc->signal(SIGHUP);
  bool reloaded = eventually([&] { return agent.proc->err().find("reloaded") != std::string::npos; }, 10s);
  INFO(agent.proc->err());
  REQUIRE(reloaded);
  REQUIRE(eventually([&] { return http_request("GET", agent.health_port, "/").status == 200; }, 10s));
  CHECK(agent.post("/v1/logs", logs_request(3, "new")).status == 200);
  CHECK(eventually([&] { return count_file(second).log_records == 3; }, 10s));
  CHECK(count_file(agent.out_file).log_records == 2);
  // Counters survive the reload.
  CHECK(eventually(
      [&] {
        return prometheus_value(agent.metrics(), "vigil_receiver_accepted_log_records_total", {{"receiver", "otlp"}}) == 5;
      },
      10s));
  agent.proc->signal(SIGTERM);
  CHECK(agent.proc->wait(15s) == 0);
}

TEST_CASE("the embedded default config runs with no --config") {
  TempDir dir;
  auto http = free_port(), grpc = free_port(), health = free_port(), metrics = free_port();
  Process p({VIGIL_BINARY},
            {{"VIGIL_OTLP_HTTP_ENDPOINT", "127.0.0.1:" + std::to_string(http)},
             {"VIGIL_OTLP_GRPC_ENDPOINT", "127.0.0.1:" + std::to_string(grpc)},
             {"VIGIL_HEALTH_ENDPOINT", "127.0.0.1:" + std::to_string(health)},
             {"VIGIL_METRICS_ADDRESS", "127.0.0.1:" + std::to_string(metrics)},
             {"VIGIL_DEMO_LOGS", dir.file("demo")},
             {"VIGIL_KPI_INTERVAL", "200ms"},
             {"AWS_ACCESS_KEY_ID", ""}},
            dir.file("out"), dir.file("err"));
  std::filesystem::create_directories(dir.file("demo"));
  bool healthy = eventually([&] { return http_request("GET", health, "/").status == 200; }, 15s);
  INFO(p.err());
  REQUIRE(healthy);
  CHECK(http_request("POST", http, "/v1/logs", logs_request(7, "default"), kProto).status == 200);
  // The debug exporter's summary on stdout.
  bool printed = eventually([&] { return p.out().find("log records: 7") != std::string::npos; }, 10s);
  INFO(p.out());
  CHECK(printed);
  // The demo log folder is tailed (from its end, as the Collector's filelog does) and the default
  // KPI pack counts its orders: the kpi connector's self-metrics show the matches.
  std::this_thread::sleep_for(500ms);  // the first poll has seen the file's end
  write_file(dir.file("demo") + "/shop.log",
             "{\"time\":\"2026-11-20T10:00:00.000Z\",\"event\":\"order.created\",\"payment_method\":\"card\",\"region\":\"eu-west-1\",\"request_id\":\"r-1\"}\n"
             "{\"time\":\"2026-11-20T10:00:01.000Z\",\"event\":\"order.created\",\"payment_method\":\"card\",\"region\":\"eu-west-1\",\"request_id\":\"r-2\"}\n");
  bool counted = eventually([&] {
    const std::string m = http_request("GET", metrics, "/metrics").body;
    return m.find("vigil_kpi_records_matched_total{connector=\"kpi\",rule=\"orders_created_total\"} 2") != std::string::npos;
  }, 15s);
  CHECK(counted);
  bool emitted = eventually([&] { return p.out().find("Metrics: resource metrics: ") != std::string::npos; }, 10s);
  CHECK(emitted);
  p.signal(SIGINT);
  CHECK(p.wait(15s) == 0);
}

TEST_CASE("the command line") {
  std::string out, err;
  CHECK(run({VIGIL_BINARY, "version"}, out, err) == 0);
  CHECK(out.find("vigil ") == 0);
  CHECK(run({VIGIL_BINARY, "--help"}, out, err) == 0);
  CHECK(out.find("vigil validate") != std::string::npos);
  CHECK(run({VIGIL_BINARY, "components"}, out, err) == 0);
  for (const char* type : {"otlp", "otlphttp", "nop", "batch", "memory_limiter", "debug", "file", "forward", "kpi", "correlation", "filelog", "file_storage",
                           "health_check", "bearertokenauth", "awscloudwatchlogs", "awsemf", "sigv4auth"}) {
    CHECK(out.find(std::string(" ") + type + " ") != std::string::npos);
  }
  CHECK(run({VIGIL_BINARY, "--frobnicate"}, out, err) == 2);
  CHECK(err.find("unknown flag '--frobnicate'") != std::string::npos);
  CHECK(run({VIGIL_BINARY, "validate"}, out, err) == 0);  // the embedded default is valid
}

TEST_CASE("the AWS example configs are valid, and validate never prints AWS secrets") {
  std::string out, err;
  const std::string examples = std::string(VIGIL_SOURCE_DIR) + "/examples/aws";
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(examples)) {
    if (entry.path().extension() != ".yaml") continue;
    INFO(entry.path().string());
    CHECK(run({VIGIL_BINARY, "validate", "--config", entry.path().string()}, out, err) == 0);
    ++checked;
  }
  CHECK(checked == 3);

  // A broken AWS config, with credentials in the environment and one expanded into the config
  // itself: the errors name options and places, never the secret or the token.
  TempDir dir;
  const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY";
  const std::string token = "FwoGZXIvYXdzSESSIONTOKEN";
  const std::string path = dir.file("aws.yaml");
  write_file(path,
             "receivers: {otlp: {protocols: {http: {}}}}\n"
             "exporters:\n"
             "  awscloudwatchlogs:\n"
             "    log_group_name: g\n"
             "    log_stream_name: s\n"
             "    log_retention: 4\n"
             "    tags:\n"
             "      k: ${env:AWS_SECRET_ACCESS_KEY}\n"
             "  awsemf:\n"
             "    dimension_rollup_option: Sometimes\n"
             "    namespace: ${env:AWS_SESSION_TOKEN}\n"
             "extensions:\n"
             "  sigv4auth:\n"
             "    assume_role:\n"
             "      arn: ${env:AWS_SECRET_ACCESS_KEY}\n"
             "      bogus: 1\n"
             "service:\n"
             "  extensions: [sigv4auth]\n"
             "  pipelines:\n"
             "    logs: {receivers: [otlp], exporters: [awscloudwatchlogs]}\n"
             "    metrics: {receivers: [otlp], exporters: [awsemf]}\n");
  const int rc = run({VIGIL_BINARY, "validate", "--config", path}, out, err, std::chrono::seconds(30),
                     {{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"}, {"AWS_SECRET_ACCESS_KEY", secret}, {"AWS_SESSION_TOKEN", token}});
  CHECK(rc == 1);
  CHECK(err.find("log_retention") != std::string::npos);
  CHECK(err.find("dimension_rollup_option") != std::string::npos);
  CHECK((out + err).find(secret) == std::string::npos);
  CHECK((out + err).find(token) == std::string::npos);
}

TEST_CASE("vigil validate reports every config error with its location and never crashes") {
  TempDir dir;
  std::string out, err;
  auto validate = [&](const std::string& name, const std::string& text) {
    std::string path = dir.file(name);
    write_file(path, text);
    return run({VIGIL_BINARY, "validate", "--config", path}, out, err);
  };

  SUBCASE("a valid config") {
    CHECK(validate("ok.yaml",
                   "receivers: {otlp: {protocols: {http: {}}}}\n"
                   "exporters: {debug: {}}\n"
                   "service: {pipelines: {logs: {receivers: [otlp], exporters: [debug]}}}\n") == 0);
  }
  SUBCASE("malformed YAML") {
    CHECK(validate("bad.yaml", "receivers:\n  otlp: [\n") == 1);
    CHECK(err.find("bad.yaml:") != std::string::npos);
  }
  SUBCASE("duplicated keys") {
    CHECK(validate("dup.yaml",
                   "receivers: {otlp: {protocols: {http: {}}}}\n"
                   "exporters: {debug: {}}\n"
                   "exporters: {debug: {}}\n"
                   "service: {pipelines: {logs: {receivers: [otlp], exporters: [debug]}}}\n") == 1);
    CHECK(err.find("dup.yaml:3:") != std::string::npos);
    CHECK(err.find("duplicate key") != std::string::npos);
  }
  SUBCASE("several errors at once, each with file:line:column and component") {
    CHECK(validate("many.yaml",
                   "receivers:\n"
                   "  otlp:\n"
                   "    protocols: {http: {endpoint: 1}}\n"
                   "    bogus: 1\n"
                   "  nosuch:\n"
                   "processors:\n"
                   "  batch:\n"
                   "    send_batch_size: many\n"
                   "exporters:\n"
                   "  debug:\n"
                   "    verbosity: loud\n"
                   "service:\n"
                   "  pipelines:\n"
                   "    logs:\n"
                   "      receivers: [otlp]\n"
                   "      processors: [batch]\n"
                   "      exporters: [debug, missing]\n") == 1);
    INFO(err);
    CHECK(err.find("many.yaml:4:5: otlp: unknown key 'bogus'") != std::string::npos);
    CHECK(err.find("many.yaml:5:3: nosuch: unknown receiver type 'nosuch'") != std::string::npos);
    CHECK(err.find("many.yaml:8:22: batch:") != std::string::npos);
    CHECK(err.find("many.yaml:11:16: debug:") != std::string::npos);
    CHECK(err.find("'missing' is not defined in exporters or connectors") != std::string::npos);
  }
  SUBCASE("a connector used only as an exporter") {
    CHECK(validate("conn.yaml",
                   "receivers: {otlp: {protocols: {http: {}}}}\n"
                   "exporters: {debug: {}}\n"
                   "connectors: {forward: {}}\n"
                   "service: {pipelines: {logs: {receivers: [otlp], exporters: [debug, forward]}}}\n") == 1);
    CHECK(err.find("used as an exporter but not as a receiver") != std::string::npos);
  }
  SUBCASE("a 10 MB config") {
    CHECK(validate("huge.yaml", "# " + std::string(10 * 1024 * 1024, 'x') + "\n") == 1);
    CHECK(err.find("limit") != std::string::npos);
  }
  SUBCASE("deep nesting") {
    CHECK(validate("deep.yaml", "a: " + std::string(100000, '[') + "\n") == 1);
  }
  SUBCASE("a missing file") {
    CHECK(run({VIGIL_BINARY, "validate", "--config", dir.file("nope.yaml")}, out, err) == 1);
    CHECK(err.find("nope.yaml") != std::string::npos);
  }
  SUBCASE("running with an invalid config exits 1 without starting") {
    std::string path = dir.file("run.yaml");
    write_file(path, "receivers: {otlp: {}}\n");
    CHECK(run({VIGIL_BINARY, "--config", path}, out, err) == 1);
    CHECK(err.find("not starting") != std::string::npos);
  }
}
