// otlphttp exporter against a fake OTLP/HTTP server (runtime::HttpServer in this process) that
// records what it receives and answers scripted responses; a second HttpServer plays an HTTP
// proxy. Test cases are named "otlphttp: ..." (select them with -tc="*otlphttp*").
#include "exporters/otlphttp/otlphttp_exporter.hpp"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "agent/otlp/proto_decoder.hpp"
#include "agent/runtime/http_server.hpp"
#include "agent/runtime/tls.hpp"
#include "agent/telemetry/telemetry.hpp"
#include "collectors/otlp/otlp_receiver.hpp"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "tests/support/fake_host.hpp"
#include "tests/support/http_test_support.hpp"
#include "tests/support/otlp_test_support.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_batches.hpp"
#include "tests/support/tls_test_support.hpp"
#include "tests/unit/exporters/exporter_test_support.hpp"

namespace {

using namespace vigil;
using component::Status;
using exporters::testing::map;
using exporters::testing::scalar;
using model::Signal;
using runtime::HttpRequest;
using runtime::HttpResponse;
namespace mt = vigil::model::testing;
namespace ot = vigil::otlp::testing;
using namespace std::chrono_literals;

constexpr char kProtobuf[] = "application/x-protobuf";

// ---- the fake server -------------------------------------------------------------------------

// An OTLP/HTTP server that records every request and answers from a script (then 200 with an
// empty protobuf body). hold() makes requests wait (bounded) until release().
class FakeOtlpServer {
 public:
  explicit FakeOtlpServer(std::shared_ptr<boost::asio::ssl::context> tls = nullptr) {
    runtime::HttpServerOptions o;
    o.endpoint = "127.0.0.1:0";
    o.tls = std::move(tls);
    server_ = std::make_unique<runtime::HttpServer>(runner_.io(), o, [this](HttpRequest& r) { return handle(r); });
    const std::string error = server_->start();
    REQUIRE_MESSAGE(error.empty(), error);
  }
  ~FakeOtlpServer() {
    release();
    server_->stop();
  }

  std::uint16_t port() const { return server_->port(); }
  std::string url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port());
  }
  runtime::HttpServerStats stats() const { return server_->stats(); }

  void script(HttpResponse r) {
    std::lock_guard lock(mu_);
    script_.push_back(std::move(r));
  }
  void hold() {
    std::lock_guard lock(mu_);
    holding_ = true;
  }
  void release() {
    std::lock_guard lock(mu_);
    holding_ = false;
    cv_.notify_all();
  }
  std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::size_t count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  HttpRequest last() const {
    std::lock_guard lock(mu_);
    REQUIRE(!requests_.empty());
    return requests_.back();
  }

 private:
  HttpResponse handle(HttpRequest& r) {
    std::unique_lock lock(mu_);
    requests_.push_back(r);
    if (holding_) cv_.wait_for(lock, 10s, [this] { return !holding_; });
    if (!script_.empty()) {
      HttpResponse next = std::move(script_.front());
      script_.pop_front();
      return next;
    }
    return HttpResponse{200, {{"Content-Type", kProtobuf}}, {}};
  }

  testing::IoRunner runner_{2};
  std::unique_ptr<runtime::HttpServer> server_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<HttpRequest> requests_;
  std::deque<HttpResponse> script_;
  bool holding_ = false;
};

std::string header(const HttpRequest& r, std::string_view name) {
  const std::string* v = r.header(name);
  return v != nullptr ? *v : std::string();
}

int header_count(const HttpRequest& r, std::string_view name) {
  int n = 0;
  for (const auto& [k, v] : r.headers) n += k == name;
  return n;
}

// ---- the exporter under test -------------------------------------------------------------------

class FakeClientAuth : public component::Extension, public component::ClientAuthenticator {
 public:
  Status start(component::Host&) override { return Status::ok(); }
  void shutdown(component::Deadline) override {}
  Status request_headers(component::HeaderList& out) const override {
    if (!available.load()) return Status::retryable("token not available yet");
    out.emplace_back("authorization", "Bearer from-extension");
    return Status::ok();
  }
  std::atomic<bool> available{true};
};

using TestHost = testing::host_fakes::FakeHost;

struct Exporter {
  FakeClientAuth auth;
  TestHost host;
  component::Factory factory = exporters::otlphttp_exporter_factory();
  config::Value node;
  telemetry::Telemetry tel;
  std::string id;
  std::unique_ptr<component::Sender> sender;

  Status send(const model::Batch& b) { return sender->send(b); }
  double rejected(Signal s = Signal::kLogs) {
    return testing::counter_value(tel, "vigil_exporter_rejected_" + std::string(model::signal_item_name(s)) + "_total",
                                  {{"exporter", id}});
  }
};

config::Errors validate(const config::Value& node) {
  component::Factory f = exporters::otlphttp_exporter_factory();
  config::Errors errors;
  config::validate(f.schema, &node, {}, "otlphttp", errors);
  if (errors.empty() && f.validate) {
    config::Settings settings(&f.schema, &node, {});
    f.validate(settings, "otlphttp", errors);
  }
  return errors;
}

