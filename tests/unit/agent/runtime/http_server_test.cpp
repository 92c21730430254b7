#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "agent/runtime/http_server.hpp"
#include "agent/runtime/tls.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/http_test_support.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tls_test_support.hpp"

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

// Polls `done` until it holds or `timeout` passes; returns its last value.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 3000ms) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

std::string post_head(const std::string& path, std::size_t content_length, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(content_length) +
         "\r\n" + extra + "\r\n";
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

TEST_CASE("http server: stop() returns promptly under steady keep-alive load") {
  // Regression: handlers held a shared lock that stop() took exclusively; glibc's rwlock prefers
  // readers, so with requests always in progress stop() waited until the load ended.
  IoRunner runner(4);
  std::atomic<bool> stop_returned{false};
  std::atomic<int> handled{0};
  std::atomic<int> started_after_stop{0};
  HttpServer server(runner.io(), local_options(), [&](HttpRequest&) {
    if (stop_returned.load()) ++started_after_stop;
    ++handled;
    std::this_thread::sleep_for(2ms);
    return HttpResponse{200, {}, "ok"};
  });
  REQUIRE(server.start() == "");
  const auto port = server.port();
  // The clients give up by then even if stop() never returns, so a failure cannot hang the test.
  const auto give_up = std::chrono::steady_clock::now() + 3s;
  auto hammering = [&] { return !stop_returned.load() && std::chrono::steady_clock::now() < give_up; };
  std::vector<std::thread> clients;
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&] {
      while (hammering()) {
        Client c(port);
        if (!c.connected()) {
          std::this_thread::sleep_for(1ms);
          continue;
        }
        while (hammering() && c.request(http::verb::post, "/load", "x")) {
        }
      }
    });
  }
  CHECK(wait_until([&] { return handled.load() >= 200; }));

  const auto t0 = std::chrono::steady_clock::now();
  server.stop();
  const auto took = std::chrono::steady_clock::now() - t0;
  stop_returned = true;
  for (auto& t : clients) t.join();
  CHECK(took < 1s);
  CHECK(started_after_stop == 0);  // no handler starts once stop() has returned
}

TEST_CASE("http server: stop() with a stopped io_context closes the listener at once") {
  net::io_context io;  // stopped below, never run while the server stops
  HttpServer server(io, local_options(), echo);
  REQUIRE(server.start() == "");
  const auto port = server.port();
  io.stop();

  const auto t0 = std::chrono::steady_clock::now();
  server.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);  // no thread will run the posted close

  // The port is free at once, and a new listener takes it (likely the same descriptor number).
  IoRunner runner;
  HttpServerOptions o = local_options();
  o.endpoint = "127.0.0.1:" + std::to_string(port);
  HttpServer again(runner.io(), o, echo);
  REQUIRE(again.start() == "");

  // The io_context runs again: the close stop() posted runs late and must close nothing else.
  io.restart();
  io.poll();
  Client c(port);
  REQUIRE(c.connected());
  auto r = c.request(http::verb::get, "/");
  REQUIRE(r);
  CHECK(r->result_int() == 200);
}

TEST_CASE("http server: stop() leaves the listener's close to its strand while the io_context runs") {
  // With the only io thread busy, the close posted to the acceptor's strand runs late. stop() must
  // wait for it rather than close the acceptor from the control thread as well: that close could
  // race the strand's (and close a reused descriptor) or its accept handler.
  IoRunner runner(1);
  HttpServer server(runner.io(), local_options(), echo);
  REQUIRE(server.start() == "");
  const auto port = server.port();
  std::promise<void> busy;
  net::post(runner.io(), [&busy] {
    busy.set_value();
    std::this_thread::sleep_for(2500ms);
  });
  busy.get_future().wait();

  const auto t0 = std::chrono::steady_clock::now();
  server.stop();
  CHECK(std::chrono::steady_clock::now() - t0 >= 2400ms);

  HttpServerOptions o = local_options();
  o.endpoint = "127.0.0.1:" + std::to_string(port);
  HttpServer again(runner.io(), o, echo);
  CHECK(again.start() == "");  // closed when stop() returned
}

