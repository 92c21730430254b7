#include <doctest/doctest.h>

#include <sys/resource.h>
#include <zlib.h>
#include <zstd.h>

#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <tuple>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

#include "agent/config/loader.hpp"
#include "agent/config/schema.hpp"
#include "collectors/otlp/otlp_receiver.hpp"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tests/support/http_test_support.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tls_test_support.hpp"

using namespace vigil;
using namespace vigil::testing;
using namespace std::chrono_literals;
using collectors::DecompressResult;
using collectors::OtlpReceiver;
using component::Status;
using model::Signal;

namespace {

namespace pb_logs = opentelemetry::proto::collector::logs::v1;
namespace pb_trace = opentelemetry::proto::collector::trace::v1;
namespace pb_metrics = opentelemetry::proto::collector::metrics::v1;

constexpr std::size_t kLimit = 1024 * 1024;
const std::vector<std::pair<std::string, std::string>> kProtobuf{{"Content-Type", "application/x-protobuf"}};

std::string logs_request(int resources, int per_scope) {
  pb_logs::ExportLogsServiceRequest req;
  for (int r = 0; r < resources; ++r) {
    auto* rl = req.add_resource_logs();
    auto* kv = rl->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value("shop-" + std::to_string(r));
    auto* sl = rl->add_scope_logs();
    sl->mutable_scope()->set_name("test");
    for (int i = 0; i < per_scope; ++i) {
      auto* lr = sl->add_log_records();
      lr->set_time_unix_nano(1000 + i);
      lr->set_severity_text("INFO");
      lr->mutable_body()->set_string_value("order placed " + std::to_string(i));
    }
  }
  return req.SerializeAsString();
}

std::string traces_request(int spans) {
  pb_trace::ExportTraceServiceRequest req;
  auto* ss = req.add_resource_spans()->add_scope_spans();
  for (int i = 0; i < spans; ++i) {
    auto* sp = ss->add_spans();
    sp->set_trace_id(std::string(16, static_cast<char>(i + 1)));
    sp->set_span_id(std::string(8, static_cast<char>(i + 1)));
    sp->set_name("GET /checkout");
    sp->set_start_time_unix_nano(1);
    sp->set_end_time_unix_nano(2);
  }
  return req.SerializeAsString();
}

// A gauge with `gauge_points` points and a histogram with `histogram_points`.
std::string metrics_request(int gauge_points, int histogram_points) {
  pb_metrics::ExportMetricsServiceRequest req;
  auto* sm = req.add_resource_metrics()->add_scope_metrics();
  auto* g = sm->add_metrics();
  g->set_name("queue_depth");
  for (int i = 0; i < gauge_points; ++i) g->mutable_gauge()->add_data_points()->set_as_double(i);
  auto* h = sm->add_metrics();
  h->set_name("latency");
  for (int i = 0; i < histogram_points; ++i) {
    auto* p = h->mutable_histogram()->add_data_points();
    p->set_count(3);
    p->add_bucket_counts(1);
    p->add_bucket_counts(2);
    p->add_explicit_bounds(0.5);
  }
  return req.SerializeAsString();
}

// Compresses what `next` yields (an empty view ends the input) with zlib's deflate.
std::string zlib_compress(int window_bits, const std::function<std::string_view()>& next) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    std::string_view in = next();
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    const int flush = in.empty() ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof buf;
      deflate(&zs, flush);
      out.append(buf, sizeof buf - zs.avail_out);
    } while (zs.avail_out == 0);
    if (in.empty()) break;
  }
  deflateEnd(&zs);
  return out;
}

std::string gzip(std::string_view data) {
  bool done = false;
  return zlib_compress(16 + MAX_WBITS, [&]() -> std::string_view {
    if (done) return {};
    done = true;
    return data;
  });
}

// `total` zero bytes, gzip-compressed, without ever holding them in memory.
std::string gzip_zeros(std::size_t total) {
  static const std::string zeros(64 * 1024, '\0');
  std::size_t left = total;
  return zlib_compress(16 + MAX_WBITS, [&]() -> std::string_view {
    const std::size_t n = std::min(left, zeros.size());
    left -= n;
    return std::string_view(zeros).substr(0, n);
  });
}

