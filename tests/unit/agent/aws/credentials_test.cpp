// The AWS credential chain and region resolution against local fakes (fake_http_server.hpp)
// playing STS, the container credentials endpoint and IMDSv2. Every test clears the AWS
// environment first and restores it afterwards (AwsEnvGuard), and points HOME at a temporary
// folder. Test cases are named "credentials: ...".
#include "agent/aws/credentials.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/aws/credentials_ini.hpp"
#include "agent/aws/credentials_parse.hpp"
#include "agent/aws/sigv4.hpp"
#include "agent/runtime/http_client.hpp"
#include "tests/support/env_guard.hpp"
#include "tests/support/fake_http_server.hpp"

namespace credentials_fakes {

using namespace vigil;
namespace fh = vigil::testing::fake_http;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

constexpr const char* kAwsVars[] = {"AWS_ACCESS_KEY_ID",
                                    "AWS_SECRET_ACCESS_KEY",
                                    "AWS_SESSION_TOKEN",
                                    "AWS_PROFILE",
                                    "AWS_SHARED_CREDENTIALS_FILE",
                                    "AWS_CONFIG_FILE",
                                    "AWS_ROLE_ARN",
                                    "AWS_WEB_IDENTITY_TOKEN_FILE",
                                    "AWS_ROLE_SESSION_NAME",
                                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                    "AWS_EC2_METADATA_DISABLED",
                                    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                                    "AWS_REGION",
                                    "AWS_DEFAULT_REGION",
                                    "AWS_ENDPOINT_URL_STS",
                                    "AWS_ENDPOINT_URL"};

// Clears the AWS and proxy environment (IMDS disabled unless a test enables it); restores every
// variable it touched.
class AwsEnvGuard : public vigil::testing::env::EnvGuard {
 public:
  AwsEnvGuard() : vigil::testing::env::EnvGuard(kAwsVars) {
    for (const char* name : vigil::testing::env::kProxyVariables) unset(name);
    set("AWS_EC2_METADATA_DISABLED", "true");
  }
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vigil-creds-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string write(const std::string& relative, const std::string& text) const {
    const auto p = path_ / relative;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

std::string iso(Clock::time_point t) {
  const std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string json_credentials(const std::string& id, const std::string& secret, const std::string& token,
                             Clock::time_point expiration) {
  return R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":")" + id + R"(","SecretAccessKey":")" + secret +
         R"(","Token":")" + token + R"(","Expiration":")" + iso(expiration) + R"("})";
}

// "a=1&b=x%2Fy" → {a: 1, b: x/y}
std::map<std::string, std::string> parse_form(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  while (i <= body.size()) {
    const std::size_t amp = std::min(body.find('&', i), body.size());
    const std::string pair = body.substr(i, amp - i);
    const std::size_t eq = pair.find('=');
    std::string value;
    const std::string raw = eq == std::string::npos ? "" : pair.substr(eq + 1);
    for (std::size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '%' && k + 2 < raw.size()) {
        value.push_back(static_cast<char>(std::stoi(raw.substr(k + 1, 2), nullptr, 16)));
        k += 2;
      } else {
        value.push_back(raw[k] == '+' ? ' ' : raw[k]);
      }
    }
    if (!pair.empty()) out[pair.substr(0, eq)] = value;
    i = amp + 1;
  }
  return out;
}

// STS: AssumeRole and AssumeRoleWithWebIdentity, answering fresh credentials named after the
// call's number (STSKEY1, STSKEY2, ...) that expire `lifetime` from now.
class FakeSts {
 public:
  FakeSts() {
    server.set_handler([this](const fh::Request& r) { return handle(r); });
  }
  std::string url() const { return server.url(); }

  fh::FakeHttpServer server;
  std::atomic<int> calls{0};
  std::chrono::seconds lifetime{3600};
  std::atomic<int> fail_status{0};  // non-zero: answer this with an STS error document

 private:
  fh::Response handle(const fh::Request& r) {
    const auto form = parse_form(r.body);
    const auto action = form.count("Action") ? form.at("Action") : "";
    if (fail_status.load() != 0) {
      return fh::Response{fail_status.load(), {{"Content-Type", "text/xml"}},
                          "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not "
                          "authorized to perform sts:" +
                              action + "</Message></Error></ErrorResponse>"};
    }
    const int n = ++calls;
    const std::string tag = action + "Result";
    return fh::Response{200,
                        {{"Content-Type", "text/xml"}},
                        "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><" + tag +
                            "><Credentials><AccessKeyId>STSKEY" + std::to_string(n) +
                            "</AccessKeyId><SecretAccessKey>sts-secret-" + std::to_string(n) +
                            "</SecretAccessKey><SessionToken>sts-token-" + std::to_string(n) +
                            "</SessionToken><Expiration>" + iso(Clock::now() + lifetime) +
                            "</Expiration></Credentials></" + tag + "></" + action + "Response>"};
  }
};