TEST_CASE("http server: connections past max_connections get 503 with Retry-After") {
  IoRunner runner;
  HttpServerOptions o = local_options();
  o.max_connections = 2;
  HttpServer server(runner.io(), o, echo);
  REQUIRE(server.start() == "");
  const auto port = server.port();

  Client a(port), b(port);
  auto ra = a.request(http::verb::get, "/a");
  auto rb = b.request(http::verb::get, "/b");
  REQUIRE(ra);
  REQUIRE(rb);
  CHECK(ra->result_int() == 200);
  CHECK(rb->result_int() == 200);
  CHECK(server.stats().connections == 2);

  // Answered at once, before the client says anything, and closed.
  Client c(port);
  REQUIRE(c.connected());
  auto rc = c.read_response();
  REQUIRE(rc);
  CHECK(rc->result_int() == 503);
  CHECK((*rc)[http::field::retry_after] == "1");
  CHECK_FALSE(rc->keep_alive());
  CHECK(c.closed_by_peer());

  // A client that sends its request right away still reads the answer (no reset).
  Client d(port);
  auto rd = d.request(http::verb::post, "/d", std::string(100000, 'd'));
  REQUIRE(rd);
  CHECK(rd->result_int() == 503);
  CHECK(server.stats().refused_connections == 2);
  CHECK(server.stats().connections == 2);

  // The served connections keep working; once one goes, a new connection is served.
  auto ra2 = a.request(http::verb::get, "/a2");
  REQUIRE(ra2);
  CHECK(ra2->result_int() == 200);
  b.close();
  CHECK(wait_until([&] { return server.stats().connections == 1; }));
  Client e(port);
  auto re = e.request(http::verb::get, "/e");
  REQUIRE(re);
  CHECK(re->result_int() == 200);
  CHECK(server.stats().refused_connections == 2);
}

TEST_CASE("http server: request bodies in flight are bounded by max_inflight_body_bytes") {
  IoRunner runner(4);
  HttpServerOptions o = local_options();
  o.max_inflight_body_bytes = 1000;
  std::atomic<bool> release{false};
  std::atomic<int> holding{0};
  HttpServer server(runner.io(), o, [&](HttpRequest& r) {
    if (r.path == "/hold") {
      ++holding;
      while (!release.load()) std::this_thread::sleep_for(1ms);
    }
    return echo(r);
  });
  // Declared after the server, so destroyed first: a failed check cannot leave the handler
  // blocked while the server's destructor waits for it.
  struct Release {
    std::atomic<bool>& flag;
    ~Release() { flag = true; }
  } release_on_exit{release};
  REQUIRE(server.start() == "");
  const auto port = server.port();

  // 600 bytes held by a request whose handler is still running.
  Client holder(port);
  REQUIRE(holder.write_raw(post_head("/hold", 600) + std::string(600, 'h')));
  REQUIRE(wait_until([&] { return holding.load() == 1; }));
  CHECK(server.stats().inflight_body_bytes == 600);

  SUBCASE("Content-Length past the budget: 503 before the body is sent") {
    Client c(port);
    REQUIRE(c.write_raw(post_head("/x", 500)));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->result_int() == 503);
    CHECK((*r)[http::field::retry_after] == "1");
    CHECK_FALSE(r->keep_alive());
    CHECK(c.closed_by_peer());

    // With Expect: 100-continue the client is told 503 instead of being invited to send.
    Client e(port);
    REQUIRE(e.write_raw(post_head("/x", 500, "Expect: 100-continue\r\n")));
    auto re = e.read_response();
    REQUIRE(re);
    CHECK(re->result_int() == 503);
    CHECK(server.stats().refused_requests == 2);
    CHECK(server.stats().inflight_body_bytes == 600);
  }
  SUBCASE("a body that fits is served") {
    Client c(port);
    auto r = c.request(http::verb::post, "/fits", std::string(400, 'f'));
    REQUIRE(r);
    CHECK(r->result_int() == 200);
    CHECK(r->body() == "POST /fits - 400");
    CHECK(r->keep_alive());
    CHECK(server.stats().refused_requests == 0);
  }
  SUBCASE("chunked bodies count as they grow") {
    Client c(port);
    // 200 fit (800 in flight), the next 300 would make 1100.
    REQUIRE(c.write_raw("POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nc8\r\n" +
                        std::string(200, 'c') + "\r\n12c\r\n" + std::string(300, 'c') + "\r\n0\r\n\r\n"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->result_int() == 503);
    CHECK((*r)[http::field::retry_after] == "1");
    CHECK(server.stats().refused_requests == 1);
    CHECK(wait_until([&] { return server.stats().inflight_body_bytes == 600; }));  // its 200 released

    Client ok(port);
    REQUIRE(ok.write_raw("POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n96\r\n" +
                         std::string(150, 'c') + "\r\nc8\r\n" + std::string(200, 'c') + "\r\n0\r\n\r\n"));
    auto r2 = ok.read_response();
    REQUIRE(r2);
    CHECK(r2->result_int() == 200);
    CHECK(r2->body() == "POST /chunked - 350");
    CHECK(server.stats().inflight_body_bytes == 600);
  }
  SUBCASE("a client that leaves mid-body frees its share") {
    Client c(port);
    REQUIRE(c.write_raw(post_head("/cut", 300) + std::string(100, 'x')));
    CHECK(wait_until([&] { return server.stats().inflight_body_bytes == 900; }));
    c.close();
    CHECK(wait_until([&] { return server.stats().inflight_body_bytes == 600; }));
  }
  SUBCASE("a body larger than the whole budget gets 413") {
    Client c(port);
    REQUIRE(c.write_raw(post_head("/big", 1001)));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->result_int() == 413);
  }

  // The held request's bytes are released when it completes; then a 900-byte body fits.
  release = true;
  auto rh = holder.read_response();
  REQUIRE(rh);
  CHECK(rh->result_int() == 200);
  CHECK(rh->body() == "POST /hold - 600");
  CHECK(server.stats().inflight_body_bytes == 0);
  auto r9 = holder.request(http::verb::post, "/after", std::string(900, 'a'));
  REQUIRE(r9);
  CHECK(r9->result_int() == 200);
  CHECK(server.stats().inflight_body_bytes == 0);
}

