#pragma once
// The proxy of an outbound HTTP request, decided the way Go's net/http (and so the Collector)
// decides it from the environment, shared by the otlphttp exporter and runtime::HttpClient.
// libcurl's own environment handling is never used: it ignores upper-case HTTP_PROXY, reads
// ALL_PROXY and proxies loopback.
//
// Thread-safety: free functions over values; ProxyEnvironment::from_process() reads getenv.

#include <optional>
#include <string>

namespace vigil::runtime {

// The proxy settings of the process environment: HTTP_PROXY before http_proxy, HTTPS_PROXY
// before https_proxy, NO_PROXY before no_proxy (the first one that is set and not empty wins).
struct ProxyEnvironment {
  std::string http_proxy;
  std::string https_proxy;
  std::string no_proxy;
  static ProxyEnvironment from_process();
};

// The proxy a request to `url` uses with `env`, as written in the environment (not normalized):
// https:// URLs use https_proxy and http:// URLs http_proxy (no fall-back from one to the
// other); "localhost" and loopback addresses are never proxied; no_proxy is a comma-separated
// list of "*", IP addresses, CIDR ranges ("10.0.0.0/8"), and domain names ("example.com" matches
// it and its subdomains, ".example.com" and "*.example.com" only subdomains), each optionally
// with ":port". "" for a direct connection or a URL that does not parse.
std::string select_proxy(const std::string& url, const ProxyEnvironment& env);

// select_proxy() normalized: a proxy without a scheme gets "http://"; an unusable one gives "".
std::string proxy_for_url(const std::string& url, const ProxyEnvironment& env);

// A proxy URL as libcurl takes it: "host:port" becomes "http://host:port" (Go's rule); the scheme
// must be http, https, socks5 or socks5h. nullopt with `error` otherwise.
std::optional<std::string> normalize_proxy(const std::string& proxy, std::string& error);

// True when the NO_PROXY list `no_proxy` sends a request to host:port directly. `host` is lower
// case without IPv6 brackets; `port` is explicit or the scheme's default.
bool no_proxy_matches(const std::string& no_proxy, const std::string& host, const std::string& port);

}  // namespace vigil::runtime
