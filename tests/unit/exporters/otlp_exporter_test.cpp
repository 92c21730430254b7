// The otlp (gRPC) exporter against a real grpc::Server in this process: the three Export
// services registered as raw callback methods record what arrives (bytes, metadata) and answer
// scripted statuses.
#include "exporters/otlp/otlp_exporter.hpp"

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/config/loader.hpp"
#include "agent/otlp/proto_encoder.hpp"
#include "agent/runtime/exporter_helper.hpp"
#include "agent/telemetry/telemetry.hpp"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tests/support/process.hpp"
#include "tests/support/test_batches.hpp"
#include "tests/support/tls_test_support.hpp"

using namespace std::chrono_literals;
using namespace vigil;
using component::Status;
using model::Signal;
namespace mt = vigil::model::testing;
namespace collector = opentelemetry::proto::collector;

namespace {

using Clock = std::chrono::steady_clock;

// What the test server answers to one call.
struct Answer {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::optional<std::chrono::milliseconds> retry_info;  // a RetryInfo in grpc-status-details-bin
  std::string response;                                 // Export*ServiceResponse bytes, on OK
  bool hang = false;                                    // answer only when released
};

Answer fail(grpc::StatusCode code, std::string message, std::optional<std::chrono::milliseconds> retry_info) {
  Answer a;
  a.code = code;
  a.message = std::move(message);
  a.retry_info = retry_info;
  return a;
}

struct Call {
  std::string signal;  // "traces", "metrics", "logs"
  std::string body;
  std::multimap<std::string, std::string> metadata;
  Clock::time_point when;
};

std::string status_details_bin(grpc::StatusCode code, const std::string& message,
                               std::optional<std::chrono::milliseconds> delay) {
  google::rpc::Status st;
  st.set_code(static_cast<int>(code));
  st.set_message(message);
  if (delay) {
    google::rpc::RetryInfo info;
    info.mutable_retry_delay()->set_seconds(delay->count() / 1000);
    info.mutable_retry_delay()->set_nanos(static_cast<int>(delay->count() % 1000) * 1'000'000);
    st.add_details()->PackFrom(info);
  }
  return st.SerializeAsString();
}

// Shared by the three services: records calls, hands out scripted answers. Thread-safe.
class Recorder {
 public:
  grpc::ServerUnaryReactor* handle(const char* signal, grpc::CallbackServerContext* ctx,
                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
    Call call;
    call.signal = signal;
    call.when = Clock::now();
    grpc::Slice slice;
    if (request->DumpToSingleSlice(&slice).ok()) {
      call.body.assign(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    for (const auto& [k, v] : ctx->client_metadata())
      call.metadata.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
    Answer answer;
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    {
      std::lock_guard lock(mu_);
      calls_.push_back(std::move(call));
      if (!script_.empty()) {
        answer = std::move(script_.front());
        script_.pop_front();
      }
      if (answer.hang) hung_.push_back(reactor);
      cv_.notify_all();
    }
    if (answer.hang) return reactor;
    if (answer.code == grpc::StatusCode::OK) {
      grpc::Slice out(answer.response);
      *response = grpc::ByteBuffer(&out, 1);
      reactor->Finish(grpc::Status::OK);
    } else if (answer.retry_info) {
      reactor->Finish(grpc::Status(answer.code, answer.message,
                                   status_details_bin(answer.code, answer.message, answer.retry_info)));
    } else {
      reactor->Finish(grpc::Status(answer.code, answer.message));
    }
    return reactor;
  }

  void script(Answer a) {
    std::lock_guard lock(mu_);
    script_.push_back(std::move(a));
  }
  std::vector<Call> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::size_t count() {
    std::lock_guard lock(mu_);
    return calls_.size();
  }
  bool wait_calls(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return calls_.size() >= n; });
  }
  // Finishes the calls held by `hang` answers (the clients may have given up already).
  void release_hung() {
    std::vector<grpc::ServerUnaryReactor*> hung;
    {
      std::lock_guard lock(mu_);
      hung.swap(hung_);
    }
    for (auto* r : hung) r->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "released"));
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Call> calls_;
  std::deque<Answer> script_;
  std::vector<grpc::ServerUnaryReactor*> hung_;
};

template <class Base>
class RawExport final : public Base {
 public:
  RawExport(Recorder& recorder, const char* signal) : recorder_(recorder), signal_(signal) {}
  using Base::Export;
  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override {
    return recorder_.handle(signal_, ctx, request, response);
  }

 private:
  Recorder& recorder_;
  const char* signal_;
};

using TraceExport = RawExport<collector::trace::v1::TraceService::WithRawCallbackMethod_Export<
    collector::trace::v1::TraceService::Service>>;
using MetricsExport = RawExport<collector::metrics::v1::MetricsService::WithRawCallbackMethod_Export<
    collector::metrics::v1::MetricsService::Service>>;