std::string zstd(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string zstd_zeros(std::size_t total) {
  static const std::string zeros(64 * 1024, '\0');
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out;
  char buf[64 * 1024];
  std::size_t left = total;
  for (;;) {
    const std::size_t n = std::min(left, zeros.size());
    left -= n;
    ZSTD_inBuffer in{zeros.data(), n, 0};
    const ZSTD_EndDirective mode = left == 0 ? ZSTD_e_end : ZSTD_e_continue;
    std::size_t remaining = 0;
    do {
      ZSTD_outBuffer o{buf, sizeof buf, 0};
      remaining = ZSTD_compressStream2(cctx, &o, &in, mode);
      REQUIRE_FALSE(ZSTD_isError(remaining));
      out.append(buf, o.pos);
    } while (mode == ZSTD_e_end ? remaining != 0 : in.pos < in.size);
    if (left == 0) break;
  }
  ZSTD_freeCCtx(cctx);
  return out;
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// A server authenticator extension: "authorization: Bearer s3cret" passes.
class TokenAuth : public component::Extension, public component::ServerAuthenticator {
 public:
  Status start(component::Host&) override { return Status::ok(); }
  void shutdown(component::Deadline) override {}
  Status authenticate(const component::HeaderList& headers) const override {
    ++calls;
    for (const auto& [name, value] : headers) {
      if (name == "authorization" && value == "Bearer s3cret") return Status::ok();
    }
    return Status::permanent("missing or wrong bearer token");
  }
  mutable std::atomic<int> calls{0};
};

// An extension that cannot authenticate.
class PlainExtension : public component::Extension {
 public:
  Status start(component::Host&) override { return Status::ok(); }
  void shutdown(component::Deadline) override {}
};

// A Host whose extensions are given by the test.
class ExtHost : public component::Host {
 public:
  explicit ExtHost(net::io_context& io) : io_(io) {}
  net::io_context& io_context() override { return io_; }
  telemetry::Telemetry& telemetry() override { return telemetry_; }
  component::Extension* extension(std::string_view id) override {
    auto it = extensions.find(std::string(id));
    return it == extensions.end() ? nullptr : it->second;
  }
  bool pipelines_ready() const override { return true; }
  std::map<std::string, component::Extension*> extensions;

 private:
  net::io_context& io_;
  telemetry::Telemetry telemetry_;
};

// A receiver on 127.0.0.1:<picked port> with consumers for every signal (unless told otherwise).
// "auth/token" (TokenAuth) and "plain" (no authenticator) are available as extensions.
struct Rig {
  explicit Rig(bool with_metrics = true, const std::function<void(collectors::OtlpHttpOptions&)>& tweak = {})
      : host(runner.io()) {
    host.extensions["auth/token"] = &auth;
    host.extensions["plain"] = &plain;
    collectors::OtlpHttpOptions http;
    http.endpoint = "127.0.0.1:0";
    http.max_request_body_size = kLimit;
    if (tweak) tweak(http);
    collectors::OtlpReceiverOptions options;
    options.http = http;
    component::SignalConsumers next{&traces, with_metrics ? &metrics : nullptr, &logs};
    receiver = std::make_unique<OtlpReceiver>("otlp", options, next, host.telemetry());
    start_status = receiver->start(host);
    if (start_status.is_ok()) REQUIRE(receiver->http_port() != 0);
  }
  ~Rig() { receiver->shutdown(component::Clock::now() + 1s); }

  std::optional<http::response<http::string_body>> post(
      const std::string& path, std::string body,
      std::vector<std::pair<std::string, std::string>> headers = kProtobuf) {
    Client c(receiver->http_port());
    REQUIRE(c.connected());
    return c.request(http::verb::post, path, std::move(body), headers);
  }
  std::optional<http::response<http::string_body>> send(
      http::verb method, const std::string& path,
      const std::vector<std::pair<std::string, std::string>>& headers) {
    Client c(receiver->http_port());
    REQUIRE(c.connected());
    return c.request(method, path, {}, headers);
  }
  double counter(const std::string& name) {
    return counter_value(host.telemetry(), name, {{"receiver", "otlp"}, {"transport", "http"}});
  }
  double failed(const std::string& signal, const std::string& reason) {
    return counter_value(
        host.telemetry(), "vigil_receiver_failed_requests_total",
        {{"receiver", "otlp"}, {"transport", "http"}, {"signal", signal}, {"reason", reason}});
  }

  IoRunner runner;
  ExtHost host;
  TokenAuth auth;
  PlainExtension plain;
  FakeConsumer traces, metrics, logs;
  std::unique_ptr<OtlpReceiver> receiver;
  Status start_status;
};

// A google.rpc.Status error body, decoded with libprotobuf (independently of Vigil's codec).
struct RpcError {
  bool decoded = false;
  int code = -1;
  std::string message;
  std::optional<std::chrono::milliseconds> retry_delay;
};

RpcError decode_status(const std::string& body, bool json) {
  google::rpc::Status status;
  RpcError out;
  out.decoded =
      json ? google::protobuf::util::JsonStringToMessage(body, &status).ok() : status.ParseFromString(body);
  out.code = status.code();
  out.message = status.message();
  for (const auto& detail : status.details()) {
    google::rpc::RetryInfo info;
    if (detail.UnpackTo(&info)) {
      out.retry_delay = std::chrono::milliseconds(info.retry_delay().seconds() * 1000 +
                                                  info.retry_delay().nanos() / 1000000);
    }
  }
  return out;
}

RpcError decode_status(const http::response<http::string_body>& r) {
  const bool json = std::string((r)[http::field::content_type]) == "application/json";
  return decode_status(r.body(), json);
}

const std::vector<std::pair<std::string, std::string>> kJson{{"Content-Type", "application/json"}};

constexpr char kJsonLogs[] =
    R"({"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},)"
    R"("scopeLogs":[{"scope":{"name":"test"},"logRecords":[{"timeUnixNano":"1000","severityNumber":9,)"
    R"("body":{"stringValue":"order placed"}},{"timeUnixNano":1001,"body":{"stringValue":"paid"}},)"
    R"({"body":{"intValue":"7"}}]}]}]})";
constexpr char kJsonTraces[] =
    R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C",)"
    R"("spanId":"EEE19B7EC3C1B174","name":"GET /checkout","kind":2,"startTimeUnixNano":"1",)"
    R"("endTimeUnixNano":"2"},{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175",)"
    R"("parentSpanId":"eee19b7ec3c1b174","name":"SELECT"}]}]}]})";
constexpr char kJsonMetrics[] =
    R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"queue_depth","gauge":{"dataPoints":)"
    R"([{"asDouble":1.5},{"asInt":"3"},{"asInt":4}]}}]}]}]})";

// A TLS client for one request, verifying the server against `ca_file`; with a client
// certificate when `cert_file` is given. std::nullopt when the handshake or the exchange fails.
std::optional<http::response<http::string_body>> tls_post(std::uint16_t port, const std::string& ca_file,
                                                          const std::string& cert_file,
                                                          const std::string& key_file,
                                                          const std::string& body) {
  net::io_context io;
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.load_verify_file(ca_file);
  ctx.set_verify_mode(net::ssl::verify_peer);
  if (!cert_file.empty()) {
    ctx.use_certificate_chain_file(cert_file);
    ctx.use_private_key_file(key_file, net::ssl::context::pem);
  }
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  beast::get_lowest_layer(stream).expires_after(5s);
  beast::error_code ec;
  beast::get_lowest_layer(stream).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return std::nullopt;
  stream.handshake(net::ssl::stream_base::client, ec);
  if (ec) return std::nullopt;
  http::request<http::string_body> req{http::verb::post, "/v1/logs", 11};
  req.set(http::field::host, "localhost");
  req.set(http::field::content_type, "application/x-protobuf");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return std::nullopt;
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return std::nullopt;
  return res;
}

}  // namespace

TEST_CASE("otlp receiver: protobuf logs, traces and metrics reach their consumers") {
  Rig rig;
  auto r = rig.post("/v1/logs", logs_request(2, 3));
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK((*r)[http::field::content_type] == "application/x-protobuf");
  CHECK(r->body().empty());  // an empty ExportLogsServiceResponse
  CHECK(rig.logs.calls() == 1);
  CHECK(rig.logs.items() == 6);

  r = rig.post("/v1/traces", traces_request(4));
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.traces.items() == 4);
  REQUIRE(rig.traces.signals().size() == 1);
  CHECK(rig.traces.signals()[0] == Signal::kTraces);

  r = rig.post("/v1/metrics", metrics_request(3, 2));
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.metrics.items() == 5);

  CHECK(rig.counter("vigil_receiver_accepted_log_records_total") == 6);
  CHECK(rig.counter("vigil_receiver_accepted_spans_total") == 4);
  CHECK(rig.counter("vigil_receiver_accepted_metric_points_total") == 5);
  CHECK(rig.counter("vigil_receiver_refused_log_records_total") == 0);
}