// IMDSv2: tokens from PUT /latest/api/token (which must carry the TTL header), a role, and its
// credentials; expire_tokens() makes every token issued so far answer 401.
class FakeImds {
 public:
  FakeImds() {
    server.set_handler([this](const fh::Request& r) { return handle(r); });
  }
  std::string url() const { return server.url(); }
  void expire_tokens() {
    std::lock_guard lock(mu_);
    valid_.clear();
  }
  int tokens_issued() const {
    std::lock_guard lock(mu_);
    return issued_;
  }

  fh::FakeHttpServer server;
  std::string role = "vigil-node-role";
  std::string region = "eu-west-3";
  std::chrono::seconds lifetime{6 * 3600};

 private:
  fh::Response handle(const fh::Request& r) {
    std::lock_guard lock(mu_);
    if (r.method == "PUT" && r.target == "/latest/api/token") {
      if (r.header("x-aws-ec2-metadata-token-ttl-seconds").empty()) return fh::Response{400, {}, "missing TTL"};
      const std::string token = "imds-token-" + std::to_string(++issued_);
      valid_.insert(token);
      return fh::Response{200, {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}}, token};
    }
    if (valid_.count(r.header("x-aws-ec2-metadata-token")) == 0) return fh::Response{401, {}, ""};
    if (r.target == "/latest/meta-data/iam/security-credentials/") return fh::Response{200, {}, role};
    if (r.target == "/latest/meta-data/iam/security-credentials/" + role) {
      return fh::Response{200, {}, json_credentials("IMDSKEY", "imds-secret", "imds-token",
                                                    Clock::now() + lifetime)};
    }
    if (r.target == "/latest/meta-data/placement/region") return fh::Response{200, {}, region};
    return fh::Response{404, {}, "not found"};
  }

  mutable std::mutex mu_;
  std::set<std::string> valid_;
  int issued_ = 0;
};

// Everything a test needs: a clean environment, a temporary HOME, an HTTP client, settings that
// point at nothing real.
struct Fixture {
  AwsEnvGuard env;
  TempDir home;
  runtime::HttpClient http;
  aws::CredentialSettings settings;

  Fixture() {
    settings.home = home.path();
    settings.sts_endpoint = "http://127.0.0.1:1";  // a test that calls STS sets its fake
    settings.min_refresh_interval = 0ms;
  }
  std::shared_ptr<aws::CredentialsProvider> provider() {
    return aws::make_default_credentials_provider(settings, http);
  }
  // What a new chain finds, which must be credentials.
  aws::Credentials credentials() {
    aws::Credentials c;
    const component::Status s = provider()->get(c);
    REQUIRE_MESSAGE(s.is_ok(), s.message());
    return c;
  }
  // Why a new chain finds nothing, which it must not.
  component::Status failure() {
    aws::Credentials c;
    const component::Status s = provider()->get(c);
    REQUIRE_FALSE(s.is_ok());
    return s;
  }
};

}  // namespace credentials_fakes

