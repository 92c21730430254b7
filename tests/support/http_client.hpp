#pragma once
// Test support: a blocking HTTP/1.1 client (Boost.Beast) for loopback servers, plain or TLS.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vigil::testing {

struct HttpResult {
  int status = 0;  // 0: no response (connection failed)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string error;  // https_request: the step that failed and why, when status is 0
  std::string header(const std::string& name) const;
};

HttpResult http_request(const std::string& method, std::uint16_t port, const std::string& target,
                        const std::string& body = {},
                        const std::vector<std::pair<std::string, std::string>>& headers = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// TLS client settings for https_request. The server's certificate is verified against ca_file
// and `server_name` (also sent as SNI).
struct HttpsOptions {
  std::string ca_file;
  std::string cert_file;  // client certificate (mutual TLS); with key_file
  std::string key_file;
  std::string max_version;  // "1.2" or "1.3" caps the version offered; empty: OpenSSL's highest
  std::string server_name = "localhost";
};

// A TLS connection to 127.0.0.1:port for several requests. The constructor connects and
// handshakes; each operation after is bounded by `timeout`. Under TLS 1.3 a server that rejects
// the client certificate does so after the client's side of the handshake completed: that shows
// up as a failed request, not a failed constructor.
class HttpsConnection {
 public:
  HttpsConnection(std::uint16_t port, const HttpsOptions& tls,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpsConnection();
  HttpsConnection(const HttpsConnection&) = delete;
  HttpsConnection& operator=(const HttpsConnection&) = delete;

  bool connected() const;
  // The step that failed last ("handshake: ...", "read: ..."), or empty.
  const std::string& error() const;
  // status 0 with `error` set on failure. A failed write is followed by a read all the same, as
  // the server may have answered (413) before taking the whole body.
  HttpResult request(const std::string& method, const std::string& target, const std::string& body = {},
                     const std::vector<std::pair<std::string, std::string>>& headers = {},
                     bool keep_alive = true);

  enum class Closed { kCloseNotify, kAbrupt, kNotClosed };
  // Reads until the server ends the connection: with a TLS close_notify, without one (TCP close or
  // reset), or not within the timeout (or the server sent data).
  Closed wait_closed();
  // Sends close_notify and waits (bounded) for the server's.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One request (Connection: close) over a fresh HttpsConnection, then a close_notify exchange.
// status 0 with `error` set when connecting, the handshake or the exchange fails.
HttpResult https_request(const std::string& method, std::uint16_t port, const std::string& target,
                         const HttpsOptions& tls, const std::string& body = {},
                         const std::vector<std::pair<std::string, std::string>>& headers = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The value of a Prometheus sample in exposition text ("name{a=\"b\"}"), or -1 when absent.
// `selector` is the metric name followed by the exact label set as printed.
double prometheus_value(const std::string& text, const std::string& name,
                        const std::vector<std::pair<std::string, std::string>>& labels = {});

}  // namespace vigil::testing