// ---- TLS ----

namespace {

// Certificates in a temporary directory, an io_context, and server and client TLS settings.
struct TlsSetup {
  TempDir dir;
  TestCertificates certs = make_test_certificates(dir.path());
  IoRunner runner;

  HttpServerOptions options(const std::string& client_ca_file = "", const std::string& min_version = "1.2") {
    runtime::TlsServerSettings tls;
    tls.cert_file = certs.server_cert_file;
    tls.key_file = certs.server_key_file;
    tls.client_ca_file = client_ca_file;
    tls.min_version = min_version;
    std::string error;
    HttpServerOptions o = local_options();
    o.tls = runtime::make_server_context(tls, error);
    REQUIRE_MESSAGE(o.tls, error);
    return o;
  }
  HttpsOptions client() const {
    HttpsOptions o;
    o.ca_file = certs.ca_file;
    return o;
  }
};

}  // namespace

TEST_CASE("http server over TLS: requests, keep-alive, and close_notify after Connection: close") {
  TlsSetup t;
  HttpServer server(t.runner.io(), t.options(), echo);
  REQUIRE(server.start() == "");

  auto r = https_request("POST", server.port(), "/v1/logs?x=1", t.client(), std::string(1000, 'a'),
                         {{"X-Test", "yes"}});
  CHECK_MESSAGE(r.status == 200, r.error);
  CHECK(r.body == "POST /v1/logs?x=1 yes 1000");
  CHECK(r.header("X-Seen-Path") == "/v1/logs");

  HttpsConnection c(server.port(), t.client());
  REQUIRE_MESSAGE(c.connected(), c.error());
  auto r1 = c.request("GET", "/one");
  auto r2 = c.request("POST", "/two", std::string(100000, 'b'));
  CHECK(r1.status == 200);
  CHECK(r1.body == "GET /one - 0");
  CHECK(r2.status == 200);
  CHECK(r2.body == "POST /two - 100000");
  CHECK(r2.header("Connection") != "close");
  CHECK(server.stats().connections == 1);  // both on one connection

  auto r3 = c.request("GET", "/three", {}, {}, false);
  CHECK(r3.status == 200);
  CHECK(c.wait_closed() == HttpsConnection::Closed::kCloseNotify);
  c.close();  // the client's close_notify ends the server's wait for it
  CHECK(wait_until([&] { return server.stats().connections == 0; }, 1000ms));
  CHECK(server.stats().failed_handshakes == 0);

  // The certificate names localhost and 127.0.0.1, nothing else.
  HttpsOptions wrong_name = t.client();
  wrong_name.server_name = "example.com";
  HttpsConnection misnamed(server.port(), wrong_name);
  CHECK_FALSE(misnamed.connected());
  CHECK(misnamed.error().find("handshake") == 0);
  server.stop();
}

