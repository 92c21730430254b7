// OTLP/HTTP (protobuf) load: keep-alive connections with Boost.Beast, one request in flight per
// connection. The request bytes (headers and body) are built once per pooled request.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/otlp_load/load.hpp"

namespace vigil::bench {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpRequest {
  std::string bytes;  // request line, headers and body
  std::size_t items = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, const tcp::resolver::results_type& endpoints,
             const std::vector<HttpRequest>& requests, std::size_t first, Schedule& schedule,
             std::chrono::nanoseconds timeout, Stats& stats)
      : stream_(io),
        timer_(io),
        endpoints_(endpoints),
        requests_(requests),
        next_request_(first),
        schedule_(schedule),
        timeout_(timeout),
        stats_(stats) {}

  void start() { connect(); }

 private:
  void connect() {
    stream_.expires_after(timeout_);
    stream_.async_connect(endpoints_, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
      if (ec) {
        self->stats_.error("connect");
        self->retry_later();
        return;
      }
      self->stream_.socket().set_option(tcp::no_delay(true));
      self->next();
    });
  }

  // After a connection failure: wait a little, then connect again (unless the run is over).
  void retry_later() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    if (Clock::now() + std::chrono::milliseconds(100) >= schedule_.end()) return;
    timer_.expires_after(std::chrono::milliseconds(100));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->connect();
    });
  }

  void next() {
    Clock::time_point due;
    if (!schedule_.next(due)) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_.socket().close(ignored);
      return;
    }
    if (due <= Clock::now()) {
      send();
      return;
    }
    timer_.expires_at(due);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->send();
    });
  }

  void send() {
    const HttpRequest& r = requests_[next_request_];
    next_request_ = (next_request_ + 1) % requests_.size();
    items_ = r.items;
    sent_ = Clock::now();
    stream_.expires_after(timeout_);
    asio::async_write(stream_, asio::buffer(r.bytes), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->failed(ec, "write");
      self->read();
    });
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(1 << 20);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->failed(ec, "read");
      self->done();
    });
  }

  void done() {
    const Clock::time_point now = Clock::now();
    stats_.record(sent_, now);
    const auto& res = parser_->get();
    const int status = static_cast<int>(res.result_int());
    if (status == 200) {
      ++stats_.ok_requests;
      stats_.ok_items += items_;
    } else {
      stats_.error("http_" + std::to_string(status));
    }
    if (!res.keep_alive()) {
      beast::error_code ignored;
      stream_.socket().close(ignored);
      connect();
      return;
    }
    next();
  }

  void failed(beast::error_code ec, const char* what) {
    stats_.record(sent_, Clock::now());
    if (ec == beast::error::timeout) {
      stats_.error("timeout");
    } else if (ec == http::error::end_of_stream || ec == asio::error::eof ||
               ec == asio::error::connection_reset || ec == asio::error::broken_pipe) {
      stats_.error(std::string(what) + "_closed");
    } else {
      stats_.error(std::string(what) + "_error");
    }
    retry_later();
  }

  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  const tcp::resolver::results_type& endpoints_;
  const std::vector<HttpRequest>& requests_;
  std::size_t next_request_;
  Schedule& schedule_;
  std::chrono::nanoseconds timeout_;
  Stats& stats_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  Clock::time_point sent_{};
  std::size_t items_ = 0;
};

}  // namespace

Stats run_http(const Options& options, const std::vector<Request>& requests, Schedule& schedule) {
  const std::string path =
      !options.http_path.empty() ? options.http_path : (options.signal == SignalKind::kLogs ? "/v1/logs" : "/v1/traces");
  std::vector<HttpRequest> wire;
  wire.reserve(requests.size());
  for (const Request& r : requests) {
    HttpRequest w;
    w.items = r.items;
    w.bytes = "POST " + path + " HTTP/1.1\r\nHost: " + options.host + ":" + std::to_string(options.port) +
              "\r\nContent-Type: application/x-protobuf\r\nContent-Length: " + std::to_string(r.body.size()) +
              "\r\nUser-Agent: vigil-otlp-load\r\n\r\n" + r.body;
    wire.push_back(std::move(w));
  }

  const auto timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(options.timeout_s));
  const int threads = std::max(1, std::min(options.threads, options.connections));
  std::vector<Stats> stats(static_cast<std::size_t>(threads));
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<tcp::resolver::results_type> endpoints(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    ios.push_back(std::make_unique<asio::io_context>(1));
    tcp::resolver resolver(*ios.back());
    endpoints[static_cast<std::size_t>(t)] = resolver.resolve(options.host, std::to_string(options.port));
  }
  schedule.begin();
  for (int c = 0; c < options.connections; ++c) {
    const auto t = static_cast<std::size_t>(c % threads);
    std::make_shared<Connection>(*ios[t], endpoints[t], wire, static_cast<std::size_t>(c) % wire.size(), schedule,
                                 timeout, stats[t])
        ->start();
  }
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back([&, t] { ios[static_cast<std::size_t>(t)]->run(); });
  ios[0]->run();
  for (auto& w : workers) w.join();

  Stats all;
  for (Stats& s : stats) all.merge(std::move(s));
  return all;
}

}  // namespace vigil::bench
