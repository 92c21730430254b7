#include "tests/support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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
        eq = eq && std::tolower(static_cast<unsigned char>(k[i])) == std::tolower(static_cast<unsigned char>(name[i]));
      }
      if (eq) return v;
    }
  }
  return {};
}

HttpResult http_request(const std::string& method, std::uint16_t port, const std::string& target,
                        const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers,
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