TEST_CASE("otlp receiver: Content-Type parameters and case are accepted") {
  Rig rig;
  auto r =
      rig.post("/v1/logs", logs_request(1, 1), {{"Content-Type", "Application/X-Protobuf; charset=utf-8"}});
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.logs.items() == 1);
}

TEST_CASE("otlp receiver: gzip, deflate and zstd bodies") {
  Rig rig;
  const std::string body = logs_request(1, 50);
  auto headers = kProtobuf;

  headers.emplace_back("Content-Encoding", "gzip");
  auto r = rig.post("/v1/logs", gzip(body), headers);
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.logs.items() == 50);

  headers.back().second = "zstd";
  r = rig.post("/v1/logs", zstd(body), headers);
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.logs.items() == 100);

  headers.back().second = "deflate";
  bool done = false;
  std::string zlib_body = zlib_compress(MAX_WBITS, [&]() -> std::string_view {
    if (done) return {};
    done = true;
    return body;
  });
  r = rig.post("/v1/logs", zlib_body, headers);
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.logs.items() == 150);

  headers.back().second = "identity";
  r = rig.post("/v1/logs", body, headers);
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.logs.items() == 200);
}

TEST_CASE("otlp receiver: bad encodings") {
  Rig rig;
  auto headers = kProtobuf;
  headers.emplace_back("Content-Encoding", "br");
  auto r = rig.post("/v1/logs", "xxxx", headers);
  REQUIRE(r);
  CHECK(r->result_int() == 415);

  headers.back().second = "gzip";
  std::string truncated = gzip(logs_request(1, 20));
  truncated.resize(truncated.size() / 2);
  r = rig.post("/v1/logs", truncated, headers);
  REQUIRE(r);
  CHECK(r->result_int() == 400);
  CHECK((*r)[http::field::content_type] == "application/x-protobuf");
  RpcError e = decode_status(*r);
  CHECK(e.decoded);
  CHECK(e.code == 3);  // INVALID_ARGUMENT
  CHECK(e.message.find("gzip") != std::string::npos);

  headers.back().second = "zstd";
  r = rig.post("/v1/logs", "definitely not zstd", headers);
  REQUIRE(r);
  CHECK(r->result_int() == 400);
  CHECK(rig.logs.calls() == 0);
}

TEST_CASE("otlp receiver: decompression bombs get 413 without being inflated") {
  Rig rig;
  const long rss_before = peak_rss_kb();
  for (const char* encoding : {"gzip", "zstd"}) {
    CAPTURE(encoding);
    const std::string bomb =
        std::string(encoding) == "gzip" ? gzip_zeros(100u << 20) : zstd_zeros(100u << 20);
    REQUIRE(bomb.size() < kLimit);  // small on the wire: only the decompressed size can catch it
    auto headers = kProtobuf;
    headers.emplace_back("Content-Encoding", encoding);
    auto r = rig.post("/v1/logs", bomb, headers);
    REQUIRE(r);
    CHECK(r->result_int() == 413);
    RpcError e = decode_status(*r);
    CHECK(e.decoded);
    CHECK(e.code == 8);  // RESOURCE_EXHAUSTED
    CHECK(e.message.find("after decompression") != std::string::npos);
    CHECK_FALSE(e.retry_delay);
  }
  CHECK(rig.logs.calls() == 0);  // nothing reached the decoder's consumer
  CHECK(rig.failed("logs", "too_large") == 2);
  // Inflating 100 MiB would show up in the peak; stopping at the 1 MiB limit does not.
  CHECK(peak_rss_kb() - rss_before < 30 * 1024);
}

TEST_CASE("decompress_body stops right after the limit") {
  const std::string data(10000, 'x');
  std::string out, error;
  CHECK(collectors::decompress_body("gzip", gzip(data), 10000, out, error) == DecompressResult::kOk);
  CHECK(out == data);
  CHECK(collectors::decompress_body("gzip", gzip(data), 9999, out, error) == DecompressResult::kTooLarge);
  CHECK(out.capacity() < 10000);
  CHECK(collectors::decompress_body("zstd", zstd(data), 10000, out, error) == DecompressResult::kOk);
  CHECK(out == data);
  CHECK(collectors::decompress_body("zstd", zstd(data), 9999, out, error) == DecompressResult::kTooLarge);
  CHECK(collectors::decompress_body("", std::string(data), 9999, out, error) == DecompressResult::kTooLarge);
  CHECK(collectors::decompress_body("IDENTITY", std::string(data), 10000, out, error) ==
        DecompressResult::kOk);
  // Two gzip members back to back decode as their concatenation.
  CHECK(collectors::decompress_body("gzip", gzip("ab") + gzip("cd"), 100, out, error) ==
        DecompressResult::kOk);
  CHECK(out == "abcd");
  // Two zstd frames likewise.
  CHECK(collectors::decompress_body("zstd", zstd("ab") + zstd("cd"), 100, out, error) ==
        DecompressResult::kOk);
  CHECK(out == "abcd");
  CHECK(collectors::decompress_body("gzip", gzip("ab") + "junk", 100, out, error) ==
        DecompressResult::kCorrupt);
}

TEST_CASE("otlp receiver: raw body over max_request_body_size gets 413") {
  Rig rig;
  auto r = rig.post("/v1/logs", std::string(kLimit + 1, 'a'));
  REQUIRE(r);
  CHECK(r->result_int() == 413);
  // Compressed within the wire limit but over it once inflated.
  auto headers = kProtobuf;
  headers.emplace_back("Content-Encoding", "gzip");
  r = rig.post("/v1/logs", gzip(std::string(kLimit + 1, 'a')), headers);
  REQUIRE(r);
  CHECK(r->result_int() == 413);
  CHECK(rig.logs.calls() == 0);
}

