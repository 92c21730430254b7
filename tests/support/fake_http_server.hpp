#pragma once
// A scriptable HTTP/1.1 server for tests of outbound HTTP (the runtime HttpClient, the AWS
// credential providers, the CloudWatch Logs client): binds 127.0.0.1 on a free port, runs its own
// io threads, hands every request to a handler (or answers from a script of responses), records
// what it received, keeps connections alive when the client asks for it, and shuts down cleanly in
// its destructor.
//
//   vigil::testing::fake_http::FakeHttpServer server([](const Request& r) {
//     if (r.target == "/latest/api/token") return Response{200, {}, "token"};
//     return Response{404, {}, "no"};
//   });
//   client.get(server.url() + "/latest/api/token");
//   CHECK(server.count() == 1);
//
// Order of answers: a scripted response (script()) when one is queued, else the handler, else
// 200 with an empty body. The handler runs on a server thread: it must not block for long (use
// Response::delay to answer late, which does not hold a thread).
//
// A request target in absolute form ("http://host:port/path", what an HTTP proxy receives) is
// accepted and recorded as sent, so the same server plays a proxy.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace vigil::testing::fake_http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

inline std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

struct Request {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // "/path?query" (or absolute form through a proxy)
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case, in order
  std::string body;
  int connection = 0;  // which accepted connection carried it (1, 2, ...): keep-alive checks

  // The first header named `name` (any case), or "" when absent.
  std::string header(std::string_view name) const {
    const std::string want = lower_ascii(name);
    for (const auto& [k, v] : headers) {
      if (k == want) return v;
    }
    return {};
  }
  bool has_header(std::string_view name) const {
    const std::string want = lower_ascii(name);
    for (const auto& [k, v] : headers) {
      if (k == want) return true;
    }
    return false;
  }
  // The path of the target without the query.
  std::string path() const { return target.substr(0, target.find('?')); }
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Answer this late (the timer does not hold a server thread).
  std::chrono::milliseconds delay{0};
  // Close the connection after this answer even when the client asked for keep-alive.
  bool close = false;
};

class FakeHttpServer {
 public:
  using Handler = std::function<Response(const Request&)>;

  explicit FakeHttpServer(Handler handler = {}, int threads = 2)
      : handler_(std::move(handler)), guard_(net::make_work_guard(io_)), acceptor_(io_) {
    const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept();
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  ~FakeHttpServer() {
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    beast::error_code ec;
    acceptor_.close(ec);
    // Destroying io_ (after this body) destroys the pending handlers, which own the sessions and
    // so close their sockets.
  }

  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>"
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void set_handler(Handler handler) {
    std::lock_guard lock(mu_);
    handler_ = std::move(handler);
  }
  // Queues a response: the next request gets it instead of the handler's.
  void script(Response response) {
    std::lock_guard lock(mu_);
    script_.push_back(std::move(response));
  }

  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::size_t count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  // Requests whose path (target without query) is `path`.
  std::size_t count(std::string_view path) const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& r : requests_) n += r.path() == path;
    return n;
  }
  // The last request; an empty Request when there was none.
  Request last() const {
    std::lock_guard lock(mu_);
    return requests_.empty() ? Request{} : requests_.back();
  }
  void clear() {
    std::lock_guard lock(mu_);
    requests_.clear();
  }
  // Connections accepted so far.
  int connections() const { return connections_.load(); }

 private:
  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(FakeHttpServer& server, tcp::socket socket, int id)
        : server_(server), socket_(std::move(socket)), timer_(socket_.get_executor()), id_(id) {}

    void read() {
      parser_.emplace();
      parser_->body_limit(256u << 20);
      parser_->header_limit(1u << 20);
      http::async_read(socket_, buffer_, *parser_,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

   private:
    void on_read(beast::error_code ec) {
      if (ec) return close();
      http::request<http::string_body> req = parser_->release();
      Request r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (const auto& field : req) r.headers.emplace_back(lower_ascii(std::string_view(field.name_string().data(), field.name_string().size())), std::string(field.value()));
      r.body = std::move(req.body());
      r.connection = id_;
      const Response answer = server_.answer(r);

      res_ = {};
      res_.result(static_cast<unsigned>(answer.status));
      res_.version(11);
      for (const auto& [k, v] : answer.headers) res_.set(k, v);
      res_.body() = answer.body;
      keep_alive_ = req.keep_alive() && !answer.close;
      res_.keep_alive(keep_alive_);
      res_.prepare_payload();
      if (answer.delay.count() > 0) {
        timer_.expires_after(answer.delay);
        timer_.async_wait([self = shared_from_this()](beast::error_code e) {
          if (!e) self->write();
        });
      } else {
        write();
      }
    }

    void write() {
      http::async_write(socket_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec || !self->keep_alive_) return self->close();
        self->read();
      });
    }

    void close() {
      beast::error_code ec;
      socket_.shutdown(tcp::socket::shutdown_both, ec);
      socket_.close(ec);
    }

    FakeHttpServer& server_;
    tcp::socket socket_;
    net::steady_timer timer_;
    int id_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http::response<http::string_body> res_;
    bool keep_alive_ = false;
  };

  void accept() {
    acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
        return accept();
      }
      const int id = ++connections_;
      std::make_shared<Session>(*this, std::move(socket), id)->read();
      accept();
    });
  }

  Response answer(const Request& r) {
    Handler handler;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
      if (!script_.empty()) {
        Response next = std::move(script_.front());
        script_.pop_front();
        return next;
      }
      handler = handler_;
    }
    if (handler) return handler(r);
    return Response{};
  }

  mutable std::mutex mu_;
  Handler handler_;
  std::deque<Response> script_;
  std::vector<Request> requests_;
  std::atomic<int> connections_{0};

  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> guard_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace vigil::testing::fake_http
