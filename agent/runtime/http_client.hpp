#pragma once
// Outbound HTTP(S) through libcurl, shared by everything that calls AWS (the credential
// providers, the CloudWatch Logs client): keep-alive connections reused from a pool of easy
// handles, a timeout per request, TLS settings, and the proxy of the environment
// (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, Go's rules, see proxy.hpp) or of the settings.
//
// The request and response types are HttpClientRequest / HttpClientResponse: runtime::HttpRequest
// and runtime::HttpResponse are the inbound server's (http_server.hpp).
//
// Thread-safety: perform() is called concurrently; each call takes its own handle from the pool
// (a handle keeps its connections alive, so at most as many connections per host as concurrent
// callers, kept up to max_idle_handles).

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/runtime/tls.hpp"

namespace vigil::runtime {

struct HttpClientSettings {
  TlsClientSettings tls;  // for https:// URLs (and an https:// proxy); `insecure` is ignored
  // Non-empty: every request goes through it (the environment is ignored). "host:port" means
  // http://host:port.
  std::string proxy_url;
  std::chrono::milliseconds connect_timeout{10'000};  // capped by each request's timeout
  std::chrono::milliseconds idle_conn_timeout{90'000};  // an idle connection older is not reused
  std::size_t max_idle_handles = 16;
  std::size_t max_response_bytes = 16u << 20;  // a longer body fails the request
  std::string user_agent;  // "" → "vigil/<version>"
};

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{30'000};  // the whole request
  std::chrono::milliseconds connect_timeout{0};  // 0 → the client's connect_timeout
};

struct HttpClientResponse {
  long status = 0;  // 0: no (complete) response, transport_error says why
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case, in order
  std::string body;
  std::string transport_error;  // connection refused, timeout, TLS, response too large, ...
  bool timed_out = false;       // transport_error is a timeout (connect or whole request)

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

  // An error in settings.proxy_url ("" when it is usable or empty); perform() then fails.
  const std::string& settings_error() const { return settings_error_; }

 private:
  struct Pool;
  HttpClientSettings settings_;
  std::string proxy_;  // settings.proxy_url normalized
  std::string settings_error_;
  std::unique_ptr<Pool> pool_;
};

}  // namespace vigil::runtime