using LogsExport = RawExport<collector::logs::v1::LogsService::WithRawCallbackMethod_Export<
    collector::logs::v1::LogsService::Service>>;

struct ServerOptions {
  std::string address = "127.0.0.1:0";
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  bool gzip_enabled = true;
};

class TestServer {
 public:
  explicit TestServer(ServerOptions options = {}) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(options.address, options.credentials, &port_);
    builder.RegisterService(&traces_);
    builder.RegisterService(&metrics_);
    builder.RegisterService(&logs_);
    if (!options.gzip_enabled) builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_GZIP, false);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
  }
  ~TestServer() {
    recorder.release_hung();
    server_->Shutdown(std::chrono::system_clock::now() + 2s);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  Recorder recorder;

 private:
  TraceExport traces_{recorder, "traces"};
  MetricsExport metrics_{recorder, "metrics"};
  LogsExport logs_{recorder, "logs"};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// An authenticator extension that adds a bearer token, or fails on demand.
class TestAuth final : public component::Extension, public component::ClientAuthenticator {
 public:
  Status start(component::Host&) override { return Status::ok(); }
  void shutdown(component::Deadline) override {}
  Status request_headers(component::HeaderList& out) const override {
    if (not_ready) return Status::retryable("token not fetched yet", 3s);
    out.emplace_back("authorization", "Bearer " + token);
    out.emplace_back("X-Tenant", "team-a");  // authenticators may give mixed-case names
    return Status::ok();
  }
  std::string token = "s3cr3t";
  std::atomic<bool> not_ready{false};
};

// An authenticator that must see the whole request (as sigv4auth does).
class WholeRequestAuth final : public component::Extension, public component::ClientAuthenticator {
 public:
  Status start(component::Host&) override { return Status::ok(); }
  void shutdown(component::Deadline) override {}
  Status request_headers(component::HeaderList&) const override { return Status::permanent("needs the request"); }
  bool signs_whole_request() const override { return true; }
};

class NotAnAuthenticator final : public component::Extension {
 public:
  Status start(component::Host&) override { return Status::ok(); }
  void shutdown(component::Deadline) override {}
};

class TestHost final : public component::Host {
 public:
  boost::asio::io_context& io_context() override { std::abort(); }
  telemetry::Telemetry& telemetry() override { return telemetry_; }
  component::Extension* extension(std::string_view id) override {
    auto it = extensions.find(std::string(id));
    return it == extensions.end() ? nullptr : it->second;
  }
  bool pipelines_ready() const override { return true; }
  std::map<std::string, component::Extension*> extensions;

 private:
  telemetry::Telemetry telemetry_;
};

// The factory's schema as the runtime completes it for a queued exporter.
config::Schema full_schema(const component::Factory& f) {
  config::Schema schema = f.schema;
  schema.push_back(runtime::sending_queue_option());
  schema.push_back(runtime::retry_on_failure_option());
  return schema;
}

// Every error the schema and the factory's validate find in `yaml`.
std::vector<std::string> config_errors(const std::string& yaml) {
  component::Factory f = exporters::otlp_exporter_factory();
  config::Schema schema = full_schema(f);
  config::Errors errors;
  config::Value node = config::parse_yaml(yaml, "test.yaml", errors);
  REQUIRE(errors.empty());
  config::validate(schema, &node, {}, "otlp", errors);
  if (errors.empty()) {
    config::Settings settings(&schema, &node, {});
    f.validate(settings, "otlp", errors);
  }
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.message);
  return out;
}

bool has_error(const std::vector<std::string>& errors, const std::string& part) {
  for (const auto& e : errors)
    if (e.find(part) != std::string::npos) return true;
  return false;
}

struct Made {
  component::Factory factory = exporters::otlp_exporter_factory();
  config::Schema schema;
  config::Value node;
  telemetry::Telemetry tel;
  std::unique_ptr<component::Sender> sender;
};

std::unique_ptr<Made> make(const std::string& yaml, Signal signal = Signal::kTraces,
                           const std::string& id = "otlp") {
  auto m = std::make_unique<Made>();
  m->schema = full_schema(m->factory);
  config::Errors errors;
  m->node = config::parse_yaml(yaml, "test.yaml", errors);
  REQUIRE(errors.empty());
  config::validate(m->schema, &m->node, {}, id, errors);
  config::Settings settings(&m->schema, &m->node, {});
  if (errors.empty()) m->factory.validate(settings, id, errors);
  for (const auto& e : errors) FAIL_CHECK(e.message);
  REQUIRE(errors.empty());
  component::CreateSettings cs{id, settings, m->tel, ""};
  m->sender = m->factory.create_exporter(cs, signal);
  REQUIRE(m->sender != nullptr);
  return m;
}

// A plain-text exporter to `server`.
std::unique_ptr<Made> make_plain(const TestServer& server, Signal signal = Signal::kTraces,
                                 const std::string& extra = "") {
  return make("endpoint: http://" + server.endpoint() + "\n" + extra, signal);
}

