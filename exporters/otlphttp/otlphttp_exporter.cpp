#include "exporters/otlphttp/otlphttp_exporter.hpp"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <mutex>
#include <optional>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/algorithm/string/trim.hpp>
#include <prometheus/counter.h>

#include "agent/otlp/json_encoder.hpp"
#include "agent/otlp/proto_encoder.hpp"
#include "agent/runtime/http_client.hpp"
#include "agent/runtime/proxy.hpp"
#include "agent/telemetry/log.hpp"
#include "agent/telemetry/telemetry.hpp"
#include "exporters/otlp/export_status.hpp"

namespace vigil::exporters {

using component::Status;
using model::Signal;

namespace {

constexpr char kType[] = "otlphttp";
constexpr char kProtobufType[] = "application/x-protobuf";
constexpr char kJsonType[] = "application/json";
// Response bytes kept for decoding (the Collector reads as much); what follows is read and
// discarded so the connection stays usable, up to kMaxResponseRead, past which the transfer is
// cut (and the connection with it).
constexpr std::size_t kMaxResponseKept = 64 * 1024;
constexpr std::size_t kMaxResponseRead = 1024 * 1024;
// Request buffers are reused between sends; one grown past this by a huge batch is released.
constexpr std::size_t kMaxBufferKept = 8 * 1024 * 1024;
constexpr std::size_t kMaxMessageChars = 256;
constexpr std::chrono::milliseconds kMaxConnectTimeout = std::chrono::seconds(30);
// The client's pool never holds more handles than there are concurrent senders
// (sending_queue.num_consumers); this only bounds a misconfiguration.
constexpr std::size_t kMaxIdleHandles = 1024;
// gzip / deflate at zlib level 1 (the Collector's BestSpeed), zstd at level 1: the exporter
// compresses on its sending threads, and speed matters more than the last few percent of size.
constexpr int kZlibLevel = 1;
constexpr int kZstdLevel = 1;

// ---- URLs ------------------------------------------------------------------------------------

// Parses an absolute http:// or https:// URL; false with `error` otherwise.
bool parse_endpoint(const std::string& text, runtime::Url& out, std::string& error) {
  if (!runtime::parse_url(text, out, error)) return false;
  if (out.scheme != "http" && out.scheme != "https") {
    error = "the scheme must be one of http://, https:// (got \"" + out.scheme + "\")";
    return false;
  }
  return true;
}

// ---- request and response bodies -----------------------------------------------------------

bool zlib_compress(std::string_view in, bool gzip, std::string& out, std::string& error) {
  if (in.size() > UINT_MAX / 2) {
    error = "request too large to compress";
    return false;
  }
  z_stream zs{};
  if (deflateInit2(&zs, kZlibLevel, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    error = "cannot initialise zlib";
    return false;
  }
  // deflateBound does not count the gzip header and trailer (18 bytes) for every zlib version.
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    error = "zlib compression failed";
    return false;
  }
  return true;
}

bool zstd_compress(ZSTD_CCtx* cctx, std::string_view in, std::string& out, std::string& error) {
  out.resize(ZSTD_compressBound(in.size()));
  const std::size_t n = ZSTD_compressCCtx(cctx, out.data(), out.size(), in.data(), in.size(), kZstdLevel);
  if (ZSTD_isError(n)) {
    error = std::string("zstd compression failed: ") + ZSTD_getErrorName(n);
    return false;
  }
  out.resize(n);
  return true;
}

// "application/json; charset=utf-8" -> "application/json".
std::string media_type(const std::string* content_type) {
  if (content_type == nullptr) return {};
  std::string v = content_type->substr(0, content_type->find(';'));
  boost::algorithm::trim(v);
  boost::algorithm::to_lower(v);
  return v;
}

// The start of a body as one line of text for a message: control bytes become spaces, cut at
// kMaxMessageChars on a UTF-8 character boundary.
std::string text_excerpt(std::string_view body) {
  std::string out;
  std::size_t end = std::min(body.size(), kMaxMessageChars);
  while (end > 0 && end < body.size() && (static_cast<unsigned char>(body[end]) & 0xC0) == 0x80) --end;
  out.reserve(end);
  for (std::size_t i = 0; i < end; ++i) {
    const unsigned char c = static_cast<unsigned char>(body[i]);
    out.push_back(c < 0x20 || c == 0x7f ? ' ' : static_cast<char>(c));
  }
  boost::algorithm::trim(out);
  if (end < body.size()) out += "...";
  return out;
}

bool looks_like_text(std::string_view body) {
  const std::size_t n = std::min(body.size(), kMaxMessageChars);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(body[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    if (std::strchr("()<>@,;:\\\"/[]?={}", c) != nullptr) return false;
  }
  return true;
}

bool valid_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string_view compression_name(OtlpHttpExporterOptions::Compression c) {
  switch (c) {
    case OtlpHttpExporterOptions::Compression::kGzip: return "gzip";
    case OtlpHttpExporterOptions::Compression::kZstd: return "zstd";
    case OtlpHttpExporterOptions::Compression::kDeflate: return "deflate";
    case OtlpHttpExporterOptions::Compression::kNone: break;
  }
  return "";
}

}  // namespace

// ---- sending ---------------------------------------------------------------------------------

// The buffers of one request at a time, reused between sends (the connections are the
// HttpClient's).
struct OtlpHttpBuffers {
  ZSTD_CCtx* zstd = nullptr;
  std::string payload;     // the encoded request
  std::string compressed;  // the request body when compressed
  // URL, method and timeout set once; headers and body per send.
  runtime::HttpClientRequest request;

