#include "agent/runtime/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "agent/telemetry/log.hpp"

namespace vigil::runtime {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::string_view kLogComponent = "http_server";
constexpr std::size_t kFirstReadBytes = 16 * 1024;
// After an error response that closes the connection, the client may still be sending its body.
// Closing with unread input makes the kernel send RST, which can destroy the response before the
// client reads it, so we half-close and discard input for a short while (a "lingering close").
constexpr std::size_t kLingerMaxBytes = 4 * 1024 * 1024;
constexpr std::chrono::seconds kLingerTimeout{2};
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

std::string_view sv(beast::string_view s) {
  return {s.data(), s.size()};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string format_endpoint(const tcp::endpoint& ep) {
  beast::error_code ec;
  std::string host = ep.address().to_string(ec);
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

void log_warn(std::string_view key, std::string_view message) {
  telemetry::log_limited(telemetry::Level::kWarn, key, kLogComponent, message);
}

}  // namespace

const std::string* HttpRequest::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

bool split_endpoint(const std::string& endpoint, std::string& host, std::uint16_t& port, std::string& error) {
  std::string_view port_text;
  if (!endpoint.empty() && endpoint.front() == '[') {
    std::size_t close = endpoint.find(']');
    if (close == std::string::npos || close + 1 >= endpoint.size() || endpoint[close + 1] != ':') {
      error = "endpoint \"" + endpoint + "\": expected \"[ipv6]:port\"";
      return false;
    }
    host = endpoint.substr(1, close - 1);
    port_text = std::string_view(endpoint).substr(close + 2);
  } else {
    std::size_t colon = endpoint.rfind(':');
    if (colon == std::string::npos) {
      error = "endpoint \"" + endpoint + "\": missing port (expected \"host:port\")";
      return false;
    }
    host = endpoint.substr(0, colon);
    if (host.find(':') != std::string::npos) {
      error = "endpoint \"" + endpoint + "\": an IPv6 address must be written in brackets (\"[::1]:4318\")";
      return false;
    }
    port_text = std::string_view(endpoint).substr(colon + 1);
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() || value > 65535) {
    error = "endpoint \"" + endpoint + "\": invalid port \"" + std::string(port_text) + "\"";
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  // ":4318" listens on every interface, as in the Collector; "localhost" is pinned to IPv4
  // loopback so the result does not depend on the resolver's order.
  if (host.empty()) host = "0.0.0.0";
  if (iequals(host, "localhost")) host = "127.0.0.1";
  return true;
}

class HttpSession;

// The server's shared state. Sessions and pending accepts hold it, so it outlives the
// HttpServer object until the last connection is gone.
struct ServerState : std::enable_shared_from_this<ServerState> {
  ServerState(net::io_context& io_context, HttpServerOptions opts, HttpServer::Handler h)
      : io(io_context),
        options(std::move(opts)),
        handler(std::move(h)),
        acceptor(net::make_strand(io_context)),
        retry_timer(acceptor.get_executor()) {}

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);

  // Runs the handler unless the server is stopping. False when stopped (no response is sent).
  bool call_handler(HttpRequest& request, HttpResponse& response);

  net::io_context& io;
  HttpServerOptions options;
  HttpServer::Handler handler;
  tcp::acceptor acceptor;  // used on its strand only, after start()
  net::steady_timer retry_timer;
  std::atomic<std::uint16_t> bound_port{0};
  std::string bound_text;

  // Live sessions, tracked weakly so a finished session frees itself.
  std::mutex mu;
  bool started = false;
  bool stopped = false;
  std::vector<std::weak_ptr<HttpSession>> sessions;

  // Handlers run under a shared lock; stop() takes it exclusively, so once stop() returns no
  // handler is running and none will start (the owner may then be destroyed).
  std::shared_mutex handler_mu;
  bool handler_closed = false;
};

// One connection. All its work runs on its own strand.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<ServerState> server)
      : stream_(std::move(socket)), server_(std::move(server)) {
    beast::error_code ec;
    auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = format_endpoint(remote);
  }

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::wait_request, shared_from_this()));
  }

  // From any thread: closes the connection on its strand.
  void close_async() {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->close_now(); });
  }

 private:
  void close_now() {
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    stream_.cancel();
  }

  // Waits for the first bytes of the next request under the idle timeout; then the whole request
  // must arrive within read_timeout.
  void wait_request() {
    if (closed_) return;
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(server_->options.max_header_bytes, UINT32_MAX)));
    if (buffer_.size() > 0) {
      read_header();
      return;
    }
    stream_.expires_after(server_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                            beast::bind_front_handler(&HttpSession::on_first_bytes, shared_from_this()));
  }

  void on_first_bytes(beast::error_code ec, std::size_t n) {
    if (ec) return close_now();  // idle timeout, client gone, or closed by stop()
    buffer_.commit(n);
    read_header();
  }

  void read_header() {
    if (closed_) return;
    stream_.expires_after(server_->options.read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&HttpSession::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    if (closed_) return;
    const auto& req = parser_->get();
    auto expect = req.find(http::field::expect);
    if (expect != req.end() && iequals(sv(expect->value()), "100-continue") && !parser_->is_done()) {
      // The client waits for a go-ahead before sending the body (curl does this for large
      // bodies); a body over the limit has already been refused by the header check.
      continue_.emplace(http::status::continue_, req.version());
      http::async_write(stream_, *continue_,
                        beast::bind_front_handler(&HttpSession::on_continue, shared_from_this()));
      return;
    }
    read_body();
  }

  void on_continue(beast::error_code ec, std::size_t) {
    continue_.reset();
    if (ec) return close_now();
    read_body();
  }

  void read_body() {
    if (closed_) return;
    if (parser_->is_done()) return process();
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    process();
  }

  void on_read_error(beast::error_code ec) {
    if (closed_) return;
    if (ec == http::error::body_limit) {
      return send_error(
          http::status::payload_too_large,
          "request body larger than " + std::to_string(server_->options.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return send_error(http::status::request_header_fields_too_large, "request header too large");
    }
    if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return send_error(http::status::bad_request, "malformed HTTP request: " + ec.message());
    }
    // The client went away, timed out, or stop() closed us: nothing to answer.
    close_now();
  }

  void send_error(http::status status, std::string message) {
    unsigned version = 11;
    if (parser_ && parser_->is_header_done()) version = parser_->get().version();
    res_ = {};
    res_.version(version);
    res_.result(status);
    res_.set(http::field::content_type, "text/plain; charset=utf-8");
    res_.body() = std::move(message);
    res_.body() += "\n";
    write_response(false);
  }

  // Allocation failures (a request copied while memory is short) must not escape into the
  // io_context: the connection is dropped and the server goes on.
  void process() {
    try {
      process_request();
    } catch (const std::exception& e) {
      log_warn("http_server/process", std::string("dropping a connection: ") + e.what());
      close_now();
    }
  }

  void process_request() {
    if (closed_) return;
    http::request<http::string_body> req = parser_->release();
    parser_.reset();

    HttpRequest request;
    request.method = std::string(sv(req.method_string()));
    request.target = std::string(sv(req.target()));
    std::size_t q = request.target.find('?');
    request.path = q == std::string::npos ? request.target : request.target.substr(0, q);
    request.headers.reserve(16);
    for (const auto& field : req)
      request.headers.emplace_back(lower(sv(field.name_string())), std::string(sv(field.value())));
    request.body = std::move(req.body());
    request.remote_address = remote_;

    HttpResponse response;
    if (!server_->call_handler(request, response)) return close_now();

    bool keep = req.keep_alive();
    res_ = {};
    res_.version(req.version());
    // Beast throws on a code outside 100..999; a handler bug must not escape the io_context.
    res_.result(response.status >= 100 && response.status <= 999 ? response.status : 500u);
    for (auto& [name, value] : response.headers) {
      if (iequals(name, "connection")) {
        if (iequals(value, "close")) keep = false;
        continue;  // keep_alive() below writes the header
      }
      res_.insert(name, value);
    }
    res_.body() = std::move(response.body);
    write_response(keep);
  }

  void write_response(bool keep) {
    res_.keep_alive(keep);
    res_.prepare_payload();
    stream_.expires_after(server_->options.read_timeout);
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&HttpSession::on_write, shared_from_this(), keep));
  }

  void on_write(bool keep, beast::error_code ec, std::size_t) {
    res_ = {};
    if (ec) return close_now();
    if (!keep) return linger();
    wait_request();
  }

  void linger() {
    if (closed_) return;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close_now();
    stream_.expires_after(kLingerTimeout);
    drain();
  }

  void drain() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(64 * 1024),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->lingered_ += n;
                              if (ec || self->closed_ || self->lingered_ > kLingerMaxBytes)
                                return self->close_now();
                              self->drain();
                            });
  }

  beast::tcp_stream stream_;
  std::shared_ptr<ServerState> server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  http::response<http::string_body> res_;
  std::string remote_;
  std::size_t lingered_ = 0;
  bool closed_ = false;
};

