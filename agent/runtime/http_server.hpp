#pragma once
// A small HTTP/1.1 server on the agent's io_context (Boost.Beast), shared by the components that
// serve HTTP (otlp receiver, health_check). Keep-alive, bounded header and body sizes, bounded
// connections and request bytes in flight, idle timeouts, graceful stop.
//
// Thread-safety: the handler runs on io_context worker threads, possibly concurrently for
// different connections; it must be thread-safe. start/stop from the control thread (never from
// a handler: stop() waits for running handlers). stats() from any thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
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
  // Open connections served at once. Past it a new connection is answered 503 with
  // "Retry-After: 1" and closed.
  std::size_t max_connections = 1000;
  // Request body bytes held at once, summed over all connections (Beast reserves a body's whole
  // Content-Length as soon as its headers are in). A request that would push the total past it is
  // answered 503 with "Retry-After: 1" before its body is read, and the connection is closed;
  // chunked bodies count chunk by chunk as they arrive. A request's bytes are released once its
  // handler has returned. A body larger than this on its own can never fit: 413, as over
  // max_body_bytes.
  std::size_t max_inflight_body_bytes = 64 * 1024 * 1024;
  // When set, every connection is TLS (runtime/tls.hpp builds the context); the handshake is
  // bounded by read_timeout, and a failed handshake closes the connection (counted in stats).
  // Plain HTTP sent to a TLS port is answered 400 in plain text and closed. Connections the
  // server ends (Connection: close, error answers, stop() while idle) get a close_notify.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

// Counters for tests and self-observation; each value is read on its own (not a snapshot).
struct HttpServerStats {
  std::size_t connections = 0;            // connections being served (refused ones excluded)
  std::size_t inflight_body_bytes = 0;    // body bytes reserved by requests in progress
  std::uint64_t refused_connections = 0;  // over max_connections
  std::uint64_t refused_requests = 0;     // over max_inflight_body_bytes
  std::uint64_t failed_handshakes = 0;    // TLS handshakes that failed or timed out
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(HttpRequest&)>;

  HttpServer(boost::asio::io_context& io, HttpServerOptions options, Handler handler);
  ~HttpServer();

  // Binds and starts accepting. Returns an error message ("" on success): bad endpoint, address
  // in use, ...
  std::string start();
  // Stops accepting and closes open connections. Returns once no handler runs (none starts
  // afterwards) and the listening port is closed. It waits for the io_context to run the close of
  // the listener, so the io_context must be running or stopped (not merely idle) when this is called.
  void stop();
  // The bound port (after start), useful when the endpoint asked for port 0.
  std::uint16_t port() const;
  HttpServerStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Splits "host:port" ("[::1]:4318", ":4318" meaning all interfaces, "localhost:4318").
bool split_endpoint(const std::string& endpoint, std::string& host, std::uint16_t& port, std::string& error);

}  // namespace vigil::runtime
