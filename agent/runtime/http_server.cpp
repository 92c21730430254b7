#include "agent/runtime/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

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
// Connections refused over max_connections get their 503 and a lingering close too; past this
// many at once, further ones are closed without an answer, so refusing stays bounded as well.
constexpr std::size_t kMaxRefusingConnections = 64;
// A TLS connection the server closes sends close_notify and waits this long for the client's.
constexpr std::chrono::seconds kTlsShutdownTimeout{2};
// The answer to plain HTTP sent to a TLS port (as Go's net/http answers it), written without TLS.
constexpr std::string_view kPlainHttpToTls =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
    "Content-Length: 48\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
constexpr std::chrono::milliseconds kStopPollInterval{20};
constexpr std::chrono::seconds kStopWarnAfter{2};

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

// What the server keeps of a session, whatever its stream type.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Starts serving (the TLS handshake first, if any) on the session's strand.
  virtual void run() = 0;
  // From any thread: closes the connection on its strand (gracefully where it is idle).
  virtual void close_async() = 0;
};

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

  // Adds n to the body bytes in flight unless that would pass max_inflight_body_bytes.
  bool reserve_body_bytes(std::size_t n);
  void release_body_bytes(std::size_t n) { inflight_body_bytes.fetch_sub(n); }

  // Closes the acceptor exactly once, whichever of stop()'s posted close and its fallback gets
  // here first: two closes could otherwise race and the second close a descriptor number that
  // was reused in between.
  void close_acceptor();

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
  std::vector<std::weak_ptr<SessionBase>> sessions;

  // Handlers: stop() sets `closing` and then waits until `handlers_running` is zero; a handler
  // counts itself in under handler_mu only while `closing` is unset. So once stop() returns no
  // handler runs and none will start (the owner may then be destroyed). handler_mu is held only
  // to count, never for a handler's duration: a shared lock held by handlers (the former design)
  // starved stop() under steady load, because glibc's rwlock prefers readers.
  std::atomic<bool> closing{false};
  std::mutex handler_mu;
  std::condition_variable handlers_idle;
  std::size_t handlers_running = 0;

  std::atomic<bool> acceptor_closed{false};

  // Bounds (HttpServerOptions::max_connections, max_inflight_body_bytes) and their counters.
  std::atomic<std::size_t> connections{0};  // sessions serving requests
  std::atomic<std::size_t> refusing{0};     // sessions answering 503 for max_connections
  std::atomic<std::size_t> inflight_body_bytes{0};
  std::atomic<std::uint64_t> refused_connections{0};
  std::atomic<std::uint64_t> refused_requests{0};
  std::atomic<std::uint64_t> failed_handshakes{0};
};

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection, plain (PlainStream) or TLS (TlsStream). All its work runs on its own strand.
// The HTTP logic is the same for both; TLS adds the handshake before the first request and a
// close_notify exchange when the server closes an idle or finished connection.
template <class Stream>
class HttpSession final : public SessionBase, public std::enable_shared_from_this<HttpSession<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  using std::enable_shared_from_this<HttpSession<Stream>>::shared_from_this;

 public:
  // A refusing session answers 503 to a connection over max_connections and closes it (after the
  // handshake, over TLS). Each session counts itself in its server's `connections` or `refusing`
  // while it lives.
  HttpSession(tcp::socket&& socket, std::shared_ptr<ServerState> server, bool refusing)
      : stream_(make_stream(std::move(socket), *server)), server_(std::move(server)), refusing_(refusing) {
    (refusing_ ? server_->refusing : server_->connections).fetch_add(1);
    beast::error_code ec;
    auto remote = lowest().socket().remote_endpoint(ec);
    if (!ec) remote_ = format_endpoint(remote);
    on_chunk_ = [this](std::uint64_t size, beast::string_view, beast::error_code& chunk_ec) {
      on_chunk_header(size, chunk_ec);
    };
  }
  ~HttpSession() {
    release_body();
    (refusing_ ? server_->refusing : server_->connections).fetch_sub(1);
  }
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  void run() override {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if constexpr (kTls) {
        self->handshake();
      } else {
        self->serve();
      }
    });
  }

  void close_async() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] { self->close_on_stop(); });
  }

 private:
  static Stream make_stream(tcp::socket&& socket, ServerState& server) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *server.options.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  // The TCP layer: timeouts, the socket, raw reads.
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // After the handshake, if any: the 503 of a refusing session, or the first request.
  void serve() {
    if (closed_) return;
    if (refusing_) {
      return send_error(
          http::status::service_unavailable,
          "too many open connections (" + std::to_string(server_->options.max_connections) + "), retry later",
          true);
    }
    wait_request();
  }

  void handshake() {
    lowest().expires_after(server_->options.read_timeout);
    stream_.async_handshake(net::ssl::stream_base::server,
                            beast::bind_front_handler(&HttpSession::on_handshake, shared_from_this()));
  }

  void on_handshake(beast::error_code ec) {
    if (!ec) return serve();
    if (closed_) return;  // stop() closed the connection
    const auto failed = server_->failed_handshakes.fetch_add(1) + 1;
    const bool plain_http = ec.category() == net::error::get_ssl_category() &&
                            ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST;
    std::string reason = plain_http ? std::string("the client sent plain HTTP") : ec.message();
    log_warn("http_server/tls_handshake/" + server_->bound_text,
             "TLS handshake from " + remote_ + " on " + server_->bound_text + " failed: " + reason + " (" +
                 std::to_string(failed) + " failed so far)");
    if (!plain_http) return close_now();
    // Nothing was sent yet: tell a plain-HTTP client in its own protocol, then close.
    lowest().expires_after(server_->options.read_timeout);
    net::async_write(lowest(), net::buffer(kPlainHttpToTls.data(), kPlainHttpToTls.size()),
                     [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                       if (write_ec) return self->close_now();
                       self->linger_tcp();
                     });
  }

  // stop(): a TLS connection waiting for its next request says goodbye with close_notify, and so
  // does one still writing a response (once the response is out: the client may already hold it
  // and be waiting for the next exchange); any other connection (plain, or reading a request) is
  // closed at once.
  void close_on_stop() {
    if (closed_) return;
    if constexpr (kTls) {
      if (idle_) {
        stopping_ = true;
        lowest().cancel();  // on_first_bytes sees stopping_
        return;
      }
      if (writing_) {
        stopping_ = true;  // on_write -> wait_request sees it; the write is bounded by read_timeout
        return;
      }
    }
    close_now();
  }

  void close_now() {
    closed_ = true;
    release_body();
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().socket().close(ec);
    lowest().cancel();
  }

  // TLS: sends close_notify and waits, bounded, for the client's; then closes. While waiting,
  // OpenSSL discards what the client still sends (the rest of a refused body), so the response
  // written before is not destroyed by a reset.
  void shutdown_tls() {
    if constexpr (kTls) {
      closed_ = true;
      release_body();
      lowest().expires_after(kTlsShutdownTimeout);
      stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->close_now(); });
    }
  }

  // Waits for the first bytes of the next request under the idle timeout; then the whole request
  // must arrive within read_timeout.
  void wait_request() {
    if (closed_) return;
    if (stopping_) return shutdown_tls();  // stop() came while the last response was written (TLS)
    parser_.emplace();
    budget_refused_ = false;
    parser_->body_limit(body_limit());
    parser_->on_chunk_header(on_chunk_);
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(server_->options.max_header_bytes, UINT32_MAX)));
    if (buffer_.size() > 0) {
      read_header();
      return;
    }
    lowest().expires_after(server_->options.idle_timeout);
    idle_ = true;
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                            beast::bind_front_handler(&HttpSession::on_first_bytes, shared_from_this()));
  }

  void on_first_bytes(beast::error_code ec, std::size_t n) {
    idle_ = false;
    if (stopping_) return shutdown_tls();  // stop() while idle (TLS)
    if (ec) return close_now();            // idle timeout, client gone, or closed by stop()
    buffer_.commit(n);
    read_header();
  }

  void read_header() {
    if (closed_) return;
    lowest().expires_after(server_->options.read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&HttpSession::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    if (closed_) return;
    // Reserve the declared body before Beast allocates it (it reserves the whole Content-Length
    // when the body read starts) and before a 100-continue invites the client to send it.
    if (auto length = parser_->content_length(); length && !parser_->is_done()) {
      if (!reserve_body(static_cast<std::size_t>(*length))) return refuse_busy();
    }
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
    if (budget_refused_) return refuse_busy();
    if (ec == http::error::body_limit) {
      return send_error(http::status::payload_too_large,
                        "request body larger than " + std::to_string(body_limit()) + " bytes");
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

  // Answers and closes the connection; the request being read, if any, is dropped.
  void send_error(http::status status, std::string message, bool retry_after = false) {
    unsigned version = 11;
    if (parser_ && parser_->is_header_done()) version = parser_->get().version();
    parser_.reset();
    release_body();
    res_ = {};
    res_.version(version);
    res_.result(status);
    res_.set(http::field::content_type, "text/plain; charset=utf-8");
    if (retry_after) res_.set(http::field::retry_after, "1");
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
    // The request is complete: free its body and its share of max_inflight_body_bytes.
    std::string().swap(request.body);
    release_body();

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
    lowest().expires_after(server_->options.read_timeout);
    writing_ = true;
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&HttpSession::on_write, shared_from_this(), keep));
  }

  void on_write(bool keep, beast::error_code ec, std::size_t) {
    writing_ = false;
    res_ = {};
    if (ec) return close_now();
    if (!keep) return linger();
    wait_request();
  }

  // The server closes after a response: TLS ends with close_notify, plain TCP with a half-close;
  // either way the client's unread input is drained for a while first.
  void linger() {
    if (closed_) return;
    if constexpr (kTls) {
      shutdown_tls();
    } else {
      linger_tcp();
    }
  }

  void linger_tcp() {
    if (closed_) return;
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close_now();
    lowest().expires_after(kLingerTimeout);
    drain();
  }

  // Raw TCP reads, discarded (over TLS only after TLS was abandoned).
  void drain() {
    buffer_.clear();
    lowest().async_read_some(buffer_.prepare(64 * 1024),
                             [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                               self->lingered_ += n;
                               if (ec || self->closed_ || self->lingered_ > kLingerMaxBytes)
                                 return self->close_now();
                               self->drain();
                             });
  }

  // Bodies larger than the whole in-flight budget could never be served: 413 for them as well.
  std::size_t body_limit() const {
    return std::min(server_->options.max_body_bytes, server_->options.max_inflight_body_bytes);
  }

  bool reserve_body(std::size_t n) {
    if (!server_->reserve_body_bytes(n)) return false;
    body_reserved_ += n;
    return true;
  }

  void release_body() {
    if (body_reserved_ == 0) return;
    server_->release_body_bytes(body_reserved_);
    body_reserved_ = 0;
  }

  // A chunked body is reserved chunk by chunk, before each chunk's data is read (Beast has
  // checked the chunk against body_limit already).
  void on_chunk_header(std::uint64_t size, beast::error_code& ec) {
    if (size == 0 || reserve_body(static_cast<std::size_t>(size))) return;
    budget_refused_ = true;
    ec = net::error::no_buffer_space;  // stops the read; see on_read_error
  }

  // Over max_inflight_body_bytes: a retryable 503 before (the rest of) the body is read.
  void refuse_busy() {
    const auto refused = server_->refused_requests.fetch_add(1) + 1;
    log_warn("http_server/max_inflight_body_bytes/" + server_->bound_text,
             "refused a request from " + remote_ + " on " + server_->bound_text +
                 ": request bodies in flight would pass " +
                 std::to_string(server_->options.max_inflight_body_bytes) + " bytes (" +
                 std::to_string(refused) + " refused so far)");
    send_error(http::status::service_unavailable, "too many request bytes in flight, retry later", true);
  }

  Stream stream_;
  std::shared_ptr<ServerState> server_;
  const bool refusing_;
  std::function<void(std::uint64_t, beast::string_view, beast::error_code&)> on_chunk_;
  std::size_t body_reserved_ = 0;  // this session's share of the server's inflight_body_bytes
  bool budget_refused_ = false;    // the current read stopped because the budget is spent
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  http::response<http::string_body> res_;
  std::string remote_;
  std::size_t lingered_ = 0;
  bool closed_ = false;
  bool idle_ = false;      // waiting for the first bytes of a request
  bool writing_ = false;   // a response is being written
  bool stopping_ = false;  // stop() asked an idle (or answering) TLS connection to close
};