// Creates (and by default starts) an exporter for `signal` from a config map.
std::unique_ptr<Exporter> make_exporter(std::vector<std::pair<std::string, config::Value>> entries,
                                        Signal signal = Signal::kLogs, bool start = true,
                                        const std::string& id = "otlphttp") {
  auto e = std::make_unique<Exporter>();
  e->id = id;
  e->host.extensions["bearertokenauth/test"] = &e->auth;
  e->node = map(std::move(entries));
  config::Errors errors = validate(e->node);
  for (const auto& err : errors) FAIL_CHECK(err.message);
  config::Settings settings(&e->factory.schema, &e->node, {});
  component::CreateSettings cs{id, settings, e->tel, ""};
  e->sender = e->factory.create_exporter(cs, signal);
  REQUIRE(e->sender != nullptr);
  if (start) {
    Status s = e->sender->start(e->host);
    REQUIRE_MESSAGE(s.is_ok(), s.message());
  }
  return e;
}

// The environment variables that choose a proxy, cleared for a test and restored afterwards.
class ProxyEnvGuard {
 public:
  ProxyEnvGuard() {
    for (const char* name : kNames) {
      const char* v = std::getenv(name);
      if (v != nullptr) saved_[name] = v;
      ::unsetenv(name);
    }
  }
  ~ProxyEnvGuard() {
    for (const char* name : kNames) {
      auto it = saved_.find(name);
      if (it != saved_.end()) {
        ::setenv(name, it->second.c_str(), 1);
      } else {
        ::unsetenv(name);
      }
    }
  }
  void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

 private:
  static constexpr const char* kNames[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                                           "NO_PROXY",   "no_proxy",   "ALL_PROXY",   "all_proxy"};
  std::map<std::string, std::string> saved_;
};

// ---- bodies ------------------------------------------------------------------------------------

std::string decompress(const HttpRequest& r) {
  std::string out, error;
  const collectors::DecompressResult res =
      collectors::decompress_body(header(r, "content-encoding"), std::string(r.body), 64 << 20, out, error);
  REQUIRE_MESSAGE(res == collectors::DecompressResult::kOk, error);
  return out;
}

model::Batch decode(Signal signal, const std::string& bytes) {
  model::Batch b(signal);
  std::string error;
  REQUIRE_MESSAGE(otlp::decode_export_request(signal, bytes, b, error), error);
  return b;
}

// (resource tag, scope name, time, body) of every log record in an OTLP/JSON logs request.
std::vector<mt::Row> json_log_rows(const std::string& json) {
  std::vector<mt::Row> rows;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(json).get(root) == simdjson::SUCCESS);
  simdjson::dom::array resources;
  REQUIRE(root["resourceLogs"].get(resources) == simdjson::SUCCESS);
  for (auto rl : resources) {
    std::string tag = "?";
    simdjson::dom::array attrs;
    if (rl["resource"]["attributes"].get(attrs) == simdjson::SUCCESS) {
      for (auto kv : attrs) {
        std::string_view key, value;
        if (kv["key"].get(key) == simdjson::SUCCESS && key == "res" &&
            kv["value"]["stringValue"].get(value) == simdjson::SUCCESS) {
          tag = std::string(value);
        }
      }
    }
    simdjson::dom::array scopes;
    REQUIRE(rl["scopeLogs"].get(scopes) == simdjson::SUCCESS);
    for (auto sl : scopes) {
      std::string_view scope_name;
      if (sl["scope"]["name"].get(scope_name) != simdjson::SUCCESS) scope_name = "";
      simdjson::dom::array records;
      REQUIRE(sl["logRecords"].get(records) == simdjson::SUCCESS);
      for (auto rec : records) {
        std::string_view time = "0", body;
        if (rec["timeUnixNano"].get(time) != simdjson::SUCCESS) time = "0";
        REQUIRE(rec["body"]["stringValue"].get(body) == simdjson::SUCCESS);
        rows.emplace_back(tag, std::string(scope_name), std::stoull(std::string(time)), std::string(body));
      }
    }
  }
  return rows;
}

HttpResponse rpc_status_response(unsigned http_status, const std::string& message,
                                 std::optional<int> retry_delay_seconds = std::nullopt) {
  google::rpc::Status status;
  status.set_code(3);
  status.set_message(message);
  if (retry_delay_seconds) {
    google::rpc::RetryInfo info;
    info.mutable_retry_delay()->set_seconds(*retry_delay_seconds);
    status.add_details()->PackFrom(info);
  }
  return HttpResponse{http_status, {{"Content-Type", kProtobuf}}, status.SerializeAsString()};
}

std::string http_date(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

}  // namespace

// ---- options -----------------------------------------------------------------------------------

