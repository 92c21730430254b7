// Test certificates made at run time with the OpenSSL 3 API (see tls_test_support.hpp).
#include "tests/support/tls_test_support.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace vigil::testing {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;
using Bio = std::unique_ptr<BIO, BioFree>;

// Throws with the step that failed and OpenSSL's first queued error.
[[noreturn]] void fail(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "no OpenSSL error queued";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  throw std::runtime_error("make_test_certificates: " + what + ": " + buf);
}

Key make_key() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) fail("EC P-256 key generation");
  return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) fail(std::string("extension ") + OBJ_nid2sn(nid) + "=" + value);
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) fail(std::string("adding extension ") + OBJ_nid2sn(nid));
}

enum class Kind { ca, server, client };

// A certificate for `key` with common name `cn`; self-signed when issuer is null.
Cert make_cert(Kind kind, const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  // Serial numbers must differ between certificates of one issuer; a process-wide counter
  // plus the time keeps them unique across calls and runs.
  static std::atomic<long> counter{1};
  Cert cert(X509_new());
  if (!cert) fail("X509_new");
  if (X509_set_version(cert.get(), 2) != 1) fail("X509_set_version");
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()),
                   static_cast<long>(time(nullptr) & 0xffffff) * 1000 + counter++);
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr) fail("notBefore");
  if (X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600) == nullptr) fail("notAfter");
  if (X509_set_pubkey(cert.get(), key) != 1) fail("X509_set_pubkey");

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("Vigil tests"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()),
                                 -1, -1, 0) != 1)
    fail("subject name");
  X509* signer = issuer != nullptr ? issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1) fail("issuer name");

  add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  switch (kind) {
    case Kind::ca:
      add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
      add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
      break;
    case Kind::server:
      add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
      add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyAgreement");
      add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth");
      add_ext(cert.get(), signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
      break;
    case Kind::client:
      add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
      add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyAgreement");
      add_ext(cert.get(), signer, NID_ext_key_usage, "clientAuth");
      add_ext(cert.get(), signer, NID_subject_alt_name, ("DNS:" + cn).c_str());
      break;
  }
  if (X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0)
    fail("X509_sign " + cn);
  return cert;
}

void write_pem(const std::string& path, X509* cert) {
  Bio bio(BIO_new_file(path.c_str(), "w"));
  if (!bio) fail("opening " + path);
  if (PEM_write_bio_X509(bio.get(), cert) != 1) fail("writing " + path);
}

void write_pem(const std::string& path, EVP_PKEY* key) {
  Bio bio(BIO_new_file(path.c_str(), "w"));
  if (!bio) fail("opening " + path);
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("writing " + path);
}

}  // namespace

TestCertificates make_test_certificates(const std::string& dir) {
  TestCertificates out;
  out.ca_file = dir + "/ca.pem";
  out.server_cert_file = dir + "/server.pem";
  out.server_key_file = dir + "/server-key.pem";
  out.client_cert_file = dir + "/client.pem";
  out.client_key_file = dir + "/client-key.pem";
  out.other_ca_file = dir + "/other-ca.pem";
  out.other_client_cert_file = dir + "/other-client.pem";
  out.other_client_key_file = dir + "/other-client-key.pem";

  Key ca_key = make_key();
  Cert ca = make_cert(Kind::ca, "Vigil Test CA", ca_key.get(), nullptr, nullptr);
  Key server_key = make_key();
  Cert server = make_cert(Kind::server, "localhost", server_key.get(), ca.get(), ca_key.get());
  Key client_key = make_key();
  Cert client = make_cert(Kind::client, "vigil-test-client", client_key.get(), ca.get(), ca_key.get());
  Key other_ca_key = make_key();
  Cert other_ca = make_cert(Kind::ca, "Vigil Other Test CA", other_ca_key.get(), nullptr, nullptr);
  Key other_client_key = make_key();
  Cert other_client = make_cert(Kind::client, "vigil-other-client", other_client_key.get(), other_ca.get(),
                                other_ca_key.get());

  write_pem(out.ca_file, ca.get());
  write_pem(out.server_cert_file, server.get());
  write_pem(out.server_key_file, server_key.get());
  write_pem(out.client_cert_file, client.get());
  write_pem(out.client_key_file, client_key.get());
  write_pem(out.other_ca_file, other_ca.get());
  write_pem(out.other_client_cert_file, other_client.get());
  write_pem(out.other_client_key_file, other_client_key.get());
  return out;
}

}  // namespace vigil::testing
