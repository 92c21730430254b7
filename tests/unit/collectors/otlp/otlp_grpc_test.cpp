// The otlp receiver over OTLP/gRPC, exercised with real gRPC clients (generated stubs, and a
// generic stub for bytes no stub would send).
#include <doctest/doctest.h>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "agent/config/loader.hpp"
#include "agent/config/schema.hpp"
#include "collectors/otlp/otlp_grpc.hpp"
#include "collectors/otlp/otlp_receiver.hpp"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tests/support/http_test_support.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tls_test_support.hpp"

using namespace vigil;
using namespace vigil::testing;
using namespace std::chrono_literals;
using collectors::OtlpReceiver;
using component::Status;

namespace {

namespace pb_logs = opentelemetry::proto::collector::logs::v1;
namespace pb_trace = opentelemetry::proto::collector::trace::v1;
namespace pb_metrics = opentelemetry::proto::collector::metrics::v1;

constexpr std::size_t kMaxMessage = 1024 * 1024;
constexpr char kLogsMethod[] = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

pb_logs::ExportLogsServiceRequest make_logs(int records, const std::string& body = "order placed") {
  pb_logs::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  auto* kv = rl->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("shop");
  auto* sl = rl->add_scope_logs();
  for (int i = 0; i < records; ++i) {
    auto* lr = sl->add_log_records();
    lr->set_time_unix_nano(1000 + i);
    lr->mutable_body()->set_string_value(body);
  }
  return req;
}

pb_trace::ExportTraceServiceRequest make_traces(int spans) {
  pb_trace::ExportTraceServiceRequest req;
  auto* ss = req.add_resource_spans()->add_scope_spans();
  for (int i = 0; i < spans; ++i) {
    auto* sp = ss->add_spans();
    sp->set_trace_id(std::string(16, static_cast<char>(i + 1)));
    sp->set_span_id(std::string(8, static_cast<char>(i + 1)));
    sp->set_name("GET /checkout");
  }
  return req;
}

// A gauge with `points` points and a one-point histogram.
pb_metrics::ExportMetricsServiceRequest make_metrics(int points) {
  pb_metrics::ExportMetricsServiceRequest req;
  auto* sm = req.add_resource_metrics()->add_scope_metrics();
  auto* g = sm->add_metrics();
  g->set_name("queue_depth");
  for (int i = 0; i < points; ++i) g->mutable_gauge()->add_data_points()->set_as_int(i);
  auto* h = sm->add_metrics();
  h->set_name("latency");
  auto* p = h->mutable_histogram()->add_data_points();
  p->set_count(1);
  p->add_bucket_counts(1);
  return req;
}

// A server authenticator extension: metadata "authorization: Bearer s3cret" passes.
class TokenAuth : public component::Extension, public component::ServerAuthenticator {
 public:
  Status start(component::Host&) override { return Status::ok(); }
  void shutdown(component::Deadline) override {}
  Status authenticate(const component::HeaderList& headers) const override {
    for (const auto& [name, value] : headers) {
      if (name == "authorization" && value == "Bearer s3cret") return Status::ok();
    }
    return Status::permanent("missing or wrong bearer token");
  }
};

class GrpcHost : public component::Host {
 public:
  explicit GrpcHost(net::io_context& io) : io_(io) {}
  net::io_context& io_context() override { return io_; }
  telemetry::Telemetry& telemetry() override { return telemetry_; }
  component::Extension* extension(std::string_view id) override {
    return id == "auth/token" ? &auth : nullptr;
  }
  bool pipelines_ready() const override { return true; }
  TokenAuth auth;