TEST_CASE("otlphttp: defaults follow the Collector") {
  component::Factory f = exporters::otlphttp_exporter_factory();
  CHECK(f.type == "otlphttp");
  CHECK(f.kind == component::Kind::kExporter);
  CHECK(f.exporter_queue);
  CHECK(f.supports(Signal::kTraces));
  CHECK(f.supports(Signal::kMetrics));
  CHECK(f.supports(Signal::kLogs));
  config::Value node = map({{"endpoint", scalar("https://otlp.example.com:4318")}});
  CHECK(validate(node).empty());
  config::Settings s(&f.schema, &node, {});
  const exporters::OtlpHttpExporterOptions o = exporters::read_otlphttp_exporter_options(s);
  CHECK(o.compression == exporters::OtlpHttpExporterOptions::Compression::kGzip);
  CHECK(o.encoding == otlp::Encoding::kProtobuf);
  CHECK(o.timeout == 30s);
  CHECK(o.idle_conn_timeout == 90s);
  CHECK_FALSE(o.disable_keep_alives);
  CHECK(o.proxy_url.empty());
  CHECK(o.authenticator.empty());
  CHECK(o.headers.empty());
}

TEST_CASE("otlphttp: validation reports every bad option") {
  const auto has_error = [](const config::Errors& errors, const std::string& part) {
    for (const auto& e : errors) {
      if (e.message.find(part) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(has_error(validate(map({})), "at least one endpoint"));
  CHECK(has_error(validate(map({{"endpoint", scalar("localhost:4318")}})), "endpoint \"localhost:4318\""));
  CHECK(has_error(validate(map({{"endpoint", scalar("ftp://example.com")}})), "scheme"));
  CHECK(has_error(validate(map({{"logs_endpoint", scalar("grpc://example.com/v1/logs")}})), "logs_endpoint"));
  CHECK(validate(map({{"logs_endpoint", scalar("http://example.com/v1/logs")}})).empty());
  CHECK(has_error(validate(map({{"endpoint", scalar("http://x")}, {"headers", map({{"bad name", scalar("v")}})}})),
                  "not a valid header name"));
  CHECK(has_error(
      validate(map({{"endpoint", scalar("http://x")}, {"headers", map({{"Content-Encoding", scalar("br")}})}})),
      "set by the exporter"));
  CHECK(has_error(validate(map({{"endpoint", scalar("http://x")}, {"proxy_url", scalar("ftp://proxy:21")}})),
                  "proxy_url"));
  CHECK(validate(map({{"endpoint", scalar("http://x")}, {"proxy_url", scalar("proxy.internal:3128")}})).empty());
  CHECK(has_error(validate(map({{"endpoint", scalar("http://x")}, {"auth", map({})}})), "auth.authenticator"));
  CHECK(has_error(validate(map({{"endpoint", scalar("http://x")}, {"compression", scalar("brotli")}})),
                  "compression"));
  CHECK(has_error(validate(map({{"endpoint", scalar("http://x")}, {"encoding", scalar("xml")}})), "encoding"));
}

TEST_CASE("otlphttp: signal URLs") {
  exporters::OtlpHttpExporterOptions o;
  o.endpoint = "https://otlp.example.com:4318";
  CHECK(exporters::otlphttp_signal_url(o, Signal::kTraces) == "https://otlp.example.com:4318/v1/traces");
  CHECK(exporters::otlphttp_signal_url(o, Signal::kMetrics) == "https://otlp.example.com:4318/v1/metrics");
  CHECK(exporters::otlphttp_signal_url(o, Signal::kLogs) == "https://otlp.example.com:4318/v1/logs");
  o.endpoint = "https://otlp.example.com/otlp/";
  CHECK(exporters::otlphttp_signal_url(o, Signal::kLogs) == "https://otlp.example.com/otlp/v1/logs");
  o.logs_endpoint = "https://logs.example.com/ingest";
  CHECK(exporters::otlphttp_signal_url(o, Signal::kLogs) == "https://logs.example.com/ingest");
  CHECK(exporters::otlphttp_signal_url(o, Signal::kTraces) == "https://otlp.example.com/otlp/v1/traces");
  o.endpoint.clear();
  CHECK(exporters::otlphttp_signal_url(o, Signal::kTraces).empty());
}

TEST_CASE("otlphttp: start fails for a signal that has no URL") {
  auto e = make_exporter({{"traces_endpoint", scalar("http://127.0.0.1:1/v1/traces")}}, Signal::kLogs, false);
  Status s = e->sender->start(e->host);
  CHECK(s.is_permanent());
  CHECK(s.message().find("logs_endpoint") != std::string::npos);
  e->sender->shutdown({});
}

TEST_CASE("otlphttp: a missing authenticator extension fails start") {
  auto e = make_exporter({{"endpoint", scalar("http://127.0.0.1:1")}, {"auth", map({{"authenticator", scalar("nope")}})}},
                         Signal::kLogs, false);
  Status s = e->sender->start(e->host);
  CHECK(s.is_permanent());
  CHECK(s.message().find("nope") != std::string::npos);
}

// ---- what is sent ------------------------------------------------------------------------------

TEST_CASE("otlphttp: each signal goes to its path as protobuf that decodes to the batch") {
  FakeOtlpServer server;
  const std::vector<std::pair<Signal, std::string>> cases = {
      {Signal::kTraces, "/v1/traces"}, {Signal::kMetrics, "/v1/metrics"}, {Signal::kLogs, "/v1/logs"}};
  for (const auto& [signal, path] : cases) {
    CAPTURE(path);
    auto e = make_exporter({{"endpoint", scalar(server.url())}, {"compression", scalar("none")}}, signal);
    model::Batch batch = signal == Signal::kTraces    ? ot::full_traces_batch()
                         : signal == Signal::kMetrics ? ot::full_metrics_batch()
                                                      : ot::full_logs_batch();
    Status s = e->send(batch);
    REQUIRE_MESSAGE(s.is_ok(), s.message());
    const HttpRequest r = server.last();
    CHECK(r.method == "POST");
    CHECK(r.path == path);
    CHECK(header(r, "content-type") == kProtobuf);
    CHECK(r.header("content-encoding") == nullptr);
    CHECK(header(r, "user-agent").rfind("vigil/", 0) == 0);
    CHECK(r.header("expect") == nullptr);
    if (signal == Signal::kTraces) {
      ot::TraceRequest req;
      REQUIRE(req.ParseFromString(r.body));
      ot::compare(batch, req);
    } else if (signal == Signal::kMetrics) {
      ot::MetricsRequest req;
      REQUIRE(req.ParseFromString(r.body));
      ot::compare(batch, req);
    } else {
      ot::LogsRequest req;
      REQUIRE(req.ParseFromString(r.body));
      ot::compare(batch, req);
    }
    e->sender->shutdown({});
  }
}

TEST_CASE("otlphttp: per-signal endpoints override endpoint") {
  FakeOtlpServer server;
  const std::vector<std::pair<std::string, config::Value>> config = {
      {"endpoint", scalar(server.url() + "/base/")},
      {"logs_endpoint", scalar(server.url() + "/custom/logs")},
      {"metrics_endpoint", scalar(server.url() + "/m")}};
  auto logs = make_exporter(config, Signal::kLogs);
  auto traces = make_exporter(config, Signal::kTraces);
  auto metrics = make_exporter(config, Signal::kMetrics);
  REQUIRE(logs->send(mt::make_logs({{2}})).is_ok());
  CHECK(server.last().path == "/custom/logs");
  REQUIRE(traces->send(mt::make_spans({{2}})).is_ok());
  CHECK(server.last().path == "/base/v1/traces");
  REQUIRE(metrics->send(ot::full_metrics_batch()).is_ok());
  CHECK(server.last().path == "/m");
}

TEST_CASE("otlphttp: JSON encoding") {
  FakeOtlpServer server;
  auto e = make_exporter(
      {{"endpoint", scalar(server.url())}, {"encoding", scalar("json")}, {"compression", scalar("none")}});
  model::Batch batch = mt::make_logs({{2, 1}, {3}}, 10);
  REQUIRE(e->send(batch).is_ok());
  const HttpRequest r = server.last();
  CHECK(header(r, "content-type") == "application/json");
  CHECK(json_log_rows(r.body) == mt::rows(batch));
}

TEST_CASE("otlphttp: compressed bodies") {
  FakeOtlpServer server;
  for (const std::string compression : {"gzip", "zstd", "deflate"}) {
    CAPTURE(compression);
    std::vector<std::pair<std::string, config::Value>> config = {{"endpoint", scalar(server.url())}};
    if (compression != "gzip") config.emplace_back("compression", scalar(compression));  // gzip: the default
    auto e = make_exporter(config);
    model::Batch batch = mt::make_logs({{50, 20}, {30}});
    REQUIRE(e->send(batch).is_ok());
    const HttpRequest r = server.last();
    CHECK(header(r, "content-encoding") == compression);
    const std::string plain = decompress(r);
    CHECK(r.body.size() < plain.size());
    CHECK(mt::rows(decode(Signal::kLogs, plain)) == mt::rows(batch));
  }
  SUBCASE("json and zstd") {
    auto e = make_exporter(
        {{"endpoint", scalar(server.url())}, {"encoding", scalar("json")}, {"compression", scalar("zstd")}});
    model::Batch batch = mt::make_logs({{5}});
    REQUIRE(e->send(batch).is_ok());
    CHECK(json_log_rows(decompress(server.last())) == mt::rows(batch));
  }
}

TEST_CASE("otlphttp: configured headers and the authenticator's headers are sent") {
  FakeOtlpServer server;
  auto e = make_exporter({{"endpoint", scalar(server.url())},
                          {"headers", map({{"X-Tenant", scalar("team-a")},
                                           {"Authorization", scalar("Basic configured")},
                                           {"X-Empty", scalar("")}})},
                          {"auth", map({{"authenticator", scalar("bearertokenauth/test")}})}});
  REQUIRE(e->send(mt::make_logs({{1}})).is_ok());
  HttpRequest r = server.last();
  CHECK(header(r, "x-tenant") == "team-a");
  CHECK(r.header("x-empty") != nullptr);
  // The authenticator's header replaces a configured one of the same name.
  CHECK(header_count(r, "authorization") == 1);
  CHECK(header(r, "authorization") == "Bearer from-extension");

  SUBCASE("credentials not available yet: retryable, nothing sent") {
    e->auth.available = false;
    const std::size_t before = server.count();
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_retryable());
    CHECK(s.message().find("token not available yet") != std::string::npos);
    CHECK(server.count() == before);
  }
}

// ---- answers -----------------------------------------------------------------------------------

TEST_CASE("otlphttp: 429, 502, 503 and 504 are retryable and honour Retry-After") {
  FakeOtlpServer server;
  auto e = make_exporter({{"endpoint", scalar(server.url())}});
  for (unsigned code : {429u, 502u, 503u, 504u}) {
    CAPTURE(code);
    server.script(HttpResponse{code, {{"Retry-After", "7"}, {"Content-Type", "text/plain"}}, "slow down"});
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_retryable());
    CHECK(s.retry_after() == 7s);
    CHECK(s.message().find("HTTP " + std::to_string(code)) != std::string::npos);
    CHECK(s.message().find("slow down") != std::string::npos);
  }
  SUBCASE("as an HTTP date") {
    server.script(HttpResponse{503, {{"Retry-After", http_date(std::chrono::system_clock::now() + 30s)}}, ""});
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_retryable());
    CHECK(s.retry_after() > 25s);
    CHECK(s.retry_after() <= 31s);
  }
  SUBCASE("without Retry-After the backoff decides") {
    server.script(HttpResponse{503, {}, ""});
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_retryable());
    CHECK(s.retry_after() == 0ms);
  }
  SUBCASE("a RetryInfo in the google.rpc.Status body") {
    server.script(rpc_status_response(429, "quota", 12));
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_retryable());
    CHECK(s.retry_after() == 12s);
    CHECK(s.message().find("quota") != std::string::npos);
  }
}