model::Batch batch_for(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return mt::full_traces();
    case Signal::kMetrics:
      return mt::full_metrics();
    case Signal::kLogs:
      return mt::full_logs();
  }
  return mt::full_logs();
}

std::string encoded(const model::Batch& batch) {
  std::string out;
  otlp::encode_export_request(batch, out);
  return out;
}

// A log batch that compresses well: `n` records with the same long body.
model::Batch compressible_logs(std::size_t n) {
  model::Batch b = mt::make_logs({{static_cast<int>(n)}});
  const std::string_view body = b.arena().copy(std::string(2000, 'a'));
  for (auto& r : b.resource_logs()[0].scope_logs[0].log_records) r.body = model::AnyValue::string(body);
  return b;
}

std::string metadata_value(const Call& call, const std::string& key) {
  auto it = call.metadata.find(key);
  return it == call.metadata.end() ? std::string("<absent>") : it->second;
}

}  // namespace

TEST_CASE("otlp exporter: each signal arrives byte-identical to the encoder's output") {
  TestServer server;
  TestHost host;
  const Signal signals[] = {Signal::kTraces, Signal::kMetrics, Signal::kLogs};
  const char* names[] = {"traces", "metrics", "logs"};
  for (int i = 0; i < 3; ++i) {
    CAPTURE(names[i]);
    auto m = make_plain(server, signals[i]);
    REQUIRE(m->sender->start(host).is_ok());
    model::Batch batch = batch_for(signals[i]);
    Status s = m->sender->send(batch);
    CHECK_MESSAGE(s.is_ok(), s.message());
    REQUIRE(server.recorder.count() == static_cast<std::size_t>(i + 1));
    const Call call = server.recorder.calls().back();
    CHECK(call.signal == names[i]);
    CHECK(call.body == encoded(batch));
    CHECK(metadata_value(call, "user-agent").find("vigil-otlp-exporter") != std::string::npos);
    m->sender->shutdown(Clock::now() + 1s);
  }
}

TEST_CASE("otlp exporter: an empty batch sends nothing") {
  TestServer server;
  TestHost host;
  auto m = make_plain(server);
  REQUIRE(m->sender->start(host).is_ok());
  CHECK(m->sender->send(model::Batch(Signal::kTraces)).is_ok());
  CHECK(server.recorder.count() == 0);
}

TEST_CASE("otlp exporter: headers and the authenticator's headers arrive as metadata") {
  TestServer server;
  TestHost host;
  TestAuth auth;
  host.extensions["bearertokenauth/x"] = &auth;
  auto m = make_plain(server, Signal::kLogs,
                      "headers:\n  X-Scope-OrgID: tenant-1\n  api-key: abc\n  trace-ctx-bin: raw\n"
                      "auth:\n  authenticator: bearertokenauth/x\n");
  REQUIRE(m->sender->start(host).is_ok());
  REQUIRE(m->sender->send(mt::full_logs()).is_ok());
  Call call = server.recorder.calls().at(0);
  CHECK(metadata_value(call, "x-scope-orgid") == "tenant-1");
  CHECK(metadata_value(call, "api-key") == "abc");
  CHECK(metadata_value(call, "trace-ctx-bin") == "raw");
  CHECK(metadata_value(call, "authorization") == "Bearer s3cr3t");
  CHECK(metadata_value(call, "x-tenant") == "team-a");

  // Per call: a new token is used by the next call.
  auth.token = "rotated";
  REQUIRE(m->sender->send(mt::full_logs()).is_ok());
  CHECK(metadata_value(server.recorder.calls().at(1), "authorization") == "Bearer rotated");

  // Credentials not available now: retryable with the authenticator's hint, nothing sent.
  auth.not_ready = true;
  Status s = m->sender->send(mt::full_logs());
  CHECK(s.is_retryable());
  CHECK(s.retry_after() == 3000ms);
  CHECK(s.message().find("token not fetched yet") != std::string::npos);
  CHECK(server.recorder.count() == 2);
  m->sender->shutdown(Clock::now() + 1s);
}

TEST_CASE("otlp exporter: a missing or wrong authenticator fails start") {
  TestServer server;
  TestHost host;
  NotAnAuthenticator other;
  host.extensions["health_check"] = &other;
  {
    auto m = make_plain(server, Signal::kTraces, "auth:\n  authenticator: bearertokenauth/missing\n");
    Status s = m->sender->start(host);
    CHECK(s.is_permanent());
    CHECK(s.message().find("bearertokenauth/missing") != std::string::npos);
    CHECK(s.message().find("not configured") != std::string::npos);
  }
  {
    auto m = make_plain(server, Signal::kTraces, "auth:\n  authenticator: health_check\n");
    Status s = m->sender->start(host);
    CHECK(s.is_permanent());
    CHECK(s.message().find("cannot authenticate") != std::string::npos);
  }
  {
    // A signer of whole HTTP requests (sigv4auth) cannot work over gRPC metadata: refused at
    // start, not on every request.
    WholeRequestAuth signer;
    host.extensions["sigv4auth"] = &signer;
    auto m = make_plain(server, Signal::kTraces, "auth:\n  authenticator: sigv4auth\n");
    Status s = m->sender->start(host);
    CHECK(s.is_permanent());
    CHECK(s.message().find("use the otlphttp exporter") != std::string::npos);
  }
}