  OtlpHttpBuffers() = default;
  OtlpHttpBuffers(const OtlpHttpBuffers&) = delete;
  OtlpHttpBuffers& operator=(const OtlpHttpBuffers&) = delete;
  ~OtlpHttpBuffers() {
    if (zstd != nullptr) ZSTD_freeCCtx(zstd);
  }

  void trim_buffers() {
    for (std::string* s : {&payload, &compressed}) {
      if (s->capacity() > kMaxBufferKept) std::string().swap(*s);
    }
    request.body_view.reset();
  }
};

// Everything a send needs that is fixed at start(), the HTTP client (and with it the keep-alive
// connections), and the pool of idle buffers.
struct OtlpHttpConnections {
  // Fixed at start().
  OtlpHttpExporterOptions options;
  std::string id;
  std::string log_component;  // "exporter/<id>"
  Signal signal = Signal::kLogs;
  std::string url;  // as configured: what is sent, and what the authenticator signs
  std::string display_url;
  std::unique_ptr<runtime::HttpClient> http;
  // Content-Type, Content-Encoding, configured headers (the client adds "Expect:" unless one is
  // configured, and Host for server_name_override).
  component::HeaderList static_headers;
  const component::ClientAuthenticator* auth = nullptr;
  // The headers a signing authenticator sees: static_headers as sent (plus Host when
  // server_name_override replaces the URL's host).
  component::HeaderList auth_request_headers;
  prometheus::Counter* rejected = nullptr;

  std::mutex mu;
  std::vector<std::unique_ptr<OtlpHttpBuffers>> idle;  // most recently used last

  std::unique_ptr<OtlpHttpBuffers> acquire(std::string& error) {
    {
      std::lock_guard lock(mu);
      if (!idle.empty()) {
        auto b = std::move(idle.back());
        idle.pop_back();
        return b;
      }
    }
    auto b = std::make_unique<OtlpHttpBuffers>();
    if (options.compression == OtlpHttpExporterOptions::Compression::kZstd) {
      b->zstd = ZSTD_createCCtx();
      if (b->zstd == nullptr) {
        error = "cannot create a zstd context";
        return nullptr;
      }
    }
    b->request.method = "POST";
    b->request.url = url;
    b->request.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout);
    return b;
  }

  void release(std::unique_ptr<OtlpHttpBuffers> b) {
    b->trim_buffers();
    std::lock_guard lock(mu);
    idle.push_back(std::move(b));
  }

  // Replaces the message of a status, keeping its kind and hint.
  static Status reword(const Status& s, std::string message) {
    if (s.is_ok()) return s;
    if (s.is_retryable()) return Status::retryable(std::move(message), s.retry_after());
    return Status::permanent(std::move(message));
  }