bool ServerState::call_handler(HttpRequest& request, HttpResponse& response) {
  std::shared_lock lock(handler_mu);
  if (handler_closed) return false;
  try {
    response = handler(request);
  } catch (const std::exception& e) {
    log_warn("http_server/handler_exception", std::string("request handler failed: ") + e.what());
    response = HttpResponse{500, {{"Content-Type", "text/plain; charset=utf-8"}}, "internal error\n"};
  } catch (...) {
    log_warn("http_server/handler_exception", "request handler failed with an unknown exception");
    response = HttpResponse{500, {{"Content-Type", "text/plain; charset=utf-8"}}, "internal error\n"};
  }
  return true;
}

void ServerState::do_accept() {
  acceptor.async_accept(net::make_strand(io),
                        beast::bind_front_handler(&ServerState::on_accept, shared_from_this()));
}

void ServerState::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {
    // EMFILE and friends: back off instead of spinning, and keep serving existing connections.
    log_warn("http_server/accept/" + bound_text, "accept on " + bound_text + ": " + ec.message());
    retry_timer.expires_after(kAcceptRetryDelay);
    retry_timer.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec && self->acceptor.is_open()) self->do_accept();
    });
    return;
  }
  try {
    auto session = std::make_shared<HttpSession>(std::move(socket), shared_from_this());
    bool run = false;
    {
      std::lock_guard lock(mu);
      if (!stopped) {
        std::erase_if(sessions, [](const std::weak_ptr<HttpSession>& w) { return w.expired(); });
        sessions.push_back(session);
        run = true;
      }
    }
    if (run) session->run();
  } catch (const std::exception& e) {
    log_warn("http_server/session", std::string("cannot start a session: ") + e.what());
  }
  do_accept();
}