TEST_CASE("otlp exporter: gzip compression is negotiated, none sends plain messages") {
  // A server that refuses gzip-compressed messages tells which ones were compressed.
  ServerOptions no_gzip;
  no_gzip.gzip_enabled = false;
  TestServer server(no_gzip);
  TestHost host;
  model::Batch batch = compressible_logs(200);

  auto gz = make_plain(server, Signal::kLogs);  // compression: gzip is the default
  REQUIRE(gz->sender->start(host).is_ok());
  Status s = gz->sender->send(batch);
  CHECK(s.is_permanent());
  CHECK(s.message().find("UNIMPLEMENTED") != std::string::npos);

  auto plain = make_plain(server, Signal::kLogs, "compression: none\n");
  REQUIRE(plain->sender->start(host).is_ok());
  CHECK(plain->sender->send(batch).is_ok());

  // A server that takes gzip gets the same bytes back after decompression.
  TestServer gzip_server;
  auto gz2 = make_plain(gzip_server, Signal::kLogs, "compression: gzip\n");
  REQUIRE(gz2->sender->start(host).is_ok());
  REQUIRE(gz2->sender->send(batch).is_ok());
  CHECK(gzip_server.recorder.calls().at(0).body == encoded(batch));
}

TEST_CASE("otlp exporter: retry rules end to end") {
  TestServer server;
  TestHost host;
  auto m = make_plain(server, Signal::kTraces);
  REQUIRE(m->sender->start(host).is_ok());
  model::Batch batch = mt::full_traces();

  SUBCASE("UNAVAILABLE with RetryInfo is retryable after the server's delay") {
    server.recorder.script(fail(grpc::StatusCode::UNAVAILABLE, "overloaded", 1500ms));
    Status s = m->sender->send(batch);
    CHECK(s.is_retryable());
    CHECK(s.retry_after() == 1500ms);
    CHECK(s.message().find("UNAVAILABLE") != std::string::npos);
    CHECK(s.message().find("overloaded") != std::string::npos);
  }
  SUBCASE("UNAVAILABLE without RetryInfo is retryable with no hint") {
    server.recorder.script(fail(grpc::StatusCode::UNAVAILABLE, "down", std::nullopt));
    Status s = m->sender->send(batch);
    CHECK(s.is_retryable());
    CHECK(s.retry_after() == 0ms);
  }
  SUBCASE("RESOURCE_EXHAUSTED with RetryInfo is retryable") {
    server.recorder.script(fail(grpc::StatusCode::RESOURCE_EXHAUSTED, "slow down", 250ms));
    Status s = m->sender->send(batch);
    CHECK(s.is_retryable());
    CHECK(s.retry_after() == 250ms);
  }
  SUBCASE("RESOURCE_EXHAUSTED without RetryInfo is permanent") {
    server.recorder.script(fail(grpc::StatusCode::RESOURCE_EXHAUSTED, "too large", std::nullopt));
    Status s = m->sender->send(batch);
    CHECK(s.is_permanent());
    CHECK(s.message().find("RESOURCE_EXHAUSTED") != std::string::npos);
  }
  SUBCASE("INVALID_ARGUMENT is permanent, even with RetryInfo") {
    server.recorder.script(fail(grpc::StatusCode::INVALID_ARGUMENT, "bad span", 1s));
    Status s = m->sender->send(batch);
    CHECK(s.is_permanent());
    CHECK(s.message().find("bad span") != std::string::npos);
  }
  SUBCASE("every code the server can send") {
    const std::pair<grpc::StatusCode, bool> codes[] = {
        {grpc::StatusCode::CANCELLED, true},
        {grpc::StatusCode::UNKNOWN, false},
        {grpc::StatusCode::DEADLINE_EXCEEDED, true},
        {grpc::StatusCode::NOT_FOUND, false},
        {grpc::StatusCode::ALREADY_EXISTS, false},
        {grpc::StatusCode::PERMISSION_DENIED, false},
        {grpc::StatusCode::FAILED_PRECONDITION, false},
        {grpc::StatusCode::ABORTED, true},
        {grpc::StatusCode::OUT_OF_RANGE, true},
        {grpc::StatusCode::UNIMPLEMENTED, false},
        {grpc::StatusCode::INTERNAL, false},
        {grpc::StatusCode::DATA_LOSS, true},
        {grpc::StatusCode::UNAUTHENTICATED, false},
    };
    for (auto [code, retryable] : codes) {
      CAPTURE(static_cast<int>(code));
      server.recorder.script(fail(code, "scripted", std::nullopt));
      Status s = m->sender->send(batch);
      CHECK(s.is_retryable() == retryable);
      CHECK(s.is_permanent() == !retryable);
    }
  }
  m->sender->shutdown(Clock::now() + 1s);
}

