#pragma once
// Outbound HTTP(S) through libcurl, shared by everything that calls out over HTTP (the otlphttp
// exporter, the AWS credential providers, the CloudWatch Logs client): keep-alive connections
// reused from a pool of easy handles, a timeout per request, TLS settings (server_name_override
// included), and the proxy of the environment (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, Go's rules,
// see proxy.hpp) or of the settings.
//
// The request and response types are HttpClientRequest / HttpClientResponse: runtime::HttpRequest
// and runtime::HttpResponse are the inbound server's (http_server.hpp).
//
// Thread-safety: perform() is called concurrently; each call takes its own handle from the pool
// (a handle keeps its connections alive, so at most as many connections per host as concurrent
// callers, kept up to max_idle_handles). parse_url() is a free function over values.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/runtime/tls.hpp"

namespace vigil::runtime {

// An absolute URL as libcurl (which sends it) reads it.
struct Url {
  std::string scheme;     // lower case
  std::string host;       // as written, IPv6 in brackets
  std::string bare_host;  // lower case, without IPv6 brackets
  std::string port;       // explicit, else the scheme's default
  bool explicit_port = false;
  std::string path;

  // host[:port] as the Host header carries it (the port only when the URL has one).
  std::string authority() const { return explicit_port ? host + ":" + port : host; }
  // scheme://host[:port]/path: without credentials or query, for messages.
  std::string display() const { return scheme + "://" + authority() + path; }
};

// Parses an absolute URL with a host (any scheme); false with `error` (which says how to write
// one) otherwise.
bool parse_url(const std::string& text, Url& out, std::string& error);

struct HttpClientSettings {
  // For https:// URLs (and an https:// proxy); `insecure` is ignored (the scheme decides).
  // server_name_override: the name sent in SNI and verified in the certificate instead of the
  // URL's host; the connection still goes to the URL's host, and Host keeps it.
  TlsClientSettings tls;
  // Non-empty: every request goes through it (the environment is ignored). "host:port" means
  // http://host:port.
  std::string proxy_url;
  // False: the environment is not read; an empty proxy_url then means a direct connection (for a
  // caller that decided the proxy itself, e.g. once at start).
  bool proxy_from_environment = true;
  std::chrono::milliseconds connect_timeout{10'000};  // capped by each request's timeout
  std::chrono::milliseconds idle_conn_timeout{90'000};  // an idle connection older is not reused; 0: no limit
  bool disable_keep_alives = false;  // a new connection for every request
  std::size_t max_idle_handles = 16;
  // The longest response body read. Past it the transfer is cut (and its connection closed),
  // and: with response_body_kept 0, the request fails (status 0, transport_error); otherwise the
  // response keeps its status and headers, with body_truncated.
  std::size_t max_response_bytes = 16u << 20;
  // Non-zero: only the first response_body_kept bytes of a body are kept (body_truncated then
  // set); the rest, up to max_response_bytes, is read and discarded so the connection stays
  // usable. For callers that only need the start of an answer (an error message).
  std::size_t response_body_kept = 0;
  std::string user_agent;  // "" → "vigil/<version>"
};

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Set: sent instead of `body`, without a copy (a large encoded batch kept in a reused buffer);
  // the bytes must stay valid until perform() returns.
  std::optional<std::string_view> body_view;
  std::chrono::milliseconds timeout{30'000};  // the whole request; 0: none
  std::chrono::milliseconds connect_timeout{0};  // 0 → the client's connect_timeout
};

// Why a request got no (complete) response.
enum class TransportFailure {
  kNone,
  kConnection,  // DNS, refused, reset, closed, the proxy refused: the network or server may recover
  kTimeout,     // the connect or the whole-request timeout
  kTls,         // handshake or certificate verification
  kResponse,    // a malformed answer, or a body over max_response_bytes
  kRequest,     // the request cannot work as written (URL, header, settings): retrying changes nothing
};

struct HttpClientResponse {
  long status = 0;  // 0: no (complete) response, transport_error says why
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case, in order
  std::string body;
  std::size_t body_size = 0;    // bytes of body received (more than body.size() when truncated)
  bool body_truncated = false;  // body holds the first response_body_kept bytes only
  std::string transport_error;  // connection refused, timeout, TLS, response too large, ...
  TransportFailure failure = TransportFailure::kNone;
  bool timed_out = false;  // failure == kTimeout

  bool ok() const { return status != 0 && transport_error.empty(); }
  // The first header named `name` (lower-case), or nullptr.
  const std::string* header(const std::string& name) const;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientSettings settings = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends the request and waits for the whole answer or the timeout. Never throws; redirects are
  // not followed. A transport_error never holds the request's headers or body (they may carry
  // secrets), only libcurl's description and the proxy's presence.
  HttpClientResponse perform(const HttpClientRequest& request);

  // An error in the settings (proxy_url, tls.server_name_override) or libcurl that cannot
  // initialise; "" when the client is usable. perform() then fails (TransportFailure::kRequest).
  const std::string& settings_error() const { return settings_error_; }

 private:
  struct Pool;
  HttpClientSettings settings_;
  std::string proxy_;  // settings.proxy_url normalized
  std::string settings_error_;
  std::unique_ptr<Pool> pool_;
};

}  // namespace vigil::runtime
