#include "collectors/otlp/otlp_receiver.hpp"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <utility>

#include "agent/otlp/proto_decoder.hpp"
#include "agent/telemetry/log.hpp"

namespace vigil::collectors {

namespace {

using model::Signal;
using runtime::HttpRequest;
using runtime::HttpResponse;

constexpr char kType[] = "otlp";
constexpr char kProtobufType[] = "application/x-protobuf";
constexpr std::size_t kMinOutputChunk = 64 * 1024;
// zstd frames may ask for a window of up to 2^31 bytes; a hostile frame must not make us reserve
// that. 2^25 (32 MiB) covers every compression level a client realistically uses (the
// "ultra" levels 20..22 excepted).
constexpr int kZstdWindowLogMax = 25;

constexpr std::array<Signal, 3> kSignals{Signal::kTraces, Signal::kMetrics, Signal::kLogs};

std::string lower_trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

HttpResponse text_response(unsigned status, std::string message) {
  if (message.empty() || message.back() != '\n') message += '\n';
  return HttpResponse{status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(message)};
}

HttpResponse ok_response() {
  // An empty Export*ServiceResponse (no partial_success) serializes to zero bytes.
  return HttpResponse{200, {{"Content-Type", kProtobufType}}, {}};
}

// Grows out (whose first `produced` bytes are data) so there is room to write, never past
// limit + 1 bytes: producing that last byte is how a too-large body is detected.
bool grow_output(std::string& out, std::size_t produced, std::size_t limit, std::size_t input_size) {
  if (produced < out.size()) return true;
  const std::size_t cap = limit == SIZE_MAX ? limit : limit + 1;
  if (out.size() >= cap) return false;
  std::size_t want = out.empty() ? std::max(kMinOutputChunk, input_size * 4) : out.size() * 2;
  out.resize(std::min(want, cap));
  return true;
}

DecompressResult inflate_zlib(std::string_view in, int window_bits, bool multi_member, std::size_t limit,
                              std::string& out, std::string& error) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) {
    error = "cannot initialise zlib";
    return DecompressResult::kCorrupt;
  }
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&zs};

  const char* next = in.data();
  std::size_t remaining = in.size();
  std::size_t produced = 0;
  out.clear();
  for (;;) {
    if (zs.avail_in == 0 && remaining > 0) {
      const std::size_t n = std::min<std::size_t>(remaining, UINT_MAX / 2);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(next));
      zs.avail_in = static_cast<uInt>(n);
      next += n;
      remaining -= n;
    }
    if (!grow_output(out, produced, limit, in.size())) return DecompressResult::kTooLarge;
    const std::size_t room = std::min<std::size_t>(out.size() - produced, UINT_MAX / 2);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (produced > limit) return DecompressResult::kTooLarge;
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0 && remaining == 0) break;
      // gzip allows several members back to back (Go's reader accepts them too).
      if (!multi_member || inflateReset(&zs) != Z_OK) {
        error = "trailing data after the compressed stream";
        return DecompressResult::kCorrupt;
      }
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) continue;  // needs more room
    if (rc == Z_BUF_ERROR) {
      error = "truncated compressed stream";
      return DecompressResult::kCorrupt;
    }
    error = zs.msg != nullptr ? zs.msg : "invalid compressed data";
    return DecompressResult::kCorrupt;
  }
  out.resize(produced);
  return DecompressResult::kOk;
}

DecompressResult decompress_zstd(std::string_view in, std::size_t limit, std::string& out,
                                 std::string& error) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
  if (!dctx) {
    error = "cannot initialise zstd";
    return DecompressResult::kCorrupt;
  }
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, kZstdWindowLogMax);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::size_t produced = 0;
  std::size_t last = 0;
  out.clear();
  for (;;) {
    if (!grow_output(out, produced, limit, in.size())) return DecompressResult::kTooLarge;
    ZSTD_outBuffer output{out.data(), out.size(), produced};
    last = ZSTD_decompressStream(dctx.get(), &output, &input);
    if (ZSTD_isError(last)) {
      error = ZSTD_getErrorName(last);
      return DecompressResult::kCorrupt;
    }
    produced = output.pos;
    if (produced > limit) return DecompressResult::kTooLarge;
    const bool input_done = input.pos == input.size;
    if (last == 0 && input_done) break;  // last frame complete and flushed
    // No input left, output not full, frame not complete: the client cut the stream short.
    if (input_done && output.pos < output.size) {
      error = "truncated zstd stream";
      return DecompressResult::kCorrupt;
    }
  }
  out.resize(produced);
  return DecompressResult::kOk;
}