TEST_CASE("otlp exporter: a partial success is counted and not retried") {
  TestServer server;
  TestHost host;
  auto m = make_plain(server, Signal::kTraces);
  REQUIRE(m->sender->start(host).is_ok());
  collector::trace::v1::ExportTraceServiceResponse response;
  response.mutable_partial_success()->set_rejected_spans(3);
  response.mutable_partial_success()->set_error_message("3 spans too old");
  Answer partial;
  partial.response = response.SerializeAsString();
  server.recorder.script(partial);

  Status s = m->sender->send(mt::full_traces());
  CHECK(s.is_ok());
  auto& rejected =
      m->tel.counter_family("vigil_exporter_rejected_spans_total", "").Add({{"exporter", "otlp"}});
  CHECK(rejected.Value() == 3.0);
  CHECK(server.recorder.count() == 1);

  // A second one adds up; an empty response (full success) adds nothing.
  server.recorder.script(partial);
  CHECK(m->sender->send(mt::full_traces()).is_ok());
  CHECK(m->sender->send(mt::full_traces()).is_ok());
  CHECK(rejected.Value() == 6.0);

  // Metrics and logs count their own items.
  auto logs = make_plain(server, Signal::kLogs);
  REQUIRE(logs->sender->start(host).is_ok());
  collector::logs::v1::ExportLogsServiceResponse lr;
  lr.mutable_partial_success()->set_rejected_log_records(5);
  Answer log_partial;
  log_partial.response = lr.SerializeAsString();
  server.recorder.script(log_partial);
  CHECK(logs->sender->send(mt::full_logs()).is_ok());
  CHECK(logs->tel.counter_family("vigil_exporter_rejected_log_records_total", "")
            .Add({{"exporter", "otlp"}})
            .Value() == 5.0);
}

TEST_CASE("otlp exporter: a call past the timeout is DEADLINE_EXCEEDED, retryable") {
  TestServer server;
  TestHost host;
  auto m = make_plain(server, Signal::kTraces, "timeout: 300ms\n");
  REQUIRE(m->sender->start(host).is_ok());
  Answer hang;
  hang.hang = true;
  server.recorder.script(hang);
  const auto t0 = Clock::now();
  Status s = m->sender->send(mt::full_traces());
  const auto took = Clock::now() - t0;
  CHECK(s.is_retryable());
  CHECK(s.message().find("DEADLINE_EXCEEDED") != std::string::npos);
  CHECK(s.message().find("timeout 300ms") != std::string::npos);
  CHECK(took >= 250ms);
  CHECK(took < 5s);
}

TEST_CASE("otlp exporter: a server that is down is retryable") {
  TestHost host;
  auto m = make("endpoint: 127.0.0.1:" + std::to_string(vigil::testing::free_port()) +
                "\ntls:\n  insecure: true\ntimeout: 10s\n");
  REQUIRE(m->sender->start(host).is_ok());
  const auto t0 = Clock::now();
  Status s = m->sender->send(mt::full_traces());
  CHECK(s.is_retryable());
  CHECK(s.message().find("UNAVAILABLE") != std::string::npos);
  CHECK(Clock::now() - t0 < 5s);  // fails fast, not at the deadline
}

TEST_CASE("otlp exporter: shutdown cancels calls in flight at its deadline") {
  TestServer server;
  TestHost host;
  auto m = make_plain(server, Signal::kTraces, "timeout: 60s\n");
  REQUIRE(m->sender->start(host).is_ok());
  Answer hang;
  hang.hang = true;
  server.recorder.script(hang);
  server.recorder.script(hang);
  Status results[2];
  std::thread senders[2];
  for (int i = 0; i < 2; ++i)
    senders[i] = std::thread([&, i] { results[i] = m->sender->send(mt::full_traces()); });
  REQUIRE(server.recorder.wait_calls(2));
  const auto t0 = Clock::now();
  m->sender->shutdown(Clock::now() + 200ms);
  const auto took = Clock::now() - t0;
  for (auto& t : senders) t.join();
  CHECK(took >= 150ms);
  CHECK(took < 5s);
  for (const Status& s : results) {
    CHECK(s.is_retryable());
    CHECK(s.message().find("cancelled at shutdown") != std::string::npos);
  }
  // After shutdown: refused, nothing sent; shutdown again is harmless.
  Status after = m->sender->send(mt::full_traces());
  CHECK(after.is_permanent());
  CHECK(after.message().find("not running") != std::string::npos);
  m->sender->shutdown(Clock::now());
  CHECK(server.recorder.count() == 2);
}

