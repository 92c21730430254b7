#include "agent/runtime/proxy.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/algorithm/string/trim.hpp>

#include "agent/runtime/http_client.hpp"

namespace vigil::runtime {

namespace {

// ---- NO_PROXY ----------------------------------------------------------------------------------

struct IpAddress {
  int family = 0;  // AF_INET or AF_INET6
  std::array<unsigned char, 16> bytes{};
  int bits() const { return family == AF_INET ? 32 : 128; }
};

// IPv4-mapped IPv6 addresses count as IPv4 (as Go compares them).
std::optional<IpAddress> parse_ip(const std::string& text) {
  IpAddress ip;
  if (inet_pton(AF_INET, text.c_str(), ip.bytes.data()) == 1) {
    ip.family = AF_INET;
    return ip;
  }
  if (inet_pton(AF_INET6, text.c_str(), ip.bytes.data()) == 1) {
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(ip.bytes.data(), kMapped, sizeof kMapped) == 0) {
      std::memmove(ip.bytes.data(), ip.bytes.data() + 12, 4);
      std::fill(ip.bytes.begin() + 4, ip.bytes.end(), 0);
      ip.family = AF_INET;
    } else {
      ip.family = AF_INET6;
    }
    return ip;
  }
  return std::nullopt;
}

bool prefix_equal(const IpAddress& a, const IpAddress& b, int bits) {
  if (a.family != b.family) return false;
  int full = bits / 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), static_cast<std::size_t>(full)) != 0) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a.bytes[static_cast<std::size_t>(full)] & mask) == (b.bytes[static_cast<std::size_t>(full)] & mask);
}

bool is_loopback(const IpAddress& ip) {
  if (ip.family == AF_INET) return ip.bytes[0] == 127;
  static constexpr unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(ip.bytes.data(), kLoopback6, 16) == 0;
}

}  // namespace

// True when a NO_PROXY list sends a request to host:port directly.
bool no_proxy_matches(const std::string& no_proxy, const std::string& host, const std::string& port) {
  const std::optional<IpAddress> host_ip = parse_ip(host);
  std::string_view list = no_proxy;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string entry(list.substr(0, comma));
    boost::algorithm::trim(entry);
    boost::algorithm::to_lower(entry);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (entry.empty()) continue;
    if (entry == "*") return true;

    // CIDR range: "10.0.0.0/8", "fd00::/8".
    if (const std::size_t slash = entry.find('/'); slash != std::string::npos) {
      const std::optional<IpAddress> net = parse_ip(entry.substr(0, slash));
      int bits = -1;
      const std::string len = entry.substr(slash + 1);
      auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
      if (!net || ec != std::errc() || p != len.data() + len.size() || bits < 0) continue;
      // An IPv4 range written in IPv6 form ("::ffff:10.0.0.0/104") is an IPv4 range of bits - 96.
      if (net->family == AF_INET && entry.find(':') != std::string::npos) bits -= 96;
      if (bits < 0 || bits > net->bits()) continue;
      if (host_ip && prefix_equal(*host_ip, *net, bits)) return true;
      continue;
    }

    // host, host:port, [v6], [v6]:port; a bare IPv6 address has several colons and no port.
    std::string entry_host = entry;
    std::string entry_port;
    if (!entry.empty() && entry.front() == '[') {
      const std::size_t close = entry.find(']');
      if (close == std::string::npos) continue;
      entry_host = entry.substr(1, close - 1);
      if (close + 1 < entry.size()) {
        if (entry[close + 1] != ':') continue;
        entry_port = entry.substr(close + 2);
      }
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
      const std::size_t colon = entry.find(':');
      entry_host = entry.substr(0, colon);
      entry_port = entry.substr(colon + 1);
    }
    if (entry_host.empty()) continue;
    const bool port_ok = entry_port.empty() || entry_port == port;

    if (const std::optional<IpAddress> ip = parse_ip(entry_host)) {
      if (host_ip && port_ok && prefix_equal(*host_ip, *ip, ip->bits())) return true;
      continue;
    }
    // Domains: "example.com" matches itself and subdomains; ".example.com" and
    // "*.example.com" only subdomains.
    if (entry_host.rfind("*.", 0) == 0) entry_host.erase(0, 1);
    bool match_apex = false;
    if (entry_host.front() != '.') {
      match_apex = true;
      entry_host.insert(entry_host.begin(), '.');
    }
    const bool suffix = host.size() >= entry_host.size() &&
                        host.compare(host.size() - entry_host.size(), entry_host.size(), entry_host) == 0;
    if ((suffix || (match_apex && host == std::string_view(entry_host).substr(1))) && port_ok) return true;
  }
  return false;
}

ProxyEnvironment ProxyEnvironment::from_process() {
  const auto first = [](const char* upper, const char* lower_name) {
    for (const char* name : {upper, lower_name}) {
      const char* v = std::getenv(name);
      if (v != nullptr && *v != '\0') return std::string(v);
    }
    return std::string();
  };
  ProxyEnvironment env;
  env.http_proxy = first("HTTP_PROXY", "http_proxy");
  env.https_proxy = first("HTTPS_PROXY", "https_proxy");
  env.no_proxy = first("NO_PROXY", "no_proxy");
  return env;
}

std::optional<std::string> normalize_proxy(const std::string& proxy, std::string& error) {
  // Go's rule: a proxy that does not parse with a scheme and a host is tried as "http://" + it.
  std::string candidate = proxy;
  if (candidate.find("://") == std::string::npos) candidate = "http://" + candidate;
  Url parts;
  if (!parse_url(candidate, parts, error)) return std::nullopt;
  if (parts.scheme != "http" && parts.scheme != "https" && parts.scheme != "socks5" && parts.scheme != "socks5h") {
    error = "the scheme must be one of http://, https://, socks5://, socks5h:// (got \"" + parts.scheme + "\")";
    return std::nullopt;
  }
  return candidate;
}

std::string select_proxy(const std::string& url, const ProxyEnvironment& env) {
  Url parts;
  std::string error;
  if (!parse_url(url, parts, error)) return {};
  if (parts.scheme != "http" && parts.scheme != "https") return {};
  const std::string& proxy = parts.scheme == "https" ? env.https_proxy : env.http_proxy;
  if (proxy.empty()) return {};
  if (parts.bare_host == "localhost") return {};
  if (const auto ip = parse_ip(parts.bare_host); ip && is_loopback(*ip)) return {};
  if (no_proxy_matches(env.no_proxy, parts.bare_host, parts.port)) return {};
  return proxy;
}

std::string proxy_for_url(const std::string& url, const ProxyEnvironment& env) {
  const std::string proxy = select_proxy(url, env);
  if (proxy.empty()) return {};
  std::string error;
  return normalize_proxy(proxy, error).value_or(std::string());
}

}  // namespace vigil::runtime
