// runtime::HttpClient against the scriptable fake server (tests/support/fake_http_server.hpp),
// which also plays an HTTP proxy. Test cases are named "http_client: ...".
#include "agent/runtime/http_client.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "agent/runtime/proxy.hpp"
#include "tests/support/env_guard.hpp"
#include "tests/support/fake_http_server.hpp"

namespace {

using namespace vigil;
using runtime::HttpClient;
using runtime::HttpClientRequest;
using runtime::HttpClientResponse;
using runtime::HttpClientSettings;
namespace fh = vigil::testing::fake_http;
using namespace std::chrono_literals;

// Clears the proxy variables for one test; restores every variable it touched.
class EnvGuard : public vigil::testing::env::EnvGuard {
 public:
  EnvGuard() : vigil::testing::env::EnvGuard(vigil::testing::env::kProxyVariables) {}
};

// A port nothing listens on: bound by the kernel's choice, then closed.
std::uint16_t closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

HttpClientRequest req(std::string method, std::string url, std::string body = {}) {
  HttpClientRequest r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.body = std::move(body);
  r.timeout = 5s;
  return r;
}

TEST_CASE("http_client: methods, request headers and bodies, response headers lower-cased") {
  EnvGuard env;
  fh::FakeHttpServer server([](const fh::Request& r) {
    return fh::Response{r.method == "POST" ? 201 : 200,
                        {{"X-Echo-Method", r.method}, {"Content-Type", "text/plain"}},
                        r.method + " " + r.target + " " + r.body};
  });
  HttpClient client;
  for (const std::string method : {"GET", "POST", "PUT", "DELETE", "PATCH"}) {
    CAPTURE(method);
    const std::string body = method == "GET" || method == "DELETE" ? "" : "payload-" + method;
    HttpClientRequest r = req(method, server.url() + "/p/a?x=1", body);
    r.headers = {{"X-Custom", "v1"}, {"Content-Type", "application/x-www-form-urlencoded"}};
    const HttpClientResponse res = client.perform(r);
    REQUIRE_MESSAGE(res.ok(), res.transport_error);
    CHECK(res.status == (method == "POST" ? 201 : 200));
    CHECK(res.body == method + " /p/a?x=1 " + body);
    REQUIRE(res.header("x-echo-method") != nullptr);
    CHECK(*res.header("x-echo-method") == method);
    CHECK(res.header("X-Echo-Method") == nullptr);  // names are lower-case
    CHECK(res.header("content-type") != nullptr);
    const fh::Request got = server.last();
    CHECK(got.method == method);
    CHECK(got.body == body);
    CHECK(got.header("x-custom") == "v1");
    CHECK(got.header("user-agent").rfind("vigil/", 0) == 0);
    CHECK_FALSE(got.has_header("expect"));
  }
  // HEAD: no body is read.
  const HttpClientResponse head = client.perform(req("HEAD", server.url() + "/h"));
  REQUIRE_MESSAGE(head.ok(), head.transport_error);
  CHECK(server.last().method == "HEAD");
  CHECK(head.body.empty());
}

TEST_CASE("http_client: an empty PUT sends Content-Length 0 (IMDS token requests)") {
  EnvGuard env;
  fh::FakeHttpServer server;
  HttpClient client;
  HttpClientRequest r = req("PUT", server.url() + "/latest/api/token");
  r.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
  REQUIRE(client.perform(r).ok());
  const fh::Request got = server.last();
  CHECK(got.method == "PUT");
  CHECK(got.header("content-length") == "0");
  CHECK(got.header("x-aws-ec2-metadata-token-ttl-seconds") == "21600");
}

TEST_CASE("http_client: an empty header value is sent empty") {
  EnvGuard env;
  fh::FakeHttpServer server;
  HttpClient client;
  HttpClientRequest r = req("GET", server.url() + "/");
  r.headers = {{"X-Empty", ""}};
  REQUIRE(client.perform(r).ok());
  const fh::Request got = server.last();
  CHECK(got.has_header("x-empty"));
  CHECK(got.header("x-empty").empty());
}

TEST_CASE("http_client: invalid header names and values are refused before sending") {
  EnvGuard env;
  fh::FakeHttpServer server;
  HttpClient client;
  HttpClientRequest r = req("GET", server.url() + "/");
  r.headers = {{"X-Bad", "a\r\nInjected: yes"}};
  HttpClientResponse res = client.perform(r);
  CHECK(res.status == 0);
  CHECK_FALSE(res.transport_error.empty());
  r.headers = {{"Bad Name", "v"}};
  res = client.perform(r);
  CHECK(res.status == 0);
  CHECK(server.count() == 0);
}

TEST_CASE("http_client: sequential requests reuse one keep-alive connection") {
  EnvGuard env;
  fh::FakeHttpServer server;
  HttpClient client;
  for (int i = 0; i < 5; ++i) REQUIRE(client.perform(req("POST", server.url() + "/k", "x")).ok());
  CHECK(server.count() == 5);
  CHECK(server.connections() == 1);
  for (const auto& r : server.requests()) CHECK(r.connection == 1);
}

TEST_CASE("http_client: a connection the server closes is replaced") {
  EnvGuard env;
  fh::FakeHttpServer server;
  HttpClient client;
  server.script(fh::Response{200, {}, "bye", 0ms, /*close=*/true});
  REQUIRE(client.perform(req("GET", server.url() + "/1")).ok());
  REQUIRE(client.perform(req("GET", server.url() + "/2")).ok());
  CHECK(server.connections() == 2);
}

TEST_CASE("http_client: concurrent callers each get their answer") {
  EnvGuard env;
  fh::FakeHttpServer server([](const fh::Request& r) { return fh::Response{200, {}, r.body}; }, 4);
  HttpClient client;
  std::vector<std::thread> threads;
  std::vector<std::string> got(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string body = std::to_string(t) + ":" + std::to_string(i);
        const HttpClientResponse res = client.perform(req("POST", server.url() + "/c", body));
        if (!res.ok() || res.body != body) got[static_cast<std::size_t>(t)] += "bad " + body + ";";
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& g : got) CHECK(g.empty());
  CHECK(server.count() == 80);
  CHECK(server.connections() <= 8);  // handles (and their connections) are reused
}

TEST_CASE("http_client: the request timeout stops a slow answer") {
  EnvGuard env;
  fh::FakeHttpServer server;
  server.script(fh::Response{200, {}, "late", 3s});
  HttpClient client;
  HttpClientRequest r = req("GET", server.url() + "/slow");
  r.timeout = 200ms;
  const HttpClientResponse res = client.perform(r);
  CHECK(res.status == 0);
  CHECK(res.timed_out);
  CHECK_FALSE(res.transport_error.empty());
  CHECK_FALSE(res.ok());
}

TEST_CASE("http_client: connection refused is a transport error") {
  EnvGuard env;
  HttpClient client;
  const HttpClientResponse res = client.perform(req("GET", "http://127.0.0.1:" + std::to_string(closed_port()) + "/"));
  CHECK(res.status == 0);
  CHECK_FALSE(res.timed_out);
  CHECK_FALSE(res.transport_error.empty());
}

TEST_CASE("http_client: a response body over the bound fails the request") {
  EnvGuard env;
  fh::FakeHttpServer server([](const fh::Request& r) {
    return fh::Response{200, {}, std::string(r.target == "/big" ? 4096 : 1024, 'b')};
  });
  HttpClientSettings settings;
  settings.max_response_bytes = 1024;
  HttpClient client(settings);
  const HttpClientResponse fits = client.perform(req("GET", server.url() + "/fits"));
  REQUIRE(fits.ok());
  CHECK(fits.body.size() == 1024);
  const HttpClientResponse big = client.perform(req("GET", server.url() + "/big"));
  CHECK(big.status == 0);
  CHECK(big.body.empty());
  CHECK(big.transport_error.find("1024") != std::string::npos);
  CHECK(HttpClientSettings{}.max_response_bytes == 16u << 20);
}

TEST_CASE("http_client: a non-2xx status is a response, not a transport error") {
  EnvGuard env;
  fh::FakeHttpServer server;
  server.script(fh::Response{503, {{"Retry-After", "3"}}, "busy"});
  server.script(fh::Response{302, {{"Location", "http://127.0.0.1:1/elsewhere"}}, ""});
  HttpClient client;
  HttpClientResponse res = client.perform(req("GET", server.url() + "/"));
  CHECK(res.status == 503);
  CHECK(res.ok());
  CHECK(res.body == "busy");
  REQUIRE(res.header("retry-after") != nullptr);
  CHECK(*res.header("retry-after") == "3");
  res = client.perform(req("GET", server.url() + "/"));
  CHECK(res.status == 302);  // not followed
  CHECK(server.count() == 2);
}

// ---- proxies -----------------------------------------------------------------------------------

// A name that never resolves (RFC 6761): only a proxy can deliver a request to it.
constexpr char kUnresolvable[] = "http://vigil-test.invalid:4318";

TEST_CASE("http_client: HTTP_PROXY from the environment receives absolute-form targets") {
  EnvGuard env;
  fh::FakeHttpServer proxy([](const fh::Request&) { return fh::Response{200, {}, "via proxy"}; });
  SUBCASE("upper case") { env.set("HTTP_PROXY", proxy.url()); }
  SUBCASE("lower case, no scheme") { env.set("http_proxy", "127.0.0.1:" + std::to_string(proxy.port())); }
  HttpClient client;
  const HttpClientResponse res = client.perform(req("POST", std::string(kUnresolvable) + "/v1/x?y=2", "b"));
  REQUIRE_MESSAGE(res.ok(), res.transport_error);
  CHECK(res.body == "via proxy");
  REQUIRE(proxy.count() == 1);
  CHECK(proxy.last().target == std::string(kUnresolvable) + "/v1/x?y=2");
  CHECK(proxy.last().body == "b");
}

TEST_CASE("http_client: NO_PROXY and loopback bypass the proxy") {
  EnvGuard env;
  fh::FakeHttpServer proxy;
  fh::FakeHttpServer target([](const fh::Request&) { return fh::Response{200, {}, "direct"}; });
  env.set("HTTP_PROXY", proxy.url());
  HttpClient client;
  SUBCASE("loopback is never proxied") {
    const HttpClientResponse res = client.perform(req("GET", target.url() + "/"));
    REQUIRE(res.ok());
    CHECK(res.body == "direct");
  }
  SUBCASE("a NO_PROXY domain goes direct (and cannot resolve)") {
    env.set("NO_PROXY", "example.com,.invalid");
    const HttpClientResponse res = client.perform(req("GET", std::string(kUnresolvable) + "/"));
    CHECK(res.status == 0);
    CHECK_FALSE(res.transport_error.empty());
  }
  SUBCASE("no_proxy lower case, with a port that does not match: proxied") {
    env.set("no_proxy", "vigil-test.invalid:9999");
    const HttpClientResponse res = client.perform(req("GET", std::string(kUnresolvable) + "/"));
    CHECK(res.ok());
    CHECK(proxy.count() == 1);
  }
  SUBCASE("HTTPS_PROXY is not used for http:// URLs") {
    env.unset("HTTP_PROXY");
    env.set("HTTPS_PROXY", proxy.url());
    const HttpClientResponse res = client.perform(req("GET", std::string(kUnresolvable) + "/"));
    CHECK(res.status == 0);
  }
  CHECK(proxy.count() <= 1);
  if (proxy.count() == 1) CHECK(proxy.last().target == std::string(kUnresolvable) + "/");
}

TEST_CASE("http_client: proxy_url in the settings overrides the environment") {
  EnvGuard env;
  fh::FakeHttpServer configured;
  fh::FakeHttpServer from_env;
  env.set("HTTP_PROXY", from_env.url());
  env.set("NO_PROXY", "*");
  HttpClientSettings settings;
  settings.proxy_url = configured.url();
  HttpClient client(settings);
  CHECK(client.settings_error().empty());
  REQUIRE(client.perform(req("GET", std::string(kUnresolvable) + "/a")).ok());
  CHECK(configured.count() == 1);
  CHECK(from_env.count() == 0);
}

TEST_CASE("http_client: an unusable proxy_url fails every request with a clear error") {
  EnvGuard env;
  HttpClientSettings settings;
  settings.proxy_url = "ftp://proxy.example:21";
  HttpClient client(settings);
  CHECK(client.settings_error().find("proxy_url") != std::string::npos);
  const HttpClientResponse res = client.perform(req("GET", "http://127.0.0.1:1/"));
  CHECK(res.status == 0);
  CHECK(res.transport_error.find("proxy_url") != std::string::npos);
}

TEST_CASE("http_client: runtime::proxy_for_url rules") {
  runtime::ProxyEnvironment env;
  env.http_proxy = "http://proxy:3128";
  env.https_proxy = "secure-proxy:3129";
  CHECK(runtime::proxy_for_url("http://sts.us-east-1.amazonaws.com/", env) == "http://proxy:3128");
  CHECK(runtime::proxy_for_url("https://sts.us-east-1.amazonaws.com/", env) == "http://secure-proxy:3129");
  CHECK(runtime::select_proxy("https://sts.us-east-1.amazonaws.com/", env) == "secure-proxy:3129");
  CHECK(runtime::proxy_for_url("http://169.254.169.254/latest", env) == "http://proxy:3128");
  env.no_proxy = "169.254.0.0/16";
  CHECK(runtime::proxy_for_url("http://169.254.169.254/latest", env).empty());
  CHECK(runtime::proxy_for_url("http://[::1]:80/", env).empty());
  CHECK(runtime::proxy_for_url("not a url", env).empty());
  CHECK(runtime::no_proxy_matches("*.amazonaws.com", "logs.us-east-1.amazonaws.com", "443"));
  CHECK_FALSE(runtime::no_proxy_matches(".amazonaws.com", "amazonaws.com", "443"));
  CHECK(runtime::no_proxy_matches("amazonaws.com", "amazonaws.com", "443"));
  std::string error;
  CHECK_FALSE(runtime::normalize_proxy("ftp://x:21", error));
  CHECK_FALSE(error.empty());
}

// ---- what the otlphttp exporter relies on ---------------------------------------------------

TEST_CASE("http_client: body_view is sent instead of body, without a copy") {
  EnvGuard env;
  fh::FakeHttpServer server;
  HttpClient client;
  const std::string big(3 << 20, 'z');
  HttpClientRequest r = req("POST", server.url() + "/v", "ignored");
  r.body_view = std::string_view(big);
  REQUIRE(client.perform(r).ok());
  CHECK(server.last().body == big);
  r.body_view = std::string_view();  // an empty view is an empty body, not `body`
  REQUIRE(client.perform(r).ok());
  CHECK(server.last().body.empty());
  CHECK(server.last().header("content-length") == "0");
}

TEST_CASE("http_client: disable_keep_alives opens a connection per request") {
  EnvGuard env;
  fh::FakeHttpServer server;
  HttpClientSettings settings;
  settings.disable_keep_alives = true;
  HttpClient client(settings);
  for (int i = 0; i < 3; ++i) REQUIRE(client.perform(req("POST", server.url() + "/k", "x")).ok());
  CHECK(server.connections() == 3);
}

TEST_CASE("http_client: response_body_kept keeps the start of a long answer with its status") {
  EnvGuard env;
  fh::FakeHttpServer server([](const fh::Request& r) {
    return fh::Response{400, {{"Retry-After", "4"}}, std::string(r.target == "/huge" ? 8192 : 500, 'e')};
  });
  HttpClientSettings settings;
  settings.response_body_kept = 16;
  settings.max_response_bytes = 1024;
  HttpClient client(settings);
  HttpClientResponse res = client.perform(req("GET", server.url() + "/long"));
  REQUIRE_MESSAGE(res.ok(), res.transport_error);
  CHECK(res.status == 400);
  CHECK(res.body == std::string(16, 'e'));
  CHECK(res.body_size == 500);
  CHECK(res.body_truncated);
  // Read to the end: the connection is reused.
  REQUIRE(client.perform(req("GET", server.url() + "/long")).ok());
  CHECK(server.connections() == 1);
  // Past max_response_bytes the transfer is cut, the status and headers stay.
  res = client.perform(req("GET", server.url() + "/huge"));
  REQUIRE_MESSAGE(res.ok(), res.transport_error);
  CHECK(res.status == 400);
  CHECK(res.body.size() == 16);
  CHECK(res.body_truncated);
  REQUIRE(res.header("retry-after") != nullptr);
  CHECK(*res.header("retry-after") == "4");
  CHECK(client.perform(req("GET", server.url() + "/long")).ok());
}

TEST_CASE("http_client: transport failures are classified") {
  EnvGuard env;
  HttpClient client;
  SUBCASE("connection refused") {
    const HttpClientResponse res =
        client.perform(req("GET", "http://127.0.0.1:" + std::to_string(closed_port()) + "/"));
    CHECK(res.failure == runtime::TransportFailure::kConnection);
  }
  SUBCASE("timeout") {
    fh::FakeHttpServer server;
    server.script(fh::Response{200, {}, "late", 3s});
    HttpClientRequest r = req("GET", server.url() + "/slow");
    r.timeout = 200ms;
    const HttpClientResponse res = client.perform(r);
    CHECK(res.failure == runtime::TransportFailure::kTimeout);
    CHECK(res.timed_out);
  }
  SUBCASE("TLS: https:// to a plain-text server") {
    fh::FakeHttpServer server;
    const HttpClientResponse res =
        client.perform(req("GET", "https://127.0.0.1:" + std::to_string(server.port()) + "/"));
    CHECK(res.status == 0);
    CHECK(res.failure == runtime::TransportFailure::kTls);
  }
  SUBCASE("a request that cannot work as written") {
    HttpClientRequest r = req("GET", "http://127.0.0.1:1/");
    r.headers = {{"Bad Name", "v"}};
    CHECK(client.perform(r).failure == runtime::TransportFailure::kRequest);
    CHECK(client.perform(req("GET", "gopher://127.0.0.1:1/")).failure == runtime::TransportFailure::kRequest);
  }
  SUBCASE("an answer") {
    fh::FakeHttpServer server;
    server.script(fh::Response{503, {}, ""});
    const HttpClientResponse res = client.perform(req("GET", server.url() + "/"));
    CHECK(res.status == 503);
    CHECK(res.failure == runtime::TransportFailure::kNone);
  }
}

TEST_CASE("http_client: proxy_from_environment false connects directly") {
  EnvGuard env;
  fh::FakeHttpServer proxy;
  env.set("HTTP_PROXY", proxy.url());
  HttpClientSettings settings;
  settings.proxy_from_environment = false;
  HttpClient client(settings);
  const HttpClientResponse res = client.perform(req("GET", std::string(kUnresolvable) + "/"));
  CHECK(res.status == 0);  // direct: the name does not resolve
  CHECK(res.transport_error.find("proxy") == std::string::npos);
  CHECK(proxy.count() == 0);
}

TEST_CASE("http_client: an invalid tls.server_name_override is a settings error") {
  HttpClientSettings settings;
  settings.tls.server_name_override = "bad name/with spaces";
  HttpClient client(settings);
  CHECK(client.settings_error().find("server_name_override") != std::string::npos);
  const HttpClientResponse res = client.perform(req("GET", "https://127.0.0.1:1/"));
  CHECK(res.failure == runtime::TransportFailure::kRequest);
  HttpClientSettings good;
  good.tls.server_name_override = "collector.internal";
  CHECK(HttpClient(good).settings_error().empty());
}

TEST_CASE("http_client: parse_url") {
  runtime::Url u;
  std::string error;
  REQUIRE(runtime::parse_url("HTTPS://User:secret@Example.COM:4318/v1/logs?key=x", u, error));
  CHECK(u.scheme == "https");
  CHECK(u.bare_host == "example.com");
  CHECK(u.port == "4318");
  CHECK(u.explicit_port);
  CHECK(u.path == "/v1/logs");
  CHECK(u.display().find("secret") == std::string::npos);
  CHECK(u.display().find("key=x") == std::string::npos);
  CHECK(u.authority() == u.host + ":4318");
  REQUIRE(runtime::parse_url("http://[::1]/x", u, error));
  CHECK(u.host == "[::1]");
  CHECK(u.bare_host == "::1");
  CHECK(u.port == "80");
  CHECK_FALSE(u.explicit_port);
  CHECK(u.authority() == "[::1]");
  CHECK_FALSE(runtime::parse_url("not a url", u, error));
  CHECK(error.find("scheme://host") != std::string::npos);
}

}  // namespace