TEST_CASE("otlp exporter: shutdown without start, and send before start") {
  auto m = make("endpoint: http://127.0.0.1:1\n");
  CHECK(m->sender->send(mt::full_traces()).is_permanent());
  m->sender->shutdown(Clock::now());
  m->sender->shutdown(Clock::now());
}

TEST_CASE("otlp exporter: concurrent senders share one channel") {
  TestServer server;
  TestHost host;
  auto m = make_plain(server, Signal::kLogs);
  REQUIRE(m->sender->start(host).is_ok());
  constexpr int kThreads = 8;
  constexpr int kEach = 15;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (m->sender->send(mt::make_logs({{3}}, static_cast<std::uint64_t>(t * 1000 + i * 3))).is_ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == kThreads * kEach);
  CHECK(server.recorder.count() == static_cast<std::size_t>(kThreads * kEach));
  m->sender->shutdown(Clock::now() + 1s);
}

TEST_CASE("otlp exporter: endpoint forms reach the server") {
  TestServer server;
  TestHost host;
  const std::string port = server.endpoint().substr(server.endpoint().rfind(':') + 1);
  // IP addresses only: resolving a host name ("localhost") goes through c-ares, whose Debian 12
  // version (1.18.1) leaks the name on every lookup, which fails the LeakSanitizer run.
  for (const std::string& endpoint : {"http://127.0.0.1:" + port, "http://127.0.0.1:" + port + "/",
                                      "dns:///127.0.0.1:" + port, "127.0.0.1:" + port}) {
    CAPTURE(endpoint);
    const bool needs_insecure = endpoint.rfind("http://", 0) != 0;
    auto m = make("endpoint: " + endpoint + "\n" + (needs_insecure ? "tls:\n  insecure: true\n" : ""));
    REQUIRE(m->sender->start(host).is_ok());
    Status s = m->sender->send(mt::full_traces());
    CHECK_MESSAGE(s.is_ok(), s.message());
    m->sender->shutdown(Clock::now() + 1s);
  }
}

TEST_CASE("otlp exporter: a unix socket endpoint") {
  vigil::testing::TempDir dir;
  ServerOptions o;
  o.address = "unix:" + dir.file("otlp.sock");
  TestServer server(o);
  TestHost host;
  auto m = make("endpoint: unix:" + dir.file("otlp.sock") + "\ntls:\n  insecure: true\n", Signal::kLogs);
  REQUIRE(m->sender->start(host).is_ok());
  CHECK(m->sender->send(mt::full_logs()).is_ok());
  CHECK(server.recorder.count() == 1);
}

TEST_CASE("otlp exporter: retry through the exporter helper honours RetryInfo") {
  TestServer server;
  TestHost host;
  auto m = make_plain(server, Signal::kLogs);
  server.recorder.script(fail(grpc::StatusCode::UNAVAILABLE, "busy", 400ms));
  runtime::QueueSettings queue;
  queue.num_consumers = 1;
  runtime::RetrySettings retry;
  retry.initial_interval = 10ms;  // without the server's hint the retry would come at once
  retry.max_interval = 20ms;
  retry.randomization_factor = 0;
  retry.max_elapsed_time = 30s;
  runtime::ExporterHelper helper("otlp", Signal::kLogs, std::move(m->sender), queue, retry, m->tel);
  REQUIRE(helper.start(host).is_ok());
  model::Batch batch = mt::make_logs({{4}});
  const std::string expected = encoded(batch);
  REQUIRE(helper.consume(std::move(batch)).is_ok());
  REQUIRE(server.recorder.wait_calls(2));
  auto calls = server.recorder.calls();
  CHECK(calls[1].when - calls[0].when >= 400ms);
  CHECK(calls[1].when - calls[0].when < 5s);
  CHECK(calls[0].body == expected);
  CHECK(calls[1].body == expected);
  CHECK(vigil::testing::eventually(
      [&] { return m->tel.exporter("otlp", Signal::kLogs).sent->Value() == 4.0; }, 5000ms));
  helper.shutdown(Clock::now() + 2s);
}