namespace {

using namespace credentials_fakes;

TEST_CASE("credentials: the environment") {
  Fixture f;
  f.env.set("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT01");
  f.env.set("AWS_SECRET_ACCESS_KEY", "env-secret-value");
  f.env.set("AWS_SESSION_TOKEN", "env-session-token");
  const aws::Credentials c = f.credentials();
  CHECK(c.access_key_id == "AKIAENVIRONMENT01");
  CHECK(c.secret_access_key == "env-secret-value");
  CHECK(c.session_token == "env-session-token");
  CHECK(c.provider == "environment");
  CHECK_FALSE(c.expiration.has_value());
}

TEST_CASE("credentials: half the environment is an error that names the missing variable, not the secret") {
  Fixture f;
  f.env.set("AWS_SECRET_ACCESS_KEY", "env-secret-value");
  const component::Status s = f.failure();
  CHECK(s.is_retryable());
  CHECK(s.message().find("AWS_ACCESS_KEY_ID") != std::string::npos);
  CHECK(s.message().find("env-secret-value") == std::string::npos);
}

TEST_CASE("credentials: shared credentials file, profiles, and the config file") {
  Fixture f;
  f.home.write(".aws/credentials",
               "# comment\n[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = default-secret\n\n"
               "[work]\naws_access_key_id=AKIAWORK\naws_secret_access_key=work-secret ; trailing comment\n"
               "aws_session_token = work-token\n");
  f.home.write(".aws/config",
               "[default]\nregion = us-west-2\n[profile cfgonly]\naws_access_key_id = AKIACONFIG\n"
               "aws_secret_access_key = config-secret\nregion = ap-south-1\n"
               "[cfgonly]\naws_access_key_id = AKIAIGNORED\n"
               "[profile work]\naws_access_key_id = AKIAOVERRIDDEN\n");
  aws::Credentials c;
  SUBCASE("default profile from ~/.aws/credentials") {
    c = f.credentials();
    CHECK(c.access_key_id == "AKIADEFAULT");
    CHECK(c.secret_access_key == "default-secret");
    CHECK(c.provider == "shared_file");
  }
  SUBCASE("AWS_PROFILE; the credentials file wins over the config file") {
    f.env.set("AWS_PROFILE", "work");
    c = f.credentials();
    CHECK(c.access_key_id == "AKIAWORK");
    CHECK(c.secret_access_key == "work-secret");
    CHECK(c.session_token == "work-token");
  }
  SUBCASE("settings.profile wins over AWS_PROFILE; [profile x] in the config file") {
    f.env.set("AWS_PROFILE", "work");
    f.settings.profile = "cfgonly";
    c = f.credentials();
    CHECK(c.access_key_id == "AKIACONFIG");
  }
  SUBCASE("AWS_SHARED_CREDENTIALS_FILE replaces ~/.aws/credentials") {
    const std::string other = f.home.write("elsewhere/creds", "[default]\naws_access_key_id=AKIAOTHER\n"
                                                              "aws_secret_access_key=other-secret\n");
    f.env.set("AWS_SHARED_CREDENTIALS_FILE", other);
    c = f.credentials();
    CHECK(c.access_key_id == "AKIAOTHER");
  }
  SUBCASE("a profile that exists nowhere falls through with a message") {
    f.env.set("AWS_PROFILE", "missing");
    const component::Status s = f.failure();
    CHECK(s.message().find("shared_file: no profile \"missing\"") != std::string::npos);
  }
}

TEST_CASE("credentials: AWS_CONFIG_FILE and the ini parser's rules") {
  const aws::IniProfiles p = aws::parse_ini_profiles(
      "[profile a]\r\nRegion = eu-north-1\r\ns3 =\r\n  max_concurrent_requests = 20\r\nrole_arn = r # c\r\n"
      "[sso-session x]\nsso_region = us-east-1\n[default]\nregion=us-east-2\n",
      /*config_file=*/true);
  REQUIRE(p.count("a") == 1);
  CHECK(p.at("a").at("region") == "eu-north-1");
  CHECK(p.at("a").at("role_arn") == "r");
  CHECK(p.at("a").count("max_concurrent_requests") == 0);
  CHECK(p.count("x") == 0);
  CHECK(p.count("sso-session x") == 0);
  CHECK(p.at("default").at("region") == "us-east-2");
  const aws::IniProfiles c = aws::parse_ini_profiles("[profile a]\nk=v\n", /*config_file=*/false);
  CHECK(c.count("profile a") == 1);

  Fixture f;
  const std::string config = f.home.write("cfg", "[profile p]\nregion = sa-east-1\n");
  f.env.set("AWS_CONFIG_FILE", config);
  f.settings.profile = "p";
  std::string source, error;
  CHECK(aws::resolve_region("", f.settings, f.http, source, error) == "sa-east-1");
  CHECK(source.find("profile p") != std::string::npos);
}

TEST_CASE("credentials: a profile with role_arn and source_profile assumes the role with SigV4") {
  Fixture f;
  FakeSts sts;
  f.settings.sts_endpoint = sts.url();
  f.settings.sts_region = "eu-central-1";
  f.home.write(".aws/credentials", "[base]\naws_access_key_id = AKIABASEPROFILE\naws_secret_access_key = base-secret\n");
  f.home.write(".aws/config", "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\n"
                              "source_profile = base\nrole_session_name = ci-run\nexternal_id = ext-42\n");
  f.env.set("AWS_PROFILE", "deploy");
  const aws::Credentials c = f.credentials();
  CHECK(c.access_key_id == "STSKEY1");
  CHECK(c.secret_access_key == "sts-secret-1");
  CHECK(c.session_token == "sts-token-1");
  REQUIRE(c.expiration.has_value());
  REQUIRE(sts.server.count() == 1);
  const fh::Request r = sts.server.last();
  CHECK(r.method == "POST");
  const auto form = parse_form(r.body);
  CHECK(form.at("Action") == "AssumeRole");
  CHECK(form.at("Version") == "2011-06-15");
  CHECK(form.at("RoleArn") == "arn:aws:iam::123456789012:role/deploy");
  CHECK(form.at("RoleSessionName") == "ci-run");
  CHECK(form.at("ExternalId") == "ext-42");
  const std::string auth = r.header("authorization");
  CHECK(auth.rfind("AWS4-HMAC-SHA256 Credential=AKIABASEPROFILE/", 0) == 0);
  CHECK(auth.find("/eu-central-1/sts/aws4_request") != std::string::npos);
  CHECK(auth.find("base-secret") == std::string::npos);
  CHECK_FALSE(r.header("x-amz-date").empty());
}

// Re-signs what the fake received with the source credentials and the request's own date:
// the signature must be the one it carried.
TEST_CASE("credentials: settings.role_arn assumes a role with the chain's credentials, correctly signed") {
  Fixture f;
  FakeSts sts;
  f.settings.sts_endpoint = sts.url();
  f.settings.sts_region = "us-west-2";
  f.settings.role_arn = "arn:aws:iam::123456789012:role/exporter";
  f.env.set("AWS_ACCESS_KEY_ID", "AKIASOURCEKEY");
  f.env.set("AWS_SECRET_ACCESS_KEY", "source-secret");
  f.env.set("AWS_SESSION_TOKEN", "source-session");
  const aws::Credentials c = f.credentials();
  CHECK(c.access_key_id == "STSKEY1");
  CHECK(c.provider.find("assume_role") != std::string::npos);
  const fh::Request r = sts.server.last();
  CHECK(parse_form(r.body).at("Action") == "AssumeRole");
  CHECK(parse_form(r.body).at("RoleSessionName").rfind("vigil-", 0) == 0);
  CHECK(r.header("x-amz-security-token") == "source-session");

  // The date of the request, then the signature over the headers it says it signed.
  const std::string date = r.header("x-amz-date");
  REQUIRE(date.size() == 16);
  std::tm tm{};
  REQUIRE(::strptime(date.c_str(), "%Y%m%dT%H%M%SZ", &tm) != nullptr);
  const std::string auth = r.header("authorization");
  const std::size_t sh = auth.find("SignedHeaders=");
  const std::size_t sig = auth.find("Signature=");
  REQUIRE(sh != std::string::npos);
  REQUIRE(sig != std::string::npos);
  std::string signed_names = auth.substr(sh + 14, auth.find(',', sh) - sh - 14);
  aws::Headers headers;
  std::size_t i = 0;
  while (i <= signed_names.size()) {
    const std::size_t semi = std::min(signed_names.find(';', i), signed_names.size());
    const std::string name = signed_names.substr(i, semi - i);
    if (name != "x-amz-date" && name != "x-amz-security-token") headers.emplace_back(name, r.header(name));
    i = semi + 1;
  }
  aws::Credentials source{"AKIASOURCEKEY", "source-secret", "source-session", std::nullopt, "environment"};
  aws::SigningOptions options;
  options.region = "us-west-2";
  options.service = "sts";
  options.time = Clock::from_time_t(::timegm(&tm));
  const aws::Signature expected = aws::sign({"POST", sts.url() + "/", headers, r.body}, source, options);
  CHECK(auth.substr(sig + 10) == expected.signature);
}

TEST_CASE("credentials: web identity through STS AssumeRoleWithWebIdentity, the token file re-read") {
  Fixture f;
  FakeSts sts;
  sts.lifetime = 60s;  // within refresh_before: every get() refreshes
  f.env.set("AWS_ENDPOINT_URL_STS", sts.url());
  f.settings.sts_endpoint.clear();
  f.settings.sts_region = "us-east-1";
  const std::string token_file = f.home.write("token", "jwt-token-one\n");
  f.env.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa");
  f.env.set("AWS_WEB_IDENTITY_TOKEN_FILE", token_file);
  f.env.set("AWS_ROLE_SESSION_NAME", "pod-session");
  auto p = f.provider();
  aws::Credentials c;
  REQUIRE(p->get(c).is_ok());
  CHECK(c.access_key_id == "STSKEY1");
  CHECK(c.provider == "web_identity");
  auto form = parse_form(sts.server.last().body);
  CHECK(form.at("Action") == "AssumeRoleWithWebIdentity");
  CHECK(form.at("RoleArn") == "arn:aws:iam::123456789012:role/irsa");
  CHECK(form.at("RoleSessionName") == "pod-session");
  CHECK(form.at("WebIdentityToken") == "jwt-token-one");
  CHECK_FALSE(sts.server.last().has_header("authorization"));

  f.home.write("token", "jwt-token-two");
  REQUIRE(p->get(c).is_ok());
  CHECK(c.access_key_id == "STSKEY2");
  CHECK(parse_form(sts.server.last().body).at("WebIdentityToken") == "jwt-token-two");

  // STS refuses: the error carries STS's code and message, never the token.
  sts.fail_status = 403;
  f.home.write("token", "jwt-token-three");
  const component::Status s = p->get(c);
  // The credentials in hand are still valid for a minute: kept.
  CHECK(s.is_ok());
  auto fresh = f.provider();
  const component::Status s2 = fresh->get(c);
  REQUIRE_FALSE(s2.is_ok());
  CHECK(s2.message().find("AccessDenied") != std::string::npos);
  CHECK(s2.message().find("jwt-token-three") == std::string::npos);
}

TEST_CASE("credentials: container endpoint, relative URI with a token") {
  Fixture f;
  fh::FakeHttpServer container([](const fh::Request& r) {
    if (r.target != "/v2/credentials/abc") return fh::Response{404, {}, "no"};
    return fh::Response{200, {}, json_credentials("ECSKEY", "ecs-secret", "ecs-token", Clock::now() + 1h)};
  });
  f.settings.container_endpoint = container.url();
  f.env.set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc");
  f.env.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic ecs-auth");
  const aws::Credentials c = f.credentials();
  CHECK(c.access_key_id == "ECSKEY");
  CHECK(c.secret_access_key == "ecs-secret");
  CHECK(c.session_token == "ecs-token");
  CHECK(c.provider == "container");
  REQUIRE(c.expiration.has_value());
  CHECK(*c.expiration > Clock::now() + 50min);
  CHECK(container.last().header("authorization") == "Basic ecs-auth");
}

TEST_CASE("credentials: container endpoint, full URI with a token file read on every fetch") {
  Fixture f;
  std::atomic<int> n{0};
  fh::FakeHttpServer container([&](const fh::Request&) {
    const int i = ++n;
    return fh::Response{200, {}, json_credentials("PODKEY" + std::to_string(i), "pod-secret", "pod-token",
                                                  Clock::now() + 2min)};
  });
  const std::string token_file = f.home.write("eks-pod-identity-token", "pod-token-A\n");
  f.env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url() + "/v1/credentials");
  f.env.set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file);
  f.env.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-when-the-file-is-set");
  auto p = f.provider();
  aws::Credentials c;
  REQUIRE(p->get(c).is_ok());
  CHECK(c.access_key_id == "PODKEY1");
  CHECK(container.last().header("authorization") == "pod-token-A");
  CHECK(container.last().target == "/v1/credentials");
  f.home.write("eks-pod-identity-token", "pod-token-B");
  REQUIRE(p->get(c).is_ok());  // 2 min left < refresh_before: refetched
  CHECK(c.access_key_id == "PODKEY2");
  CHECK(container.last().header("authorization") == "pod-token-B");
}