  Status send(OtlpHttpBuffers& b, const model::Batch& batch) {
    if (options.encoding == otlp::Encoding::kJson) {
      otlp::encode_json(batch, b.payload);
    } else {
      otlp::encode_export_request(batch, b.payload);
    }
    std::string_view body = b.payload;
    std::string error;
    switch (options.compression) {
      case OtlpHttpExporterOptions::Compression::kGzip:
      case OtlpHttpExporterOptions::Compression::kDeflate:
        if (!zlib_compress(b.payload, options.compression == OtlpHttpExporterOptions::Compression::kGzip,
                           b.compressed, error)) {
          return Status::permanent("otlphttp " + display_url + ": " + error);
        }
        body = b.compressed;
        break;
      case OtlpHttpExporterOptions::Compression::kZstd:
        if (!zstd_compress(b.zstd, b.payload, b.compressed, error)) {
          return Status::permanent("otlphttp " + display_url + ": " + error);
        }
        body = b.compressed;
        break;
      case OtlpHttpExporterOptions::Compression::kNone:
        break;
    }

    component::HeaderList auth_headers;
    if (auth != nullptr) {
      const component::OutgoingRequest request{"POST", url, auth_request_headers, body};
      Status s = auth->sign_request(request, auth_headers);
      if (!s.is_ok()) return reword(s, "otlphttp " + display_url + ": authenticator: " + s.message());
      for (const auto& [name, value] : auth_headers) {
        if (!valid_header_name(name) || !valid_header_value(value)) {
          return Status::permanent("otlphttp " + display_url + ": the authenticator returned an invalid header");
        }
      }
    }
    runtime::HttpClientRequest& request = b.request;
    request.headers.clear();
    for (const auto& header : static_headers) {
      // A header the authenticator sets replaces the configured one of the same name.
      const bool replaced = std::any_of(auth_headers.begin(), auth_headers.end(), [&](const auto& h) {
        return boost::algorithm::iequals(h.first, header.first);
      });
      if (!replaced) request.headers.push_back(header);
    }
    for (auto& header : auth_headers) request.headers.push_back(std::move(header));
    request.body_view = body;  // no copy: the buffers outlive perform()

    const runtime::HttpClientResponse response = http->perform(request);
    if (response.status == 0) return transport_error(response);
    const std::string type = media_type(response.header("content-type"));
    if (response.status >= 200 && response.status < 300) {
      partial_success(type, response.body);
      return Status::ok();
    }
    return error_status(response, type);
  }

  Status transport_error(const runtime::HttpClientResponse& response) const {
    // The client's message already says when a proxy was in the way.
    std::string message = "otlphttp " + display_url + ": " + response.transport_error;
    // A request that cannot work as written (URL, header, settings) fails the same way every
    // time. Connection refused or reset, DNS, TLS handshake, timeouts: the server or the network
    // may recover (the Collector retries all of these too).
    if (response.failure == runtime::TransportFailure::kRequest) return Status::permanent(std::move(message));
    return Status::retryable(std::move(message));
  }

  // 2xx: a partial success is logged and its rejected items counted; it is never retried. A body
  // that cannot be read does not fail the export: the server has accepted it.
  void partial_success(const std::string& type, const std::string& body) const {
    if (body.empty()) return;
    otlp::Encoding encoding;
    if (type == kProtobufType || type.empty()) {
      encoding = otlp::Encoding::kProtobuf;
    } else if (type == kJsonType) {
      encoding = otlp::Encoding::kJson;
    } else {
      return;  // not an OTLP response (the Collector ignores it too)
    }
    otlp::PartialSuccess partial;
    std::string error;
    if (!otlp::decode_export_response(signal, body, encoding, partial, error)) {
      telemetry::log_limited(telemetry::Level::kWarn, log_component + "/bad_response", log_component,
                             "the server accepted the " + std::string(model::signal_name(signal)) + " sent to " +
                                 display_url + " but its response could not be read: " + error);
      return;
    }
    if (partial.empty()) return;
    if (partial.rejected > 0) rejected->Increment(static_cast<double>(partial.rejected));
    telemetry::log_limited(telemetry::Level::kWarn, log_component + "/partial_success", log_component,
                           "partial success from " + display_url + ": the server rejected " +
                               std::to_string(partial.rejected) + " " +
                               std::string(model::signal_item_name(signal)) +
                               (partial.error_message.empty() ? "" : ": " + text_excerpt(partial.error_message)) +
                               " (not retried)");
  }