TEST_CASE("otlp exporter: TLS with a CA file, mTLS, name override, skip verify") {
  vigil::testing::TempDir dir;
  const auto certs = vigil::testing::make_test_certificates(dir.path());
  std::string ca = vigil::testing::read_file(certs.ca_file);
  std::string server_cert = vigil::testing::read_file(certs.server_cert_file);
  std::string server_key = vigil::testing::read_file(certs.server_key_file);
  TestHost host;

  auto tls_server = [&](bool require_client_cert) {
    grpc::SslServerCredentialsOptions so(require_client_cert
                                             ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                             : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    so.pem_root_certs = require_client_cert ? ca : "";
    so.pem_key_cert_pairs.push_back({server_key, server_cert});
    ServerOptions o;
    o.credentials = grpc::SslServerCredentials(so);
    return std::make_unique<TestServer>(o);
  };
  auto send_with = [&](const TestServer& server, const std::string& tls_yaml,
                       const std::string& scheme = "") {
    auto m = make("endpoint: " + scheme + server.endpoint() + "\ntimeout: 5s\n" + tls_yaml);
    Status started = m->sender->start(host);
    if (!started.is_ok()) return started;
    Status s = m->sender->send(mt::full_traces());
    m->sender->shutdown(Clock::now() + 1s);
    return s;
  };

  auto server = tls_server(false);
  SUBCASE("the CA file verifies the server") {
    Status s = send_with(*server, "tls:\n  ca_file: " + certs.ca_file + "\n");
    CHECK_MESSAGE(s.is_ok(), s.message());
    s = send_with(*server, "tls:\n  ca_file: " + certs.ca_file + "\n", "https://");
    CHECK_MESSAGE(s.is_ok(), s.message());
  }
  SUBCASE("without the CA (system roots) the handshake fails, retryably") {
    Status s = send_with(*server, "");
    CHECK(s.is_retryable());
    CHECK(s.message().find("UNAVAILABLE") != std::string::npos);
  }
  SUBCASE("another CA does not verify the server") {
    Status s = send_with(*server, "tls:\n  ca_file: " + certs.other_ca_file + "\n");
    CHECK(s.is_retryable());
  }
  SUBCASE("plain text to a TLS server fails") {
    Status s = send_with(*server, "tls:\n  insecure: true\n");
    CHECK(s.is_retryable());
  }
  SUBCASE("insecure_skip_verify accepts the unknown server certificate") {
    Status s = send_with(*server, "tls:\n  insecure_skip_verify: true\n");
    CHECK_MESSAGE(s.is_ok(), s.message());
  }
  SUBCASE("server_name_override checks the certificate for that name") {
    Status s =
        send_with(*server, "tls:\n  ca_file: " + certs.ca_file + "\n  server_name_override: localhost\n");
    CHECK_MESSAGE(s.is_ok(), s.message());
    s = send_with(*server, "tls:\n  ca_file: " + certs.ca_file + "\n  server_name_override: other.example\n");
    CHECK(s.is_retryable());
  }
  SUBCASE("mTLS: the client certificate is presented") {
    auto mtls = tls_server(true);
    Status s =
        send_with(*mtls, "tls:\n  ca_file: " + certs.ca_file + "\n  cert_file: " + certs.client_cert_file +
                             "\n  key_file: " + certs.client_key_file + "\n");
    CHECK_MESSAGE(s.is_ok(), s.message());
    CHECK(mtls->recorder.count() == 1);
    s = send_with(*mtls, "tls:\n  ca_file: " + certs.ca_file + "\n");
    CHECK(s.is_retryable());
    s = send_with(*mtls, "tls:\n  ca_file: " + certs.ca_file +
                             "\n  cert_file: " + certs.other_client_cert_file +
                             "\n  key_file: " + certs.other_client_key_file + "\n");
    CHECK(s.is_retryable());
    CHECK(mtls->recorder.count() == 1);
  }
  SUBCASE("unreadable or wrong TLS files fail start") {
    Status s = send_with(*server, "tls:\n  ca_file: " + dir.file("missing.pem") + "\n");
    CHECK(s.is_permanent());
    CHECK(s.message().find("missing.pem") != std::string::npos);
    vigil::testing::write_file(dir.file("junk.pem"), "not a certificate\n");
    s = send_with(*server, "tls:\n  ca_file: " + dir.file("junk.pem") + "\n");
    CHECK(s.is_permanent());
    CHECK(s.message().find("no PEM certificate") != std::string::npos);
    s = send_with(*server, "tls:\n  cert_file: " + certs.client_cert_file +
                               "\n  key_file: " + certs.other_client_key_file + "\n");
    CHECK(s.is_permanent());
    CHECK(s.message().find("does not match") != std::string::npos);
  }
}

TEST_CASE("otlp exporter: options are read with the Collector's defaults") {
  auto settings_of = [](const std::string& yaml) {
    component::Factory f = exporters::otlp_exporter_factory();
    config::Schema schema = full_schema(f);
    config::Errors errors;
    config::Value node = config::parse_yaml(yaml, "test.yaml", errors);
    config::validate(schema, &node, {}, "otlp", errors);
    REQUIRE(errors.empty());
    config::Settings settings(&schema, &node, {});
    return exporters::read_otlp_exporter_options(settings);
  };
  auto o = settings_of("endpoint: collector:4317\n");
  CHECK(o.target.target == "collector:4317");
  CHECK_FALSE(o.plaintext);  // TLS by default
  CHECK(o.compression == exporters::OtlpExporterOptions::Compression::kGzip);
  CHECK(o.timeout == 5s);
  CHECK(o.headers.empty());
  CHECK(o.authenticator.empty());

  o = settings_of("endpoint: http://collector:4317\n");
  CHECK(o.target.target == "collector:4317");
  CHECK(o.plaintext);
  o = settings_of("endpoint: https://collector:4317\ntls:\n  insecure: true\n");
  CHECK(o.target.target == "collector:4317");
  CHECK_FALSE(o.plaintext);  // https:// wins over tls.insecure, as in the Collector
  o = settings_of(
      "endpoint: collector:4317\ntls:\n  insecure: true\ncompression: none\ntimeout: 250ms\n"
      "headers:\n  X-Key: v\nauth:\n  authenticator: bearertokenauth\n");
  CHECK(o.plaintext);
  CHECK(o.compression == exporters::OtlpExporterOptions::Compression::kNone);
  CHECK(o.timeout == 250ms);
  REQUIRE(o.headers.size() == 1);
  CHECK(o.headers[0].first == "x-key");
  CHECK(o.authenticator == "bearertokenauth");
}

TEST_CASE("otlp exporter: endpoint parsing") {
  exporters::GrpcEndpoint e;
  std::string error;
  CHECK(exporters::parse_grpc_endpoint("[::1]:4317", e, error));
  CHECK(e.target == "[::1]:4317");
  CHECK(exporters::parse_grpc_endpoint("dns://8.8.8.8/collector:4317", e, error));
  CHECK(e.target == "dns://8.8.8.8/collector:4317");
  CHECK(exporters::parse_grpc_endpoint("unix-abstract:vigil", e, error));
  CHECK(exporters::parse_grpc_endpoint("https://collector.example.com:443", e, error));
  CHECK(e.scheme == exporters::GrpcEndpoint::Scheme::kHttps);
  CHECK(e.target == "collector.example.com:443");
  for (const char* bad : {"", "collector", "collector:", "collector:http", "collector:0", "collector:65536",
                          "::1:4317", ":4317", "http://", "collector:4317/v1/traces", "dns:///collector",
                          "dns://collector:4317", "unix:", "[::1]4317", "[::1"}) {
    CAPTURE(bad);
    CHECK_FALSE(exporters::parse_grpc_endpoint(bad, e, error));
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("otlp exporter: config validation errors") {
  CHECK(config_errors("endpoint: collector:4317\n").empty());
  CHECK(config_errors("endpoint: dns:///collector:4317\ncompression: none\n").empty());
  CHECK(has_error(config_errors("compression: gzip\n"), "endpoint"));
  CHECK(has_error(config_errors("endpoint: \"\"\n"), "must not be empty"));
  CHECK(has_error(config_errors("endpoint: collector\n"), "missing port"));
  CHECK(has_error(config_errors("endpoint: collector:99999\n"), "invalid port"));
  CHECK(has_error(config_errors("endpoint: http://collector:4317/v1/traces\n"), "without a path"));

  auto zstd = config_errors("endpoint: collector:4317\ncompression: zstd\n");
  CHECK(has_error(zstd, "zstd is not supported over gRPC"));
  CHECK(has_error(zstd, "otlphttp"));
  CHECK(has_error(config_errors("endpoint: collector:4317\ncompression: snappy\n"), "snappy"));

  CHECK(has_error(config_errors("endpoint: collector:4317\nheaders:\n  \"bad name\": x\n"),
                  "not a valid gRPC"));
  CHECK(has_error(config_errors("endpoint: collector:4317\nheaders:\n  grpc-timeout: 1S\n"), "reserved"));
  CHECK(has_error(config_errors("endpoint: collector:4317\nheaders:\n  content-type: text/plain\n"),
                  "reserved"));
  CHECK(has_error(config_errors("endpoint: collector:4317\nheaders:\n  x-key: \"a\\nb\"\n"),
                  "printable ASCII"));
  CHECK(has_error(config_errors("endpoint: collector:4317\nheaders:\n  X-Key: a\n  x-key: b\n"), "twice"));

  CHECK(has_error(config_errors("endpoint: collector:4317\ntimeout: 0s\n"), "greater than 0"));

  CHECK(has_error(config_errors("endpoint: http://collector:4317\ntls:\n  ca_file: /etc/ca.pem\n"),
                  "plain text"));
  CHECK(has_error(config_errors("endpoint: collector:4317\ntls:\n  insecure: true\n  ca_file: /etc/ca.pem\n"),
                  "tls.insecure: true turns TLS off"));
  CHECK(has_error(config_errors("endpoint: collector:4317\ntls:\n  min_version: \"1.3\"\n"), "min_version"));
  CHECK(config_errors("endpoint: http://collector:4317\ntls:\n  min_version: \"1.3\"\n").empty());

  CHECK(
      has_error(config_errors("endpoint: collector:4317\nauth:\n  authenticator: \"\"\n"), "authenticator"));
  CHECK(has_error(config_errors("endpoint: collector:4317\nbalancer_name: round_robin\n"), "balancer_name"));
  CHECK(config_errors("endpoint: collector:4317\nsending_queue:\n  num_consumers: 2\nretry_on_failure:\n"
                      "  enabled: false\n")
            .empty());
}