TEST_CASE("otlphttp: other statuses are permanent, with the server's message") {
  FakeOtlpServer server;
  auto e = make_exporter({{"endpoint", scalar(server.url())}});
  SUBCASE("400 with a protobuf google.rpc.Status") {
    server.script(rpc_status_response(400, "span 3 has an invalid trace id"));
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_permanent());
    CHECK(s.message().find("HTTP 400") != std::string::npos);
    CHECK(s.message().find("span 3 has an invalid trace id") != std::string::npos);
  }
  SUBCASE("400 with a JSON google.rpc.Status") {
    server.script(HttpResponse{400,
                               {{"Content-Type", "application/json; charset=utf-8"}},
                               R"({"code":3,"message":"bad json field","details":[]})"});
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_permanent());
    CHECK(s.message().find("bad json field") != std::string::npos);
  }
  SUBCASE("400 with a text body") {
    server.script(HttpResponse{400, {{"Content-Type", "text/plain"}}, "plain reason\n"});
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_permanent());
    CHECK(s.message().find("plain reason") != std::string::npos);
  }
  SUBCASE("500") {
    server.script(HttpResponse{500, {}, ""});
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_permanent());
    CHECK(s.message().find("HTTP 500") != std::string::npos);
  }
  SUBCASE("401 and 413") {
    server.script(HttpResponse{401, {}, ""});
    CHECK(e->send(mt::make_logs({{1}})).is_permanent());
    server.script(HttpResponse{413, {{"Retry-After", "3"}}, ""});
    CHECK(e->send(mt::make_logs({{1}})).is_permanent());
  }
  SUBCASE("a redirect is not followed") {
    server.script(HttpResponse{307, {{"Location", server.url() + "/elsewhere"}}, ""});
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_permanent());
    CHECK(server.count() == 1);
  }
  SUBCASE("a huge error body is cut, and the exporter goes on") {
    server.script(HttpResponse{400, {{"Content-Type", "text/plain"}}, std::string(3 << 20, 'x')});
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_permanent());
    CHECK(s.message().size() < 2000);
    CHECK(e->send(mt::make_logs({{1}})).is_ok());
  }
}