TEST_CASE("otlp receiver: max_concurrent_connections refuses further connections with 503") {
  Rig rig(true, [](collectors::OtlpHttpOptions& o) { o.max_concurrent_connections = 1; });
  Client first(rig.receiver->http_port());
  auto r1 = first.request(http::verb::post, "/v1/logs", logs_request(1, 1), kProtobuf);
  REQUIRE(r1);
  CHECK(r1->result_int() == 200);

  auto r2 = rig.post("/v1/logs", logs_request(1, 1));
  REQUIRE(r2);
  CHECK(r2->result_int() == 503);
  CHECK((*r2)[http::field::retry_after] == "1");
  CHECK(rig.logs.calls() == 1);

  first.close();
  bool served = false;
  for (int i = 0; i < 300 && !served; ++i) {  // until the server has noticed the close
    auto r = rig.post("/v1/logs", logs_request(1, 1));
    served = r && r->result_int() == 200;
    if (!served) std::this_thread::sleep_for(10ms);
  }
  CHECK(served);
  CHECK(rig.logs.calls() == 2);
}

TEST_CASE("otlp receiver: max_inflight_bytes refuses a body that does not fit with 503") {
  Rig rig(true, [](collectors::OtlpHttpOptions& o) { o.max_inflight_bytes = 1000; });
  // A request whose 800 bytes are still arriving holds them.
  Client slow(rig.receiver->http_port());
  REQUIRE(
      slow.write_raw("POST /v1/logs HTTP/1.1\r\nHost: a\r\nContent-Type: "
                     "application/x-protobuf\r\nContent-Length: 800\r\n\r\n"));
  std::this_thread::sleep_for(100ms);  // let the server read the header (and reserve)

  const std::string body = logs_request(4, 4);
  REQUIRE(body.size() > 200);    // 800 + this passes 1000 ...
  REQUIRE(body.size() <= 1000);  // ... but this alone fits
  auto r = rig.post("/v1/logs", body);
  REQUIRE(r);
  CHECK(r->result_int() == 503);
  CHECK((*r)[http::field::retry_after] == "1");
  CHECK(rig.logs.calls() == 0);

  slow.close();  // its share is released; the same request is served now
  bool served = false;
  for (int i = 0; i < 300 && !served; ++i) {
    auto again = rig.post("/v1/logs", body);
    served = again && again->result_int() == 200;
    if (!served) std::this_thread::sleep_for(10ms);
  }
  CHECK(served);
  CHECK(rig.logs.items() == 16);

  // Over the budget on its own: 413, as over max_request_body_size.
  auto big = rig.post("/v1/logs", std::string(1001, 'a'));
  REQUIRE(big);
  CHECK(big->result_int() == 413);
}

TEST_CASE("otlp receiver: garbage protobuf and JSON get 400 with a google.rpc.Status in their encoding") {
  Rig rig;
  auto r = rig.post("/v1/traces", "this is not a protobuf message");
  REQUIRE(r);
  CHECK(r->result_int() == 400);
  CHECK((*r)[http::field::content_type] == "application/x-protobuf");
  RpcError e = decode_status(r->body(), false);
  CHECK(e.decoded);
  CHECK(e.code == 3);
  CHECK(e.message.find("cannot decode the traces request (protobuf)") != std::string::npos);

  r = rig.post("/v1/logs", R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":)", kJson);
  REQUIRE(r);
  CHECK(r->result_int() == 400);
  CHECK((*r)[http::field::content_type] == "application/json");
  e = decode_status(r->body(), true);
  CHECK(e.decoded);
  CHECK(e.code == 3);
  CHECK(e.message.find("cannot decode the logs request (JSON)") != std::string::npos);

  CHECK(rig.traces.calls() == 0);
  CHECK(rig.logs.calls() == 0);
  CHECK(rig.failed("traces", "invalid") == 1);
  CHECK(rig.failed("logs", "invalid") == 1);
}

TEST_CASE("otlp receiver: OTLP/JSON logs, traces and metrics reach their consumers, answered in JSON") {
  Rig rig;
  auto r = rig.post("/v1/logs", kJsonLogs, kJson);
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK((*r)[http::field::content_type] == "application/json");
  CHECK(r->body() == "{}");  // an ExportLogsServiceResponse without partial_success
  CHECK(rig.logs.items() == 3);

  r = rig.post("/v1/traces", kJsonTraces, {{"Content-Type", "application/json; charset=utf-8"}});
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK((*r)[http::field::content_type] == "application/json");
  CHECK(rig.traces.items() == 2);

  auto headers = kJson;
  headers.emplace_back("Content-Encoding", "gzip");
  r = rig.post("/v1/metrics", gzip(kJsonMetrics), headers);
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.metrics.items() == 3);

  // An empty JSON request is a success too.
  r = rig.post("/v1/logs", "{}", kJson);
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(r->body() == "{}");
  r = rig.post("/v1/logs", "", kJson);
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK((*r)[http::field::content_type] == "application/json");

  CHECK(rig.counter("vigil_receiver_accepted_log_records_total") == 3);
  CHECK(rig.counter("vigil_receiver_accepted_spans_total") == 2);
  CHECK(rig.counter("vigil_receiver_accepted_metric_points_total") == 3);
}

TEST_CASE("otlp receiver: content type, method and path checks") {
  Rig rig(/*with_metrics=*/false);
  auto r = rig.post("/v1/logs", "<xml/>", {{"Content-Type", "application/xml"}});
  REQUIRE(r);
  CHECK(r->result_int() == 415);
  // Before the encoding is known the Collector answers in plain text; so does Vigil.
  CHECK(std::string((*r)[http::field::content_type]).rfind("text/plain", 0) == 0);
  CHECK(r->body().find("unsupported media type, supported: [application/json, application/x-protobuf]") !=
        std::string::npos);

  r = rig.post("/v1/logs", logs_request(1, 1), {});
  REQUIRE(r);
  CHECK(r->result_int() == 415);

  Client c(rig.receiver->http_port());
  r = c.request(http::verb::get, "/v1/logs");
  REQUIRE(r);
  CHECK(r->result_int() == 405);
  CHECK((*r)[http::field::allow] == "POST");
  CHECK(std::string((*r)[http::field::content_type]).rfind("text/plain", 0) == 0);
  CHECK(rig.failed("logs", "unsupported") == 3);

  r = rig.post("/v1/nothing", logs_request(1, 1));
  REQUIRE(r);
  CHECK(r->result_int() == 404);
  CHECK(std::string((*r)[http::field::content_type]).rfind("text/plain", 0) == 0);

  // No pipeline takes metrics from this receiver.
  r = rig.post("/v1/metrics", metrics_request(1, 1));
  REQUIRE(r);
  CHECK(r->result_int() == 404);
  CHECK(rig.logs.calls() == 0);
  CHECK(rig.metrics.calls() == 0);
}

