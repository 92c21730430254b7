#include "tests/support/http_client.hpp"

#include <openssl/ssl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <cctype>
#include <sstream>

namespace vigil::testing {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

std::string HttpResult::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size()) {
      bool eq = true;
      for (std::size_t i = 0; i < k.size(); ++i) {
        eq = eq && std::tolower(static_cast<unsigned char>(k[i])) ==
                       std::tolower(static_cast<unsigned char>(name[i]));
      }
      if (eq) return v;
    }
  }
  return {};
}

HttpResult http_request(const std::string& method, std::uint16_t port, const std::string& target,
                        const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        std::chrono::milliseconds timeout) {
  HttpResult result;
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  stream.expires_after(timeout);
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return result;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return result;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 * 1024 * 1024);
  http::read(stream, buffer, parser, ec);
  if (ec) return result;
  auto& res = parser.get();
  result.status = static_cast<int>(res.result_int());
  result.body = res.body();
  for (const auto& f : res) result.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return result;
}

namespace ssl = boost::asio::ssl;

namespace {

// A client context verifying the server against tls.ca_file; `error` set when a file fails.
ssl::context client_context(const HttpsOptions& tls, std::string& error) {
  ssl::context ctx(ssl::context::tls_client);
  beast::error_code ec;
  ctx.set_verify_mode(ssl::verify_peer);
  ctx.load_verify_file(tls.ca_file, ec);
  if (ec) {
    error = "ca_file: " + ec.message();
    return ctx;
  }
  if (!tls.cert_file.empty()) {
    ctx.use_certificate_chain_file(tls.cert_file, ec);
    if (!ec) ctx.use_private_key_file(tls.key_file, ssl::context::pem, ec);
    if (ec) error = "client certificate: " + ec.message();
  }
  if (!tls.max_version.empty()) {
    SSL_CTX_set_max_proto_version(ctx.native_handle(),
                                  tls.max_version == "1.2" ? TLS1_2_VERSION : TLS1_3_VERSION);
  }
  return ctx;
}

}  // namespace

struct HttpsConnection::Impl {
  Impl(const HttpsOptions& tls, std::chrono::milliseconds t)
      : ctx(client_context(tls, error)), stream(io, ctx), timeout(t), host(tls.server_name) {}

  // Runs one asynchronous operation to completion on the private io_context, so the tcp_stream's
  // deadline bounds it (Beast's synchronous operations ignore it).
  template <class Start>
  beast::error_code step(const char* what, Start start) {
    beast::get_lowest_layer(stream).expires_after(timeout);
    beast::error_code ec = boost::asio::error::would_block;
    start([&ec](beast::error_code e, auto&&...) { ec = e; });
    io.restart();
    io.run();
    if (ec) error = std::string(what) + ": " + ec.message();
    return ec;
  }

  std::string error;
  boost::asio::io_context io;
  ssl::context ctx;
  beast::ssl_stream<beast::tcp_stream> stream;
  std::chrono::milliseconds timeout;
  std::string host;
  beast::flat_buffer buffer;
  bool connected = false;
};

HttpsConnection::HttpsConnection(std::uint16_t port, const HttpsOptions& tls,
                                 std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(tls, timeout)) {
  Impl& c = *impl_;
  if (!c.error.empty()) return;
  SSL_set_tlsext_host_name(c.stream.native_handle(), tls.server_name.c_str());
  SSL_set1_host(c.stream.native_handle(), tls.server_name.c_str());
  auto& tcp_layer = beast::get_lowest_layer(c.stream);
  const tcp::endpoint to(boost::asio::ip::make_address("127.0.0.1"), port);
  if (c.step("connect", [&](auto handler) { tcp_layer.async_connect(to, handler); })) return;
  if (c.step("handshake", [&](auto handler) { c.stream.async_handshake(ssl::stream_base::client, handler); }))
    return;
  c.connected = true;
}

HttpsConnection::~HttpsConnection() = default;

bool HttpsConnection::connected() const {
  return impl_->connected;
}

const std::string& HttpsConnection::error() const {
  return impl_->error;
}

HttpResult HttpsConnection::request(const std::string& method, const std::string& target,
                                    const std::string& body,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    bool keep_alive) {
  Impl& c = *impl_;
  HttpResult result;
  if (!c.connected) {
    result.error = c.error.empty() ? "not connected" : c.error;
    return result;
  }
  c.error.clear();
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, c.host);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.keep_alive(keep_alive);
  req.prepare_payload();
  const beast::error_code write_ec =
      c.step("write", [&](auto handler) { http::async_write(c.stream, req, handler); });
  const std::string write_error = c.error;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 * 1024 * 1024);
  if (c.step("read", [&](auto handler) { http::async_read(c.stream, c.buffer, parser, handler); })) {
    result.error = write_ec ? write_error + "; " + c.error : c.error;
    return result;
  }
  auto& res = parser.get();
  result.status = static_cast<int>(res.result_int());
  result.body = res.body();
  for (const auto& f : res) result.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return result;
}

HttpsConnection::Closed HttpsConnection::wait_closed() {
  Impl& c = *impl_;
  if (!c.connected) return Closed::kAbrupt;
  char byte;
  const beast::error_code ec = c.step(
      "wait_closed", [&](auto handler) { c.stream.async_read_some(boost::asio::buffer(&byte, 1), handler); });
  // Beast reports a close_notify as eof; a TCP close without one as stream_truncated.
  if (ec == boost::asio::error::eof) return Closed::kCloseNotify;
  if (!ec || ec == beast::error::timeout) return Closed::kNotClosed;
  return Closed::kAbrupt;
}

void HttpsConnection::close() {
  Impl& c = *impl_;
  if (!c.connected) return;
  c.connected = false;
  c.step("shutdown", [&](auto handler) { c.stream.async_shutdown(handler); });
}

HttpResult https_request(const std::string& method, std::uint16_t port, const std::string& target,
                         const HttpsOptions& tls, const std::string& body,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         std::chrono::milliseconds timeout) {
  HttpsConnection connection(port, tls, timeout);
  HttpResult result = connection.request(method, target, body, headers, false);
  // The server closes after a Connection: close response with close_notify; the answer is
  // already in either way.
  if (result.status != 0) connection.close();
  return result;
}

double prometheus_value(const std::string& text, const std::string& name,
                        const std::vector<std::pair<std::string, std::string>>& labels) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    std::size_t pos = name.size();
    if (pos < line.size() && line[pos] != '{' && line[pos] != ' ') continue;
    std::string label_part;
    if (pos < line.size() && line[pos] == '{') {
      auto close = line.find('}', pos);
      if (close == std::string::npos) continue;
      label_part = line.substr(pos + 1, close - pos - 1);
      pos = close + 1;
    }
    bool all = true;
    for (const auto& [k, v] : labels) {
      all = all && label_part.find(k + "=\"" + v + "\"") != std::string::npos;
    }
    if (!all) continue;
    return std::stod(line.substr(pos + 1));
  }
  return -1;
}

}  // namespace vigil::testing
