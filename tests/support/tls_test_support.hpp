#pragma once
// Test certificates made at run time with OpenSSL (nothing secret is committed): a CA, a server
// certificate for 127.0.0.1 / localhost / ::1 signed by it, a client certificate signed by it,
// and a second, unrelated CA with its own client certificate (for "wrong CA" cases). PEM files.

#include <string>

namespace vigil::testing {

struct TestCertificates {
  std::string ca_file;           // CA certificate
  std::string server_cert_file;  // CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1
  std::string server_key_file;
  std::string client_cert_file;  // CN=vigil-test-client, signed by ca_file
  std::string client_key_file;
  std::string other_ca_file;           // an unrelated CA
  std::string other_client_cert_file;  // signed by other_ca_file
  std::string other_client_key_file;
};

// Writes the files into `dir` (which must exist) and returns their paths. Throws
// std::runtime_error when OpenSSL fails. Cheap enough (EC P-256 keys) to call per test.
TestCertificates make_test_certificates(const std::string& dir);

}  // namespace vigil::testing