TEST_CASE("otlp receiver: empty requests succeed without reaching the pipeline") {
  Rig rig;
  auto r = rig.post("/v1/logs", "");
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  auto headers = kProtobuf;
  headers.emplace_back("Content-Encoding", "gzip");
  r = rig.post("/v1/logs", gzip(""), headers);
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.logs.calls() == 0);
}

TEST_CASE("otlp receiver: consumer results map to HTTP statuses and counters") {
  Rig rig;
  rig.logs.set_status(Status::retryable("queue full"));
  auto r = rig.post("/v1/logs", logs_request(1, 3));
  REQUIRE(r);
  CHECK(r->result_int() == 503);
  CHECK((*r)["Retry-After"] == "1");

  RpcError e = decode_status(*r);
  CHECK(e.decoded);
  CHECK(e.code == 14);  // UNAVAILABLE
  CHECK(e.message == "queue full");
  CHECK(e.retry_delay == std::chrono::milliseconds(1000));

  rig.logs.set_status(Status::retryable("queue full", 2500ms));
  r = rig.post("/v1/logs", logs_request(1, 2));
  REQUIRE(r);
  CHECK(r->result_int() == 503);
  CHECK((*r)["Retry-After"] == "3");
  e = decode_status(*r);
  CHECK(e.decoded);
  CHECK(e.retry_delay == std::chrono::milliseconds(2500));  // the exact hint in RetryInfo

  rig.logs.set_status(Status::permanent("attribute limit exceeded"));
  r = rig.post("/v1/logs", logs_request(1, 4));
  REQUIRE(r);
  CHECK(r->result_int() == 400);
  e = decode_status(*r);
  CHECK(e.decoded);
  CHECK(e.code == 3);
  CHECK(e.message == "attribute limit exceeded");
  CHECK_FALSE(e.retry_delay);

  CHECK(rig.counter("vigil_receiver_refused_log_records_total") == 9);
  CHECK(rig.counter("vigil_receiver_accepted_log_records_total") == 0);

  rig.logs.set_status(Status::ok());
  r = rig.post("/v1/logs", logs_request(1, 5));
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.counter("vigil_receiver_accepted_log_records_total") == 5);
}

TEST_CASE("otlp receiver: keep-alive serves several exports on one connection") {
  Rig rig;
  Client c(rig.receiver->http_port());
  for (int i = 0; i < 3; ++i) {
    auto r = c.request(http::verb::post, "/v1/logs", logs_request(1, 2), kProtobuf);
    REQUIRE(r);
    CHECK(r->result_int() == 200);
    CHECK(r->keep_alive());
  }
  CHECK(rig.logs.calls() == 3);
  CHECK(rig.logs.items() == 6);
}

TEST_CASE("otlp receiver: a client that disconnects mid-body does not break the server") {
  Rig rig;
  {
    Client c(rig.receiver->http_port());
    std::string body = logs_request(1, 100);
    REQUIRE(c.write_raw(
        "POST /v1/logs HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-protobuf\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, body.size() / 2)));
    c.close();
  }
  auto r = rig.post("/v1/logs", logs_request(1, 1));
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.logs.calls() == 1);
}

TEST_CASE("otlp receiver: shutdown with an open connection returns promptly") {
  Rig rig;
  Client c(rig.receiver->http_port());
  auto r = c.request(http::verb::post, "/v1/logs", logs_request(1, 1), kProtobuf);
  REQUIRE(r);
  const auto t0 = std::chrono::steady_clock::now();
  rig.receiver->shutdown(component::Clock::now() + 5s);
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
  CHECK(c.closed_by_peer());
  rig.receiver->shutdown(component::Clock::now());  // idempotent
}

TEST_CASE("otlp receiver: start fails with the bind error when the port is taken") {
  Rig rig;
  collectors::OtlpHttpOptions http;
  http.endpoint = "127.0.0.1:" + std::to_string(rig.receiver->http_port());
  collectors::OtlpReceiverOptions options;
  options.http = http;
  FakeConsumer logs;
  OtlpReceiver second("otlp/2", options, {nullptr, nullptr, &logs}, rig.host.telemetry());
  Status s = second.start(rig.host);
  CHECK(s.is_permanent());
  CHECK(s.message() == "listen on " + http.endpoint + ": Address already in use");
  second.shutdown(component::Clock::now());
}

TEST_CASE("otlp receiver: a retryable result over JSON is a JSON google.rpc.Status with RetryInfo") {
  Rig rig;
  rig.traces.set_status(Status::retryable("memory limit reached", 4200ms));
  auto r = rig.post("/v1/traces", kJsonTraces, kJson);
  REQUIRE(r);
  CHECK(r->result_int() == 503);
  CHECK((*r)["Retry-After"] == "5");
  CHECK((*r)[http::field::content_type] == "application/json");
  RpcError e = decode_status(r->body(), true);
  CHECK(e.decoded);
  CHECK(e.code == 14);
  CHECK(e.message == "memory limit reached");
  CHECK(e.retry_delay == std::chrono::milliseconds(4200));
  CHECK(rig.counter("vigil_receiver_refused_spans_total") == 2);
}

TEST_CASE("otlp receiver: CORS preflight and actual requests") {
  Rig rig(true, [](collectors::OtlpHttpOptions& o) {
    o.cors.allowed_origins = {"https://*.example.com", "http://localhost:3000"};
    o.cors.allowed_headers = {"X-Tenant"};
    o.cors.max_age = 7200;
  });
  const auto preflight = [&](const std::string& origin, const std::string& method,
                             const std::string& headers) {
    std::vector<std::pair<std::string, std::string>> h{{"Origin", origin},
                                                       {"Access-Control-Request-Method", method}};
    if (!headers.empty()) h.emplace_back("Access-Control-Request-Headers", headers);
    auto r = rig.send(http::verb::options, "/v1/traces", h);
    REQUIRE(r);
    return *r;
  };

  SUBCASE("an allowed origin's preflight") {
    auto r = preflight("https://app.example.com", "POST", "content-type, X-Tenant");
    CHECK(r.result_int() == 204);
    CHECK(r["Access-Control-Allow-Origin"] == "https://app.example.com");
    CHECK(r["Access-Control-Allow-Methods"] == "POST");
    CHECK(r["Access-Control-Allow-Headers"] == "content-type, x-tenant");
    CHECK(r["Access-Control-Allow-Credentials"] == "true");
    CHECK(r["Access-Control-Max-Age"] == "7200");
    CHECK(std::string(r["Vary"]).find("Origin") != std::string::npos);
    // Exact origins match too, case aside.
    r = preflight("HTTP://LOCALHOST:3000", "post", "");
    CHECK(r["Access-Control-Allow-Origin"] == "HTTP://LOCALHOST:3000");
    CHECK(r.find("Access-Control-Allow-Headers") == r.end());
  }
  SUBCASE("refused preflights carry no Access-Control-Allow-* header") {
    for (const auto& [origin, method, headers] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"https://evil.com", "POST", "content-type"},
             {"https://example.com.evil.com", "POST", ""},  // the wildcard stays inside its pattern
             {"https://app.example.com", "DELETE", ""},
             {"https://app.example.com", "POST", "content-type, x-secret"},
         }) {
      CAPTURE(origin);
      CAPTURE(method);
      CAPTURE(headers);
      auto r = preflight(origin, method, headers);
      CHECK(r.result_int() == 204);
      CHECK(r.find("Access-Control-Allow-Origin") == r.end());
      CHECK(r.find("Access-Control-Allow-Methods") == r.end());
    }
    CHECK(rig.traces.calls() == 0);
  }
  SUBCASE("actual requests") {
    auto headers = kJson;
    headers.emplace_back("Origin", "https://shop.example.com");
    auto r = rig.post("/v1/traces", kJsonTraces, headers);
    REQUIRE(r);
    CHECK(r->result_int() == 200);
    CHECK((*r)["Access-Control-Allow-Origin"] == "https://shop.example.com");
    CHECK((*r)["Access-Control-Allow-Credentials"] == "true");
    CHECK(std::string((*r)["Vary"]).find("Origin") != std::string::npos);

    // Errors carry the headers too, so the browser lets the page read them.
    r = rig.post("/v1/traces", "{", headers);
    REQUIRE(r);
    CHECK(r->result_int() == 400);
    CHECK((*r)["Access-Control-Allow-Origin"] == "https://shop.example.com");

    headers.back().second = "https://evil.com";
    r = rig.post("/v1/traces", kJsonTraces, headers);
    REQUIRE(r);
    CHECK(r->result_int() == 200);  // CORS is the browser's to enforce; the server only withholds the headers
    CHECK(r->find("Access-Control-Allow-Origin") == r->end());
    CHECK(r->find("Access-Control-Allow-Credentials") == r->end());
    CHECK(rig.traces.items() == 4);
  }
}