bool path_ok(const std::string& path) {
  return !path.empty() && path.front() == '/';
}

}  // namespace

DecompressResult decompress_body(std::string_view encoding, std::string&& body, std::size_t limit,
                                 std::string& out, std::string& error) {
  const std::string enc = lower_trim(encoding);
  if (enc.empty() || enc == "identity") {
    if (body.size() > limit) return DecompressResult::kTooLarge;
    out = std::move(body);
    return DecompressResult::kOk;
  }
  DecompressResult r;
  if (enc == "gzip" || enc == "x-gzip") {
    r = inflate_zlib(body, 16 + MAX_WBITS, true, limit, out, error);
  } else if (enc == "deflate") {
    r = inflate_zlib(body, MAX_WBITS, false, limit, out, error);  // zlib-wrapped, per RFC 9110
  } else if (enc == "zstd") {
    r = decompress_zstd(body, limit, out, error);
  } else {
    error = "unsupported Content-Encoding \"" + std::string(encoding) +
            "\" (supported: gzip, deflate, zstd, identity)";
    return DecompressResult::kUnsupported;
  }
  if (r == DecompressResult::kCorrupt) error = enc + ": " + error;
  // Release a partly filled buffer now rather than when the request finishes.
  if (r != DecompressResult::kOk) std::string().swap(out);
  return r;
}

OtlpReceiverOptions read_otlp_receiver_options(const config::Settings& settings) {
  OtlpReceiverOptions o;
  if (settings.has("protocols.http")) {
    OtlpHttpOptions http;
    http.endpoint = settings.get_string("protocols.http.endpoint");
    http.max_request_body_size =
        static_cast<std::size_t>(settings.get_int("protocols.http.max_request_body_size"));
    http.traces_url_path = settings.get_string("protocols.http.traces_url_path");
    http.metrics_url_path = settings.get_string("protocols.http.metrics_url_path");
    http.logs_url_path = settings.get_string("protocols.http.logs_url_path");
    http.max_concurrent_connections =
        static_cast<std::size_t>(settings.get_int("protocols.http.max_concurrent_connections"));
    http.max_inflight_bytes = static_cast<std::size_t>(settings.get_int("protocols.http.max_inflight_bytes"));
    o.http = std::move(http);
  }
  return o;
}

OtlpReceiver::OtlpReceiver(std::string id, OtlpReceiverOptions options,
                           const component::SignalConsumers& next, telemetry::Telemetry& telemetry)
    : id_(std::move(id)), options_(std::move(options)), next_(next) {
  for (Signal s : kSignals) {
    const auto i = static_cast<std::size_t>(s);
    if (next_[i] != nullptr && options_.http) http_metrics_[i] = telemetry.receiver(id_, s, "http");
  }
}

OtlpReceiver::~OtlpReceiver() {
  shutdown(component::Clock::now());
}

component::Status OtlpReceiver::start(component::Host& host) {
  if (!options_.http || http_server_) return component::Status::ok();
  runtime::HttpServerOptions server_options;
  server_options.endpoint = options_.http->endpoint;
  // Compressed bodies are never (meaningfully) larger than what they decompress to, so the same
  // bound applies on the wire; the decompressed size is checked again while inflating.
  server_options.max_body_bytes = options_.http->max_request_body_size;
  server_options.max_connections = options_.http->max_concurrent_connections;
  server_options.max_inflight_body_bytes = options_.http->max_inflight_bytes;
  http_server_ = std::make_unique<runtime::HttpServer>(host.io_context(), std::move(server_options),
                                                       [this](HttpRequest& r) { return handle_http(r); });
  if (std::string err = http_server_->start(); !err.empty()) {
    http_server_.reset();
    return component::Status::permanent(err);
  }
  telemetry::log(telemetry::Level::kInfo, id_,
                 "OTLP/HTTP listening on " + options_.http->endpoint + " (port " +
                     std::to_string(http_server_->port()) + ")");
  return component::Status::ok();
}

