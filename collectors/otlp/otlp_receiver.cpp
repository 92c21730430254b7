#include "collectors/otlp/otlp_receiver.hpp"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <utility>

#include "agent/telemetry/log.hpp"
#include "collectors/otlp/otlp_grpc.hpp"

namespace vigil::collectors {

namespace {

using model::Signal;
using runtime::HttpRequest;
using runtime::HttpResponse;

constexpr char kType[] = "otlp";
constexpr char kProtobufType[] = "application/x-protobuf";
constexpr char kJsonType[] = "application/json";
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

// Plain-text answers for requests that are not OTLP exports (404, 405, 415), as the Collector
// gives them.
HttpResponse text_response(unsigned status, std::string message) {
  if (message.empty() || message.back() != '\n') message += '\n';
  return HttpResponse{status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(message)};
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

// gRPC status codes carried in google.rpc.Status error bodies.
constexpr std::int32_t kInvalidArgument = 3;
constexpr std::int32_t kResourceExhausted = 8;
constexpr std::int32_t kUnavailable = 14;
constexpr std::int32_t kUnauthenticated = 16;

const char* content_type_of(otlp::Encoding encoding) {
  return encoding == otlp::Encoding::kJson ? kJsonType : kProtobufType;
}

// The request's OTLP encoding from its Content-Type (parameters and case ignored).
std::optional<otlp::Encoding> request_encoding(const HttpRequest& request) {
  const std::string* content_type = request.header("content-type");
  if (content_type == nullptr) return std::nullopt;
  const std::string media = lower_trim(std::string_view(*content_type).substr(0, content_type->find(';')));
  if (media == kProtobufType) return otlp::Encoding::kProtobuf;
  if (media == kJsonType) return otlp::Encoding::kJson;
  return std::nullopt;
}

// An OTLP error: a google.rpc.Status in the request's encoding (OTLP/HTTP "Failures").
HttpResponse status_response(unsigned http_status, std::int32_t code, std::string message,
                             otlp::Encoding encoding,
                             std::optional<std::chrono::milliseconds> retry_delay = std::nullopt) {
  otlp::RpcStatus status{code, std::move(message), retry_delay};
  HttpResponse r{
      http_status, {{"Content-Type", content_type_of(encoding)}}, otlp::encode_rpc_status(status, encoding)};
  if (retry_delay) {
    // Whole seconds, rounded up: a client must not come back before the pipeline's hint.
    r.headers.emplace_back("Retry-After", std::to_string((retry_delay->count() + 999) / 1000));
  }
  return r;
}

HttpResponse export_response(Signal signal, const otlp::PartialSuccess& partial, otlp::Encoding encoding) {
  return HttpResponse{200,
                      {{"Content-Type", content_type_of(encoding)}},
                      otlp::encode_export_response(signal, partial, encoding)};
}

// '*' in `pattern` matches any run of characters (rs/cors, which the Collector uses, allows one;
// any number is accepted here). Both sides are lower-case.
bool wildcard_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// Splits a comma-separated header value into lower-cased, trimmed, non-empty items.
std::vector<std::string> header_list(std::string_view value) {
  std::vector<std::string> out;
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string item = lower_trim(value.substr(0, comma));
    if (!item.empty()) out.push_back(std::move(item));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// True when both endpoints name the same port on addresses that overlap (equal, or either one
// every interface); such a pair can never both be bound.
bool same_listen_address(const std::string& a, const std::string& b) {
  std::string host_a, host_b, error;
  std::uint16_t port_a = 0, port_b = 0;
  if (!runtime::split_endpoint(a, host_a, port_a, error) ||
      !runtime::split_endpoint(b, host_b, port_b, error)) {
    return false;
  }
  if (port_a == 0 || port_a != port_b) return false;
  auto any = [](const std::string& h) { return h == "0.0.0.0" || h == "::"; };
  return host_a == host_b || any(host_a) || any(host_b);
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
    http.tls = runtime::read_tls_server(settings, "protocols.http.tls");
    http.authenticator = settings.get_string("protocols.http.auth.authenticator");
    http.cors.allowed_origins = settings.get_string_list("protocols.http.cors.allowed_origins");
    http.cors.allowed_headers = settings.get_string_list("protocols.http.cors.allowed_headers");
    http.cors.max_age = static_cast<int>(settings.get_int("protocols.http.cors.max_age"));
    http.max_concurrent_connections =
        static_cast<std::size_t>(settings.get_int("protocols.http.max_concurrent_connections"));
    http.max_inflight_bytes = static_cast<std::size_t>(settings.get_int("protocols.http.max_inflight_bytes"));
    o.http = std::move(http);
  }
  if (settings.has("protocols.grpc")) {
    OtlpGrpcOptions grpc;
    grpc.endpoint = settings.get_string("protocols.grpc.endpoint");
    grpc.max_recv_msg_size =
        static_cast<std::size_t>(settings.get_int("protocols.grpc.max_recv_msg_size_mib")) * 1024 * 1024;
    grpc.max_concurrent_streams = static_cast<int>(settings.get_int("protocols.grpc.max_concurrent_streams"));
    grpc.tls = runtime::read_tls_server(settings, "protocols.grpc.tls");
    grpc.authenticator = settings.get_string("protocols.grpc.auth.authenticator");
    o.grpc = std::move(grpc);
  }
  return o;
}

OtlpReceiver::OtlpReceiver(std::string id, OtlpReceiverOptions options,
                           const component::SignalConsumers& next, telemetry::Telemetry& telemetry)
    : id_(id),
      options_(std::move(options)),
      ingest_(std::move(id), next, telemetry, options_.http.has_value(), options_.grpc.has_value()) {
  if (!options_.http) return;
  for (const std::string& origin : options_.http->cors.allowed_origins)
    cors_origins_.push_back(lower_trim(origin));
  // The CORS-safelisted request headers are always allowed, as in the Collector (rs/cors).
  cors_headers_ = {"accept", "accept-language", "content-type", "content-language", "origin"};
  if (options_.http->cors.allowed_headers.empty()) cors_headers_.emplace_back("x-requested-with");
  for (const std::string& header : options_.http->cors.allowed_headers) {
    std::string h = lower_trim(header);
    if (h == "*") cors_any_header_ = true;
    cors_headers_.push_back(std::move(h));
  }
}

OtlpReceiver::~OtlpReceiver() {
  shutdown(component::Clock::now());
}

component::Status OtlpReceiver::start(component::Host& host) {
  if (http_server_ || grpc_server_) return component::Status::ok();

  // Everything that can fail without binding a port is checked first.
  std::string error;
  const component::ServerAuthenticator* grpc_auth = nullptr;
  runtime::HttpServerOptions server_options;
  if (options_.http) {
    const OtlpHttpOptions& http = *options_.http;
    http_auth_ = nullptr;
    if (!http.authenticator.empty()) {
      http_auth_ =
          component::find_authenticator<component::ServerAuthenticator>(host, http.authenticator, error);
      if (http_auth_ == nullptr) return component::Status::permanent("protocols.http." + error);
    }
    if (http.tls) {
      server_options.tls = runtime::make_server_context(*http.tls, error);
      if (!server_options.tls) return component::Status::permanent("protocols.http.tls: " + error);
    }
    if (http.cors.allowed_origins.empty() && !http.cors.allowed_headers.empty()) {
      telemetry::log(telemetry::Level::kWarn, id_,
                     "protocols.http.cors sets allowed_headers but no allowed_origins, so CORS stays off");
    }
    server_options.endpoint = http.endpoint;
    // Compressed bodies are never (meaningfully) larger than what they decompress to, so the same
    // bound applies on the wire; the decompressed size is checked again while inflating.
    server_options.max_body_bytes = http.max_request_body_size;
    server_options.max_connections = http.max_concurrent_connections;
    server_options.max_inflight_body_bytes = http.max_inflight_bytes;
  }
  if (options_.grpc && !options_.grpc->authenticator.empty()) {
    grpc_auth = component::find_authenticator<component::ServerAuthenticator>(
        host, options_.grpc->authenticator, error);
    if (grpc_auth == nullptr) return component::Status::permanent("protocols.grpc." + error);
  }

  if (options_.http) {
    http_server_ = std::make_unique<runtime::HttpServer>(host.io_context(), std::move(server_options),
                                                         [this](HttpRequest& r) { return handle_http(r); });
    if (std::string err = http_server_->start(); !err.empty()) {
      http_server_.reset();
      return component::Status::permanent(err);
    }
    telemetry::log(telemetry::Level::kInfo, id_,
                   std::string(options_.http->tls ? "OTLP/HTTP (TLS)" : "OTLP/HTTP") + " listening on " +
                       options_.http->endpoint + " (port " + std::to_string(http_server_->port()) + ")");
  }
  if (options_.grpc) {
    grpc_server_ = std::make_unique<OtlpGrpcServer>(*options_.grpc, ingest_, grpc_auth, host.io_context());
    if (std::string err = grpc_server_->start(); !err.empty()) {
      grpc_server_.reset();
      if (http_server_) http_server_->stop();
      http_server_.reset();
      return component::Status::permanent(err);
    }
    telemetry::log(telemetry::Level::kInfo, id_,
                   std::string(options_.grpc->tls ? "OTLP/gRPC (TLS)" : "OTLP/gRPC") + " listening on " +
                       options_.grpc->endpoint + " (port " + std::to_string(grpc_server_->port()) + ")");
  }
  return component::Status::ok();
}

void OtlpReceiver::shutdown(component::Deadline deadline) {
  // Both stop() calls return once no handler runs, so consumers are not called after this.
  if (http_server_) http_server_->stop();
  http_server_.reset();
  if (grpc_server_) grpc_server_->stop(deadline);
  grpc_server_.reset();
}

std::uint16_t OtlpReceiver::http_port() const {
  return http_server_ ? http_server_->port() : 0;
}

std::uint16_t OtlpReceiver::grpc_port() const {
  return grpc_server_ ? grpc_server_->port() : 0;
}

bool OtlpReceiver::origin_allowed(std::string_view origin) const {
  const std::string o = lower_trim(origin);
  return std::any_of(cors_origins_.begin(), cors_origins_.end(),
                     [&](const std::string& pattern) { return wildcard_match(pattern, o); });
}

HttpResponse OtlpReceiver::handle_http(HttpRequest& request) {
  if (!options_.http) return text_response(404, "404 page not found");
  const bool cors = !cors_origins_.empty();
  const std::string* origin = request.header("origin");
  const bool allowed = cors && origin != nullptr && origin_allowed(*origin);
  // A CORS preflight is answered before authentication (browsers send no credentials with it).
  if (cors && origin != nullptr && request.method == "OPTIONS" &&
      request.header("access-control-request-method") != nullptr) {
    return preflight(request, allowed);
  }

  const OtlpHttpOptions& http = *options_.http;
  const std::string* paths[3] = {&http.traces_url_path, &http.metrics_url_path, &http.logs_url_path};
  HttpResponse response = text_response(404, "404 page not found");
  for (Signal s : kSignals) {
    if (request.path == *paths[static_cast<std::size_t>(s)] && ingest_.accepts(s)) {
      response = export_request(s, request);
      break;
    }
  }
  if (cors) {
    response.headers.emplace_back("Vary", "Origin");
    if (allowed) {
      response.headers.emplace_back("Access-Control-Allow-Origin", *origin);
      response.headers.emplace_back("Access-Control-Allow-Credentials", "true");
    }
  }
  return response;
}

HttpResponse OtlpReceiver::preflight(const HttpRequest& request, bool origin_allowed) const {
  // 204 whatever the outcome, as rs/cors answers; a refused preflight carries no
  // Access-Control-Allow-* header, which is how the browser learns of the refusal.
  HttpResponse r{
      204, {{"Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}}, {}};
  if (!origin_allowed) return r;
  if (lower_trim(*request.header("access-control-request-method")) != "post") return r;
  std::vector<std::string> requested;
  if (const std::string* headers = request.header("access-control-request-headers")) {
    requested = header_list(*headers);
  }
  for (const std::string& h : requested) {
    if (!cors_any_header_ &&
        std::find(cors_headers_.begin(), cors_headers_.end(), h) == cors_headers_.end()) {
      return r;
    }
  }
  r.headers.emplace_back("Access-Control-Allow-Origin", *request.header("origin"));
  r.headers.emplace_back("Access-Control-Allow-Credentials", "true");
  r.headers.emplace_back("Access-Control-Allow-Methods", "POST");
  if (!requested.empty()) r.headers.emplace_back("Access-Control-Allow-Headers", join(requested, ", "));
  if (options_.http->cors.max_age > 0) {
    r.headers.emplace_back("Access-Control-Max-Age", std::to_string(options_.http->cors.max_age));
  }
  return r;
}

HttpResponse OtlpReceiver::export_request(Signal signal, HttpRequest& request) {
  const std::optional<otlp::Encoding> encoding = request_encoding(request);
  // Errors found before the content type is known are answered in JSON.
  const otlp::Encoding error_encoding = encoding.value_or(otlp::Encoding::kJson);

  if (http_auth_ != nullptr) {
    const component::Status auth = http_auth_->authenticate(request.headers);
    if (!auth.is_ok()) {
      ingest_.count_failed(signal, Transport::kHttp, "unauthorized");
      telemetry::log_limited(
          telemetry::Level::kWarn, id_ + "/unauthorized", id_,
          "refused an unauthenticated request from " + request.remote_address + ": " + auth.message());
      return status_response(401, kUnauthenticated,
                             auth.message().empty() ? "unauthenticated" : auth.message(), error_encoding);
    }
  }

  if (request.method != "POST") {
    ingest_.count_failed(signal, Transport::kHttp, "unsupported");
    HttpResponse r = text_response(405, "405 method not allowed, supported: [POST]");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (!encoding) {
    ingest_.count_failed(signal, Transport::kHttp, "unsupported");
    return text_response(415, std::string("415 unsupported media type, supported: [") + kJsonType + ", " +
                                  kProtobufType + "]");
  }

  // An empty export (some SDKs send one as a connection check) is valid whatever its encoding.
  if (request.body.empty()) return export_response(signal, {}, *encoding);

  const std::string* content_encoding = request.header("content-encoding");
  std::string body;
  std::string error;
  const std::size_t limit = options_.http->max_request_body_size;
  switch (decompress_body(content_encoding ? *content_encoding : std::string_view(), std::move(request.body),
                          limit, body, error)) {
    case DecompressResult::kOk:
      break;
    case DecompressResult::kTooLarge:
      ingest_.count_failed(signal, Transport::kHttp, "too_large");
      telemetry::log_limited(telemetry::Level::kWarn, id_ + "/too_large", id_,
                             "refused a request from " + request.remote_address + ": body larger than " +
                                 std::to_string(limit) + " bytes after decompression");
      return status_response(
          413, kResourceExhausted,
          "request body larger than " + std::to_string(limit) + " bytes after decompression", *encoding);
    case DecompressResult::kCorrupt:
      ingest_.count_failed(signal, Transport::kHttp, "invalid");
      return status_response(400, kInvalidArgument, "cannot decompress the request body: " + error,
                             *encoding);
    case DecompressResult::kUnsupported:
      ingest_.count_failed(signal, Transport::kHttp, "unsupported");
      return status_response(415, kInvalidArgument, error, *encoding);
  }

  IngestResult result = ingest_.ingest(signal, Transport::kHttp, *encoding, body, request.remote_address);
  switch (result.code) {
    case IngestResult::Code::kOk:
      return export_response(signal, result.partial, *encoding);
    case IngestResult::Code::kRetryable:
      return status_response(503, kUnavailable, std::move(result.message), *encoding,
                             std::max(result.retry_after, std::chrono::milliseconds(1000)));
    case IngestResult::Code::kTooLarge:
      return status_response(413, kResourceExhausted, std::move(result.message), *encoding);
    case IngestResult::Code::kUnauthorized:
      return status_response(401, kUnauthenticated, std::move(result.message), *encoding);
    case IngestResult::Code::kInvalid:
    case IngestResult::Code::kRejected:
      break;
  }
  return status_response(400, kInvalidArgument, std::move(result.message), *encoding);
}

component::Factory otlp_receiver_factory() {
  using namespace config;
  component::Factory f;
  f.kind = component::Kind::kReceiver;
  f.type = kType;
  f.description =
      "Receives OTLP traces, metrics and logs over gRPC and HTTP (protobuf and JSON; gzip, deflate, zstd).";
  f.signals = {Signal::kTraces, Signal::kMetrics, Signal::kLogs};
  auto auth = [] {
    return opt_object(
        "auth", "Authenticate every request with a server authenticator extension.",
        {required(opt_string("authenticator", "",
                             "ID of the authenticator extension (for example bearertokenauth)."))});
  };
  f.schema = {
      opt_object(
          "protocols", "Transports to serve; at least one.",
          {
              opt_object("grpc", "OTLP/gRPC server.",
                         {
                             opt_string("endpoint", "127.0.0.1:4317",
                                        "host:port to listen on (\":4317\" listens on every interface)."),
                             opt_int("max_recv_msg_size_mib", 4,
                                     "Largest request message accepted, in MiB, after decompression "
                                     "(RESOURCE_EXHAUSTED above).",
                                     1, 2047),
                             opt_int("max_concurrent_streams", 0,
                                     "Concurrent streams (calls) per HTTP/2 connection; 0: no limit.", 0,
                                     2147483647),
                             runtime::tls_server_option(),
                             auth(),
                         }),
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
                      runtime::tls_server_option(),
                      auth(),
                      opt_object(
                          "cors", "Cross-origin resource sharing, for browser SDKs.",
                          {
                              opt_string_list("allowed_origins",
                                              "Origins allowed to send requests; '*' matches any "
                                              "run of characters (\"https://*.example.com\", \"*\")."),
                              opt_string_list("allowed_headers",
                                              "Request headers allowed beyond the CORS-safelisted "
                                              "ones; \"*\" allows any."),
                              opt_int("max_age", 0,
                                      "Seconds a browser may cache a preflight answer; 0: not sent.", 0),
                          }),
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
          }),
  };
  f.validate = [](const Settings& settings, const std::string& id, Errors& errors) {
    const bool http = settings.has("protocols.http");
    const bool grpc = settings.has("protocols.grpc");
    if (!http && !grpc) {
      errors.push_back({settings.location("protocols"), id,
                        "must specify at least one protocol under 'protocols' (grpc, http)"});
      return;
    }
    auto check_endpoint = [&](const std::string& key) {
      std::string host, error;
      std::uint16_t port = 0;
      if (!runtime::split_endpoint(settings.get_string(key), host, port, error)) {
        errors.push_back({settings.location(key), id, error});
        return false;
      }
      return true;
    };
    bool endpoints_ok = true;
    if (http) {
      endpoints_ok = check_endpoint("protocols.http.endpoint") && endpoints_ok;
      for (const char* key : {"traces_url_path", "metrics_url_path", "logs_url_path"}) {
        const std::string path_key = std::string("protocols.http.") + key;
        const std::string path = settings.get_string(path_key);
        if (!path_ok(path)) {
          errors.push_back(
              {settings.location(path_key), id, std::string(key) + " \"" + path + "\" must start with '/'"});
        }
      }
      if (settings.has("protocols.http.tls"))
        runtime::validate_tls_server(settings, "protocols.http.tls", id, errors);
    }
    if (grpc) {
      endpoints_ok = check_endpoint("protocols.grpc.endpoint") && endpoints_ok;
      if (settings.has("protocols.grpc.tls")) {
        runtime::validate_tls_server(settings, "protocols.grpc.tls", id, errors);
        // gRPC 1.51's C++ API cannot raise the minimum TLS version (it negotiates 1.2 or 1.3);
        // refusing is better than silently accepting TLS 1.2.
        if (settings.get_string("protocols.grpc.tls.min_version") == "1.3") {
          errors.push_back(
              {settings.location("protocols.grpc.tls.min_version"), id,
               "protocols.grpc.tls.min_version 1.3 is not supported (gRPC 1.51 cannot refuse TLS "
               "1.2); remove it or use 1.2"});
        }
      }
    }
    if (http && grpc && endpoints_ok &&
        same_listen_address(settings.get_string("protocols.http.endpoint"),
                            settings.get_string("protocols.grpc.endpoint"))) {
      errors.push_back(
          {settings.location("protocols.grpc.endpoint"), id,
           "protocols.grpc.endpoint and protocols.http.endpoint use the same port; give each its own"});
    }
  };
  f.create_receiver = [](const component::CreateSettings& cs,
                         const component::SignalConsumers& next) -> std::unique_ptr<component::Receiver> {
    return std::make_unique<OtlpReceiver>(cs.id, read_otlp_receiver_options(cs.settings), next, cs.telemetry);
  };
  return f;
}

}  // namespace vigil::collectors
