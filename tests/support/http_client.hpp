#pragma once
// Test support: a blocking HTTP/1.1 client (Boost.Beast) for loopback servers.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vigil::testing {

struct HttpResult {
  int status = 0;  // 0: no response (connection failed)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(const std::string& name) const;
};

HttpResult http_request(const std::string& method, std::uint16_t port, const std::string& target,
                        const std::string& body = {},
                        const std::vector<std::pair<std::string, std::string>>& headers = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The value of a Prometheus sample in exposition text ("name{a=\"b\"}"), or -1 when absent.
// `selector` is the metric name followed by the exact label set as printed.
double prometheus_value(const std::string& text, const std::string& name,
                        const std::vector<std::pair<std::string, std::string>>& labels = {});

}  // namespace vigil::testing