void OtlpReceiver::shutdown(component::Deadline) {
  // stop() returns once no handler runs, so consumers are not called after this.
  if (http_server_) http_server_->stop();
  http_server_.reset();
}

std::uint16_t OtlpReceiver::http_port() const {
  return http_server_ ? http_server_->port() : 0;
}

HttpResponse OtlpReceiver::handle_http(HttpRequest& request) {
  if (!options_.http) return text_response(404, "404 page not found");
  const OtlpHttpOptions& http = *options_.http;
  const std::string* paths[3] = {&http.traces_url_path, &http.metrics_url_path, &http.logs_url_path};
  for (Signal s : kSignals) {
    const auto i = static_cast<std::size_t>(s);
    if (request.path == *paths[i] && next_[i] != nullptr) return export_request(s, request);
  }
  return text_response(404, "404 page not found");
}

HttpResponse OtlpReceiver::export_request(Signal signal, HttpRequest& request) {
  const auto index = static_cast<std::size_t>(signal);
  if (request.method != "POST") {
    HttpResponse r =
        text_response(405, std::string(request.method) + " method not allowed, supported: [POST]");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }

  const std::string* content_type = request.header("content-type");
  std::string media =
      content_type ? lower_trim(std::string_view(*content_type).substr(0, content_type->find(';'))) : "";
  if (media != kProtobufType) {
    return text_response(415, "unsupported content type \"" + (content_type ? *content_type : std::string()) +
                                  "\" (supported: " + kProtobufType + ")");
  }

  // An empty export (some SDKs send one as a connection check) is valid whatever its encoding.
  if (request.body.empty()) return ok_response();

  const std::string* encoding = request.header("content-encoding");
  std::string body;
  std::string error;
  switch (decompress_body(encoding ? *encoding : std::string_view(), std::move(request.body),
                          options_.http->max_request_body_size, body, error)) {
    case DecompressResult::kOk:
      break;
    case DecompressResult::kTooLarge:
      telemetry::log_limited(telemetry::Level::kWarn, id_ + "/too_large", id_,
                             "refused a request from " + request.remote_address + ": body larger than " +
                                 std::to_string(options_.http->max_request_body_size) +
                                 " bytes after decompression");
      return text_response(413, "request body larger than " +
                                    std::to_string(options_.http->max_request_body_size) +
                                    " bytes after decompression");
    case DecompressResult::kCorrupt:
      return text_response(400, "cannot decompress the request body: " + error);
    case DecompressResult::kUnsupported:
      return text_response(415, error);
  }
  if (body.empty()) return ok_response();

  model::Batch batch(signal);
  if (!otlp::decode_export_request(signal, body, batch, error)) {
    telemetry::log_limited(telemetry::Level::kWarn, id_ + "/decode", id_,
                           "cannot decode a " + std::string(model::signal_name(signal)) + " request from " +
                               request.remote_address + ": " + error);
    return text_response(
        400, "cannot decode the " + std::string(model::signal_name(signal)) + " request: " + error);
  }
  std::string().swap(body);  // the batch holds copies; free the wire bytes before the pipeline runs

  const std::size_t items = batch.item_count();
  if (items == 0) return ok_response();  // nothing a pipeline could use
  const telemetry::ReceiverMetrics& metrics = http_metrics_[index];
  component::Status status = next_[index]->consume(std::move(batch));
  if (status.is_ok()) {
    if (metrics.accepted) metrics.accepted->Increment(static_cast<double>(items));
    return ok_response();
  }
  if (metrics.refused) metrics.refused->Increment(static_cast<double>(items));
  if (status.is_retryable()) {
    const auto ms = status.retry_after().count();
    const long long seconds = ms > 0 ? (ms + 999) / 1000 : 1;
    HttpResponse r =
        text_response(503, status.message().empty() ? "pipeline busy, retry later" : status.message());
    r.headers.emplace_back("Retry-After", std::to_string(seconds));
    return r;
  }
  telemetry::log_limited(telemetry::Level::kWarn, id_ + "/permanent", id_,
                         "pipeline rejected " + std::to_string(items) + " " +
                             std::string(model::signal_item_name(signal)) + ": " + status.message());
  return text_response(400, status.message().empty() ? "rejected by the pipeline" : status.message());
}