struct HttpServer::Impl : ServerState {
  using ServerState::ServerState;
};

HttpServer::HttpServer(boost::asio::io_context& io, HttpServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() {
  stop();
}

std::string HttpServer::start() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mu);
    if (s.started) return "HTTP server already started";
    if (s.stopped) return "HTTP server stopped";
  }
  std::string host;
  std::uint16_t port = 0;
  std::string error;
  if (!split_endpoint(s.options.endpoint, host, port, error)) return error;

  beast::error_code ec;
  tcp::endpoint endpoint;
  auto address = net::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, port);
  } else {
    tcp::resolver resolver(s.io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return "listen on " + s.options.endpoint + ": cannot resolve \"" + host + "\"" +
             (ec ? ": " + ec.message() : std::string());
    }
    endpoint = results.begin()->endpoint();
  }
  std::string where = format_endpoint(endpoint);
  auto fail = [&](const beast::error_code& e) {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    return "listen on " + where + ": " + e.message();
  };
  s.acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail(ec);
  s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail(ec);
  s.acceptor.bind(endpoint, ec);
  if (ec) return fail(ec);
  s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec);
  auto local = s.acceptor.local_endpoint(ec);
  if (ec) return fail(ec);
  s.bound_port = local.port();
  s.bound_text = format_endpoint(local);
  {
    std::lock_guard lock(s.mu);
    s.started = true;
  }
  net::dispatch(s.acceptor.get_executor(), [self = impl_] { self->do_accept(); });
  return "";
}

void HttpServer::stop() {
  if (!impl_) return;
  Impl& s = *impl_;
  {
    // Waits for running handlers to return; none starts afterwards.
    std::unique_lock lock(s.handler_mu);
    s.handler_closed = true;
  }
  std::vector<std::shared_ptr<HttpSession>> live;
  bool was_started = false;
  {
    std::lock_guard lock(s.mu);
    if (s.stopped) return;
    s.stopped = true;
    was_started = s.started;
    for (auto& weak : s.sessions) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
    s.sessions.clear();
  }
  if (was_started) {
    // The port must be free when stop() returns (a reload binds it again at once), so the close
    // runs on the acceptor's strand and stop() waits for it. If the io_context is not running,
    // nothing else touches the acceptor and it is closed here after the wait.
    auto close = [self = impl_] {
      beast::error_code ec;
      self->acceptor.close(ec);
      self->retry_timer.cancel();
    };
    // stop() runs on the control thread, never on the acceptor's strand.
    auto done = std::make_shared<std::promise<void>>();
    auto closed = done->get_future();
    net::post(s.acceptor.get_executor(), [close, done] {
      close();
      done->set_value();
    });
    if (closed.wait_for(std::chrono::seconds(2)) != std::future_status::ready) close();
  }
  for (auto& session : live) session->close_async();
}

std::uint16_t HttpServer::port() const {
  return impl_->bound_port.load();
}

}  // namespace vigil::runtime
