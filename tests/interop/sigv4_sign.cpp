// vigil_sigv4_sign: signs requests with Vigil's aws::sign() for the SigV4 interop test
// (sigv4_interop.test.mjs). One JSON object a line on stdin:
//   {"method", "url", "headers": [[name, value], ...], "body", "region", "service",
//    "time_ms", "access_key_id", "secret_access_key", "session_token",
//    "add_content_sha256", "uri_escape_path"}
// one JSON object a line on stdout, in the same order:
//   {"signature", "canonical_request", "string_to_sign", "headers": [[name, value], ...]}
// or {"error": "..."} for a line that is not such an object.
#include <simdjson.h>

#include <chrono>
#include <iostream>
#include <string>

#include "agent/aws/cloudwatch_logs.hpp"  // append_json_string: the one JSON string writer of agent/aws
#include "agent/aws/sigv4.hpp"

namespace aws = vigil::aws;

namespace {

std::string sign_line(simdjson::dom::parser& parser, const std::string& line) {
  simdjson::dom::element doc;
  if (parser.parse(line).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return R"({"error":"not a JSON object"})";
  }
  auto str = [&](const char* key) -> std::string {
    std::string_view v;
    if (doc[key].get_string().get(v) != simdjson::SUCCESS) return {};
    return std::string(v);
  };
  auto flag = [&](const char* key, bool def) {
    bool v = def;
    if (doc[key].get_bool().get(v) != simdjson::SUCCESS) return def;
    return v;
  };
  aws::SignableRequest request;
  request.method = str("method");
  request.url = str("url");
  simdjson::dom::array headers;
  if (doc["headers"].get_array().get(headers) == simdjson::SUCCESS) {
    for (simdjson::dom::element h : headers) {
      std::string_view name;
      std::string_view value;
      if (h.at(0).get_string().get(name) != simdjson::SUCCESS ||
          h.at(1).get_string().get(value) != simdjson::SUCCESS) {
        return R"({"error":"headers must be [name, value] pairs of strings"})";
      }
      request.headers.emplace_back(std::string(name), std::string(value));
    }
  }
  const std::string body = str("body");
  request.body = body;

  aws::Credentials credentials;
  credentials.access_key_id = str("access_key_id");
  credentials.secret_access_key = str("secret_access_key");
  credentials.session_token = str("session_token");

  aws::SigningOptions options;
  options.region = str("region");
  options.service = str("service");
  std::int64_t time_ms = 0;
  if (doc["time_ms"].get_int64().get(time_ms) != simdjson::SUCCESS) return R"({"error":"time_ms missing"})";
  options.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(time_ms));
  options.add_content_sha256 = flag("add_content_sha256", false);
  options.uri_escape_path = flag("uri_escape_path", true);

  const aws::Signature s = aws::sign(request, credentials, options);
  std::string out = "{\"signature\":";
  aws::append_json_string(out, s.signature);
  out += ",\"canonical_request\":";
  aws::append_json_string(out, s.canonical_request);
  out += ",\"string_to_sign\":";
  aws::append_json_string(out, s.string_to_sign);
  out += ",\"headers\":[";
  for (std::size_t i = 0; i < s.headers.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('[');
    aws::append_json_string(out, s.headers[i].first);
    out.push_back(',');
    aws::append_json_string(out, s.headers[i].second);
    out.push_back(']');
  }
  out += "]}";
  return out;
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  simdjson::dom::parser parser;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::cout << sign_line(parser, line) << '\n';
  }
  std::cout.flush();
  return 0;
}
