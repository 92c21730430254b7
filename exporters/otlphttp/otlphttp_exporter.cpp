#include "exporters/otlphttp/otlphttp_exporter.hpp"

#include <curl/curl.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <optional>

#include <prometheus/counter.h>

#include "agent/otlp/json_encoder.hpp"
#include "agent/otlp/proto_encoder.hpp"
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
constexpr char kUserAgent[] = "vigil/" VIGIL_VERSION;
// Response bytes kept for decoding (the Collector reads as much); what follows is read and
// discarded so the connection stays usable, up to kMaxResponseRead, past which the transfer is
// cut (and the connection with it).
constexpr std::size_t kMaxResponseKept = 64 * 1024;
constexpr std::size_t kMaxResponseRead = 1024 * 1024;
// Request buffers are reused between sends; one grown past this by a huge batch is released.
constexpr std::size_t kMaxBufferKept = 8 * 1024 * 1024;
constexpr std::size_t kMaxMessageChars = 256;
constexpr std::chrono::milliseconds kMaxConnectTimeout = std::chrono::seconds(30);
constexpr long kNoAgeLimit = 365L * 24 * 3600;  // idle_conn_timeout: 0 (a year, in seconds)
// gzip / deflate at zlib level 1 (the Collector's BestSpeed), zstd at level 1: the exporter
// compresses on its sending threads, and speed matters more than the last few percent of size.
constexpr int kZlibLevel = 1;
constexpr int kZstdLevel = 1;

// ---- libcurl setup -------------------------------------------------------------------------

// curl_global_init once per process (never cleaned up: other components may use libcurl).
CURLcode curl_global() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  return rc;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// ---- URLs ------------------------------------------------------------------------------------

struct UrlHandle {
  CURLU* u = curl_url();
  ~UrlHandle() { curl_url_cleanup(u); }
  UrlHandle() = default;
  UrlHandle(const UrlHandle&) = delete;
  UrlHandle& operator=(const UrlHandle&) = delete;

  std::string get(CURLUPart part, unsigned flags = 0) const {
    char* value = nullptr;
    if (u == nullptr || curl_url_get(u, part, &value, flags) != CURLUE_OK || value == nullptr) return {};
    std::string out(value);
    curl_free(value);
    return out;
  }
};

struct ParsedUrl {
  std::string scheme;      // lower case
  std::string host;        // as in the URL; IPv6 in brackets
  std::string bare_host;   // lower case, without brackets
  std::string port;        // explicit or the scheme's default
  bool explicit_port = false;
  std::string path;
  std::string display;     // scheme://host[:port]/path, without credentials or query
};