TEST_CASE("http server over TLS: plain HTTP and garbage fail cleanly, and the server keeps serving") {
  TlsSetup t;
  HttpServer server(t.runner.io(), t.options(), echo);
  REQUIRE(server.start() == "");

  // Plain HTTP is told so in plain HTTP, then the connection closes.
  auto plain = http_request("GET", server.port(), "/");
  CHECK(plain.status == 400);
  CHECK(plain.body.find("HTTP request to an HTTPS server") != std::string::npos);
  CHECK(wait_until([&] { return server.stats().failed_handshakes == 1; }));

  // Bytes that are neither: a TLS alert at most, then the connection closes.
  Client garbage(server.port());
  REQUIRE(garbage.write_raw(std::string("\x16\x03\x01\x00\x05hello") + std::string(100, '\xff')));
  bool closed = false;
  for (int i = 0; i < 64 && !closed; ++i) closed = garbage.closed_by_peer();
  CHECK(closed);
  CHECK(wait_until([&] { return server.stats().failed_handshakes == 2; }));

  auto r = https_request("GET", server.port(), "/after", t.client());
  CHECK_MESSAGE(r.status == 200, r.error);
  CHECK(wait_until([&] { return server.stats().connections == 0; }));
  server.stop();
}

TEST_CASE("http server over TLS: a handshake that does not happen is bounded by read_timeout") {
  TlsSetup t;
  HttpServerOptions o = t.options();
  o.read_timeout = 1s;
  o.idle_timeout = 60s;
  HttpServer server(t.runner.io(), o, echo);
  REQUIRE(server.start() == "");

  Client silent(server.port());
  REQUIRE(silent.connected());
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(wait_until([&] { return server.stats().failed_handshakes == 1; }, 5000ms));
  CHECK(std::chrono::steady_clock::now() - t0 >= 900ms);
  CHECK(silent.closed_by_peer());
  CHECK(wait_until([&] { return server.stats().connections == 0; }));
  server.stop();
}

TEST_CASE("http server over TLS: mTLS requires a client certificate from client_ca_file") {
  TlsSetup t;
  HttpServer server(t.runner.io(), t.options(t.certs.ca_file), echo);
  REQUIRE(server.start() == "");

  SUBCASE("no client certificate: refused") {
    auto r = https_request("GET", server.port(), "/", t.client());
    CHECK(r.status == 0);
    CHECK(wait_until([&] { return server.stats().failed_handshakes == 1; }));
  }
  SUBCASE("a certificate from the configured CA: served") {
    HttpsOptions c = t.client();
    c.cert_file = t.certs.client_cert_file;
    c.key_file = t.certs.client_key_file;
    auto r = https_request("GET", server.port(), "/", c);
    CHECK_MESSAGE(r.status == 200, r.error);
    CHECK(server.stats().failed_handshakes == 0);
  }
  SUBCASE("a certificate from another CA: refused") {
    HttpsOptions c = t.client();
    c.cert_file = t.certs.other_client_cert_file;
    c.key_file = t.certs.other_client_key_file;
    auto r = https_request("GET", server.port(), "/", c);
    CHECK(r.status == 0);
    CHECK(wait_until([&] { return server.stats().failed_handshakes == 1; }));
  }
  SUBCASE("under TLS 1.2 as well") {
    HttpsOptions c = t.client();
    c.max_version = "1.2";
    CHECK(https_request("GET", server.port(), "/", c).status == 0);
    c.cert_file = t.certs.other_client_cert_file;
    c.key_file = t.certs.other_client_key_file;
    HttpsConnection other(server.port(), c);
    CHECK_FALSE(other.connected());  // TLS 1.2: the client sees the refusal in the handshake
    c.cert_file = t.certs.client_cert_file;
    c.key_file = t.certs.client_key_file;
    auto r = https_request("GET", server.port(), "/", c);
    CHECK_MESSAGE(r.status == 200, r.error);
    CHECK(wait_until([&] { return server.stats().failed_handshakes == 2; }));
  }
  // Whatever happened, the server goes on serving good clients.
  HttpsOptions good = t.client();
  good.cert_file = t.certs.client_cert_file;
  good.key_file = t.certs.client_key_file;
  CHECK(https_request("GET", server.port(), "/again", good).status == 200);
  server.stop();
}

