#include "agent/runtime/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <string_view>

#include "agent/runtime/proxy.hpp"

namespace vigil::runtime {

namespace {

constexpr char kDefaultUserAgent[] = "vigil/" VIGIL_VERSION;
constexpr long kNoAgeLimit = 365L * 24 * 3600;  // idle_conn_timeout 0: a year, in seconds

// curl_global_init once per process (never cleaned up: other components use libcurl too).
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

long tls_version(const std::string& v) {
  if (v == "1.0") return CURL_SSLVERSION_TLSv1_0;
  if (v == "1.1") return CURL_SSLVERSION_TLSv1_1;
  if (v == "1.3") return CURL_SSLVERSION_TLSv1_3;
  return CURL_SSLVERSION_TLSv1_2;
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

bool valid_header(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ':') return false;
  }
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// A libcurl URL handle.
struct CurlUrl {
  CURLU* u = curl_url();
  CurlUrl() = default;
  ~CurlUrl() { curl_url_cleanup(u); }
  CurlUrl(const CurlUrl&) = delete;
  CurlUrl& operator=(const CurlUrl&) = delete;

  std::string get(CURLUPart part, unsigned flags = 0) const {
    char* value = nullptr;
    if (u == nullptr || curl_url_get(u, part, &value, flags) != CURLUE_OK || value == nullptr) return {};
    std::string out(value);
    curl_free(value);
    return out;
  }
};

bool parse_into(CurlUrl& h, const std::string& text, Url& out, std::string& error) {
  if (h.u == nullptr) {
    error = "out of memory";
    return false;
  }
  const CURLUcode rc = curl_url_set(h.u, CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    error = std::string("not a valid URL (") + curl_url_strerror(rc) +
            "); write it as scheme://host[:port][/path]";
    return false;
  }
  out.scheme = lower(h.get(CURLUPART_SCHEME));
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
  return true;
}

TransportFailure classify(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return TransportFailure::kTimeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return TransportFailure::kTls;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
      return TransportFailure::kRequest;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
      return TransportFailure::kResponse;
    default:
      // Refused, reset, DNS, a proxy that refused the tunnel, out of resources.
      return TransportFailure::kConnection;
  }
}

// What one transfer writes into; reset before each request.
struct Transfer {
  HttpClientResponse* response = nullptr;
  std::size_t max_body = 0;
  std::size_t kept = 0;  // 0: all of it
  bool too_large = false;

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<Transfer*>(user);
    HttpClientResponse& r = *self->response;
    const std::size_t n = size * count;
    r.body_size += n;
    if (self->kept != 0 && r.body.size() < self->kept) {
      r.body.append(data, std::min(n, self->kept - r.body.size()));
    }
    if (r.body_size > self->max_body) {
      self->too_large = true;
      return 0;  // stops the transfer (CURLE_WRITE_ERROR)
    }
    if (self->kept == 0) r.body.append(data, n);
    return n;
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<Transfer*>(user);
    const std::size_t n = size * count;
    const std::string_view line(data, n);
    // A new status line (after a 100 Continue, or a proxy's CONNECT answer) starts the headers
    // of another response: only the final one's are kept.
    if (line.rfind("HTTP/", 0) == 0) {
      self->response->headers.clear();
      return n;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    self->response->headers.emplace_back(lower(trim(line.substr(0, colon))),
                                         std::string(trim(line.substr(colon + 1))));
    return n;
  }
};

struct EasyFree {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
using Easy = std::unique_ptr<CURL, EasyFree>;

}  // namespace

bool parse_url(const std::string& text, Url& out, std::string& error) {
  curl_global();  // libcurl wants curl_global_init before any other call
  CurlUrl h;
  return parse_into(h, text, out, error);
}

const std::string* HttpClientResponse::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

// Idle easy handles, most recently used last. A handle keeps the connections it opened alive
// (curl_easy_reset keeps them), so reusing handles reuses connections.
struct HttpClient::Pool {
  std::mutex mu;
  std::vector<Easy> idle;
};

HttpClient::HttpClient(HttpClientSettings settings) : settings_(std::move(settings)), pool_(std::make_unique<Pool>()) {
  if (curl_global() != CURLE_OK) {
    settings_error_ = "libcurl cannot initialise";
    return;
  }
  if (settings_.user_agent.empty()) settings_.user_agent = kDefaultUserAgent;
  if (!settings_.proxy_url.empty()) {
    std::string error;
    if (auto proxy = normalize_proxy(settings_.proxy_url, error)) {
      proxy_ = *proxy;
    } else {
      settings_error_ = "proxy_url: " + error;
    }
  }
  if (const std::string& name = settings_.tls.server_name_override; !name.empty()) {
    CurlUrl h;
    if (h.u == nullptr || curl_url_set(h.u, CURLUPART_URL, "https://localhost/", 0) != CURLUE_OK ||
        curl_url_set(h.u, CURLUPART_HOST, name.c_str(), 0) != CURLUE_OK) {
      settings_error_ = "tls.server_name_override \"" + name + "\" is not a valid host name";
    }
  }
}

HttpClient::~HttpClient() = default;

HttpClientResponse HttpClient::perform(const HttpClientRequest& request) {
  HttpClientResponse response;
  const auto fail = [&response](TransportFailure failure, std::string message) {
    response.failure = failure;
    response.transport_error = std::move(message);
    return std::move(response);
  };
  if (!settings_error_.empty()) return fail(TransportFailure::kRequest, settings_error_);

  Easy easy;
  {
    std::lock_guard lock(pool_->mu);
    if (!pool_->idle.empty()) {
      easy = std::move(pool_->idle.back());
      pool_->idle.pop_back();
    }
  }
  if (easy) {
    curl_easy_reset(easy.get());
  } else {
    easy.reset(curl_easy_init());
    if (!easy) return fail(TransportFailure::kConnection, "cannot create a libcurl handle");
  }

  std::string proxy = proxy_;  // "" without proxy_url: the environment's, or a direct connection
  if (settings_.proxy_url.empty() && settings_.proxy_from_environment) {
    proxy = proxy_for_url(request.url, ProxyEnvironment::from_process());
  }

  Slist headers;
  bool ok = true;
  bool has_expect = false;
  bool has_host = false;
  for (const auto& [name, value] : request.headers) {
    if (!valid_header(name, value)) {
      return fail(TransportFailure::kRequest, "invalid request header name or value");
    }
    has_expect = has_expect || iequals(name, "expect");
    has_host = has_host || iequals(name, "host");
    // "Name;" is libcurl's syntax for a header with an empty value.
    ok = ok && slist_append(headers, value.empty() ? name + ";" : name + ": " + value);
  }
  // No "Expect: 100-continue" round trip for large bodies: the services answer directly.
  if (!has_expect) ok = ok && slist_append(headers, "Expect:");

  // server_name_override: the URL's host is replaced by the name (libcurl then sends it in SNI
  // and verifies the certificate against it) and libcurl is told to connect to the real host
  // (CURLOPT_CONNECT_TO); Host keeps the real host, as in the Collector.
  const std::string* url = &request.url;
  std::string overridden_url;
  Slist connect_to;
  if (const std::string& name = settings_.tls.server_name_override; !name.empty()) {
    CurlUrl h;
    Url parts;
    std::string error;
    if (!parse_into(h, request.url, parts, error)) return fail(TransportFailure::kRequest, error);
    if (parts.scheme == "https") {
      if (curl_url_set(h.u, CURLUPART_HOST, name.c_str(), 0) != CURLUE_OK) {
        return fail(TransportFailure::kRequest, "tls.server_name_override is not a valid host name");
      }
      overridden_url = h.get(CURLUPART_URL);
      url = &overridden_url;
      ok = ok && slist_append(connect_to, name + ":" + parts.port + ":" + parts.host + ":" + parts.port);
      if (!has_host) ok = ok && slist_append(headers, "Host: " + parts.authority());
    }
  }
  if (!ok) return fail(TransportFailure::kConnection, "out of memory building the request");

  char error_buffer[CURL_ERROR_SIZE] = {};
  Transfer transfer{&response, settings_.max_response_bytes, settings_.response_body_kept};
  CURL* e = easy.get();
  CURLcode rc = CURLE_OK;
  const auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(e, option, value);
  };
  set(CURLOPT_URL, url->c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_ERRORBUFFER, error_buffer);
  set(CURLOPT_USERAGENT, settings_.user_agent.c_str());
  set(CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  set(CURLOPT_WRITEDATA, &transfer);
  set(CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  set(CURLOPT_HEADERDATA, &transfer);
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_HTTPHEADER, headers.get());

  const std::string_view body = request.body_view ? *request.body_view : std::string_view(request.body);
  const std::string method = request.method.empty() ? "GET" : request.method;
  if (method == "GET" && body.empty()) {
    set(CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else {
    // POSTFIELDS sends the body (and a Content-Length, 0 included) whatever the method.
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    set(CURLOPT_POSTFIELDS, body.data());
    if (method != "POST") set(CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  const auto timeout = request.timeout.count() > 0 ? request.timeout : std::chrono::milliseconds(0);
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  auto connect = request.connect_timeout.count() > 0 ? request.connect_timeout : settings_.connect_timeout;
  if (timeout.count() > 0 && (connect.count() <= 0 || connect > timeout)) connect = timeout;
  if (connect.count() > 0) set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect.count()));
  // libcurl counts whole seconds: a sub-second limit is rounded up, not turned into "no limit".
  const auto idle_s = std::chrono::ceil<std::chrono::seconds>(settings_.idle_conn_timeout).count();
  set(CURLOPT_MAXAGE_CONN, idle_s > 0 ? static_cast<long>(idle_s) : kNoAgeLimit);
  if (settings_.disable_keep_alives) set(CURLOPT_FORBID_REUSE, 1L);

  // The proxy is decided here, never by libcurl's environment rules: "" disables them.
  set(CURLOPT_PROXY, proxy.c_str());
  set(CURLOPT_NOPROXY, "");

  const TlsClientSettings& tls = settings_.tls;
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
    // The handle is dropped, not pooled: its state is unknown.
    return fail(TransportFailure::kRequest,
                std::string("libcurl refused an option: ") + curl_easy_strerror(rc));
  }

  rc = curl_easy_perform(e);
  long code = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  // The slist and the body are freed when this returns: the handle must not point at them.
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
  curl_easy_setopt(e, CURLOPT_CONNECT_TO, static_cast<curl_slist*>(nullptr));
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, static_cast<const char*>(nullptr));
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));

  if (transfer.too_large && settings_.response_body_kept != 0 && code != 0) {
    // Cut after the status and headers: an answer whose start is all the caller wanted.
    response.status = code;
  } else if (transfer.too_large) {
    response.status = 0;
    response.body.clear();
    response.body_size = 0;
    response.failure = TransportFailure::kResponse;
    response.transport_error =
        "the response body is larger than " + std::to_string(settings_.max_response_bytes) + " bytes";
  } else if (rc != CURLE_OK) {
    response.status = 0;
    response.failure = classify(rc);
    response.timed_out = response.failure == TransportFailure::kTimeout;
    response.transport_error = error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(rc);
    if (!proxy.empty()) response.transport_error += " (through a proxy)";
  } else {
    response.status = code;
  }
  response.body_truncated = response.status != 0 && response.body.size() < response.body_size;

  {
    std::lock_guard lock(pool_->mu);
    if (pool_->idle.size() < settings_.max_idle_handles) pool_->idle.push_back(std::move(easy));
  }
  return response;
}

}  // namespace vigil::runtime