bool ServerState::call_handler(HttpRequest& request, HttpResponse& response) {
  if (closing.load()) return false;
  {
    // Checked again under the lock: stop() may have set `closing` since, and must then either
    // see this handler counted or have this handler see `closing`.
    std::lock_guard lock(handler_mu);
    if (closing.load()) return false;
    ++handlers_running;
  }
  struct CountOut {
    ServerState& s;
    ~CountOut() {
      std::lock_guard lock(s.handler_mu);
      if (--s.handlers_running == 0) s.handlers_idle.notify_all();
    }
  } count_out{*this};
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

bool ServerState::reserve_body_bytes(std::size_t n) {
  const std::size_t limit = options.max_inflight_body_bytes;
  std::size_t current = inflight_body_bytes.load();
  do {
    if (n > limit || current > limit - n) return false;
  } while (!inflight_body_bytes.compare_exchange_weak(current, current + n));
  return true;
}

void ServerState::close_acceptor() {
  if (acceptor_closed.exchange(true)) return;
  beast::error_code ec;
  acceptor.close(ec);
  retry_timer.cancel();
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
    // Only this strand adds sessions, so the count cannot overshoot between check and add.
    const bool refuse = connections.load() >= options.max_connections;
    if (refuse) {
      const auto refused = refused_connections.fetch_add(1) + 1;
      log_warn("http_server/max_connections/" + bound_text,
               "refusing connections on " + bound_text + ": " + std::to_string(options.max_connections) +
                   " open connections (max_connections); " + std::to_string(refused) + " refused so far");
      if (refusing.load() >= kMaxRefusingConnections) {
        beast::error_code ignored;
        socket.close(ignored);
        return do_accept();
      }
    }
    std::shared_ptr<SessionBase> session;
    if (options.tls) {
      session = std::make_shared<HttpSession<TlsStream>>(std::move(socket), shared_from_this(), refuse);
    } else {
      session = std::make_shared<HttpSession<PlainStream>>(std::move(socket), shared_from_this(), refuse);
    }
    bool run = false;
    {
      std::lock_guard lock(mu);
      if (!stopped) {
        std::erase_if(sessions, [](const std::weak_ptr<SessionBase>& w) { return w.expired(); });
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
  // No handler starts once `closing` is set; then wait for the running ones to return. Setting it
  // first (not after taking a lock) is what keeps a steady stream of requests from delaying this.
  s.closing.store(true);
  {
    std::unique_lock lock(s.handler_mu);
    s.handlers_idle.wait(lock, [&s] { return s.handlers_running == 0; });
  }
  std::vector<std::shared_ptr<SessionBase>> live;
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
    // runs on the acceptor's strand (the acceptor is not thread-safe: on_accept uses it there) and
    // stop() waits for it. stop() runs on the control thread, never on that strand.
    //
    // While the io_context runs, the posted close is certain to run, so stop() waits for it as
    // long as it takes (a timed fallback could close the acceptor from here while the strand
    // uses it, or close it twice). Only once the io_context is stopped, when no thread will run
    // the posted close, does stop() close the acceptor itself; if the io_context is restarted
    // later, the posted close finds it closed (close_acceptor runs once) and does nothing.
    // (This relies on io_context::stop() coming from the control thread too, as it does in the
    // agent after its io threads are joined, so no accept handler is still running then.)
    // An io_context that is neither running nor stopped would make this wait forever; the agent
    // never does that (components stop before the io threads), and a warning says so if it happens.
    auto done = std::make_shared<std::promise<void>>();
    auto closed = done->get_future();
    net::post(s.acceptor.get_executor(), [self = impl_, done] {
      self->close_acceptor();
      done->set_value();
    });
    const auto since = std::chrono::steady_clock::now();
    while (closed.wait_for(kStopPollInterval) != std::future_status::ready) {
      if (s.io.stopped()) {
        s.close_acceptor();
        break;
      }
      if (std::chrono::steady_clock::now() - since >= kStopWarnAfter) {
        log_warn("http_server/stop/" + s.bound_text,
                 "stopping " + s.bound_text + ": still waiting for the io_context to close the listener");
      }
    }
  }
  for (auto& session : live) session->close_async();
}

std::uint16_t HttpServer::port() const {
  return impl_->bound_port.load();
}

HttpServerStats HttpServer::stats() const {
  HttpServerStats st;
  st.connections = impl_->connections.load();
  st.inflight_body_bytes = impl_->inflight_body_bytes.load();
  st.refused_connections = impl_->refused_connections.load();
  st.refused_requests = impl_->refused_requests.load();
  st.failed_handshakes = impl_->failed_handshakes.load();
  return st;
}

}  // namespace vigil::runtime