 private:
  net::io_context& io_;
  telemetry::Telemetry telemetry_;
};

// A consumer that holds every batch until released.
class GateConsumer : public component::Consumer {
 public:
  Status consume(component::Batch&& batch) override {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
    items_ += batch.item_count();
    return Status::ok();
  }
  void release() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int entered() {
    std::lock_guard lock(mu_);
    return entered_;
  }
  std::size_t items() {
    std::lock_guard lock(mu_);
    return items_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int entered_ = 0;
  std::size_t items_ = 0;
};

// A receiver serving OTLP/gRPC on 127.0.0.1:<picked port>, with consumers for every signal.
struct GrpcRig {
  explicit GrpcRig(const std::function<void(collectors::OtlpReceiverOptions&)>& tweak = {},
                   component::SignalConsumers next = {})
      : host(runner.io()) {
    collectors::OtlpReceiverOptions options;
    options.grpc = collectors::OtlpGrpcOptions{};
    options.grpc->endpoint = "127.0.0.1:0";
    options.grpc->max_recv_msg_size = kMaxMessage;
    if (tweak) tweak(options);
    if (next == component::SignalConsumers{}) next = {&traces, &metrics, &logs};
    receiver = std::make_unique<OtlpReceiver>("otlp", options, next, host.telemetry());
    start_status = receiver->start(host);
    if (start_status.is_ok() && options.grpc) REQUIRE(receiver->grpc_port() != 0);
  }
  ~GrpcRig() { receiver->shutdown(component::Clock::now() + 1s); }

  std::string target() const { return "127.0.0.1:" + std::to_string(receiver->grpc_port()); }
  std::shared_ptr<grpc::Channel> channel() {
    return grpc::CreateChannel(target(), grpc::InsecureChannelCredentials());
  }
  double counter(const std::string& name, const std::string& transport = "grpc") {
    return counter_value(host.telemetry(), name, {{"receiver", "otlp"}, {"transport", transport}});
  }
  double failed(const std::string& signal, const std::string& reason) {
    return counter_value(
        host.telemetry(), "vigil_receiver_failed_requests_total",
        {{"receiver", "otlp"}, {"transport", "grpc"}, {"signal", signal}, {"reason", reason}});
  }

  IoRunner runner;
  GrpcHost host;
  FakeConsumer traces, metrics, logs;
  std::unique_ptr<OtlpReceiver> receiver;
  Status start_status;
};

void bound(grpc::ClientContext& context, std::chrono::seconds timeout = 10s) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

grpc::Status export_logs(const std::shared_ptr<grpc::Channel>& channel,
                         const pb_logs::ExportLogsServiceRequest& req,
                         pb_logs::ExportLogsServiceResponse* response = nullptr,
                         const std::function<void(grpc::ClientContext&)>& setup = {}) {
  auto stub = pb_logs::LogsService::NewStub(channel);
  grpc::ClientContext context;
  bound(context);
  if (setup) setup(context);
  pb_logs::ExportLogsServiceResponse ignored;
  return stub->Export(&context, req, response ? response : &ignored);
}

// Sends `bytes` as the request message of `method`, bypassing protobuf serialization.
grpc::Status raw_call(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                      const std::string& bytes) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  bound(context);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) { done.set_value(std::move(s)); });
  return done.get_future().get();
}

