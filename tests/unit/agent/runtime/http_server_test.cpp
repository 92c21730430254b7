#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "agent/runtime/http_server.hpp"
#include "tests/support/http_test_support.hpp"

using namespace vigil;
using namespace vigil::testing;
using namespace std::chrono_literals;
using runtime::HttpRequest;
using runtime::HttpResponse;
using runtime::HttpServer;
using runtime::HttpServerOptions;

namespace {

// Echoes method, path, a header and the body size.
HttpResponse echo(HttpRequest& r) {
  const std::string* xt = r.header("x-test");
  return HttpResponse{
      200,
      {{"Content-Type", "text/plain"}, {"X-Seen-Path", r.path}},
      r.method + " " + r.target + " " + (xt ? *xt : "-") + " " + std::to_string(r.body.size())};
}

HttpServerOptions local_options() {
  HttpServerOptions o;
  o.endpoint = "127.0.0.1:0";
  return o;
}

}  // namespace

TEST_CASE("split_endpoint accepts the Collector's endpoint forms") {
  std::string host, error;
  std::uint16_t port = 0;
  REQUIRE(runtime::split_endpoint("127.0.0.1:4318", host, port, error));
  CHECK(host == "127.0.0.1");
  CHECK(port == 4318);
  REQUIRE(runtime::split_endpoint("[::1]:4317", host, port, error));
  CHECK(host == "::1");
  CHECK(port == 4317);
  REQUIRE(runtime::split_endpoint(":13133", host, port, error));
  CHECK(host == "0.0.0.0");
  CHECK(port == 13133);
  REQUIRE(runtime::split_endpoint("localhost:8888", host, port, error));
  CHECK(host == "127.0.0.1");
  REQUIRE(runtime::split_endpoint("collector.internal:0", host, port, error));
  CHECK(host == "collector.internal");
  CHECK(port == 0);

  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:65536", "::1:4318",
                          "[::1]4318", "[::1", ""}) {
    CAPTURE(bad);
    error.clear();
    CHECK_FALSE(runtime::split_endpoint(bad, host, port, error));
    CHECK(error.find("endpoint") != std::string::npos);
  }
}

TEST_CASE("http server: request fields, keep-alive and a picked port") {
  IoRunner runner;
  HttpServer server(runner.io(), local_options(), echo);
  REQUIRE(server.start() == "");
  REQUIRE(server.port() != 0);

  Client c(server.port());
  REQUIRE(c.connected());
  auto r1 = c.request(http::verb::post, "/v1/logs?x=1", std::string(1000, 'a'), {{"X-Test", "yes"}});
  REQUIRE(r1);
  CHECK(r1->result_int() == 200);
  CHECK(r1->body() == "POST /v1/logs?x=1 yes 1000");
  CHECK((*r1)["X-Seen-Path"] == "/v1/logs");
  CHECK(r1->keep_alive());
  CHECK((*r1)[http::field::content_length] == std::to_string(r1->body().size()));

  // Same connection, second request.
  auto r2 = c.request(http::verb::get, "/other");
  REQUIRE(r2);
  CHECK(r2->body() == "GET /other - 0");
  server.stop();
}

TEST_CASE("http server: body over the limit gets 413 and the connection closes") {
  IoRunner runner;
  HttpServerOptions o = local_options();
  o.max_body_bytes = 1000;
  std::atomic<int> handled{0};
  HttpServer server(runner.io(), o, [&](HttpRequest& r) {
    ++handled;
    return echo(r);
  });
  REQUIRE(server.start() == "");

  SUBCASE("declared by Content-Length: answered before the body is sent") {
    Client c(server.port());
    REQUIRE(c.write_raw("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 50000000\r\n\r\n"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->result_int() == 413);
    CHECK_FALSE(r->keep_alive());
    CHECK(c.closed_by_peer());
  }
  SUBCASE("chunked body that grows past the limit") {
    Client c(server.port());
    std::string chunk(800, 'z');
    std::string raw = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    raw += "320\r\n" + chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n";
    REQUIRE(c.write_raw(raw));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->result_int() == 413);
  }
  SUBCASE("at the limit is fine") {
    Client c(server.port());
    auto r = c.request(http::verb::post, "/x", std::string(1000, 'b'));
    REQUIRE(r);
    CHECK(r->result_int() == 200);
    CHECK(handled == 1);
  }
  server.stop();
}