TEST_CASE("otlp receiver: CORS with \"*\", and without cors") {
  {
    Rig rig(true, [](collectors::OtlpHttpOptions& o) { o.cors.allowed_origins = {"*"}; });
    auto r = rig.send(http::verb::options, "/v1/logs",
                      {{"Origin", "https://anything.test"},
                       {"Access-Control-Request-Method", "POST"},
                       {"Access-Control-Request-Headers", "Content-Type"}});
    REQUIRE(r);
    CHECK(r->result_int() == 204);
    CHECK((*r)["Access-Control-Allow-Origin"] == "https://anything.test");
    CHECK((*r)["Access-Control-Allow-Headers"] == "content-type");
    CHECK(r->find("Access-Control-Max-Age") == r->end());  // max_age 0
    // Without allowed_headers, X-Requested-With is allowed as well; other headers are not.
    r = rig.send(http::verb::options, "/v1/logs",
                 {{"Origin", "https://a.test"},
                  {"Access-Control-Request-Method", "POST"},
                  {"Access-Control-Request-Headers", "x-requested-with"}});
    REQUIRE(r);
    CHECK((*r)["Access-Control-Allow-Origin"] == "https://a.test");
    r = rig.send(http::verb::options, "/v1/logs",
                 {{"Origin", "https://a.test"},
                  {"Access-Control-Request-Method", "POST"},
                  {"Access-Control-Request-Headers", "content-encoding"}});
    REQUIRE(r);
    CHECK(r->find("Access-Control-Allow-Origin") == r->end());
  }
  {
    Rig rig(true, [](collectors::OtlpHttpOptions& o) { o.cors.allowed_headers = {"*"}; });  // no origins: off
    auto r = rig.send(http::verb::options, "/v1/logs",
                      {{"Origin", "https://a.test"}, {"Access-Control-Request-Method", "POST"}});
    REQUIRE(r);
    CHECK(r->result_int() == 405);
    CHECK(r->find("Access-Control-Allow-Origin") == r->end());
  }
}

TEST_CASE("otlp receiver: auth.authenticator") {
  Rig rig(true, [](collectors::OtlpHttpOptions& o) {
    o.authenticator = "auth/token";
    o.cors.allowed_origins = {"https://app.test"};
  });
  REQUIRE(rig.start_status.is_ok());

  auto r = rig.post("/v1/logs", logs_request(1, 2));
  REQUIRE(r);
  CHECK(r->result_int() == 401);
  CHECK((*r)[http::field::content_type] == "application/x-protobuf");
  RpcError e = decode_status(*r);
  CHECK(e.decoded);
  CHECK(e.code == 16);  // UNAUTHENTICATED
  CHECK(e.message == "missing or wrong bearer token");

  auto headers = kJson;
  headers.emplace_back("Authorization", "Bearer wrong");
  r = rig.post("/v1/logs", kJsonLogs, headers);
  REQUIRE(r);
  CHECK(r->result_int() == 401);
  CHECK((*r)[http::field::content_type] == "application/json");
  CHECK(decode_status(r->body(), true).code == 16);

  // Authentication comes first: without a content type the answer is a JSON Status.
  r = rig.post("/v1/logs", "x", {});
  REQUIRE(r);
  CHECK(r->result_int() == 401);
  CHECK(decode_status(r->body(), true).code == 16);
  CHECK(rig.logs.calls() == 0);
  CHECK(rig.failed("logs", "unauthorized") == 3);

  headers.back().second = "Bearer s3cret";
  r = rig.post("/v1/logs", kJsonLogs, headers);
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(rig.logs.items() == 3);

  // A preflight carries no credentials and is not authenticated.
  const int auth_calls = rig.auth.calls.load();
  r = rig.send(http::verb::options, "/v1/logs",
               {{"Origin", "https://app.test"}, {"Access-Control-Request-Method", "POST"}});
  REQUIRE(r);
  CHECK(r->result_int() == 204);
  CHECK((*r)["Access-Control-Allow-Origin"] == "https://app.test");
  CHECK(rig.auth.calls.load() == auth_calls);
}