TEST_CASE("credentials: the full URI allow-list") {
  CHECK(aws::check_container_full_uri("https://example.com/creds").empty());
  CHECK(aws::check_container_full_uri("http://127.0.0.1:8080/creds").empty());
  CHECK(aws::check_container_full_uri("http://127.3.4.5/creds").empty());
  CHECK(aws::check_container_full_uri("http://[::1]:80/creds").empty());
  CHECK(aws::check_container_full_uri("http://169.254.170.2/v2/credentials").empty());
  CHECK(aws::check_container_full_uri("http://169.254.170.23/v1/credentials").empty());
  CHECK(aws::check_container_full_uri("http://[fd00:ec2::23]/v1/credentials").empty());
  CHECK(aws::check_container_full_uri("http://localhost:9000/").empty());
  CHECK_FALSE(aws::check_container_full_uri("http://169.254.171.23/creds").empty());
  CHECK_FALSE(aws::check_container_full_uri("http://[fd00:ec2::2]/creds").empty());
  CHECK_FALSE(aws::check_container_full_uri("http://192.168.10.120/creds").empty());
  CHECK_FALSE(aws::check_container_full_uri("ftp://127.0.0.1/creds").empty());
  CHECK_FALSE(aws::check_container_full_uri("/creds").empty());

  Fixture f;
  f.env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds");
  const component::Status s = f.failure();
  CHECK(s.message().find("container: AWS_CONTAINER_CREDENTIALS_FULL_URI is not allowed") != std::string::npos);
}