TEST_CASE("http server: malformed requests get 400 and close") {
  IoRunner runner;
  HttpServer server(runner.io(), local_options(), echo);
  REQUIRE(server.start() == "");
  Client c(server.port());
  REQUIRE(c.write_raw("THIS IS NOT HTTP\r\n\r\n"));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->result_int() == 400);
  CHECK(r->body().find("malformed") != std::string::npos);
  CHECK(c.closed_by_peer());

  // Too large a header: 431.
  Client c2(server.port());
  REQUIRE(c2.write_raw("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(70 * 1024, 'h') + "\r\n\r\n"));
  auto r2 = c2.read_response();
  REQUIRE(r2);
  CHECK(r2->result_int() == 431);
}

TEST_CASE("http server: Expect: 100-continue gets the go-ahead") {
  IoRunner runner;
  HttpServer server(runner.io(), local_options(), echo);
  REQUIRE(server.start() == "");
  Client c(server.port());
  REQUIRE(c.write_raw("POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.read_response();
  REQUIRE(interim);
  CHECK(interim->result_int() == 100);
  REQUIRE(c.write_raw("hello"));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(r->body() == "POST /e - 5");
}

TEST_CASE("http server: a client that disconnects mid-body leaves the server working") {
  IoRunner runner;
  std::atomic<int> handled{0};
  HttpServer server(runner.io(), local_options(), [&](HttpRequest& r) {
    ++handled;
    return echo(r);
  });
  REQUIRE(server.start() == "");
  {
    Client c(server.port());
    REQUIRE(
        c.write_raw("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + std::string(100, 'q')));
    c.close();
  }
  Client c2(server.port());
  auto r = c2.request(http::verb::post, "/y", "abc");
  REQUIRE(r);
  CHECK(r->result_int() == 200);
  CHECK(handled == 1);  // the cut request never reached the handler
}

TEST_CASE("http server: idle connections are closed after idle_timeout") {
  IoRunner runner;
  HttpServerOptions o = local_options();
  o.idle_timeout = 1s;
  HttpServer server(runner.io(), o, echo);
  REQUIRE(server.start() == "");
  Client c(server.port());
  auto r = c.request(http::verb::get, "/");
  REQUIRE(r);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(c.closed_by_peer());
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 900ms);
  CHECK(waited < 4s);
}

TEST_CASE("http server: a request that trickles in past read_timeout is dropped") {
  IoRunner runner;
  HttpServerOptions o = local_options();
  o.read_timeout = 1s;
  HttpServer server(runner.io(), o, echo);
  REQUIRE(server.start() == "");
  Client c(server.port());
  REQUIRE(c.write_raw("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"));
  auto t0 = std::chrono::steady_clock::now();
  CHECK(c.closed_by_peer());
  CHECK(std::chrono::steady_clock::now() - t0 < 4s);
}

TEST_CASE("http server: a throwing handler gives 500, not a crash") {
  IoRunner runner;
  HttpServer server(runner.io(), local_options(),
                    [](HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
  REQUIRE(server.start() == "");
  Client c(server.port());
  auto r = c.request(http::verb::get, "/");
  REQUIRE(r);
  CHECK(r->result_int() == 500);
  auto r2 = c.request(http::verb::get, "/");  // and the connection still works
  REQUIRE(r2);
  CHECK(r2->result_int() == 500);
}

TEST_CASE("http server: Connection: close from the handler closes after the response") {
  IoRunner runner;
  HttpServer server(runner.io(), local_options(), [](HttpRequest&) {
    return HttpResponse{200, {{"Connection", "close"}}, "bye"};
  });
  REQUIRE(server.start() == "");
  Client c(server.port());
  auto r = c.request(http::verb::get, "/");
  REQUIRE(r);
  CHECK(r->body() == "bye");
  CHECK_FALSE(r->keep_alive());
  CHECK(c.closed_by_peer());
}

TEST_CASE("http server: stop() closes open connections promptly and is idempotent") {
  IoRunner runner;
  std::atomic<int> handled{0};
  HttpServer server(runner.io(), local_options(), [&](HttpRequest& r) {
    ++handled;
    return echo(r);
  });
  REQUIRE(server.start() == "");
  const auto port = server.port();
  Client idle(port);
  auto r = idle.request(http::verb::get, "/");  // a kept-alive connection
  REQUIRE(r);
  Client partial(port);  // a connection in the middle of a request
  REQUIRE(partial.write_raw("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab"));

  auto t0 = std::chrono::steady_clock::now();
  server.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
  CHECK(idle.closed_by_peer());
  CHECK(partial.closed_by_peer());
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(handled == 1);
  server.stop();

  // New connections are refused (the acceptor is closed).
  std::this_thread::sleep_for(50ms);
  Client late(port);
  CHECK_FALSE(late.connected());
}

TEST_CASE("http server: bind errors are reported by start()") {
  IoRunner runner;
  HttpServer first(runner.io(), local_options(), echo);
  REQUIRE(first.start() == "");
  HttpServerOptions o;
  o.endpoint = "127.0.0.1:" + std::to_string(first.port());
  HttpServer second(runner.io(), o, echo);
  const std::string err = second.start();
  CHECK(err == "listen on 127.0.0.1:" + std::to_string(first.port()) + ": Address already in use");

  HttpServerOptions bad;
  bad.endpoint = "127.0.0.1";
  HttpServer third(runner.io(), bad, echo);
  CHECK(third.start().find("missing port") != std::string::npos);

  // A server that was never started stops (and is destroyed) quietly.
  HttpServer never(runner.io(), local_options(), echo);
  never.stop();
}
