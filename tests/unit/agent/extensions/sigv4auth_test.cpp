// The sigv4auth extension: scope inference, signing (checked the way a server checks it:
// recomputed from the request as received), errors, config; and the otlphttp exporter signing
// its real (compressed) requests through it, verified by a local HTTP server.
#include "agent/extensions/sigv4auth/sigv4auth.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "agent/aws/sigv4.hpp"
#include "agent/config/loader.hpp"
#include "agent/telemetry/telemetry.hpp"
#include "exporters/otlphttp/otlphttp_exporter.hpp"
#include "tests/support/env_guard.hpp"
#include "tests/support/fake_host.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/support/http_test_support.hpp"
#include "tests/support/test_batches.hpp"

using namespace vigil;
using component::Status;
using extensions::Sigv4AuthExtension;
using extensions::Sigv4AuthOptions;

namespace sigv4auth_fakes {

// Hands out fixed credentials, or fails like a chain with nothing to offer.
class FakeProvider : public aws::CredentialsProvider {
 public:
  Status get(aws::Credentials& out) override {
    ++calls;
    if (!available.load()) return Status::retryable("environment: AWS_ACCESS_KEY_ID not set; imds: disabled");
    out = credentials;
    return Status::ok();
  }
  aws::Credentials credentials;
  std::atomic<bool> available{true};
  std::atomic<int> calls{0};
};

}  // namespace sigv4auth_fakes

namespace {

using sigv4auth_fakes::FakeProvider;
using TestHost = testing::host_fakes::FakeHost;

aws::Credentials test_credentials(bool token) {
  aws::Credentials c;
  c.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  if (token) c.session_token = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN";
  c.provider = "fake";
  return c;
}

std::string header_value(const component::HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (testing::fake_http::lower_ascii(n) == name) return v;
  }
  return {};
}

std::string between(const std::string& s, const std::string& from, const std::string& to) {
  const auto b = s.find(from);
  if (b == std::string::npos) return {};
  const auto e = s.find(to, b + from.size());
  return s.substr(b + from.size(), e == std::string::npos ? std::string::npos : e - b - from.size());
}

// What an AWS endpoint does with a request it receives: read the scope, the signed headers and
// the date from the request, recompute the signature with the secret, compare. "" when it
// verifies, else why not.
std::string verify(const std::string& method, const std::string& url, const component::HeaderList& received,
                   const std::string& body, const aws::Credentials& credentials, const std::string& region,
                   const std::string& service) {
  const std::string authorization = header_value(received, "authorization");
  if (authorization.empty()) return "no authorization header";
  const std::string credential = between(authorization, "Credential=", ",");
  const std::string signed_headers = between(authorization, "SignedHeaders=", ",");
  const std::string signature = between(authorization, "Signature=", ",");
  const std::string date = header_value(received, "x-amz-date");
  if (credential !=
      credentials.access_key_id + "/" + date.substr(0, 8) + "/" + region + "/" + service + "/aws4_request") {
    return "credential scope " + credential;
  }
  std::tm tm{};
  std::istringstream in(date);
  in >> std::get_time(&tm, "%Y%m%dT%H%M%SZ");
  if (in.fail()) return "bad x-amz-date " + date;
  aws::SignableRequest r;
  r.method = method;
  r.url = url;
  r.body = body;
  for (const auto& [n, v] : received) {
    const std::string l = testing::fake_http::lower_ascii(n);
    if ((";" + signed_headers + ";").find(";" + l + ";") != std::string::npos) {
      r.headers.emplace_back(l, v);
    }
  }
  aws::SigningOptions o;
  o.region = region;
  o.service = service;
  o.time = std::chrono::system_clock::from_time_t(timegm(&tm));
  const aws::Signature expected = aws::sign(r, credentials, o);
  if (expected.signature != signature)
    return "signature differs; expected canonical request:\n" + expected.canonical_request;
  if (between(header_value(expected.headers, "authorization"), "SignedHeaders=", ",") != signed_headers) {
    return "signed headers differ: " + signed_headers;
  }
  return {};
}

