// TLS settings and contexts (agent/runtime/tls.hpp) and the run-time test certificates
// (tests/support/tls_test_support.hpp).
#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "agent/config/loader.hpp"
#include "agent/runtime/tls.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tls_test_support.hpp"

namespace {

using namespace vigil;
using vigil::testing::TempDir;
using vigil::testing::TestCertificates;

// A component schema with a server `tls` under protocols.http, and a client `tls` at the top,
// as the otlp receiver and exporters declare them.
config::Schema tls_schema() {
  return {
      config::opt_object("protocols", "", {config::opt_object("http", "", {runtime::tls_server_option()})}),
      runtime::tls_client_option(),
  };
}

// Parses `yaml`, checks it against tls_schema() and runs both cross-option validators; returns
// every error message.
std::vector<std::string> check_config(const std::string& yaml) {
  config::Errors errors;
  config::Value node = config::parse_yaml(yaml, "c.yaml", errors);
  REQUIRE(errors.empty());
  const config::Schema schema = tls_schema();
  config::validate(schema, &node, {}, "otlp", errors);
  config::Settings s(&schema, &node, {});
  runtime::validate_tls_server(s, "protocols.http.tls", "otlp", errors);
  runtime::validate_tls_client(s, "tls", "otlp", errors);
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.message);
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::unique_ptr<X509, decltype(&X509_free)> load_cert(const std::string& path) {
  X509* cert = nullptr;
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
  }
  return {cert, &X509_free};
}

bool key_loads(const std::string& path) {
  EVP_PKEY* key = nullptr;
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
  }
  bool ok = key != nullptr;
  EVP_PKEY_free(key);
  return ok;
}

// X509_verify_cert of `leaf` against the single trusted certificate `ca`; with `purpose`
// (X509_PURPOSE_SSL_SERVER / _CLIENT) checked too.
int verify(const std::string& leaf_file, const std::string& ca_file, int purpose) {
  auto leaf = load_cert(leaf_file);
  auto ca = load_cert(ca_file);
  REQUIRE(leaf);
  REQUIRE(ca);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  int rc = X509_verify_cert(ctx);
  int err = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return rc == 1 ? X509_V_OK : (err == X509_V_OK ? -1 : err);
}

}  // namespace