TEST_CASE("credentials: IMDSv2 token, role and credentials; a 401 fetches a new token once") {
  Fixture f;
  FakeImds imds;
  f.env.unset("AWS_EC2_METADATA_DISABLED");
  f.settings.imds_endpoint = imds.url();
  const aws::Credentials c = f.credentials();
  CHECK(c.access_key_id == "IMDSKEY");
  CHECK(c.secret_access_key == "imds-secret");
  CHECK(c.session_token == "imds-token");
  CHECK(c.provider == "imds");
  const auto requests = imds.server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].method == "PUT");
  CHECK(requests[0].target == "/latest/api/token");
  CHECK(requests[0].header("x-aws-ec2-metadata-token-ttl-seconds") == "21600");
  CHECK(requests[1].target == "/latest/meta-data/iam/security-credentials/");
  CHECK(requests[1].header("x-aws-ec2-metadata-token") == "imds-token-1");
  CHECK(requests[2].target == "/latest/meta-data/iam/security-credentials/vigil-node-role");

  // The next fetch (a new provider: nothing cached) reuses the token; an expired token answers
  // 401, and one new token is fetched.
  imds.expire_tokens();
  imds.server.clear();
  f.credentials();
  CHECK(imds.tokens_issued() == 2);
}

TEST_CASE("credentials: the IMDS token is reused by the same provider") {
  Fixture f;
  FakeImds imds;
  imds.lifetime = 60s;  // refreshed on every get()
  f.env.unset("AWS_EC2_METADATA_DISABLED");
  f.env.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url());
  auto p = f.provider();
  aws::Credentials c;
  for (int i = 0; i < 3; ++i) REQUIRE(p->get(c).is_ok());
  CHECK(imds.tokens_issued() == 1);
  CHECK(imds.server.count("/latest/meta-data/iam/security-credentials/vigil-node-role") == 3);
}

