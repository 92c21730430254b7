// The bearertokenauth extension: options, both authenticator directions, the token file, and
// the token never showing up in a message or a log line.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "agent/config/loader.hpp"
#include "agent/extensions/bearertokenauth/bearertokenauth.hpp"
#include "tests/support/http_test_support.hpp"
#include "tests/support/process.hpp"

using namespace vigil;
using namespace vigil::testing;
using namespace std::chrono_literals;
using extensions::BearerTokenAuthExtension;
using extensions::BearerTokenAuthOptions;

namespace {

constexpr char kToken[] = "s3cr3t-T0KEN-value";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Everything written to stderr (the agent's log) while it lives.
class StderrCapture {
 public:
  explicit StderrCapture(std::string path) : path_(std::move(path)) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    std::FILE* f = std::fopen(path_.c_str(), "w");
    REQUIRE(f != nullptr);
    ::dup2(::fileno(f), 2);
    std::fclose(f);
  }
  ~StderrCapture() { restore(); }
  std::string text() {
    restore();
    return vigil::testing::read_file(path_);
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

component::HeaderList with(const std::string& name, const std::string& value) {
  return {{"content-type", "application/x-protobuf"}, {name, value}};
}

// Errors from validating `yaml` against the factory's schema and its cross-option checks.
std::vector<std::string> check(const std::string& yaml) {
  const component::Factory f = extensions::bearertokenauth_extension_factory();
  config::Errors errors;
  config::Value node = config::parse_yaml(yaml, "c.yaml", errors);
  REQUIRE(errors.empty());
  config::validate(f.schema, &node, {}, "bearertokenauth", errors);
  f.validate(config::Settings(&f.schema, &node, {}), "bearertokenauth", errors);
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.str());
  return out;
}

}  // namespace

TEST_CASE("bearertokenauth: factory, defaults and validation") {
  const component::Factory f = extensions::bearertokenauth_extension_factory();
  CHECK(f.type == "bearertokenauth");
  CHECK(f.kind == component::Kind::kExtension);
  REQUIRE(f.create_extension);

  config::Errors errors;
  config::Value node = config::parse_yaml(std::string("token: ") + kToken + "\n", "c.yaml", errors);
  config::Settings settings(&f.schema, &node, {});
  BearerTokenAuthOptions o = extensions::read_bearertokenauth_options(settings);
  CHECK(o.scheme == "Bearer");
  CHECK(o.header == "Authorization");
  CHECK(o.token == kToken);
  CHECK(o.filename.empty());
  CHECK(check(std::string("token: ") + kToken + "\n").empty());
  CHECK(check("filename: /run/secrets/token\n").empty());
  CHECK(check("filename: /t\nscheme: \"\"\nheader: X-Api-Key\n").empty());

  auto e = check("{}");
  REQUIRE(e.size() == 1);
  CHECK(contains(e[0], "one of token or filename is required"));

  e = check(std::string("token: ") + kToken + "\nfilename: /t\n");
  REQUIRE(e.size() == 1);
  CHECK(contains(e[0], "both set"));
  CHECK_FALSE(contains(e[0], kToken));

  e = check("token: \"two words\"\n");
  REQUIRE(e.size() == 1);
  CHECK(contains(e[0], "whitespace"));
  CHECK_FALSE(contains(e[0], "two words"));

  e = check(std::string("token: ") + kToken + "\nheader: \"Bad Header\"\nscheme: \"Two Words\"\n");
  CHECK(e.size() == 2);
  for (const auto& m : e) CHECK_FALSE(contains(m, kToken));
}

TEST_CASE("bearertokenauth: the server side accepts only <scheme> <token>, without echoing it") {
  BearerTokenAuthOptions o;
  o.token = kToken;
  BearerTokenAuthExtension ext("bearertokenauth/server", o);
  const std::string good = std::string("Bearer ") + kToken;

  CHECK(ext.authenticate(with("authorization", good)).is_ok());
  CHECK(ext.authenticate(with("authorization", std::string("bearer ") + kToken)).is_ok());  // RFC: any case

  struct Bad {
    component::HeaderList headers;
    std::string message;
  };
  const std::vector<Bad> bad = {
      {{}, "missing Authorization header"},
      {with("x-other", good), "missing Authorization header"},
      {with("authorization", ""), "missing Authorization header"},
      {with("authorization", std::string("Basic ") + kToken),
       "Authorization header does not use the Bearer scheme"},
      {with("authorization", kToken), "Authorization header does not use the Bearer scheme"},
      {with("authorization", std::string("Bearer") + kToken),
       "Authorization header does not use the Bearer scheme"},
      {with("authorization", "Bearer "), "invalid bearer token"},
      {with("authorization", "Bearer wrong"), "invalid bearer token"},
      {with("authorization", good + "x"), "invalid bearer token"},
      {with("authorization", good.substr(0, good.size() - 1)), "invalid bearer token"},
      {with("authorization", good.substr(0, good.size() - 1) + "E"), "invalid bearer token"},
  };
  for (const auto& b : bad) {
    const component::Status s = ext.authenticate(b.headers);
    CAPTURE(b.message);
    CHECK(s.is_permanent());
    CHECK(s.message() == b.message);
    CHECK_FALSE(contains(s.message(), kToken));
    CHECK_FALSE(contains(s.message(), "s3cr3t"));
  }

  SUBCASE("another header, no scheme") {
    o.scheme = "";
    o.header = "X-Api-Key";
    BearerTokenAuthExtension key("bearertokenauth/key", o);
    CHECK(key.authenticate(with("x-api-key", kToken)).is_ok());
    CHECK(key.authenticate(with("authorization", good)).message() == "missing X-Api-Key header");
    CHECK(key.authenticate(with("x-api-key", good)).message() == "invalid token");
  }
}

TEST_CASE("bearertokenauth: the client side adds the header the server side accepts") {
  BearerTokenAuthOptions o;
  o.token = kToken;
  BearerTokenAuthExtension ext("bearertokenauth/client", o);
  component::HeaderList out = {{"content-type", "application/json"}};
  REQUIRE(ext.request_headers(out).is_ok());
  REQUIRE(out.size() == 2);
  CHECK(out[1].first == "authorization");
  CHECK(out[1].second == std::string("Bearer ") + kToken);
  CHECK(ext.authenticate(out).is_ok());

  o.scheme = "Token";
  o.header = "X-Auth";
  BearerTokenAuthExtension custom("bearertokenauth/custom", o);
  out.clear();
  REQUIRE(custom.request_headers(out).is_ok());
  REQUIRE(out.size() == 1);
  CHECK(out[0].first == "x-auth");
  CHECK(out[0].second == std::string("Token ") + kToken);
  CHECK(custom.authenticate(out).is_ok());
  CHECK_FALSE(ext.authenticate(out).is_ok());  // the other instance expects another header

  // Through the factory, as the agent creates it, and found as both kinds of authenticator.
  const component::Factory f = extensions::bearertokenauth_extension_factory();
  config::Errors errors;
  config::Value node = config::parse_yaml(std::string("token: ") + kToken + "\n", "c.yaml", errors);
  config::Settings settings(&f.schema, &node, {});
  IoRunner runner(1);
  FakeHost host(runner.io());
  auto created =
      f.create_extension(component::CreateSettings{"bearertokenauth", settings, host.telemetry(), ""});
  REQUIRE(created->start(host).is_ok());
  auto* client = dynamic_cast<component::ClientAuthenticator*>(created.get());
  auto* server = dynamic_cast<component::ServerAuthenticator*>(created.get());
  REQUIRE(client != nullptr);
  REQUIRE(server != nullptr);
  out.clear();
  REQUIRE(client->request_headers(out).is_ok());
  CHECK(server->authenticate(out).is_ok());
  created->shutdown(component::Clock::now());
}

TEST_CASE("bearertokenauth: a token file is read at start and again when it changes") {
  TempDir dir;
  const std::string path = dir.file("token");
  StderrCapture log(dir.file("stderr.txt"));
  BearerTokenAuthOptions o;
  o.filename = path;
  IoRunner runner(1);
  FakeHost host(runner.io());

  SUBCASE("a missing file fails start, naming the file") {
    BearerTokenAuthExtension ext("bearertokenauth/missing", o);
    const component::Status s = ext.start(host);
    CHECK(s.is_permanent());
    CHECK(contains(s.message(), path));
    CHECK(contains(s.message(), "No such file"));
  }

  SUBCASE("by default the file is checked at most once a second") {
    write_file(path, kToken);
    BearerTokenAuthExtension ext("bearertokenauth/slow", o);
    REQUIRE(ext.start(host).is_ok());
    write_file(path, "changed-token-of-another-length");
    for (int i = 0; i < 100; ++i)
      CHECK(ext.authenticate(with("authorization", std::string("Bearer ") + kToken)).is_ok());
    CHECK(ext.file_reads() == 1);
    // Reads happen on use only.
    CHECK(eventually(
        [&] {
          return ext.authenticate(with("authorization", "Bearer changed-token-of-another-length")).is_ok();
        },
        3000ms));
    CHECK(ext.file_reads() == 2);
  }

  SUBCASE("changes are picked up; unchanged files are not read again; a file that goes away or empties") {
    o.file_check_interval = 20ms;
    write_file(path, std::string("  ") + kToken + "\n");
    BearerTokenAuthExtension ext("bearertokenauth/file", o);
    REQUIRE(ext.start(host).is_ok());
    CHECK(ext.file_reads() == 1);
    const std::string first = std::string("Bearer ") + kToken;
    CHECK(ext.authenticate(with("authorization", first)).is_ok());
    component::HeaderList out;
    REQUIRE(ext.request_headers(out).is_ok());
    CHECK(out.at(0).second == first);

    const std::string second_token = "another-token-of-another-length";
    write_file(path, second_token + "\n");
    const std::string second = "Bearer " + second_token;
    CHECK(eventually([&] { return ext.authenticate(with("authorization", second)).is_ok(); }, 3000ms));
    CHECK(ext.authenticate(with("authorization", first)).message() == "invalid bearer token");
    CHECK(ext.file_reads() == 2);

    // Used constantly over many check intervals: the unchanged file is not read again.
    auto keep_using = [&](const std::string& value) {
      const auto until = std::chrono::steady_clock::now() + 200ms;
      bool all_ok = true;
      while (std::chrono::steady_clock::now() < until) {
        all_ok = all_ok && ext.authenticate(with("authorization", value)).is_ok();
      }
      return all_ok;
    };
    CHECK(keep_using(second));
    CHECK(ext.file_reads() == 2);

    // An emptied file means no token: refused, and the client side is asked to retry.
    write_file(path, "\n");
    CHECK(eventually([&] { return !ext.authenticate(with("authorization", second)).is_ok(); }, 3000ms));
    const component::Status s = ext.authenticate(with("authorization", second));
    CHECK(s.is_permanent());
    CHECK(s.message() == "no token is available to check against");
    component::HeaderList none;
    const component::Status c = ext.request_headers(none);
    CHECK(c.is_retryable());
    CHECK(none.empty());
    CHECK_FALSE(contains(c.message(), second_token));

    // Filled again, then deleted: the last token read stays in use.
    write_file(path, std::string(kToken));
    CHECK(eventually([&] { return ext.authenticate(with("authorization", first)).is_ok(); }, 3000ms));
    ::unlink(path.c_str());
    CHECK(keep_using(first));

    // A token with a line break inside is not taken (it would break the header).
    write_file(path, "bad\ntoken");
    CHECK(keep_using(first));
  }

  // Nothing the extension logged holds a token.
  const std::string logged = log.text();
  CHECK_FALSE(contains(logged, kToken));
  CHECK_FALSE(contains(logged, "another-token"));
}