TEST_CASE("otlphttp: a partial success is counted and not retried") {
  FakeOtlpServer server;
  auto e = make_exporter({{"endpoint", scalar(server.url())}}, Signal::kLogs, true, "otlphttp/partial");
  SUBCASE("protobuf response") {
    opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse response;
    response.mutable_partial_success()->set_rejected_log_records(3);
    response.mutable_partial_success()->set_error_message("3 records too old");
    server.script(HttpResponse{200, {{"Content-Type", kProtobuf}}, response.SerializeAsString()});
    Status s = e->send(mt::make_logs({{5}}));
    CHECK(s.is_ok());
    CHECK(e->rejected() == 3);
  }
  SUBCASE("JSON response") {
    server.script(HttpResponse{200,
                               {{"Content-Type", "application/json"}},
                               R"({"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}})"});
    Status s = e->send(mt::make_logs({{5}}));
    CHECK(s.is_ok());
    CHECK(e->rejected() == 2);
  }
  SUBCASE("an unreadable 2xx body is still a success") {
    server.script(HttpResponse{200, {{"Content-Type", kProtobuf}}, "\xff\xff\xff"});
    CHECK(e->send(mt::make_logs({{5}})).is_ok());
    CHECK(e->rejected() == 0);
  }
  CHECK(server.count() == 1);
}