  Status error_status(const runtime::HttpClientResponse& response, const std::string& type) const {
    // The server's reason: a google.rpc.Status in the response's encoding, else the body's start.
    const long code = response.status;
    std::string message;
    std::optional<std::chrono::milliseconds> retry_delay;
    const std::string& body = response.body;
    if (!body.empty()) {
      const bool proto = type == kProtobufType || type.empty();
      const bool json = type == kJsonType;
      otlp::RpcStatus rpc;
      std::string error;
      if ((proto || json) &&
          otlp::decode_rpc_status(body, json ? otlp::Encoding::kJson : otlp::Encoding::kProtobuf, rpc, error) &&
          !rpc.message.empty()) {
        message = text_excerpt(rpc.message);
        retry_delay = rpc.retry_delay;
      } else if (looks_like_text(body)) {
        message = text_excerpt(body);
      } else {
        message = "(" + std::to_string(response.body_size) + "-byte " + (type.empty() ? "untyped" : type) + " body)";
      }
    }
    if (code >= 300 && code < 400) message = "redirects are not followed" + (message.empty() ? "" : ": " + message);

    std::optional<std::chrono::milliseconds> retry_after;
    if (const std::string* value = response.header("retry-after")) retry_after = parse_retry_after(*value);
    if (!retry_after) retry_after = retry_delay;
    const Status s = status_from_http(code, retry_after, message);
    return reword(s, "otlphttp " + display_url + ": " + s.message());
  }
};

// ---- options -------------------------------------------------------------------------------

std::string otlphttp_signal_url(const OtlpHttpExporterOptions& options, Signal signal) {
  const std::string* override_url = nullptr;
  switch (signal) {
    case Signal::kTraces: override_url = &options.traces_endpoint; break;
    case Signal::kMetrics: override_url = &options.metrics_endpoint; break;
    case Signal::kLogs: override_url = &options.logs_endpoint; break;
  }
  if (override_url != nullptr && !override_url->empty()) return *override_url;
  if (options.endpoint.empty()) return {};
  const std::string path = "v1/" + std::string(model::signal_name(signal));
  return options.endpoint.back() == '/' ? options.endpoint + path : options.endpoint + "/" + path;
}

OtlpHttpExporterOptions read_otlphttp_exporter_options(const config::Settings& s) {
  OtlpHttpExporterOptions o;
  o.endpoint = s.get_string("endpoint");
  o.traces_endpoint = s.get_string("traces_endpoint");
  o.metrics_endpoint = s.get_string("metrics_endpoint");
  o.logs_endpoint = s.get_string("logs_endpoint");
  o.headers = s.get_string_map("headers");
  const std::string compression = s.get_string("compression");
  using C = OtlpHttpExporterOptions::Compression;
  o.compression = compression == "zstd"      ? C::kZstd
                  : compression == "deflate" ? C::kDeflate
                  : compression == "none"    ? C::kNone
                                             : C::kGzip;
  o.encoding = s.get_string("encoding") == "json" ? otlp::Encoding::kJson : otlp::Encoding::kProtobuf;
  o.timeout = s.get_duration("timeout");
  o.tls = runtime::read_tls_client(s, "tls");
  o.proxy_url = s.get_string("proxy_url");
  o.authenticator = s.get_string("auth.authenticator");
  o.idle_conn_timeout = s.get_duration("idle_conn_timeout");
  o.disable_keep_alives = s.get_bool("disable_keep_alives");
  return o;
}

// ---- the exporter --------------------------------------------------------------------------

OtlpHttpExporter::OtlpHttpExporter(OtlpHttpExporterOptions options, std::string id, Signal signal,
                                   telemetry::Telemetry& telemetry)
    : options_(std::move(options)),
      id_(std::move(id)),
      signal_(signal),
      url_(otlphttp_signal_url(options_, signal)) {
  rejected_ = &telemetry
                   .counter_family("vigil_exporter_rejected_" + std::string(model::signal_item_name(signal)) + "_total",
                                   "Items the server rejected in a partial success (not retried).")
                   .Add({{"exporter", id_}});
}

OtlpHttpExporter::~OtlpHttpExporter() {
  shutdown({});
}

Status OtlpHttpExporter::start(component::Host& host) {
  if (connections_) return Status::ok();
  const std::string who = "otlphttp exporter " + id_;
  const std::string signal_name(model::signal_name(signal_));
  if (url_.empty()) {
    return Status::permanent(who + ": it exports " + signal_name + " but neither endpoint nor " + signal_name +
                             "_endpoint is set");
  }

  runtime::Url url;
  std::string error;
  if (!parse_endpoint(url_, url, error)) {
    return Status::permanent(who + ": " + signal_name + " URL: " + error);
  }

  auto c = std::make_unique<OtlpHttpConnections>();
  c->options = options_;
  c->id = id_;
  c->log_component = "exporter/" + id_;
  c->signal = signal_;
  c->display_url = url.display();
  c->rejected = rejected_;
  c->url = url_;

  runtime::HttpClientSettings http;
  http.tls = options_.tls;
  if (url.scheme == "https") {
    for (const std::string* file : {&options_.tls.ca_file, &options_.tls.cert_file, &options_.tls.key_file}) {
      std::string content;
      if (!file->empty() && !runtime::read_file(*file, content, error)) {
        return Status::permanent(who + ": tls: " + error);
      }
    }
  }

  // The proxy is decided once, here (the environment is read at start and at each reload).
  http.proxy_from_environment = false;
  if (!options_.proxy_url.empty()) {
    auto proxy = runtime::normalize_proxy(options_.proxy_url, error);
    if (!proxy) return Status::permanent(who + ": proxy_url: " + error);
    http.proxy_url = *proxy;
  } else {
    const std::string proxy = runtime::select_proxy(url_, runtime::ProxyEnvironment::from_process());
    if (!proxy.empty()) {
      auto normalized = runtime::normalize_proxy(proxy, error);
      const char* var = url.scheme == "https" ? "HTTPS_PROXY" : "HTTP_PROXY";
      if (!normalized) return Status::permanent(who + ": the proxy in " + var + " is not usable: " + error);
      http.proxy_url = *normalized;
    }
  }
  const bool proxied = !http.proxy_url.empty();

  http.connect_timeout = kMaxConnectTimeout;  // capped by `timeout`
  http.idle_conn_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options_.idle_conn_timeout);
  http.disable_keep_alives = options_.disable_keep_alives;
  http.max_idle_handles = kMaxIdleHandles;
  http.max_response_bytes = kMaxResponseRead;
  http.response_body_kept = kMaxResponseKept;
  c->http = std::make_unique<runtime::HttpClient>(std::move(http));
  if (const std::string& e = c->http->settings_error(); !e.empty()) return Status::permanent(who + ": " + e);