// The RetryInfo delay in a status's grpc-status-details-bin trailer, decoded with libprotobuf.
std::optional<std::chrono::milliseconds> retry_delay(const grpc::Status& status) {
  if (status.error_details().empty()) return std::nullopt;
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return std::nullopt;
  for (const auto& any : details.details()) {
    google::rpc::RetryInfo info;
    if (any.UnpackTo(&info)) {
      return std::chrono::milliseconds(info.retry_delay().seconds() * 1000 +
                                       info.retry_delay().nanos() / 1000000);
    }
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("otlp receiver gRPC: traces, metrics and logs reach their consumers") {
  GrpcRig rig;
  auto channel = rig.channel();
  {
    auto stub = pb_trace::TraceService::NewStub(channel);
    grpc::ClientContext context;
    bound(context);
    pb_trace::ExportTraceServiceResponse response;
    grpc::Status s = stub->Export(&context, make_traces(3), &response);
    CHECK_MESSAGE(s.ok(), s.error_message());
    CHECK_FALSE(response.has_partial_success());
  }
  {
    auto stub = pb_metrics::MetricsService::NewStub(channel);
    grpc::ClientContext context;
    bound(context);
    pb_metrics::ExportMetricsServiceResponse response;
    grpc::Status s = stub->Export(&context, make_metrics(4), &response);
    CHECK_MESSAGE(s.ok(), s.error_message());
    CHECK_FALSE(response.has_partial_success());
  }
  pb_logs::ExportLogsServiceResponse response;
  grpc::Status s = export_logs(channel, make_logs(6), &response);
  CHECK_MESSAGE(s.ok(), s.error_message());
  CHECK_FALSE(response.has_partial_success());

  CHECK(rig.traces.items() == 3);
  CHECK(rig.metrics.items() == 5);
  CHECK(rig.logs.items() == 6);
  CHECK(rig.logs.signals() == std::vector<model::Signal>{model::Signal::kLogs});
  CHECK(rig.counter("vigil_receiver_accepted_spans_total") == 3);
  CHECK(rig.counter("vigil_receiver_accepted_metric_points_total") == 5);
  CHECK(rig.counter("vigil_receiver_accepted_log_records_total") == 6);

  // An empty request succeeds without reaching the pipeline.
  s = export_logs(channel, pb_logs::ExportLogsServiceRequest());
  CHECK(s.ok());
  CHECK(rig.logs.calls() == 1);
}

TEST_CASE("otlp receiver gRPC: gzip-compressed requests are accepted") {
  GrpcRig rig;
  const auto gzip = [](grpc::ClientContext& c) { c.set_compression_algorithm(GRPC_COMPRESS_GZIP); };
  grpc::Status s = export_logs(rig.channel(), make_logs(2000), nullptr, gzip);
  CHECK_MESSAGE(s.ok(), s.error_message());
  CHECK(rig.logs.items() == 2000);
}

TEST_CASE("otlp receiver gRPC: messages over max_recv_msg_size get RESOURCE_EXHAUSTED without RetryInfo") {
  GrpcRig rig;
  auto channel = rig.channel();
  grpc::Status s = export_logs(channel, make_logs(1, std::string(kMaxMessage + 100, 'a')));
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_FALSE(retry_delay(s));

  // Small on the wire, too large once decompressed.
  const auto gzip = [](grpc::ClientContext& c) { c.set_compression_algorithm(GRPC_COMPRESS_GZIP); };
  s = export_logs(channel, make_logs(1, std::string(3 * kMaxMessage, 'a')), nullptr, gzip);
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_FALSE(retry_delay(s));
  CHECK(rig.logs.calls() == 0);
  // Refused while Vigil inflated it (gRPC's own inflater has no bound): counted as too large.
  CHECK(s.error_message().find("after decompression") != std::string::npos);
  CHECK(rig.failed("logs", "too_large") == 1);

  // The connection stays usable.
  s = export_logs(channel, make_logs(1));
  CHECK(s.ok());
}

TEST_CASE("otlp receiver gRPC: malformed request bytes get INVALID_ARGUMENT") {
  GrpcRig rig;
  grpc::Status s = raw_call(rig.channel(), kLogsMethod, std::string("\x0a\xff\xff\xff\x0f garbage", 14));
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message().find("cannot decode the logs request (protobuf)") != std::string::npos);
  CHECK(rig.logs.calls() == 0);
  CHECK(rig.failed("logs", "invalid") == 1);
}

TEST_CASE("otlp receiver gRPC: pipeline results map to status codes, with RetryInfo when retryable") {
  GrpcRig rig;
  auto channel = rig.channel();
  rig.logs.set_status(Status::retryable("queue full", 2500ms));
  grpc::Status s = export_logs(channel, make_logs(3));
  CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(s.error_message() == "queue full");
  CHECK(retry_delay(s) == std::chrono::milliseconds(2500));

  rig.logs.set_status(Status::retryable("memory limit"));
  s = export_logs(channel, make_logs(1));
  CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(retry_delay(s) == std::chrono::milliseconds(1000));  // at least a second

  rig.logs.set_status(Status::permanent("attribute limit exceeded"));
  s = export_logs(channel, make_logs(2));
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() == "attribute limit exceeded");
  CHECK_FALSE(retry_delay(s));

  CHECK(rig.counter("vigil_receiver_refused_log_records_total") == 6);
  CHECK(rig.counter("vigil_receiver_accepted_log_records_total") == 0);
}