struct Started {
  std::shared_ptr<FakeProvider> provider = std::make_shared<FakeProvider>();
  telemetry::Telemetry telemetry;
  TestHost host;
  std::unique_ptr<Sigv4AuthExtension> ext;

  explicit Started(Sigv4AuthOptions o, bool token = false) {
    provider->credentials = test_credentials(token);
    o.provider = provider;
    ext = std::make_unique<Sigv4AuthExtension>("sigv4auth", std::move(o), &telemetry);
    const Status s = ext->start(host);
    REQUIRE_MESSAGE(s.is_ok(), s.message());
  }
  double failures(const std::string& reason) {
    return testing::counter_value(telemetry, "vigil_sigv4auth_failures_total",
                                  {{"extension", "sigv4auth"}, {"reason", reason}});
  }
};

using testing::env::EnvGuard;

std::vector<std::string> check(const std::string& yaml) {
  const component::Factory f = extensions::sigv4auth_extension_factory();
  config::Errors errors;
  config::Value node = config::parse_yaml(yaml, "c.yaml", errors);
  REQUIRE(errors.empty());
  config::validate(f.schema, &node, {}, "sigv4auth", errors);
  if (errors.empty()) f.validate(config::Settings(&f.schema, &node, {}), "sigv4auth", errors);
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.str());
  return out;
}

}  // namespace

TEST_CASE("sigv4auth: service and region from the URL's host") {
  using extensions::infer_signing_scope;
  auto scope = [](const char* url) {
    const auto s = infer_signing_scope(url);
    return s.service + "|" + s.region;
  };
  CHECK(scope("https://xray.us-east-1.amazonaws.com/v1/traces") == "xray|us-east-1");
  CHECK(scope("https://logs.eu-west-3.amazonaws.com:443/v1/logs") == "logs|eu-west-3");
  CHECK(scope("https://monitoring.ap-southeast-2.amazonaws.com/v1/metrics") == "monitoring|ap-southeast-2");
  CHECK(scope("https://LOGS.US-WEST-2.AMAZONAWS.COM/v1/logs") == "logs|us-west-2");
  CHECK(scope("https://logs.cn-north-1.amazonaws.com.cn/v1/logs") == "logs|cn-north-1");
  CHECK(scope("https://xray-fips.us-gov-west-1.amazonaws.com/v1/traces") == "xray|us-gov-west-1");
  CHECK(scope("https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write") ==
        "aps|us-east-1");
  CHECK(scope("https://search-mydomain-abc123.eu-central-1.es.amazonaws.com/_bulk") == "es|eu-central-1");
  CHECK(scope("https://sts.amazonaws.com/") == "|");
  CHECK(scope("https://collector.example.com/v1/traces") == "|");
  CHECK(scope("http://127.0.0.1:4318/v1/traces") == "|");
  CHECK(scope("https://amazonaws.com.evil.example/") == "|");
}

TEST_CASE("sigv4auth: signs a request that verifies") {
  for (const bool token : {false, true}) {
    CAPTURE(token);
    Started s(Sigv4AuthOptions{}, token);
    const component::HeaderList headers = {{"Content-Type", "application/x-protobuf"},
                                           {"x-aws-log-group", "/aws/vigil/app"},
                                           {"x-aws-log-stream", "default"}};
    const std::string body = "\x0a\x03\x01\x02\x03 payload";
    const std::string url = "https://logs.eu-west-3.amazonaws.com/v1/logs";
    component::HeaderList added;
    const Status st = s.ext->sign_request({"POST", url, headers, body}, added);
    REQUIRE_MESSAGE(st.is_ok(), st.message());
    CHECK(header_value(added, "host") == "logs.eu-west-3.amazonaws.com");
    CHECK(header_value(added, "x-amz-security-token") == (token ? test_credentials(true).session_token : ""));
    CHECK(header_value(added, "authorization").find("/eu-west-3/logs/aws4_request") != std::string::npos);
    CHECK(header_value(added, "authorization").find("x-aws-log-group;x-aws-log-stream") != std::string::npos);

    component::HeaderList received = headers;
    received.insert(received.end(), added.begin(), added.end());
    CHECK(verify("POST", url, received, body, test_credentials(token), "eu-west-3", "logs") == "");
    // The checker is not a rubber stamp.
    CHECK(verify("POST", url, received, body + "x", test_credentials(token), "eu-west-3", "logs") != "");
    received[1].second = "/aws/vigil/other";
    CHECK(verify("POST", url, received, body, test_credentials(token), "eu-west-3", "logs") != "");

    CHECK(testing::counter_value(s.telemetry, "vigil_sigv4auth_signed_requests_total",
                                 {{"extension", "sigv4auth"}}) == 1);
    CHECK(s.provider->calls == 1);
  }
}