  // Configured headers replace the exporter's own Content-Type (validation refuses
  // Content-Encoding and Content-Length, which must match the body).
  const auto configured = [&](std::string_view name) {
    return std::any_of(options_.headers.begin(), options_.headers.end(),
                       [&](const auto& h) { return boost::algorithm::iequals(h.first, name); });
  };
  const bool json = options_.encoding == otlp::Encoding::kJson;
  if (!configured("content-type")) c->static_headers.emplace_back("Content-Type", json ? kJsonType : kProtobufType);
  if (options_.compression != OtlpHttpExporterOptions::Compression::kNone) {
    c->static_headers.emplace_back("Content-Encoding", std::string(compression_name(options_.compression)));
  }
  for (const auto& header : options_.headers) c->static_headers.push_back(header);

  if (!options_.authenticator.empty()) {
    auth_ = component::find_authenticator<component::ClientAuthenticator>(host, options_.authenticator, error);
    if (auth_ == nullptr) return Status::permanent(who + ": " + error);
    c->auth = auth_;
    for (const auto& [name, value] : c->static_headers) {
      // An empty Expect only tells libcurl not to send one: nothing goes on the wire.
      if (!(boost::algorithm::iequals(name, "expect") && value.empty())) {
        c->auth_request_headers.emplace_back(name, value);
      }
    }
    // The client sends the real host in Host when server_name_override replaces it in the URL.
    if (url.scheme == "https" && !options_.tls.server_name_override.empty()) {
      c->auth_request_headers.emplace_back("host", url.authority());
    }
  }

  display_url_ = url.display();
  if (proxied) {
    telemetry::log(telemetry::Level::kInfo, c->log_component,
                   "sending " + signal_name + " to " + display_url_ + " through a proxy");
  }
  connections_ = std::move(c);
  return Status::ok();
}

void OtlpHttpExporter::shutdown(component::Deadline) {
  connections_.reset();  // closes every connection
}

Status OtlpHttpExporter::send(const model::Batch& batch) {
  if (!connections_) return Status::permanent("otlphttp exporter " + id_ + ": not started");
  std::string error;
  std::unique_ptr<OtlpHttpBuffers> buffers = connections_->acquire(error);
  if (!buffers) return Status::retryable("otlphttp " + display_url_ + ": " + error);
  Status s = connections_->send(*buffers, batch);
  connections_->release(std::move(buffers));
  return s;
}