TEST_CASE("http server over TLS: min_version 1.3 refuses a TLS 1.2-only client") {
  TlsSetup t;
  HttpsOptions tls12 = t.client();
  tls12.max_version = "1.2";
  {
    HttpServer server(t.runner.io(), t.options("", "1.3"), echo);
    REQUIRE(server.start() == "");
    auto r = https_request("GET", server.port(), "/", tls12);
    CHECK(r.status == 0);
    CHECK(r.error.find("handshake") == 0);
    CHECK(wait_until([&] { return server.stats().failed_handshakes == 1; }));
    auto r13 = https_request("GET", server.port(), "/", t.client());
    CHECK_MESSAGE(r13.status == 200, r13.error);
    server.stop();
  }
  // The default (1.2) serves that client.
  HttpServer server(t.runner.io(), t.options(), echo);
  REQUIRE(server.start() == "");
  auto r = https_request("GET", server.port(), "/", tls12);
  CHECK_MESSAGE(r.status == 200, r.error);
  server.stop();
}

TEST_CASE("http server over TLS: limits answer as over plain HTTP") {
  TlsSetup t;
  HttpServerOptions o = t.options();
  o.max_body_bytes = 1000;
  o.max_connections = 1;
  HttpServer server(t.runner.io(), o, echo);
  REQUIRE(server.start() == "");

  // Over max_body_bytes: 413 before the body is read; the client, still sending, reads it.
  auto big = https_request("POST", server.port(), "/big", t.client(), std::string(2 * 1024 * 1024, 'x'));
  CHECK_MESSAGE(big.status == 413, big.error);
  CHECK(wait_until([&] { return server.stats().connections == 0; }));

  // Over max_connections: 503 with Retry-After, after the handshake.
  HttpsConnection held(server.port(), t.client());
  REQUIRE(held.connected());
  CHECK(held.request("GET", "/held").status == 200);
  auto busy = https_request("GET", server.port(), "/busy", t.client());
  CHECK_MESSAGE(busy.status == 503, busy.error);
  CHECK(busy.header("Retry-After") == "1");
  CHECK(server.stats().refused_connections == 1);
  held.close();
  CHECK(wait_until([&] { return server.stats().connections == 0; }));
  CHECK(https_request("GET", server.port(), "/free", t.client()).status == 200);
  CHECK(server.stats().failed_handshakes == 0);
  server.stop();
}

TEST_CASE("http server over TLS: stop() ends idle connections with close_notify, at once") {
  TlsSetup t;
  std::atomic<int> handled{0};
  HttpServer server(t.runner.io(), t.options(), [&](HttpRequest& r) {
    ++handled;
    return echo(r);
  });
  REQUIRE(server.start() == "");
  HttpsConnection idle(server.port(), t.client());
  REQUIRE(idle.connected());
  CHECK(idle.request("GET", "/").status == 200);
  Client handshaking(server.port());  // connected, no handshake yet
  REQUIRE(handshaking.connected());
  CHECK(wait_until([&] { return server.stats().connections == 2; }));

  const auto t0 = std::chrono::steady_clock::now();
  server.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
  CHECK(idle.wait_closed() == HttpsConnection::Closed::kCloseNotify);
  CHECK(handshaking.closed_by_peer());
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(handled == 1);
  CHECK(server.stats().failed_handshakes == 0);  // closed by stop(), not failed
}