TEST_CASE("otlphttp: connection refused is retryable") {
  const std::uint16_t port = testing::free_port();
  auto e = make_exporter({{"endpoint", scalar("http://127.0.0.1:" + std::to_string(port))}});
  Status s = e->send(mt::make_logs({{1}}));
  CHECK(s.is_retryable());
  CHECK(s.message().find("127.0.0.1") != std::string::npos);
}

TEST_CASE("otlphttp: a timeout is retryable") {
  FakeOtlpServer server;
  auto e = make_exporter({{"endpoint", scalar(server.url())}, {"timeout", scalar("300ms")}});
  server.hold();
  const auto start = std::chrono::steady_clock::now();
  Status s = e->send(mt::make_logs({{1}}));
  const auto took = std::chrono::steady_clock::now() - start;
  server.release();
  CHECK(s.is_retryable());
  CHECK(s.message().find("timed out") != std::string::npos);
  CHECK(took >= 250ms);
  CHECK(took < 5s);
  // The next request works (a new connection replaces the one cut by the timeout).
  CHECK(e->send(mt::make_logs({{1}})).is_ok());
}

// ---- proxies -----------------------------------------------------------------------------------

TEST_CASE("otlphttp: proxy_for_url follows Go's environment rules") {
  exporters::ProxyEnvironment env;
  env.http_proxy = "http://proxy:3128";
  env.https_proxy = "secure-proxy:3129";
  using exporters::proxy_for_url;
  CHECK(proxy_for_url("http://collector.example.com:4318/v1/logs", env) == "http://proxy:3128");
  // A proxy without a scheme gets http://; https URLs use HTTPS_PROXY only.
  CHECK(proxy_for_url("https://collector.example.com/v1/logs", env) == "http://secure-proxy:3129");
  env.https_proxy.clear();
  CHECK(proxy_for_url("https://collector.example.com/v1/logs", env).empty());
  // Loopback is never proxied.
  CHECK(proxy_for_url("http://localhost:4318/v1/logs", env).empty());
  CHECK(proxy_for_url("http://127.0.0.1:4318/v1/logs", env).empty());
  CHECK(proxy_for_url("http://127.8.9.10/v1/logs", env).empty());
  CHECK(proxy_for_url("http://[::1]:4318/v1/logs", env).empty());

  const auto bypassed = [&](const std::string& no_proxy, const std::string& url) {
    exporters::ProxyEnvironment e = env;
    e.no_proxy = no_proxy;
    return proxy_for_url(url, e).empty();
  };
  CHECK(bypassed("*", "http://anything.example/x"));
  CHECK(bypassed("example.com", "http://example.com/x"));
  CHECK(bypassed("example.com", "http://api.example.com/x"));
  CHECK_FALSE(bypassed("example.com", "http://notexample.com/x"));
  CHECK(bypassed(".example.com", "http://api.example.com/x"));
  CHECK_FALSE(bypassed(".example.com", "http://example.com/x"));
  CHECK(bypassed("*.example.com", "http://api.example.com/x"));
  CHECK(bypassed(" other.org , EXAMPLE.com ", "http://API.example.com/x"));
  CHECK(bypassed("example.com:8080", "http://example.com:8080/x"));
  CHECK_FALSE(bypassed("example.com:8080", "http://example.com/x"));
  CHECK(bypassed("example.com:80", "http://example.com/x"));
  CHECK(bypassed("10.0.0.0/8", "http://10.1.2.3:4318/x"));
  CHECK_FALSE(bypassed("10.0.0.0/8", "http://11.1.2.3:4318/x"));
  CHECK(bypassed("192.168.1.5", "http://192.168.1.5/x"));
  CHECK_FALSE(bypassed("192.168.1.5", "http://192.168.1.6/x"));
  CHECK(bypassed("fd00::/8", "http://[fd00::5]:4318/x"));
  CHECK(bypassed("[fd00::5]:4318", "http://[fd00::5]:4318/x"));
  CHECK(bypassed("fd00::5", "http://[fd00::5]:4318/x"));
  CHECK_FALSE(bypassed("", "http://example.com/x"));
}