TEST_CASE("credentials: AWS_EC2_METADATA_DISABLED skips IMDS") {
  Fixture f;
  FakeImds imds;
  f.settings.imds_endpoint = imds.url();
  f.env.set("AWS_EC2_METADATA_DISABLED", "TRUE");
  const component::Status s = f.failure();
  CHECK(imds.server.count() == 0);
  CHECK(s.message().find("imds: AWS_EC2_METADATA_DISABLED") != std::string::npos);
}

TEST_CASE("credentials: the chain's order") {
  Fixture f;
  FakeImds imds;
  f.env.unset("AWS_EC2_METADATA_DISABLED");
  f.settings.imds_endpoint = imds.url();
  fh::FakeHttpServer container([](const fh::Request&) {
    return fh::Response{200, {}, json_credentials("ECSKEY", "ecs-secret", "t", Clock::now() + 1h)};
  });
  f.env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url() + "/c");
  FakeSts sts;
  f.settings.sts_endpoint = sts.url();
  f.env.set("AWS_ROLE_ARN", "arn:aws:iam::1:role/r");
  f.env.set("AWS_WEB_IDENTITY_TOKEN_FILE", f.home.write("t", "jwt"));
  f.home.write(".aws/credentials", "[default]\naws_access_key_id=AKIAFILE\naws_secret_access_key=file-secret\n");
  f.env.set("AWS_ACCESS_KEY_ID", "AKIAENV");
  f.env.set("AWS_SECRET_ACCESS_KEY", "env-secret");

  const auto first = [&]() { return f.credentials().provider; };
  CHECK(first() == "environment");
  f.env.unset("AWS_ACCESS_KEY_ID");
  f.env.unset("AWS_SECRET_ACCESS_KEY");
  CHECK(first() == "shared_file");
  std::filesystem::remove(f.home.path() + "/.aws/credentials");
  CHECK(first() == "web_identity");
  f.env.unset("AWS_ROLE_ARN");
  CHECK(first() == "container");
  f.env.unset("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  CHECK(first() == "imds");
  CHECK(sts.server.count() == 1);
  CHECK(container.count() == 1);
  CHECK(imds.server.count("/latest/meta-data/iam/security-credentials/vigil-node-role") == 1);
}

TEST_CASE("credentials: a failing provider falls through; the error lists every provider") {
  Fixture f;
  FakeImds imds;
  f.env.unset("AWS_EC2_METADATA_DISABLED");
  f.settings.imds_endpoint = imds.url();
  fh::FakeHttpServer container([](const fh::Request&) { return fh::Response{500, {}, "agent unavailable"}; });
  f.env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url() + "/c");
  CHECK(f.credentials().provider == "imds");
  CHECK(container.count() == 1);

  imds.role.clear();  // no role on the instance: everything fails now
  const component::Status s = f.failure();
  CHECK(s.is_retryable());
  const std::string& m = s.message();
  CAPTURE(m);
  for (const char* part : {"environment: ", "shared_file: ", "web_identity: ", "container: ", "imds: "}) {
    CHECK(m.find(part) != std::string::npos);
  }
  CHECK(m.find("HTTP 500: agent unavailable") != std::string::npos);
  CHECK(m.find("no IAM role") != std::string::npos);
}

TEST_CASE("credentials: far expirations are cached, near ones refetched") {
  Fixture f;
  std::atomic<int> lifetime_s{3600};
  std::atomic<int> n{0};
  fh::FakeHttpServer container([&](const fh::Request&) {
    const int i = ++n;
    return fh::Response{200, {}, json_credentials("KEY" + std::to_string(i), "s", "t",
                                                  Clock::now() + std::chrono::seconds(lifetime_s.load()))};
  });
  f.env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url() + "/c");
  aws::Credentials c;
  SUBCASE("an hour away: one fetch for many calls") {
    auto p = f.provider();
    for (int i = 0; i < 5; ++i) REQUIRE(p->get(c).is_ok());
    CHECK(container.count() == 1);
    CHECK(c.access_key_id == "KEY1");
  }
  SUBCASE("within refresh_before: refetched on each call") {
    lifetime_s = 120;
    auto p = f.provider();
    for (int i = 0; i < 3; ++i) REQUIRE(p->get(c).is_ok());
    CHECK(container.count() == 3);
    CHECK(c.access_key_id == "KEY3");
  }
  SUBCASE("a smaller refresh_before keeps the same credentials") {
    lifetime_s = 120;
    f.settings.refresh_before = 30s;
    auto p = f.provider();
    for (int i = 0; i < 3; ++i) REQUIRE(p->get(c).is_ok());
    CHECK(container.count() == 1);
  }
  SUBCASE("min_refresh_interval bounds how often due credentials are refetched") {
    lifetime_s = 120;
    f.settings.min_refresh_interval = 60s;
    auto p = f.provider();
    for (int i = 0; i < 3; ++i) REQUIRE(p->get(c).is_ok());
    CHECK(container.count() == 1);
  }
  SUBCASE("credentials that arrive expired are refused") {
    lifetime_s = -10;
    const component::Status s = f.failure();
    CHECK(s.message().find("expired") != std::string::npos);
  }
}