// ---- factory -------------------------------------------------------------------------------

namespace {

void check_url(const config::Settings& s, const std::string& key, const std::string& id, config::Errors& errors) {
  const std::string value = s.get_string(key);
  if (value.empty()) return;
  runtime::Url parsed;
  std::string error;
  if (!parse_endpoint(value, parsed, error)) {
    errors.push_back({s.location(key), id, key + " \"" + value + "\": " + error});
  }
}

}  // namespace

component::Factory otlphttp_exporter_factory() {
  using namespace config;
  component::Factory f;
  f.kind = component::Kind::kExporter;
  f.type = kType;
  f.description = "Sends traces, metrics and logs over OTLP/HTTP (protobuf or JSON; gzip, zstd, deflate).";
  f.signals = {Signal::kTraces, Signal::kMetrics, Signal::kLogs};
  f.schema = {
      opt_string("endpoint", "",
                 "Base URL (http:// or https://); /v1/traces, /v1/metrics and /v1/logs are appended."),
      opt_string("traces_endpoint", "", "Full URL for traces; replaces endpoint for them."),
      opt_string("metrics_endpoint", "", "Full URL for metrics; replaces endpoint for them."),
      opt_string("logs_endpoint", "", "Full URL for logs; replaces endpoint for them."),
      opt_string_map("headers", "Headers added to every request (values are never logged)."),
      opt_string("compression", "gzip", "Request body compression.", {"gzip", "zstd", "deflate", "none"}),
      opt_duration("timeout", "30s", "Time limit of one request (connect, send, answer); 0 means none.", 0),
      opt_string("encoding", "proto", "proto: application/x-protobuf; json: application/json (OTLP/JSON).",
                 {"proto", "json"}),
      runtime::tls_client_option(),
      opt_string("proxy_url", "",
                 "Proxy for every request (http://, https://, socks5://); when empty, HTTPS_PROXY, "
                 "HTTP_PROXY and NO_PROXY decide."),
      opt_object("auth", "Client authentication through an extension.",
                 {opt_string("authenticator", "", "ID of an authenticator extension (bearertokenauth/...).")}),
      opt_duration("idle_conn_timeout", "90s", "A keep-alive connection idle longer is not reused; 0 means no limit.",
                   0),
      opt_bool("disable_keep_alives", false, "Use a new connection for every request."),
  };
  f.validate = [](const Settings& s, const std::string& id, Errors& errors) {
    const char* keys[] = {"endpoint", "traces_endpoint", "metrics_endpoint", "logs_endpoint"};
    bool any = false;
    for (const char* key : keys) {
      any = any || !s.get_string(key).empty();
      check_url(s, key, id, errors);
    }
    if (!any) {
      errors.push_back({s.location(), id,
                        "at least one endpoint must be specified (endpoint, traces_endpoint, metrics_endpoint "
                        "or logs_endpoint)"});
    }
    for (const auto& [name, value] : s.get_string_map("headers")) {
      if (!valid_header_name(name)) {
        errors.push_back({s.location("headers"), id, "headers: \"" + name + "\" is not a valid header name"});
      } else if (boost::algorithm::iequals(name, "content-encoding") ||
                 boost::algorithm::iequals(name, "content-length")) {
        errors.push_back({s.location("headers"), id,
                          "headers: " + name + " is set by the exporter (see compression)"});
      } else if (!valid_header_value(value)) {
        errors.push_back({s.location("headers"), id,
                          "headers: the value of \"" + name + "\" contains a line break or NUL"});
      }
    }
    if (const std::string proxy = s.get_string("proxy_url"); !proxy.empty()) {
      std::string error;
      if (!runtime::normalize_proxy(proxy, error)) {
        errors.push_back({s.location("proxy_url"), id, "proxy_url: " + error});
      }
    }
    if (s.has("auth") && s.get_string("auth.authenticator").empty()) {
      errors.push_back({s.location("auth"), id, "auth.authenticator must name an authenticator extension"});
    }
    runtime::validate_tls_client(s, "tls", id, errors);
  };
  f.create_exporter = [](const component::CreateSettings& cs, Signal signal) -> std::unique_ptr<component::Sender> {
    return std::make_unique<OtlpHttpExporter>(read_otlphttp_exporter_options(cs.settings), cs.id, signal,
                                              cs.telemetry);
  };
  return f;
}

}  // namespace vigil::exporters
