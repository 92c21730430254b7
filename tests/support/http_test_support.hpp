#pragma once
// Test support for HTTP components: an io_context run by worker threads, a fake Host, a fake
// Consumer, and a blocking Beast client with socket timeouts (so a broken server fails the test
// instead of hanging it).

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "agent/component/component.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::testing::http_fakes {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// An io_context with worker threads, like the agent's runtime.
class IoRunner {
 public:
  explicit IoRunner(int threads = 2) : guard_(net::make_work_guard(io_)) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~IoRunner() {
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  net::io_context& io() { return io_; }

 private:
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

class FakeHost : public component::Host {
 public:
  explicit FakeHost(net::io_context& io) : io_(io) {}
  net::io_context& io_context() override { return io_; }
  telemetry::Telemetry& telemetry() override { return telemetry_; }
  component::Extension* extension(std::string_view) override { return nullptr; }
  bool pipelines_ready() const override { return ready.load(); }

  std::atomic<bool> ready{false};

 private:
  net::io_context& io_;
  telemetry::Telemetry telemetry_;
};

// Records what it is given and answers with a configurable status.
class FakeConsumer : public component::Consumer {
 public:
  component::Status consume(component::Batch&& batch) override {
    std::lock_guard lock(mu_);
    ++calls_;
    items_ += batch.item_count();
    signals_.push_back(batch.signal());
    return status_;
  }
  void set_status(component::Status s) {
    std::lock_guard lock(mu_);
    status_ = std::move(s);
  }
  int calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::size_t items() const {
    std::lock_guard lock(mu_);
    return items_;
  }
  std::vector<model::Signal> signals() const {
    std::lock_guard lock(mu_);
    return signals_;
  }

 private:
  mutable std::mutex mu_;
  int calls_ = 0;
  std::size_t items_ = 0;
  std::vector<model::Signal> signals_;
  component::Status status_;
};

// A blocking HTTP/1.1 client on its own io_context. Reads and writes time out after 5 s.
class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(io_) {
    beast::error_code ec;
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    connected_ = !ec;
    if (connected_) {
      timeval tv{5, 0};
      ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
  }
  bool connected() const { return connected_; }
  tcp::socket& socket() { return socket_; }

  // Sends a request; returns the response, or nullopt (with error()) on a transport error.
  std::optional<http::response<http::string_body>> request(
      http::verb method, const std::string& target, std::string body = {},
      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.prepare_payload();
    beast::error_code ec;
    http::write(socket_, req, ec);
    if (ec) {
      error_ = ec;
      return std::nullopt;
    }
    return read_response();
  }

  std::optional<http::response<http::string_body>> read_response() {
    beast::error_code ec;
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res, ec);
    if (ec) {
      error_ = ec;
      return std::nullopt;
    }
    return res;
  }

  // Writes raw bytes (a partial request, say).
  bool write_raw(const std::string& bytes) {
    beast::error_code ec;
    net::write(socket_, net::buffer(bytes), ec);
    error_ = ec;
    return !ec;
  }

  // True when the server closed the connection (EOF or reset) before `timeout`.
  bool closed_by_peer() {
    char c;
    beast::error_code ec;
    socket_.read_some(net::buffer(&c, 1), ec);
    error_ = ec;
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

  void close() {
    beast::error_code ec;
    socket_.close(ec);
  }
  beast::error_code error() const { return error_; }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
  beast::error_code error_;
};

// Value of a counter or 0 when absent, from the registry's collected families.
inline double counter_value(telemetry::Telemetry& t, const std::string& name,
                            const std::map<std::string, std::string>& labels) {
  for (const auto& family : t.registry().Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      std::map<std::string, std::string> have;
      for (const auto& l : metric.label) have[l.name] = l.value;
      bool match = true;
      for (const auto& [k, v] : labels) {
        if (have[k] != v) match = false;
      }
      if (match) return metric.counter.value;
    }
  }
  return 0;
}

}  // namespace vigil::testing::http_fakes

// Each support header keeps its fakes in a namespace of its own (one test executable links
// several), and makes them visible to the tests that include it.
namespace vigil::testing {
using namespace http_fakes;
}  // namespace vigil::testing