TEST_CASE("credentials: a failed refresh keeps credentials that are still valid") {
  Fixture f;
  std::atomic<bool> broken{false};
  fh::FakeHttpServer container([&](const fh::Request&) {
    if (broken) return fh::Response{503, {}, "down"};
    return fh::Response{200, {}, json_credentials("KEEPME", "s", "t", Clock::now() + 120s)};
  });
  f.env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url() + "/c");
  auto p = f.provider();
  aws::Credentials c;
  REQUIRE(p->get(c).is_ok());
  broken = true;
  const component::Status s = p->get(c);
  CHECK(s.is_ok());
  CHECK(c.access_key_id == "KEEPME");
  CHECK(container.count() == 2);  // it did try
}

TEST_CASE("credentials: concurrent get() calls share one fetch") {
  Fixture f;
  fh::FakeHttpServer container([](const fh::Request&) {
    return fh::Response{200, {}, json_credentials("ONCE", "s", "t", Clock::now() + 1h), 300ms};
  });
  f.env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url() + "/c");
  auto p = f.provider();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      aws::Credentials c;
      if (p->get(c).is_ok() && c.access_key_id == "ONCE") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 8);
  CHECK(container.count() == 1);
}

TEST_CASE("credentials: no secret in any error message") {
  Fixture f;
  const std::string secrets[] = {"SECRET-ACCESS-KEY-XYZ", "SESSION-TOKEN-XYZ", "AUTH-TOKEN-XYZ", "WEB-IDENTITY-XYZ",
                                 "FILE-SECRET-XYZ"};
  // Each provider fails in a way that involves a secret.
  f.env.set("AWS_SECRET_ACCESS_KEY", "SECRET-ACCESS-KEY-XYZ");
  f.env.set("AWS_SESSION_TOKEN", "SESSION-TOKEN-XYZ");
  f.home.write(".aws/credentials", "[default]\naws_secret_access_key = FILE-SECRET-XYZ\n");
  FakeSts sts;
  sts.fail_status = 400;
  f.settings.sts_endpoint = sts.url();
  f.env.set("AWS_ROLE_ARN", "arn:aws:iam::1:role/r");
  f.env.set("AWS_WEB_IDENTITY_TOKEN_FILE", f.home.write("jwt", "WEB-IDENTITY-XYZ"));
  // A container endpoint that answers garbage holding the secret it was sent.
  fh::FakeHttpServer container([](const fh::Request& r) {
    return fh::Response{200, {}, "{\"AccessKeyId\": \"AKIA\", \"SecretAccessKey\": " + r.header("authorization")};
  });
  f.env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url() + "/c");
  f.env.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "AUTH-TOKEN-XYZ");
  const component::Status s = f.failure();
  CAPTURE(s.message());
  CHECK(container.count() == 1);
  CHECK(sts.server.count() == 1);
  for (const auto& secret : secrets) CHECK(s.message().find(secret) == std::string::npos);

  // The container endpoint fails with an error page: no token in the message either.
  container.set_handler([](const fh::Request&) { return fh::Response{403, {}, "denied"}; });
  const component::Status s2 = f.failure();
  CHECK(s2.message().find("HTTP 403: denied") != std::string::npos);
  for (const auto& secret : secrets) CHECK(s2.message().find(secret) == std::string::npos);
}

TEST_CASE("credentials: a quoted server text is cut at a character boundary") {
  // Found by fuzz_aws_responses: the 200-byte excerpt of an STS error could end inside a UTF-8
  // sequence, leaving invalid UTF-8 in the Status message.
  const std::string code = std::string(199, 'C') + "\xC3\xA9" + "tail";
  aws::Credentials out;
  std::string error;
  CHECK_FALSE(aws::detail::parse_sts_answer(403, "<Error><Code>" + code + "</Code></Error>", out, error));
  CHECK(error == "STS: HTTP 403 " + std::string(199, 'C') + "...");
  // Whole characters are kept.
  const std::string short_code = std::string(198, 'C') + "\xC3\xA9" + "tail";
  CHECK_FALSE(aws::detail::parse_sts_answer(403, "<Error><Code>" + short_code + "</Code></Error>", out, error));
  CHECK(error == "STS: HTTP 403 " + std::string(198, 'C') + "\xC3\xA9...");
}