// Parses an absolute URL whose scheme is one of `schemes`; false with `error` otherwise.
bool parse_url(const std::string& text, std::initializer_list<std::string_view> schemes, ParsedUrl& out,
               std::string& error) {
  UrlHandle h;
  if (h.u == nullptr) {
    error = "out of memory";
    return false;
  }
  const CURLUcode rc = curl_url_set(h.u, CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    error = std::string("not a valid URL (") + curl_url_strerror(rc) + "); write it as scheme://host[:port][/path]";
    return false;
  }
  out.scheme = lower(h.get(CURLUPART_SCHEME));
  std::string allowed;
  bool ok = false;
  for (std::string_view s : schemes) {
    ok = ok || out.scheme == s;
    allowed += (allowed.empty() ? "" : ", ") + std::string(s) + "://";
  }
  if (!ok) {
    error = "the scheme must be one of " + allowed + " (got \"" + out.scheme + "\")";
    return false;
  }
  out.host = h.get(CURLUPART_HOST);
  if (out.host.empty()) {
    error = "the URL has no host";
    return false;
  }
  out.bare_host = lower(out.host);
  if (out.bare_host.size() >= 2 && out.bare_host.front() == '[' && out.bare_host.back() == ']') {
    out.bare_host = out.bare_host.substr(1, out.bare_host.size() - 2);
  }
  const std::string explicit_port = h.get(CURLUPART_PORT);
  out.explicit_port = !explicit_port.empty();
  out.port = out.explicit_port ? explicit_port : h.get(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (out.port.empty()) out.port = out.scheme == "https" ? "443" : "80";
  out.path = h.get(CURLUPART_PATH);
  out.display = out.scheme + "://" + out.host + (out.explicit_port ? ":" + out.port : "") + out.path;
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
std::string media_type(const char* content_type) {
  if (content_type == nullptr) return {};
  std::string_view v(content_type);
  v = trim(v.substr(0, v.find(';')));
  return lower(v);
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
  out = std::string(trim(out));
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

long tls_version(const std::string& v) {
  if (v == "1.0") return CURL_SSLVERSION_TLSv1_0;
  if (v == "1.1") return CURL_SSLVERSION_TLSv1_1;
  if (v == "1.3") return CURL_SSLVERSION_TLSv1_3;
  return CURL_SSLVERSION_TLSv1_2;
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

struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistFree>;

bool slist_append(Slist& list, const std::string& line) {
  curl_slist* next = curl_slist_append(list.get(), line.c_str());
  if (next == nullptr) return false;
  list.release();
  list.reset(next);
  return true;
}

// "Name: value", or "Name;" for an empty value (libcurl's syntax for sending an empty header).
std::string header_line(const std::string& name, const std::string& value) {
  return value.empty() ? name + ";" : name + ": " + value;
}

}  // namespace

// ---- connections ---------------------------------------------------------------------------

// One libcurl easy handle (which keeps its connection alive between requests) and the buffers
// of one request at a time.
struct OtlpHttpConnection {
  CURL* easy = nullptr;
  ZSTD_CCtx* zstd = nullptr;
  std::string payload;     // the encoded request
  std::string compressed;  // the request body when compressed
  std::string response;    // the first kMaxResponseKept bytes of the response body
  std::size_t response_bytes = 0;
  bool response_cut = false;  // the response passed kMaxResponseRead: the transfer was stopped
  char error[CURL_ERROR_SIZE] = {};

  OtlpHttpConnection() = default;
  OtlpHttpConnection(const OtlpHttpConnection&) = delete;
  OtlpHttpConnection& operator=(const OtlpHttpConnection&) = delete;
  ~OtlpHttpConnection() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (zstd != nullptr) ZSTD_freeCCtx(zstd);
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<OtlpHttpConnection*>(user);
    const std::size_t n = size * count;
    self->response_bytes += n;
    if (self->response.size() < kMaxResponseKept) {
      self->response.append(data, std::min(n, kMaxResponseKept - self->response.size()));
    }
    if (self->response_bytes > kMaxResponseRead) {
      self->response_cut = true;
      return 0;  // stops the transfer (CURLE_WRITE_ERROR)
    }
    return n;
  }

  void trim_buffers() {
    for (std::string* s : {&payload, &compressed}) {
      if (s->capacity() > kMaxBufferKept) std::string().swap(*s);
    }
  }
};

// Everything a send needs that is fixed at start(), and the pool of idle connections.
struct OtlpHttpConnections {
  // Fixed at start().
  OtlpHttpExporterOptions options;
  std::string id;
  std::string log_component;  // "exporter/<id>"
  Signal signal = Signal::kLogs;
  std::string request_url;    // the URL curl is given (host replaced by server_name_override)
  std::string display_url;
  std::string proxy;          // "" = direct
  std::string host_header;    // "Host: ..." when the URL's host was replaced
  Slist connect_to;           // CURLOPT_CONNECT_TO for server_name_override
  std::vector<std::string> static_headers;  // Content-Type, Content-Encoding, Expect, user headers
  const component::ClientAuthenticator* auth = nullptr;
  // What a signing authenticator sees of each request: the URL with the real host, and the
  // headers of static_headers that are sent (plus Host when host_header is set).
  std::string auth_url;
  component::HeaderList auth_request_headers;
  prometheus::Counter* rejected = nullptr;

  std::mutex mu;
  std::vector<std::unique_ptr<OtlpHttpConnection>> idle;  // most recently used last

  std::unique_ptr<OtlpHttpConnection> acquire(std::string& error) {
    {
      std::lock_guard lock(mu);
      if (!idle.empty()) {
        auto c = std::move(idle.back());
        idle.pop_back();
        return c;
      }
    }
    return make_connection(error);
  }

  void release(std::unique_ptr<OtlpHttpConnection> c) {
    c->trim_buffers();
    std::lock_guard lock(mu);
    idle.push_back(std::move(c));
  }

  std::unique_ptr<OtlpHttpConnection> make_connection(std::string& error) {
    auto c = std::make_unique<OtlpHttpConnection>();
    c->easy = curl_easy_init();
    if (c->easy == nullptr) {
      error = "cannot create a libcurl handle";
      return nullptr;
    }
    if (options.compression == OtlpHttpExporterOptions::Compression::kZstd) {
      c->zstd = ZSTD_createCCtx();
      if (c->zstd == nullptr) {
        error = "cannot create a zstd context";
        return nullptr;
      }
    }
    CURL* e = c->easy;
    CURLcode rc = CURLE_OK;
    const auto set = [&](CURLoption option, auto value) {
      if (rc == CURLE_OK) rc = curl_easy_setopt(e, option, value);
    };
    set(CURLOPT_URL, request_url.c_str());
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_POST, 1L);
    set(CURLOPT_USERAGENT, kUserAgent);
    set(CURLOPT_ERRORBUFFER, c->error);
    set(CURLOPT_WRITEFUNCTION, &OtlpHttpConnection::on_body);
    set(CURLOPT_WRITEDATA, c.get());
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_TCP_KEEPALIVE, 1L);

    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout);
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    const auto connect = timeout.count() > 0 ? std::min(timeout, kMaxConnectTimeout) : kMaxConnectTimeout;
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect.count()));

    if (options.disable_keep_alives) set(CURLOPT_FORBID_REUSE, 1L);
    // libcurl's connection age limit: a connection idle longer is not reused (0: no limit).
    const auto idle_s = std::chrono::duration_cast<std::chrono::seconds>(options.idle_conn_timeout).count();
    set(CURLOPT_MAXAGE_CONN, idle_s > 0 ? static_cast<long>(idle_s) : kNoAgeLimit);

    // The proxy is decided here, never by libcurl's own environment rules (it ignores upper-case
    // HTTP_PROXY, reads ALL_PROXY, and proxies loopback): "" disables its environment lookup.
    set(CURLOPT_PROXY, proxy.c_str());
    set(CURLOPT_NOPROXY, "");

    const runtime::TlsClientSettings& tls = options.tls;
    if (!tls.ca_file.empty()) set(CURLOPT_CAINFO, tls.ca_file.c_str());
    if (!tls.cert_file.empty()) {
      set(CURLOPT_SSLCERT, tls.cert_file.c_str());
      set(CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (!tls.key_file.empty()) {
      set(CURLOPT_SSLKEY, tls.key_file.c_str());
      set(CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (tls.insecure_skip_verify) {
      set(CURLOPT_SSL_VERIFYPEER, 0L);
      set(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    set(CURLOPT_SSLVERSION, tls_version(tls.min_version));
    if (connect_to) set(CURLOPT_CONNECT_TO, connect_to.get());
    // An https:// proxy is verified with the same settings (as Go's transport does).
    if (proxy.rfind("https://", 0) == 0) {
      if (!tls.ca_file.empty()) set(CURLOPT_PROXY_CAINFO, tls.ca_file.c_str());
      if (tls.insecure_skip_verify) {
        set(CURLOPT_PROXY_SSL_VERIFYPEER, 0L);
        set(CURLOPT_PROXY_SSL_VERIFYHOST, 0L);
      }
    }
    if (rc != CURLE_OK) {
      error = std::string("libcurl refused an option: ") + curl_easy_strerror(rc);
      return nullptr;
    }
    return c;
  }

  // Replaces the message of a status, keeping its kind and hint.
  static Status reword(const Status& s, std::string message) {
    if (s.is_ok()) return s;
    if (s.is_retryable()) return Status::retryable(std::move(message), s.retry_after());
    return Status::permanent(std::move(message));
  }

  Status send(OtlpHttpConnection& c, const model::Batch& batch) {
    if (options.encoding == otlp::Encoding::kJson) {
      otlp::encode_json(batch, c.payload);
    } else {
      otlp::encode_export_request(batch, c.payload);
    }
    std::string_view body = c.payload;
    std::string error;
    switch (options.compression) {
      case OtlpHttpExporterOptions::Compression::kGzip:
      case OtlpHttpExporterOptions::Compression::kDeflate:
        if (!zlib_compress(c.payload, options.compression == OtlpHttpExporterOptions::Compression::kGzip,
                           c.compressed, error)) {
          return Status::permanent("otlphttp " + display_url + ": " + error);
        }
        body = c.compressed;
        break;
      case OtlpHttpExporterOptions::Compression::kZstd:
        if (!zstd_compress(c.zstd, c.payload, c.compressed, error)) {
          return Status::permanent("otlphttp " + display_url + ": " + error);
        }
        body = c.compressed;
        break;
      case OtlpHttpExporterOptions::Compression::kNone:
        break;
    }

    Slist headers;
    bool ok = true;
    component::HeaderList auth_headers;
    if (auth != nullptr) {
      const component::OutgoingRequest request{"POST", auth_url, auth_request_headers, body};
      Status s = auth->sign_request(request, auth_headers);
      if (!s.is_ok()) return reword(s, "otlphttp " + display_url + ": authenticator: " + s.message());
      for (const auto& [name, value] : auth_headers) {
        if (!valid_header_name(name) || !valid_header_value(value)) {
          return Status::permanent("otlphttp " + display_url + ": the authenticator returned an invalid header");
        }
      }
    }
    for (const std::string& line : static_headers) {
      // A header the authenticator sets replaces the configured one of the same name.
      const std::size_t end = line.find_first_of(":;");
      const std::string name = lower(std::string_view(line).substr(0, end));
      const bool replaced = std::any_of(auth_headers.begin(), auth_headers.end(),
                                        [&](const auto& h) { return lower(h.first) == name; });
      if (!replaced) ok = ok && slist_append(headers, line);
    }
    for (const auto& [name, value] : auth_headers) ok = ok && slist_append(headers, header_line(name, value));
    if (!host_header.empty()) ok = ok && slist_append(headers, host_header);
    if (!ok) return Status::retryable("otlphttp " + display_url + ": out of memory building the request");

    CURL* e = c.easy;
    c.response.clear();
    c.response_bytes = 0;
    c.response_cut = false;
    c.error[0] = '\0';
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data());
    const CURLcode rc = curl_easy_perform(e);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, static_cast<const char*>(nullptr));

    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && c.response_cut && code != 0)) {
      return transport_error(rc, c);
    }
    const char* content_type = nullptr;
    curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &content_type);
    const std::string type = media_type(content_type);
    if (code >= 200 && code < 300) {
      partial_success(type, c.response);
      return Status::ok();
    }
    return error_status(c, code, type);
  }

  Status transport_error(CURLcode rc, const OtlpHttpConnection& c) const {
    std::string detail = c.error[0] != '\0' ? std::string(c.error) : std::string(curl_easy_strerror(rc));
    std::string message = "otlphttp " + display_url + ": " + detail;
    if (!proxy.empty()) message += " (through a proxy)";
    switch (rc) {
      // The request itself cannot work; retrying changes nothing.
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
      case CURLE_NOT_BUILT_IN:
      case CURLE_BAD_FUNCTION_ARGUMENT:
      case CURLE_UNKNOWN_OPTION:
        return Status::permanent(std::move(message));
      default:
        // Connection refused or reset, DNS, TLS handshake, timeouts: the server or the network
        // may recover (the Collector retries all of these too).
        return Status::retryable(std::move(message));
    }
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

  Status error_status(const OtlpHttpConnection& c, long code, const std::string& type) const {
    // The server's reason: a google.rpc.Status in the response's encoding, else the body's start.
    std::string message;
    std::optional<std::chrono::milliseconds> retry_delay;
    const std::string& body = c.response;
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
        message = "(" + std::to_string(c.response_bytes) + "-byte " + (type.empty() ? "untyped" : type) + " body)";
      }
    }
    if (code >= 300 && code < 400) message = "redirects are not followed" + (message.empty() ? "" : ": " + message);

    std::optional<std::chrono::milliseconds> retry_after;
    curl_header* h = nullptr;
    if (curl_easy_header(c.easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h != nullptr &&
        h->value != nullptr) {
      retry_after = parse_retry_after(h->value);
    }
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
  if (curl_global() != CURLE_OK) return Status::permanent(who + ": libcurl cannot initialise");

  ParsedUrl url;
  std::string error;
  if (!parse_url(url_, {"http", "https"}, url, error)) {
    return Status::permanent(who + ": " + signal_name + " URL: " + error);
  }

  auto c = std::make_unique<OtlpHttpConnections>();
  c->options = options_;
  c->id = id_;
  c->log_component = "exporter/" + id_;
  c->signal = signal_;
  c->display_url = url.display;
  c->rejected = rejected_;
  c->request_url = url_;

  if (url.scheme == "https") {
    for (const std::string* file : {&options_.tls.ca_file, &options_.tls.cert_file, &options_.tls.key_file}) {
      std::string content;
      if (!file->empty() && !runtime::read_file(*file, content, error)) {
        return Status::permanent(who + ": tls: " + error);
      }
    }
    // Verify the server as server_name_override (and send that name in SNI): the URL's host is
    // replaced by it, and libcurl is told to connect to the real host (CURLOPT_CONNECT_TO). The
    // Host header keeps the real host, as in the Collector.
    if (!options_.tls.server_name_override.empty()) {
      UrlHandle h;
      if (h.u == nullptr || curl_url_set(h.u, CURLUPART_URL, url_.c_str(), 0) != CURLUE_OK ||
          curl_url_set(h.u, CURLUPART_HOST, options_.tls.server_name_override.c_str(), 0) != CURLUE_OK) {
        return Status::permanent(who + ": tls.server_name_override \"" + options_.tls.server_name_override +
                                 "\" is not a valid host name");
      }
      c->request_url = h.get(CURLUPART_URL);
      if (!slist_append(c->connect_to, options_.tls.server_name_override + ":" + url.port + ":" + url.host +
                                           ":" + url.port)) {
        return Status::permanent(who + ": out of memory");
      }
      c->host_header = "Host: " + url.host + (url.explicit_port ? ":" + url.port : "");
    }
  }

  if (!options_.proxy_url.empty()) {
    auto proxy = runtime::normalize_proxy(options_.proxy_url, error);
    if (!proxy) return Status::permanent(who + ": proxy_url: " + error);
    c->proxy = *proxy;
  } else {
    const std::string proxy = runtime::select_proxy(url_, runtime::ProxyEnvironment::from_process());
    if (!proxy.empty()) {
      auto normalized = runtime::normalize_proxy(proxy, error);
      const char* var = url.scheme == "https" ? "HTTPS_PROXY" : "HTTP_PROXY";
      if (!normalized) return Status::permanent(who + ": the proxy in " + var + " is not usable: " + error);
      c->proxy = *normalized;
    }
  }

  // Configured headers replace the exporter's own Content-Type and Expect (validation refuses
  // Content-Encoding and Content-Length, which must match the body).
  const auto configured = [&](std::string_view name) {
    return std::any_of(options_.headers.begin(), options_.headers.end(),
                       [&](const auto& h) { return lower(h.first) == name; });
  };
  const bool json = options_.encoding == otlp::Encoding::kJson;
  if (!configured("content-type")) {
    c->static_headers.push_back(std::string("Content-Type: ") + (json ? kJsonType : kProtobufType));
  }
  if (options_.compression != OtlpHttpExporterOptions::Compression::kNone) {
    c->static_headers.push_back("Content-Encoding: " + std::string(compression_name(options_.compression)));
  }
  if (!configured("expect")) c->static_headers.emplace_back("Expect:");  // no "100-continue" round trip
  for (const auto& [name, value] : options_.headers) c->static_headers.push_back(header_line(name, value));

  if (!options_.authenticator.empty()) {
    auth_ = component::find_authenticator<component::ClientAuthenticator>(host, options_.authenticator, error);
    if (auth_ == nullptr) return Status::permanent(who + ": " + error);
    c->auth = auth_;
    c->auth_url = url_;
    const auto add = [&](std::string name, std::string value) {
      c->auth_request_headers.emplace_back(std::move(name), std::move(value));
    };
    if (!configured("content-type")) add("content-type", json ? kJsonType : kProtobufType);
    if (options_.compression != OtlpHttpExporterOptions::Compression::kNone) {
      add("content-encoding", std::string(compression_name(options_.compression)));
    }
    // An empty Expect line only tells libcurl not to send one: nothing goes on the wire.
    for (const auto& [name, value] : options_.headers) {
      if (!(lower(name) == "expect" && value.empty())) add(name, value);
    }
    if (!c->host_header.empty()) add("host", c->host_header.substr(std::string_view("Host: ").size()));
  }

  display_url_ = url.display;
  if (!c->proxy.empty()) {
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
  std::unique_ptr<OtlpHttpConnection> c = connections_->acquire(error);
  if (!c) return Status::retryable("otlphttp " + display_url_ + ": " + error);
  Status s = connections_->send(*c, batch);
  connections_->release(std::move(c));
  return s;
}

// ---- factory -------------------------------------------------------------------------------

namespace {

void check_url(const config::Settings& s, const std::string& key, const std::string& id, config::Errors& errors) {
  const std::string value = s.get_string(key);
  if (value.empty()) return;
  ParsedUrl parsed;
  std::string error;
  if (!parse_url(value, {"http", "https"}, parsed, error)) {
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
    curl_global();
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
      const std::string lname = lower(name);
      if (!valid_header_name(name)) {
        errors.push_back({s.location("headers"), id, "headers: \"" + name + "\" is not a valid header name"});
      } else if (lname == "content-encoding" || lname == "content-length") {
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