TEST_CASE("otlphttp: proxies from the environment") {
  ProxyEnvGuard env;
  FakeOtlpServer proxy;  // answers 200 to whatever it is sent
  // A name that never resolves (RFC 6761): only a proxy can deliver to it.
  const std::string endpoint = "http://vigil-test.invalid:4318";

  SUBCASE("HTTP_PROXY (upper case, which libcurl alone would ignore)") {
    env.set("HTTP_PROXY", proxy.url());
    auto e = make_exporter({{"endpoint", scalar(endpoint)}, {"timeout", scalar("5s")}});
    Status s = e->send(mt::make_logs({{2}}));
    CHECK_MESSAGE(s.is_ok(), s.message());
    REQUIRE(proxy.count() == 1);
    CHECK(proxy.last().target == endpoint + "/v1/logs");
    CHECK(mt::rows(decode(Signal::kLogs, decompress(proxy.last()))) == mt::rows(mt::make_logs({{2}})));
  }
  SUBCASE("http_proxy (lower case)") {
    env.set("http_proxy", proxy.url());
    auto e = make_exporter({{"endpoint", scalar(endpoint)}, {"timeout", scalar("5s")}});
    CHECK(e->send(mt::make_logs({{1}})).is_ok());
    REQUIRE(proxy.count() == 1);
    CHECK(proxy.last().target == endpoint + "/v1/logs");
  }
  SUBCASE("HTTPS_PROXY is not used for http:// URLs") {
    env.set("HTTPS_PROXY", proxy.url());
    auto e = make_exporter({{"endpoint", scalar(endpoint)}, {"timeout", scalar("5s")}});
    CHECK(e->send(mt::make_logs({{1}})).is_retryable());  // direct: the name does not resolve
    CHECK(proxy.count() == 0);
  }
  SUBCASE("https_proxy tunnels https:// URLs with CONNECT") {
    env.set("https_proxy", proxy.url());
    env.set("HTTP_PROXY", "http://127.0.0.1:1");  // not for https:// URLs
    proxy.script(HttpResponse{403, {}, "tunnels are not allowed here"});
    auto e = make_exporter({{"endpoint", scalar("https://vigil-test.invalid:4318")}, {"timeout", scalar("5s")}});
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_retryable());
    REQUIRE(proxy.count() == 1);
    CHECK(proxy.last().method == "CONNECT");
    CHECK(proxy.last().target == "vigil-test.invalid:4318");
  }
  SUBCASE("NO_PROXY bypasses the proxy") {
    env.set("HTTP_PROXY", proxy.url());
    env.set("NO_PROXY", "localhost,.invalid");
    auto e = make_exporter({{"endpoint", scalar(endpoint)}, {"timeout", scalar("5s")}});
    Status s = e->send(mt::make_logs({{1}}));
    CHECK(s.is_retryable());  // direct: the name does not resolve
    CHECK(proxy.count() == 0);
  }
  SUBCASE("loopback endpoints are never proxied") {
    env.set("HTTP_PROXY", proxy.url());
    FakeOtlpServer server;
    auto e = make_exporter({{"endpoint", scalar(server.url())}});
    CHECK(e->send(mt::make_logs({{1}})).is_ok());
    CHECK(server.count() == 1);
    CHECK(proxy.count() == 0);
  }
  SUBCASE("an unusable proxy in the environment fails start") {
    env.set("HTTP_PROXY", "ftp://proxy.example:21");
    auto e = make_exporter({{"endpoint", scalar(endpoint)}}, Signal::kLogs, false);
    Status s = e->sender->start(e->host);
    CHECK(s.is_permanent());
    CHECK(s.message().find("HTTP_PROXY") != std::string::npos);
  }
}

TEST_CASE("otlphttp: proxy_url sends everything through the proxy") {
  ProxyEnvGuard env;
  env.set("NO_PROXY", "*");  // proxy_url ignores the environment
  FakeOtlpServer proxy;
  FakeOtlpServer server;
  auto e = make_exporter({{"endpoint", scalar(server.url())}, {"proxy_url", scalar(proxy.url())}});
  CHECK(e->send(mt::make_logs({{1}})).is_ok());
  REQUIRE(proxy.count() == 1);
  CHECK(proxy.last().target == server.url() + "/v1/logs");
  CHECK(server.count() == 0);
}

// ---- TLS ---------------------------------------------------------------------------------------