TEST_CASE("otlp receiver gRPC: a signal no pipeline takes is UNIMPLEMENTED") {
  FakeConsumer logs;
  GrpcRig rig({}, {nullptr, nullptr, &logs});
  auto stub = pb_trace::TraceService::NewStub(rig.channel());
  grpc::ClientContext context;
  bound(context);
  pb_trace::ExportTraceServiceResponse response;
  CHECK(stub->Export(&context, make_traces(1), &response).error_code() == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(export_logs(rig.channel(), make_logs(1)).ok());
  CHECK(logs.items() == 1);
}

TEST_CASE("otlp receiver gRPC: auth.authenticator checks the call's metadata") {
  GrpcRig rig([](collectors::OtlpReceiverOptions& o) { o.grpc->authenticator = "auth/token"; });
  REQUIRE(rig.start_status.is_ok());
  auto channel = rig.channel();
  grpc::Status s = export_logs(channel, make_logs(1));
  CHECK(s.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(s.error_message() == "missing or wrong bearer token");
  s = export_logs(channel, make_logs(1), nullptr,
                  [](grpc::ClientContext& c) { c.AddMetadata("authorization", "Bearer nope"); });
  CHECK(s.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(rig.logs.calls() == 0);
  CHECK(rig.failed("logs", "unauthorized") == 2);

  s = export_logs(channel, make_logs(2), nullptr,
                  [](grpc::ClientContext& c) { c.AddMetadata("authorization", "Bearer s3cret"); });
  CHECK_MESSAGE(s.ok(), s.error_message());
  CHECK(rig.logs.items() == 2);

  GrpcRig missing([](collectors::OtlpReceiverOptions& o) { o.grpc->authenticator = "bearertokenauth/none"; });
  CHECK(missing.start_status.is_permanent());
  CHECK(missing.start_status.message().find("protocols.grpc.auth.authenticator") == 0);
}

TEST_CASE("otlp receiver gRPC: TLS and mTLS") {
  TempDir dir;
  const TestCertificates certs = make_test_certificates(dir.path());
  const auto tls_channel = [&](std::uint16_t port, const std::string& cert, const std::string& key) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = read_file(certs.ca_file);
    if (!cert.empty()) {
      o.pem_cert_chain = read_file(cert);
      o.pem_private_key = read_file(key);
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), grpc::SslCredentials(o), args);
  };
  {
    GrpcRig rig([&](collectors::OtlpReceiverOptions& o) {
      o.grpc->tls = runtime::TlsServerSettings{certs.server_cert_file, certs.server_key_file, "", "1.2"};
    });
    REQUIRE(rig.start_status.is_ok());
    grpc::Status s = export_logs(tls_channel(rig.receiver->grpc_port(), "", ""), make_logs(2));
    CHECK_MESSAGE(s.ok(), s.error_message());
    CHECK(rig.logs.items() == 2);
    CHECK_FALSE(export_logs(rig.channel(), make_logs(1)).ok());  // plain text to a TLS port
    CHECK(rig.logs.items() == 2);
  }
  {
    GrpcRig rig([&](collectors::OtlpReceiverOptions& o) {
      o.grpc->tls =
          runtime::TlsServerSettings{certs.server_cert_file, certs.server_key_file, certs.ca_file, "1.2"};
    });
    REQUIRE(rig.start_status.is_ok());
    const std::uint16_t port = rig.receiver->grpc_port();
    grpc::Status s =
        export_logs(tls_channel(port, certs.client_cert_file, certs.client_key_file), make_logs(3));
    CHECK_MESSAGE(s.ok(), s.error_message());
    CHECK_FALSE(export_logs(tls_channel(port, "", ""), make_logs(1)).ok());  // no client certificate
    CHECK_FALSE(export_logs(tls_channel(port, certs.other_client_cert_file, certs.other_client_key_file),
                            make_logs(1))
                    .ok());  // signed by another CA
    CHECK(rig.logs.items() == 3);
  }
  {
    GrpcRig rig([&](collectors::OtlpReceiverOptions& o) {
      o.grpc->tls = runtime::TlsServerSettings{certs.server_cert_file, certs.server_key_file, "", "1.3"};
    });
    CHECK(rig.start_status.is_permanent());
    CHECK(rig.start_status.message().find("min_version 1.3") != std::string::npos);
  }
  {
    GrpcRig rig([&](collectors::OtlpReceiverOptions& o) {
      o.grpc->tls = runtime::TlsServerSettings{certs.server_cert_file, dir.file("missing.key"), "", "1.2"};
    });
    CHECK(rig.start_status.is_permanent());
    CHECK(rig.start_status.message().find("protocols.grpc.tls") == 0);
    CHECK(rig.start_status.message().find("missing.key") != std::string::npos);
  }
}

TEST_CASE("otlp receiver gRPC: a port in use is a start error, and a stopped server frees its port") {
  GrpcRig first;
  const std::string endpoint = first.target();
  {
    GrpcRig second([&](collectors::OtlpReceiverOptions& o) { o.grpc->endpoint = endpoint; });
    CHECK(second.start_status.is_permanent());
    CHECK(second.start_status.message() == "listen on " + endpoint + ": Address already in use");
    CHECK(second.receiver->grpc_port() == 0);
  }
  // Both transports: the HTTP server is released again when gRPC cannot start.
  const std::uint16_t http_port = free_port();
  {
    GrpcRig both([&](collectors::OtlpReceiverOptions& o) {
      o.grpc->endpoint = endpoint;
      o.http = collectors::OtlpHttpOptions{};
      o.http->endpoint = "127.0.0.1:" + std::to_string(http_port);
    });
    CHECK(both.start_status.is_permanent());
    CHECK(both.receiver->http_port() == 0);
  }
  first.receiver->shutdown(component::Clock::now() + 1s);
  GrpcRig again([&](collectors::OtlpReceiverOptions& o) { o.grpc->endpoint = endpoint; });
  CHECK(again.start_status.is_ok());
  CHECK(export_logs(again.channel(), make_logs(1)).ok());
  CHECK(again.logs.items() == 1);
}

TEST_CASE("otlp receiver: one receiver serves HTTP and gRPC and counts per transport") {
  GrpcRig rig([](collectors::OtlpReceiverOptions& o) {
    o.http = collectors::OtlpHttpOptions{};
    o.http->endpoint = "127.0.0.1:0";
  });
  REQUIRE(rig.start_status.is_ok());
  REQUIRE(rig.receiver->http_port() != 0);
  CHECK(export_logs(rig.channel(), make_logs(3)).ok());
  Client client(rig.receiver->http_port());
  auto r = client.request(http::verb::post, "/v1/logs", make_logs(2).SerializeAsString(),
                          {{"Content-Type", "application/x-protobuf"}});
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.logs.items() == 5);
  CHECK(rig.counter("vigil_receiver_accepted_log_records_total", "grpc") == 3);
  CHECK(rig.counter("vigil_receiver_accepted_log_records_total", "http") == 2);

  rig.logs.set_status(Status::retryable("busy"));
  CHECK(export_logs(rig.channel(), make_logs(4)).error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(rig.counter("vigil_receiver_refused_log_records_total", "grpc") == 4);
  CHECK(rig.counter("vigil_receiver_refused_log_records_total", "http") == 0);
}

TEST_CASE("otlp receiver gRPC: shutdown waits for the call in the pipeline and refuses new ones") {
  GateConsumer gate;
  FakeConsumer traces;
  GrpcRig rig({}, {&traces, nullptr, &gate});
  auto channel = rig.channel();
  std::promise<grpc::Status> first;
  std::thread caller([&] { first.set_value(export_logs(channel, make_logs(5))); });
  REQUIRE(eventually([&] { return gate.entered() == 1; }, 5s));

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    rig.receiver->shutdown(component::Clock::now() + 5s);
    stopped = true;
  });
  // Once shutdown has begun, new calls are refused as retryable (or cannot connect, once the
  // listener is closed): UNAVAILABLE either way, while the call in the pipeline holds shutdown.
  auto stub = pb_trace::TraceService::NewStub(channel);
  CHECK(eventually(
      [&] {
        grpc::ClientContext context;
        bound(context, 5s);
        pb_trace::ExportTraceServiceResponse response;
        return stub->Export(&context, make_traces(1), &response).error_code() ==
               grpc::StatusCode::UNAVAILABLE;
      },
      5s));
  CHECK_FALSE(stopped.load());  // still waiting for the consumer

  gate.release();
  stopper.join();
  caller.join();
  CHECK(stopped.load());
  CHECK(first.get_future().get().ok());
  CHECK(gate.items() == 5);
}