component::Factory otlp_receiver_factory() {
  using namespace config;
  component::Factory f;
  f.kind = component::Kind::kReceiver;
  f.type = kType;
  f.description = "Receives OTLP traces, metrics and logs over HTTP (protobuf; gzip, deflate, zstd).";
  f.signals = {Signal::kTraces, Signal::kMetrics, Signal::kLogs};
  f.schema = {
      opt_object(
          "protocols", "Transports to serve; at least one.",
          {
              opt_object(
                  "http", "OTLP/HTTP server.",
                  {
                      opt_string("endpoint", "127.0.0.1:4318",
                                 "host:port to listen on (\":4318\" listens on every interface)."),
                      opt_int("max_request_body_size", 20 * 1024 * 1024,
                              "Largest request body accepted, in bytes, after decompression (413 above).", 1),
                      opt_string("traces_url_path", "/v1/traces", "URL path for traces."),
                      opt_string("metrics_url_path", "/v1/metrics", "URL path for metrics."),
                      opt_string("logs_url_path", "/v1/logs", "URL path for logs."),
                      opt_int("max_concurrent_connections", 1000,
                              "Vigil-specific: connections served at once; past it a new connection gets "
                              "503 with Retry-After and is closed.",
                              1),
                      opt_int("max_inflight_bytes", 64 * 1024 * 1024,
                              "Vigil-specific: request body bytes (as received) held at once across "
                              "connections; a request that would pass it gets 503 with Retry-After before "
                              "its body is read.",
                              1),
                  }),
              opt_object("grpc", "OTLP/gRPC server (not supported yet).",
                         {
                             opt_string("endpoint", "127.0.0.1:4317", "host:port to listen on."),
                         }),
          }),
  };
  f.validate = [](const Settings& settings, const std::string& id, Errors& errors) {
    const bool http = settings.has("protocols.http");
    const bool grpc = settings.has("protocols.grpc");
    if (grpc) {
      errors.push_back(
          {settings.location("protocols.grpc"), id,
           "protocols.grpc is not supported yet (coming with the OTLP issue); use protocols.http"});
    }
    if (!http && !grpc) {
      errors.push_back({settings.location("protocols"), id,
                        "must specify at least one protocol under 'protocols' (http)"});
    }
    if (!http) return;
    std::string host, error;
    std::uint16_t port = 0;
    if (!runtime::split_endpoint(settings.get_string("protocols.http.endpoint"), host, port, error)) {
      errors.push_back({settings.location("protocols.http.endpoint"), id, error});
    }
    for (const char* key : {"traces_url_path", "metrics_url_path", "logs_url_path"}) {
      const std::string path_key = std::string("protocols.http.") + key;
      const std::string path = settings.get_string(path_key);
      if (!path_ok(path)) {
        errors.push_back(
            {settings.location(path_key), id, std::string(key) + " \"" + path + "\" must start with '/'"});
      }
    }
  };
  f.create_receiver = [](const component::CreateSettings& cs,
                         const component::SignalConsumers& next) -> std::unique_ptr<component::Receiver> {
    return std::make_unique<OtlpReceiver>(cs.id, read_otlp_receiver_options(cs.settings), next, cs.telemetry);
  };
  return f;
}

}  // namespace vigil::collectors
