#pragma once
// A small HTTP/1.1 server on the agent's io_context (Boost.Beast), shared by the components that
// serve HTTP (otlp receiver, health_check). Keep-alive, bounded header and body sizes, idle
// timeouts, graceful stop.
//
// Thread-safety: the handler runs on io_context worker threads, possibly concurrently for
// different connections; it must be thread-safe. start/stop from the control thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace vigil::runtime {

struct HttpRequest {
  std::string method;  // "POST"
  std::string target;  // path and query as received
  std::string path;    // target without the query
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;    // as received (still compressed if Content-Encoding says so)
  std::string remote_address;
  const std::string* header(std::string_view lower_name) const;
};

struct HttpResponse {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpServerOptions {
  std::string endpoint = "127.0.0.1:0";  // host:port; port 0 picks a free port
  std::size_t max_body_bytes = 20 * 1024 * 1024;  // over it: 413 without reading the rest
  std::size_t max_header_bytes = 64 * 1024;
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds read_timeout{30};
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(HttpRequest&)>;

  HttpServer(boost::asio::io_context& io, HttpServerOptions options, Handler handler);
  ~HttpServer();

  // Binds and starts accepting. Returns an error message ("" on success): bad endpoint, address
  // in use, ...
  std::string start();
  // Stops accepting and closes open connections.
  void stop();
  // The bound port (after start), useful when the endpoint asked for port 0.
  std::uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Splits "host:port" ("[::1]:4318", ":4318" meaning all interfaces, "localhost:4318").
bool split_endpoint(const std::string& endpoint, std::string& host, std::uint16_t& port, std::string& error);

}  // namespace vigil::runtime