TEST_CASE("otlp receiver factory: a config with protocols.grpc serves OTLP/gRPC") {
  const component::Factory f = collectors::otlp_receiver_factory();
  config::Errors errors;
  config::Value node = config::parse_yaml(
      "protocols:\n  grpc:\n    endpoint: 127.0.0.1:0\n    max_recv_msg_size_mib: 1\n", "c.yaml", errors);
  REQUIRE(errors.empty());
  config::validate(f.schema, &node, config::Location{"c.yaml", 1, 1}, "otlp", errors);
  config::Settings settings(&f.schema, &node, config::Location{"c.yaml", 1, 1});
  f.validate(settings, "otlp", errors);
  REQUIRE(errors.empty());

  IoRunner runner;
  GrpcHost host(runner.io());
  FakeConsumer logs;
  component::CreateSettings cs{"otlp/grpc", settings, host.telemetry(), ""};
  auto receiver = f.create_receiver(cs, {nullptr, nullptr, &logs});
  REQUIRE(receiver);
  REQUIRE(receiver->start(host).is_ok());
  auto* otlp = dynamic_cast<OtlpReceiver*>(receiver.get());
  REQUIRE(otlp);
  CHECK(otlp->http_port() == 0);  // no protocols.http
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(otlp->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  CHECK(export_logs(channel, make_logs(4)).ok());
  CHECK(export_logs(channel, make_logs(1, std::string(1024 * 1024, 'a'))).error_code() ==
        grpc::StatusCode::RESOURCE_EXHAUSTED);  // max_recv_msg_size_mib: 1
  CHECK(logs.items() == 4);
  CHECK(counter_value(host.telemetry(), "vigil_receiver_accepted_log_records_total",
                      {{"receiver", "otlp/grpc"}, {"transport", "grpc"}}) == 4);
  receiver->shutdown(component::Clock::now() + 1s);
}

TEST_CASE(
    "otlp receiver gRPC: calls waiting for a worker are bounded; shutdown answers them by its deadline") {
  // No thread runs this io_context: every call stays queued, as behind a pipeline that blocks.
  net::io_context idle;
  GrpcHost host(idle);
  FakeConsumer logs;
  collectors::OtlpReceiverOptions options;
  options.grpc = collectors::OtlpGrpcOptions{};
  options.grpc->endpoint = "127.0.0.1:0";
  options.grpc->max_queued_bytes = 1;  // one call waits, the next is refused
  OtlpReceiver receiver("otlp", options, {nullptr, nullptr, &logs}, host.telemetry());
  REQUIRE(receiver.start(host).is_ok());
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(receiver.grpc_port()),
                                     grpc::InsecureChannelCredentials());

  std::promise<grpc::Status> a, b;
  auto fa = a.get_future(), fb = b.get_future();
  std::thread ta([&] { a.set_value(export_logs(channel, make_logs(1))); });
  std::thread tb([&] { b.set_value(export_logs(channel, make_logs(2))); });
  // Whichever arrives second is refused at once, as retryable.
  std::future<grpc::Status>* first_done = nullptr;
  REQUIRE(eventually(
      [&] {
        if (fa.wait_for(0s) == std::future_status::ready) first_done = &fa;
        if (fb.wait_for(0s) == std::future_status::ready) first_done = &fb;
        return first_done != nullptr;
      },
      5s));
  std::future<grpc::Status>* waiting = first_done == &fa ? &fb : &fa;
  const grpc::Status refused = first_done->get();
  CHECK(refused.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(retry_delay(refused) == std::chrono::milliseconds(1000));
  CHECK(counter_value(host.telemetry(), "vigil_receiver_failed_requests_total",
                      {{"transport", "grpc"}, {"signal", "logs"}, {"reason", "busy"}}) == 1);
  CHECK(waiting->wait_for(0s) == std::future_status::timeout);

  // The queued call is answered when the shutdown deadline passes, without reaching the pipeline.
  const auto t0 = std::chrono::steady_clock::now();
  receiver.shutdown(component::Clock::now() + 200ms);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  const grpc::Status late = waiting->get();
  CHECK(late.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(late.error_message() == "the receiver is shutting down");
  CHECK(logs.calls() == 0);
  ta.join();
  tb.join();
}
