#pragma once
// AWS Signature Version 4 over OpenSSL (HMAC-SHA256, SHA-256): canonical request, string to
// sign, signing key, Authorization. Matches @smithy/signature-v4 (the AWS JS SDK's signer)
// byte for byte for the same request (tests/interop checks it on randomized requests), and the
// AWS SigV4 test suite (tests/unit/agent/aws/sigv4_test.cpp).
//
// Thread-safety: free functions, no shared state.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::aws {

// A set of AWS credentials. The secret and the session token never appear in a log line, a
// Status or `vigil validate` output: print describe() instead.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
  // When temporary credentials expire; nullopt for long-term keys.
  std::optional<std::chrono::system_clock::time_point> expiration;
  std::string provider;  // which provider gave them ("environment", "shared_file", "web_identity", ...)

  bool empty() const { return access_key_id.empty() || secret_access_key.empty(); }
  // "AKID…EXAMPLE from <provider>": the key ID shortened, no secret.
  std::string describe() const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// A request to sign, as it will be sent.
struct SignableRequest {
  std::string method;  // "GET", "POST", ...
  // scheme://host[:port]/path?query. The path and query are as they go on the wire (already
  // percent-encoded where needed). The host (with the port when it is not the scheme's
  // default) is signed as the "host" header unless `headers` holds one.
  std::string url;
  Headers headers;  // names in any case; repeated names are joined with "," in the canonical form
  std::string_view body;
};

struct SigningOptions {
  std::string region;
  std::string service;  // "logs", "xray", "sts", "monitoring", ...
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
  bool uri_escape_path = true;  // false only for S3 (which also does not normalize the path)
  // Adds x-amz-content-sha256 (S3 and some OTLP endpoints want it).
  bool add_content_sha256 = false;
  // Replaces SHA-256(body), e.g. "UNSIGNED-PAYLOAD".
  std::optional<std::string> payload_hash;
};

struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // hex
  // Headers to add to the request: authorization, x-amz-date, x-amz-security-token (with a
  // session token), x-amz-content-sha256 (when asked for), host (when the request had none).
  // Names lower-case.
  Headers headers;
};

// Signs `request`. Never fails on well-formed input; a URL that cannot be parsed gives a
// signature over what could be read (the server then rejects it), never an exception.
Signature sign(const SignableRequest& request, const Credentials& credentials, const SigningOptions& options);

std::string sha256_hex(std::string_view data);

}  // namespace vigil::aws