TEST_CASE("tls test certificates: files load and chain to their CA") {
  TempDir dir;
  TestCertificates c = vigil::testing::make_test_certificates(dir.path());
  for (const auto& f :
       {c.ca_file, c.server_cert_file, c.client_cert_file, c.other_ca_file, c.other_client_cert_file})
    CHECK_MESSAGE(load_cert(f), f);
  for (const auto& f : {c.server_key_file, c.client_key_file, c.other_client_key_file})
    CHECK_MESSAGE(key_loads(f), f);

  CHECK(verify(c.server_cert_file, c.ca_file, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
  CHECK(verify(c.client_cert_file, c.ca_file, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  CHECK(verify(c.other_client_cert_file, c.other_ca_file, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  // Wrong CA, wrong purpose: refused.
  CHECK(verify(c.other_client_cert_file, c.ca_file, X509_PURPOSE_SSL_CLIENT) != X509_V_OK);
  CHECK(verify(c.client_cert_file, c.other_ca_file, X509_PURPOSE_SSL_CLIENT) != X509_V_OK);
  CHECK(verify(c.server_cert_file, c.ca_file, X509_PURPOSE_SSL_CLIENT) != X509_V_OK);
  CHECK(verify(c.client_cert_file, c.ca_file, X509_PURPOSE_SSL_SERVER) != X509_V_OK);

  // The server certificate names the loopback host and addresses.
  auto server = load_cert(c.server_cert_file);
  CHECK(X509_check_host(server.get(), "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(server.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(server.get(), "::1", 0) == 1);
  CHECK(X509_check_host(server.get(), "example.com", 0, 0, nullptr) == 0);
}

TEST_CASE("tls options: Collector names, defaults and cross-option checks") {
  config::Errors errors;
  config::Value empty = config::parse_yaml("{}", "c.yaml", errors);
  const config::Schema schema = tls_schema();
  config::Settings none(&schema, &empty, {});
  CHECK_FALSE(runtime::read_tls_server(none, "protocols.http.tls").has_value());
  runtime::TlsClientSettings client = runtime::read_tls_client(none, "tls");
  CHECK_FALSE(client.insecure);
  CHECK_FALSE(client.insecure_skip_verify);
  CHECK(client.min_version == "1.2");
  CHECK(client.ca_file.empty());
  CHECK(check_config("{}").empty());

  config::Value node = config::parse_yaml(
      "protocols:\n  http:\n    tls:\n      cert_file: s.pem\n      key_file: s.key\n      client_ca_file: "
      "ca.pem\n"
      "tls:\n  insecure: true\n  ca_file: a.pem\n  cert_file: c.pem\n  key_file: c.key\n"
      "  insecure_skip_verify: true\n  min_version: \"1.3\"\n  server_name_override: example.com\n",
      "c.yaml", errors);
  REQUIRE(errors.empty());
  config::Settings s(&schema, &node, {});
  auto server = runtime::read_tls_server(s, "protocols.http.tls");
  REQUIRE(server.has_value());
  CHECK(server->cert_file == "s.pem");
  CHECK(server->key_file == "s.key");
  CHECK(server->client_ca_file == "ca.pem");
  CHECK(server->min_version == "1.2");
  client = runtime::read_tls_client(s, "tls");
  CHECK(client.insecure);
  CHECK(client.ca_file == "a.pem");
  CHECK(client.cert_file == "c.pem");
  CHECK(client.key_file == "c.key");
  CHECK(client.insecure_skip_verify);
  CHECK(client.min_version == "1.3");
  CHECK(client.server_name_override == "example.com");

  SUBCASE("a server needs both files") {
    auto e = check_config("protocols:\n  http:\n    tls:\n      cert_file: s.pem\n");
    REQUIRE(e.size() == 1);
    CHECK(contains(e[0], "cert_file is set but key_file is not"));
    e = check_config("protocols:\n  http:\n    tls:\n      key_file: s.key\n");
    REQUIRE(e.size() == 1);
    CHECK(contains(e[0], "key_file is set but cert_file is not"));
    e = check_config("protocols:\n  http:\n    tls:\n");
    REQUIRE(e.size() == 1);
    CHECK(contains(e[0], "needs cert_file and key_file"));
    CHECK(check_config("protocols:\n  http:\n    tls:\n      cert_file: s\n      key_file: k\n").empty());
  }
  SUBCASE("a client certificate needs its key and the reverse; neither is fine") {
    auto e = check_config("tls:\n  cert_file: c.pem\n");
    REQUIRE(e.size() == 1);
    CHECK(contains(e[0], "key_file is not"));
    e = check_config("tls:\n  key_file: c.key\n");
    REQUIRE(e.size() == 1);
    CHECK(contains(e[0], "cert_file is not"));
    CHECK(check_config("tls:\n  ca_file: ca.pem\n").empty());
    CHECK(check_config("tls:\n").empty());
  }
  SUBCASE("min_version is 1.2 or 1.3") {
    for (const char* v : {"1.0", "1.1", "1.4", "tls1.2"}) {
      CAPTURE(v);
      auto e = check_config(std::string("tls:\n  min_version: \"") + v + "\"\n");
      CHECK(e.size() == 1);
      e = check_config(std::string("protocols:\n  http:\n    tls:\n      cert_file: s\n      key_file: k\n") +
                       "      min_version: \"" + v + "\"\n");
      CHECK(e.size() == 1);
    }
    CHECK(check_config("tls:\n  min_version: \"1.3\"\n").empty());
  }
}

TEST_CASE("tls: read_file names the file it cannot read") {
  TempDir dir;
  std::string out, error;
  vigil::testing::write_file(dir.file("a.txt"), "hello");
  REQUIRE(runtime::read_file(dir.file("a.txt"), out, error));
  CHECK(out == "hello");
  CHECK_FALSE(runtime::read_file(dir.file("missing.pem"), out, error));
  CHECK(contains(error, dir.file("missing.pem")));
  CHECK(contains(error, "No such file"));
}

TEST_CASE("tls: make_server_context loads the certificate, key and client CA") {
  TempDir dir;
  TestCertificates c = vigil::testing::make_test_certificates(dir.path());
  runtime::TlsServerSettings tls;
  tls.cert_file = c.server_cert_file;
  tls.key_file = c.server_key_file;
  std::string error;

  SUBCASE("server only: TLS 1.2 and up, no client certificate asked for") {
    auto ctx = runtime::make_server_context(tls, error);
    REQUIRE_MESSAGE(ctx, error);
    CHECK(SSL_CTX_get_min_proto_version(ctx->native_handle()) == TLS1_2_VERSION);
    CHECK(SSL_CTX_get_verify_mode(ctx->native_handle()) == SSL_VERIFY_NONE);
    CHECK(SSL_CTX_get0_certificate(ctx->native_handle()) != nullptr);
  }
  SUBCASE("min_version 1.3") {
    tls.min_version = "1.3";
    auto ctx = runtime::make_server_context(tls, error);
    REQUIRE_MESSAGE(ctx, error);
    CHECK(SSL_CTX_get_min_proto_version(ctx->native_handle()) == TLS1_3_VERSION);
  }
  SUBCASE("an unknown min_version is an error") {
    tls.min_version = "1.1";
    CHECK_FALSE(runtime::make_server_context(tls, error));
    CHECK(contains(error, "min_version"));
  }
  SUBCASE("client_ca_file: client certificates are required and verified") {
    tls.client_ca_file = c.ca_file;
    auto ctx = runtime::make_server_context(tls, error);
    REQUIRE_MESSAGE(ctx, error);
    CHECK(SSL_CTX_get_verify_mode(ctx->native_handle()) ==
          (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT));
    CHECK(sk_X509_NAME_num(SSL_CTX_get_client_CA_list(ctx->native_handle())) == 1);
  }
  SUBCASE("missing files are named") {
    tls.cert_file = dir.file("nope.pem");
    CHECK_FALSE(runtime::make_server_context(tls, error));
    CHECK(contains(error, "cert_file"));
    CHECK(contains(error, dir.file("nope.pem")));
    tls.cert_file = c.server_cert_file;
    tls.key_file = dir.file("nope.key");
    CHECK_FALSE(runtime::make_server_context(tls, error));
    CHECK(contains(error, "key_file"));
    CHECK(contains(error, dir.file("nope.key")));
    tls.key_file = c.server_key_file;
    tls.client_ca_file = dir.file("nope-ca.pem");
    CHECK_FALSE(runtime::make_server_context(tls, error));
    CHECK(contains(error, "client_ca_file"));
    CHECK(contains(error, dir.file("nope-ca.pem")));
  }
  SUBCASE("invalid contents are named, and key bytes are never echoed") {
    vigil::testing::write_file(dir.file("junk.pem"), "not a certificate\n");
    tls.cert_file = dir.file("junk.pem");
    CHECK_FALSE(runtime::make_server_context(tls, error));
    CHECK(contains(error, "cert_file \"" + dir.file("junk.pem") + "\""));
    CHECK_FALSE(contains(error, "not a certificate"));

    tls.cert_file = c.server_cert_file;
    vigil::testing::write_file(dir.file("junk.key"), "TOPSECRETKEYMATERIAL\n");
    tls.key_file = dir.file("junk.key");
    CHECK_FALSE(runtime::make_server_context(tls, error));
    CHECK(contains(error, "key_file \"" + dir.file("junk.key") + "\""));
    CHECK_FALSE(contains(error, "TOPSECRET"));

    tls.key_file = c.client_key_file;  // a valid key, but not the certificate's
    CHECK_FALSE(runtime::make_server_context(tls, error));
    CHECK_MESSAGE(contains(error, "does not match"), error);

    tls.key_file = c.server_key_file;
    tls.client_ca_file = dir.file("junk.pem");
    CHECK_FALSE(runtime::make_server_context(tls, error));
    CHECK(contains(error, "client_ca_file \"" + dir.file("junk.pem") + "\""));
  }
  SUBCASE("both files are needed") {
    tls.key_file.clear();
    CHECK_FALSE(runtime::make_server_context(tls, error));
    CHECK(contains(error, "key_file"));
  }
}