TEST_CASE("credentials: an Expiration beyond the clock's range is clamped, not overflowed") {
  // Found by fuzz_aws_responses: "4198-10-10T10:10:10Z" overflowed system_clock's nanoseconds
  // (undefined behaviour; in practice a time in the past, so the credentials looked expired).
  const auto far = aws::detail::parse_iso8601("4198-10-10T10:10:10Z");
  REQUIRE(far);
  CHECK(*far > *aws::detail::parse_iso8601("2262-01-01T00:00:00Z"));
  const auto early = aws::detail::parse_iso8601("1000-01-01T00:00:00Z");
  REQUIRE(early);
  CHECK(*early < *aws::detail::parse_iso8601("1700-01-01T00:00:00Z"));
  aws::Credentials out;
  std::string error;
  CHECK(aws::detail::parse_json_credentials_answer(
      R"({"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"4198-10-10T10:10:10Z"})", out, error));
  CHECK(error.empty());
}

TEST_CASE("credentials: STS and JSON answers parsed directly") {
  aws::Credentials out;
  std::string error;
  REQUIRE(aws::detail::parse_sts_answer(
      200,
      "<R><Credentials><AccessKeyId> AKID </AccessKeyId><SecretAccessKey>s&amp;x</SecretAccessKey>"
      "<SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></R>",
      out, error));
  CHECK(out.access_key_id == "AKID");
  CHECK(out.secret_access_key == "s&x");
  CHECK(out.expiration == aws::detail::parse_iso8601("2099-01-01T00:00:00Z"));
  CHECK_FALSE(aws::detail::parse_json_credentials_answer(R"({"Code":"Failure","SecretAccessKey":"S"})", out, error));
  CHECK(error == "credentials endpoint answered Code \"Failure\"");
  CHECK(out.access_key_id == "AKID");  // untouched on failure
}

TEST_CASE("credentials: the region") {
  Fixture f;
  std::string source, error;
  CHECK(aws::resolve_region("ap-northeast-1", f.settings, f.http, source, error) == "ap-northeast-1");
  CHECK(source == "config");
  f.env.set("AWS_DEFAULT_REGION", "us-east-2");
  CHECK(aws::resolve_region("", f.settings, f.http, source, error) == "us-east-2");
  CHECK(source == "AWS_DEFAULT_REGION");
  f.env.set("AWS_REGION", "eu-west-1");
  CHECK(aws::resolve_region("", f.settings, f.http, source, error) == "eu-west-1");
  CHECK(source == "AWS_REGION");
  f.env.unset("AWS_REGION");
  f.env.unset("AWS_DEFAULT_REGION");
  f.home.write(".aws/config", "[default]\nregion = ca-central-1\n[profile other]\nregion = me-south-1\n");
  CHECK(aws::resolve_region("", f.settings, f.http, source, error) == "ca-central-1");
  f.env.set("AWS_PROFILE", "other");
  CHECK(aws::resolve_region("", f.settings, f.http, source, error) == "me-south-1");
  CHECK(source.find("profile other") != std::string::npos);
  f.env.set("AWS_PROFILE", "nowhere");

  FakeImds imds;
  f.settings.imds_endpoint = imds.url();
  CHECK(aws::resolve_region("", f.settings, f.http, source, error).empty());  // IMDS disabled
  CHECK(error.find("AWS_REGION") != std::string::npos);
  CHECK(imds.server.count() == 0);
  f.env.unset("AWS_EC2_METADATA_DISABLED");
  CHECK(aws::resolve_region("", f.settings, f.http, source, error) == "eu-west-3");
  CHECK(source == "imds");
  CHECK(error.empty());
}

TEST_CASE("credentials: the STS endpoint") {
  Fixture f;
  f.settings.sts_endpoint.clear();
  CHECK(aws::sts_endpoint(f.settings, "eu-west-1") == "https://sts.eu-west-1.amazonaws.com");
  CHECK(aws::sts_endpoint(f.settings, "cn-north-1") == "https://sts.cn-north-1.amazonaws.com.cn");
  CHECK(aws::sts_endpoint(f.settings, "") == "https://sts.amazonaws.com");
  f.env.set("AWS_ENDPOINT_URL", "http://localstack:4566");
  CHECK(aws::sts_endpoint(f.settings, "eu-west-1") == "http://localstack:4566");
  f.env.set("AWS_ENDPOINT_URL_STS", "http://sts.local");
  CHECK(aws::sts_endpoint(f.settings, "eu-west-1") == "http://sts.local");
  f.settings.sts_endpoint = "http://from-settings";
  CHECK(aws::sts_endpoint(f.settings, "eu-west-1") == "http://from-settings");
}

TEST_CASE("credentials: static provider") {
  aws::Credentials in{"AKIASTATIC", "static-secret", "", std::nullopt, ""};
  aws::Credentials out;
  CHECK(aws::make_static_credentials_provider(in)->get(out).is_ok());
  CHECK(out.access_key_id == "AKIASTATIC");
  CHECK(out.provider == "static");
  const component::Status s = aws::make_static_credentials_provider({})->get(out);
  CHECK_FALSE(s.is_ok());
}

}  // namespace