TEST_CASE("otlphttp: TLS with ca_file, server_name_override and mTLS") {
  testing::TempDir dir;
  const testing::TestCertificates certs = testing::make_test_certificates(dir.path());
  runtime::TlsServerSettings tls;
  tls.cert_file = certs.server_cert_file;
  tls.key_file = certs.server_key_file;

  SUBCASE("server authentication") {
    std::string error;
    auto context = runtime::make_server_context(tls, error);
    REQUIRE_MESSAGE(context != nullptr, error);
    FakeOtlpServer server(context);
    {
      auto e = make_exporter({{"endpoint", scalar(server.url("https"))}, {"tls", map({{"ca_file", scalar(certs.ca_file)}})}});
      Status s = e->send(mt::make_logs({{3}}));
      CHECK_MESSAGE(s.is_ok(), s.message());
      CHECK(server.last().path == "/v1/logs");
    }
    {
      // Verified as "localhost" (in the certificate) while connecting to 127.0.0.1.
      auto e = make_exporter({{"endpoint", scalar(server.url("https"))},
                              {"tls", map({{"ca_file", scalar(certs.ca_file)},
                                           {"server_name_override", scalar("localhost")}})}});
      Status s = e->send(mt::make_logs({{1}}));
      CHECK_MESSAGE(s.is_ok(), s.message());
      CHECK(header(server.last(), "host") == "127.0.0.1:" + std::to_string(server.port()));
    }
    {
      auto e = make_exporter({{"endpoint", scalar(server.url("https"))},
                              {"tls", map({{"ca_file", scalar(certs.ca_file)},
                                           {"server_name_override", scalar("wrong.example")}})}});
      CHECK(e->send(mt::make_logs({{1}})).is_retryable());
    }
    {
      // An unknown CA fails the handshake: retryable, like every connection failure.
      auto e = make_exporter({{"endpoint", scalar(server.url("https"))},
                              {"tls", map({{"ca_file", scalar(certs.other_ca_file)}})}});
      CHECK(e->send(mt::make_logs({{1}})).is_retryable());
    }
    {
      auto e = make_exporter(
          {{"endpoint", scalar(server.url("https"))}, {"tls", map({{"insecure_skip_verify", scalar("true")}})}});
      CHECK(e->send(mt::make_logs({{1}})).is_ok());
    }
  }
  SUBCASE("mutual TLS") {
    tls.client_ca_file = certs.ca_file;
    std::string error;
    auto context = runtime::make_server_context(tls, error);
    REQUIRE_MESSAGE(context != nullptr, error);
    FakeOtlpServer server(context);
    {
      auto e = make_exporter({{"endpoint", scalar(server.url("https"))},
                              {"tls", map({{"ca_file", scalar(certs.ca_file)},
                                           {"cert_file", scalar(certs.client_cert_file)},
                                           {"key_file", scalar(certs.client_key_file)}})}});
      Status s = e->send(mt::make_logs({{1}}));
      CHECK_MESSAGE(s.is_ok(), s.message());
      CHECK(server.count() == 1);
    }
    {
      auto e = make_exporter({{"endpoint", scalar(server.url("https"))}, {"tls", map({{"ca_file", scalar(certs.ca_file)}})}});
      CHECK(e->send(mt::make_logs({{1}})).is_retryable());
      CHECK(server.count() == 1);
    }
  }
  SUBCASE("an unreadable ca_file fails start") {
    auto e = make_exporter({{"endpoint", scalar("https://127.0.0.1:1")},
                            {"tls", map({{"ca_file", scalar(dir.file("missing.pem"))}})}},
                           Signal::kLogs, false);
    Status s = e->sender->start(e->host);
    CHECK(s.is_permanent());
    CHECK(s.message().find("missing.pem") != std::string::npos);
  }
}

// ---- connections -------------------------------------------------------------------------------

TEST_CASE("otlphttp: keep-alive reuses one connection") {
  FakeOtlpServer server;
  SUBCASE("sequential sends share a connection") {
    auto e = make_exporter({{"endpoint", scalar(server.url())}});
    for (int i = 0; i < 5; ++i) REQUIRE(e->send(mt::make_logs({{1}})).is_ok());
    std::set<std::string> peers;
    for (const HttpRequest& r : server.requests()) peers.insert(r.remote_address);
    CHECK(server.count() == 5);
    CHECK(peers.size() == 1);
  }
  SUBCASE("disable_keep_alives opens one per request") {
    auto e = make_exporter({{"endpoint", scalar(server.url())}, {"disable_keep_alives", scalar("true")}});
    for (int i = 0; i < 3; ++i) REQUIRE(e->send(mt::make_logs({{1}})).is_ok());
    std::set<std::string> peers;
    for (const HttpRequest& r : server.requests()) peers.insert(r.remote_address);
    CHECK(peers.size() == 3);
  }
}

TEST_CASE("otlphttp: concurrent sends use at most one connection each") {
  FakeOtlpServer server;
  auto e = make_exporter({{"endpoint", scalar(server.url())}});
  constexpr int kThreads = 4;
  constexpr int kSends = 10;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSends; ++i) {
        if (e->send(mt::make_logs({{1}}, static_cast<std::uint64_t>(t * 100 + i))).is_ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok.load() == kThreads * kSends);
  std::set<std::string> peers;
  std::set<std::uint64_t> ids;
  for (const HttpRequest& r : server.requests()) {
    peers.insert(r.remote_address);
    for (const auto& row : mt::rows(decode(Signal::kLogs, decompress(r)))) ids.insert(std::get<2>(row));
  }
  CHECK(ids.size() == kThreads * kSends);
  CHECK(peers.size() <= kThreads);
}

TEST_CASE("otlphttp: lifecycle") {
  FakeOtlpServer server;
  auto e = make_exporter({{"endpoint", scalar(server.url())}}, Signal::kLogs, false);
  e->sender->shutdown({});  // safe without start
  CHECK(e->send(mt::make_logs({{1}})).is_permanent());
  REQUIRE(e->sender->start(e->host).is_ok());
  CHECK(e->send(mt::make_logs({{1}})).is_ok());
  e->sender->shutdown({});
  e->sender->shutdown({});  // idempotent
  CHECK(e->send(mt::make_logs({{1}})).is_permanent());
  // A restart (config reload keeps the object only in tests) works again.
  REQUIRE(e->sender->start(e->host).is_ok());
  CHECK(e->send(mt::make_logs({{1}})).is_ok());
}