TEST_CASE("otlp receiver: without authenticator every request passes; a missing one fails start") {
  {
    Rig rig;
    auto r = rig.post("/v1/logs", logs_request(1, 1));
    REQUIRE(r);
    CHECK(r->result_int() == 200);
    CHECK(rig.auth.calls.load() == 0);
  }
  {
    Rig rig(true, [](collectors::OtlpHttpOptions& o) { o.authenticator = "bearertokenauth/missing"; });
    CHECK(rig.start_status.is_permanent());
    CHECK(rig.start_status.message().find("bearertokenauth/missing") != std::string::npos);
    CHECK(rig.start_status.message().find("protocols.http.auth.authenticator") == 0);
    CHECK(rig.receiver->http_port() == 0);
  }
  {
    Rig rig(true, [](collectors::OtlpHttpOptions& o) { o.authenticator = "plain"; });
    CHECK(rig.start_status.is_permanent());
    CHECK(rig.start_status.message().find("cannot authenticate") != std::string::npos);
  }
}

TEST_CASE("otlp receiver: TLS and mTLS") {
  TempDir dir;
  const TestCertificates certs = make_test_certificates(dir.path());
  {
    Rig rig(true, [&](collectors::OtlpHttpOptions& o) {
      o.tls = runtime::TlsServerSettings{certs.server_cert_file, certs.server_key_file, "", "1.2"};
    });
    REQUIRE(rig.start_status.is_ok());
    auto r = tls_post(rig.receiver->http_port(), certs.ca_file, "", "", logs_request(1, 2));
    REQUIRE(r);
    CHECK(r->result_int() == 200);
    CHECK(rig.logs.items() == 2);
    // A plain-text client gets nothing useful from a TLS port.
    Client plain(rig.receiver->http_port());
    auto p = plain.request(http::verb::post, "/v1/logs", logs_request(1, 1), kProtobuf);
    CHECK((!p || p->result_int() != 200));
    CHECK(rig.logs.items() == 2);
  }
  {
    Rig rig(true, [&](collectors::OtlpHttpOptions& o) {
      o.tls = runtime::TlsServerSettings{certs.server_cert_file, certs.server_key_file, certs.ca_file, "1.2"};
    });
    REQUIRE(rig.start_status.is_ok());
    const std::uint16_t port = rig.receiver->http_port();
    auto r = tls_post(port, certs.ca_file, certs.client_cert_file, certs.client_key_file, logs_request(1, 3));
    REQUIRE(r);
    CHECK(r->result_int() == 200);
    CHECK_FALSE(tls_post(port, certs.ca_file, "", "", logs_request(1, 1)));  // no client certificate
    CHECK_FALSE(tls_post(port, certs.ca_file, certs.other_client_cert_file, certs.other_client_key_file,
                         logs_request(1, 1)));  // signed by another CA
    CHECK(rig.logs.items() == 3);
  }
  {
    Rig rig(true, [&](collectors::OtlpHttpOptions& o) {
      o.tls = runtime::TlsServerSettings{dir.file("missing.pem"), certs.server_key_file, "", "1.2"};
    });
    CHECK(rig.start_status.is_permanent());
    CHECK(rig.start_status.message().find("protocols.http.tls") == 0);
    CHECK(rig.start_status.message().find("missing.pem") != std::string::npos);
  }
}

namespace {

struct Checked {
  config::Value node;
  config::Errors errors;
};

Checked check_config(const component::Factory& f, const std::string& yaml) {
  Checked c;
  c.node = config::parse_yaml(yaml, "c.yaml", c.errors);
  REQUIRE(c.errors.empty());
  config::validate(f.schema, &c.node, config::Location{"c.yaml", 1, 1}, "otlp", c.errors);
  if (c.errors.empty()) {
    config::Settings settings(&f.schema, &c.node, config::Location{"c.yaml", 1, 1});
    f.validate(settings, "otlp", c.errors);
  }
  return c;
}

}  // namespace

