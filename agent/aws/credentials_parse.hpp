#pragma once
// The parsers of what credential endpoints answer, as credentials.cpp uses them, exposed for the
// fuzzer (tests/fuzz/fuzz_aws_responses.cpp) and for tests. Not an API for components: they go
// through CredentialsProvider.
//
// Thread-safety: pure functions (they read the clock to refuse expired credentials).

#include <chrono>
#include <optional>
#include <string>

#include "agent/aws/sigv4.hpp"

namespace vigil::aws::detail {

// ISO 8601 as the services write it ("2024-05-01T12:00:00Z", optional fractional seconds, "Z" or
// a numeric offset); nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> parse_iso8601(const std::string& text);

// An STS AssumeRole / AssumeRoleWithWebIdentity answer (HTTP status and XML body): true with
// `out` set (key ID and secret non-empty, not expired), else false with why in `error` (one line,
// never a secret). `out` is untouched on failure.
bool parse_sts_answer(long status, const std::string& body, Credentials& out, std::string& error);

// A container-credentials or IMDS answer (JSON): the same contract.
bool parse_json_credentials_answer(const std::string& body, Credentials& out, std::string& error);

}  // namespace vigil::aws::detail