TEST_CASE("sigv4auth: configured service and region win over the host") {
  Sigv4AuthOptions o;
  o.service = "execute-api";
  o.region = "us-west-2";
  Started s(o);
  component::HeaderList added;
  const component::HeaderList none;
  REQUIRE(s.ext->sign_request({"GET", "https://xray.us-east-1.amazonaws.com/", none, ""}, added).is_ok());
  CHECK(header_value(added, "authorization").find("/us-west-2/execute-api/aws4_request") !=
        std::string::npos);
}

TEST_CASE("sigv4auth: errors") {
  const component::HeaderList none;
  component::HeaderList added;

  SUBCASE("no credentials: retryable, counted, no secret in the message") {
    Started s(Sigv4AuthOptions{}, true);
    s.provider->available = false;
    const Status st =
        s.ext->sign_request({"POST", "https://xray.us-east-1.amazonaws.com/v1/traces", none, "x"}, added);
    CHECK(st.is_retryable());
    CHECK(st.message().find("no AWS credentials") != std::string::npos);
    CHECK(st.message().find("AWS_ACCESS_KEY_ID not set") != std::string::npos);
    CHECK(added.empty());
    CHECK(s.failures("credentials") == 1);
    // They come back: the next request is signed.
    s.provider->available = true;
    CHECK(s.ext->sign_request({"POST", "https://xray.us-east-1.amazonaws.com/v1/traces", none, "x"}, added)
              .is_ok());
    CHECK_FALSE(header_value(added, "authorization").empty());
  }

  SUBCASE("a service neither configured nor in the host: permanent") {
    Started s(Sigv4AuthOptions{});
    const Status st = s.ext->sign_request({"POST", "https://otlp.example.com/v1/traces", none, ""}, added);
    CHECK(st.is_permanent());
    CHECK(st.message().find("`service` is not configured") != std::string::npos);
    CHECK(s.failures("scope") == 1);
  }

  SUBCASE("no region anywhere: permanent, and the lookup is not repeated at once") {
    EnvGuard env;
    env.unset("AWS_REGION");
    env.unset("AWS_DEFAULT_REGION");
    env.set("AWS_EC2_METADATA_DISABLED", "true");
    env.set("AWS_CONFIG_FILE", "/nonexistent/vigil-test/config");
    env.set("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/vigil-test/credentials");
    Sigv4AuthOptions o;
    o.service = "xray";
    o.credential_settings.imds_endpoint = "http://127.0.0.1:1";
    Started s(o);
    Status st = s.ext->sign_request({"POST", "https://collector.example.com/v1/traces", none, ""}, added);
    CHECK(st.is_permanent());
    CHECK(st.message().find("`region` is not configured") != std::string::npos);
    st = s.ext->sign_request({"POST", "https://collector.example.com/v1/traces", none, ""}, added);
    CHECK(st.is_permanent());
    CHECK(s.failures("scope") == 2);
    CHECK(added.empty());
  }

  SUBCASE("the region from the environment when the host has none") {
    EnvGuard env;
    env.set("AWS_REGION", "sa-east-1");
    Sigv4AuthOptions o;
    o.service = "xray";
    Started s(o);
    const Status st =
        s.ext->sign_request({"POST", "https://collector.example.com/v1/traces", none, ""}, added);
    REQUIRE_MESSAGE(st.is_ok(), st.message());
    CHECK(header_value(added, "authorization").find("/sa-east-1/xray/aws4_request") != std::string::npos);
  }

  SUBCASE("a sender that only asks for headers") {
    Started s(Sigv4AuthOptions{});
    const Status st = s.ext->request_headers(added);
    CHECK(st.is_permanent());
    CHECK(st.message().find("otlphttp") != std::string::npos);
  }
}