TEST_CASE("otlp receiver factory: config validation and defaults") {
  const component::Factory f = collectors::otlp_receiver_factory();
  CHECK(f.type == "otlp");
  CHECK(f.kind == component::Kind::kReceiver);
  CHECK(f.supports(Signal::kLogs));
  CHECK(f.supports(Signal::kTraces));
  CHECK(f.supports(Signal::kMetrics));

  SUBCASE("http with defaults") {
    Checked c = check_config(f, "protocols:\n  http:\n");
    CHECK(c.errors.empty());
    config::Settings settings(&f.schema, &c.node, {});
    auto o = collectors::read_otlp_receiver_options(settings);
    REQUIRE(o.http);
    CHECK(o.http->endpoint == "127.0.0.1:4318");
    CHECK(o.http->max_request_body_size == 20u * 1024 * 1024);
    CHECK(o.http->traces_url_path == "/v1/traces");
    CHECK(o.http->metrics_url_path == "/v1/metrics");
    CHECK(o.http->logs_url_path == "/v1/logs");
    CHECK(o.http->max_concurrent_connections == 1000);
    CHECK(o.http->max_inflight_bytes == 64u * 1024 * 1024);
  }
  SUBCASE("http with options") {
    Checked c =
        check_config(f,
                     "protocols:\n  http:\n    endpoint: 0.0.0.0:14318\n    max_request_body_size: 1000\n"
                     "    logs_url_path: /logs\n    max_concurrent_connections: 50\n"
                     "    max_inflight_bytes: 2000000\n");
    CHECK(c.errors.empty());
    config::Settings settings(&f.schema, &c.node, {});
    auto o = collectors::read_otlp_receiver_options(settings);
    REQUIRE(o.http);
    CHECK(o.http->endpoint == "0.0.0.0:14318");
    CHECK(o.http->max_request_body_size == 1000);
    CHECK(o.http->logs_url_path == "/logs");
    CHECK(o.http->max_concurrent_connections == 50);
    CHECK(o.http->max_inflight_bytes == 2000000);
  }
  SUBCASE("the Vigil-specific bounds must be positive") {
    Checked c = check_config(f, "protocols:\n  http:\n    max_concurrent_connections: 0\n");
    CHECK(c.errors.size() == 1);
    Checked c2 = check_config(f, "protocols:\n  http:\n    max_inflight_bytes: 0\n");
    CHECK(c2.errors.size() == 1);
  }
  SUBCASE("grpc with defaults, and with options") {
    Checked c = check_config(f, "protocols:\n  grpc:\n");
    CHECK(c.errors.empty());
    config::Settings settings(&f.schema, &c.node, {});
    auto o = collectors::read_otlp_receiver_options(settings);
    CHECK_FALSE(o.http);
    REQUIRE(o.grpc);
    CHECK(o.grpc->endpoint == "127.0.0.1:4317");
    CHECK(o.grpc->max_recv_msg_size == 4u * 1024 * 1024);
    CHECK(o.grpc->max_concurrent_streams == 0);
    CHECK_FALSE(o.grpc->tls);
    CHECK(o.grpc->authenticator.empty());

    Checked c2 =
        check_config(f,
                     "protocols:\n  grpc:\n    endpoint: 0.0.0.0:14317\n    max_recv_msg_size_mib: 16\n"
                     "    max_concurrent_streams: 100\n    auth:\n      authenticator: bearertokenauth\n"
                     "    tls:\n      cert_file: s.pem\n      key_file: s.key\n"
                     "      client_ca_file: ca.pem\n");
    CHECK(c2.errors.empty());
    config::Settings s2(&f.schema, &c2.node, {});
    auto o2 = collectors::read_otlp_receiver_options(s2);
    REQUIRE(o2.grpc);
    CHECK(o2.grpc->endpoint == "0.0.0.0:14317");
    CHECK(o2.grpc->max_recv_msg_size == 16u * 1024 * 1024);
    CHECK(o2.grpc->max_concurrent_streams == 100);
    CHECK(o2.grpc->authenticator == "bearertokenauth");
    REQUIRE(o2.grpc->tls);
    CHECK(o2.grpc->tls->cert_file == "s.pem");
    CHECK(o2.grpc->tls->key_file == "s.key");
    CHECK(o2.grpc->tls->client_ca_file == "ca.pem");
  }
  SUBCASE("http tls, auth and cors") {
    Checked c = check_config(f,
                             "protocols:\n  http:\n    auth:\n      authenticator: bearertokenauth/in\n"
                             "    tls:\n      cert_file: s.pem\n      key_file: s.key\n"
                             "    cors:\n      allowed_origins: [\"https://*.example.com\"]\n"
                             "      allowed_headers: [X-Tenant]\n      max_age: 600\n");
    CHECK(c.errors.empty());
    config::Settings settings(&f.schema, &c.node, {});
    auto o = collectors::read_otlp_receiver_options(settings);
    REQUIRE(o.http);
    CHECK(o.http->authenticator == "bearertokenauth/in");
    REQUIRE(o.http->tls);
    CHECK(o.http->tls->cert_file == "s.pem");
    CHECK(o.http->tls->min_version == "1.2");
    CHECK(o.http->cors.allowed_origins == std::vector<std::string>{"https://*.example.com"});
    CHECK(o.http->cors.allowed_headers == std::vector<std::string>{"X-Tenant"});
    CHECK(o.http->cors.max_age == 600);
    CHECK_FALSE(o.grpc);
  }
  SUBCASE("auth needs an authenticator") {
    Checked c = check_config(f, "protocols:\n  http:\n    auth: {}\n");
    CHECK(c.errors.size() == 1);
  }
  SUBCASE("grpc tls min_version 1.3 is refused with a reason") {
    Checked c = check_config(f,
                             "protocols:\n  grpc:\n    tls:\n      cert_file: s.pem\n      key_file: s.key\n"
                             "      min_version: \"1.3\"\n");
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].message.find("min_version 1.3 is not supported") != std::string::npos);
  }
  SUBCASE("grpc and http on one port") {
    Checked c = check_config(f,
                             "protocols:\n  grpc:\n    endpoint: 0.0.0.0:4317\n  http:\n"
                             "    endpoint: 127.0.0.1:4317\n");
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].message.find("same port") != std::string::npos);
    CHECK(c.errors[0].location.line == 3);
    Checked ok = check_config(
        f, "protocols:\n  grpc:\n    endpoint: 127.0.0.1:0\n  http:\n    endpoint: 127.0.0.1:0\n");
    CHECK(ok.errors.empty());
  }
  SUBCASE("bad grpc endpoint and message size") {
    Checked c = check_config(f, "protocols:\n  grpc:\n    endpoint: \"::1:4317\"\n");
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].message.find("brackets") != std::string::npos);
    Checked c2 = check_config(f, "protocols:\n  grpc:\n    max_recv_msg_size_mib: 0\n");
    CHECK(c2.errors.size() == 1);
  }
  SUBCASE("no protocol") {
    Checked c = check_config(f, "protocols:\n");
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].message.find("at least one protocol") != std::string::npos);
  }
  SUBCASE("bad endpoint and path") {
    Checked c =
        check_config(f, "protocols:\n  http:\n    endpoint: localhost\n    traces_url_path: v1/traces\n");
    REQUIRE(c.errors.size() == 2);
    CHECK(c.errors[0].message.find("missing port") != std::string::npos);
    CHECK(c.errors[1].message.find("must start with '/'") != std::string::npos);
  }
  SUBCASE("unknown keys are errors") {
    Checked c = check_config(f, "protocols:\n  http:\n    include_metadata: true\n");
    CHECK(c.errors.size() == 1);
    Checked c2 = check_config(f, "protocols:\n  grpc:\n    keepalive: {}\n");
    CHECK(c2.errors.size() == 1);
  }
}

TEST_CASE("otlp receiver factory: create and serve") {
  const component::Factory f = collectors::otlp_receiver_factory();
  Checked c = check_config(f, "protocols:\n  http:\n    endpoint: 127.0.0.1:0\n");
  REQUIRE(c.errors.empty());
  config::Settings settings(&f.schema, &c.node, {});
  IoRunner runner;
  FakeHost host(runner.io());
  FakeConsumer logs;
  component::CreateSettings cs{"otlp/app", settings, host.telemetry(), ""};
  auto receiver = f.create_receiver(cs, {nullptr, nullptr, &logs});
  REQUIRE(receiver);
  REQUIRE(receiver->start(host).is_ok());
  auto* otlp = dynamic_cast<OtlpReceiver*>(receiver.get());
  REQUIRE(otlp);
  Client client(otlp->http_port());
  auto r = client.request(http::verb::post, "/v1/logs", logs_request(3, 1), kProtobuf);
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(logs.items() == 3);
  CHECK(counter_value(host.telemetry(), "vigil_receiver_accepted_log_records_total",
                      {{"receiver", "otlp/app"}, {"transport", "http"}}) == 3);
  receiver->shutdown(component::Clock::now() + 1s);
}