TEST_CASE("sigv4auth: factory and validation") {
  const component::Factory f = extensions::sigv4auth_extension_factory();
  CHECK(f.type == "sigv4auth");
  CHECK(f.kind == component::Kind::kExtension);
  CHECK(check("{}").empty());
  CHECK(check("region: us-east-1\nservice: xray\n").empty());
  CHECK(check("assume_role:\n  arn: arn:aws:iam::123456789012:role/vigil\n  session_name: s\n  sts_region: "
              "us-east-1\n")
            .empty());
  auto e = check("assume_role:\n  arn: vigil-role\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].find("not an ARN") != std::string::npos);
  e = check("assume_role:\n  session_name: s\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].find("needs arn") != std::string::npos);
  e = check("region: US East\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].find("not an AWS region") != std::string::npos);
  CHECK_FALSE(check("unknown_key: 1\n").empty());

  config::Errors errors;
  config::Value node = config::parse_yaml(
      "region: eu-west-1\nservice: logs\nassume_role:\n  arn: arn:aws:iam::1:role/r\n  session_name: sess\n",
      "c.yaml", errors);
  const Sigv4AuthOptions o = extensions::read_sigv4auth_options(config::Settings(&f.schema, &node, {}));
  CHECK(o.region == "eu-west-1");
  CHECK(o.service == "logs");
  CHECK(o.role_arn == "arn:aws:iam::1:role/r");
  CHECK(o.role_session_name == "sess");
  CHECK(o.sts_region.empty());
}

TEST_CASE("sigv4auth: otlphttp signs its real requests, compressed body and all") {
  for (const std::string compression : {"none", "gzip"}) {
    CAPTURE(compression);
    testing::fake_http::FakeHttpServer server;
    Sigv4AuthOptions o;
    o.region = "us-east-1";
    o.service = "xray";
    Started auth(o, true);

    const component::Factory factory = exporters::otlphttp_exporter_factory();
    config::Errors errors;
    config::Value node = config::parse_yaml("endpoint: " + server.url() + "\ncompression: " + compression +
                                                "\nheaders:\n  X-Aws-Log-Group: \"  /aws/vigil  \"\n"
                                                "auth:\n  authenticator: sigv4auth\n",
                                            "c.yaml", errors);
    REQUIRE(errors.empty());
    config::validate(factory.schema, &node, {}, "otlphttp", errors);
    REQUIRE(errors.empty());
    telemetry::Telemetry tel;
    config::Settings settings(&factory.schema, &node, {});
    component::CreateSettings cs{"otlphttp", settings, tel, ""};
    auto sender = factory.create_exporter(cs, model::Signal::kTraces);
    REQUIRE(sender != nullptr);
    TestHost host;
    host.extensions["sigv4auth"] = auth.ext.get();
    REQUIRE(sender->start(host).is_ok());

    for (int i = 0; i < 3; ++i) {
      const Status st = sender->send(model::testing::make_spans({{3}}));
      REQUIRE_MESSAGE(st.is_ok(), st.message());
    }
    const auto requests = server.requests();
    REQUIRE(requests.size() == 3);
    for (const auto& r : requests) {
      CHECK(r.header("content-encoding") == (compression == "gzip" ? "gzip" : ""));
      CHECK(r.header("x-amz-security-token") == test_credentials(true).session_token);
      CHECK(verify(r.method, server.url() + r.target, r.headers, r.body, test_credentials(true), "us-east-1",
                   "xray") == "");
      const std::string signed_headers = between(r.header("authorization"), "SignedHeaders=", ",");
      CHECK(signed_headers.find("content-type") != std::string::npos);
      CHECK(signed_headers.find("x-aws-log-group") != std::string::npos);
    }

    // No credentials: the export is retryable and nothing is sent.
    auth.provider->available = false;
    const Status st = sender->send(model::testing::make_spans({{1}}));
    CHECK(st.is_retryable());
    CHECK(server.requests().size() == 3);
    sender->shutdown({});
  }
}
