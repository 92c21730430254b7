#pragma once
// The OTLP specification's retry rules, shared by the otlp (gRPC) and otlphttp exporters:
// what a server's answer means for the batch (component::Status), and Retry-After parsing.
//
//   HTTP: 2xx ok; 429, 502, 503, 504 retryable (honouring Retry-After, in seconds or as an HTTP
//   date); every other status permanent.
//   gRPC: OK ok; CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS
//   retryable (honouring RetryInfo); RESOURCE_EXHAUSTED retryable only with RetryInfo; every
//   other code permanent.
//
// Thread-safety: stateless.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "agent/component/status.hpp"

namespace vigil::exporters {

// "120" or "Wed, 21 Oct 2015 07:28:00 GMT" (also the obsolete RFC 850 and asctime forms) ->
// the delay from `now` (zero for a date in the past), at most 365 days. std::nullopt when
// unparseable. Dates are read in the C locale (English day and month names), as HTTP requires.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

bool http_status_retryable(long status);
// `message` is what the server said (decoded google.rpc.Status message, or the body's start).
component::Status status_from_http(long status, std::optional<std::chrono::milliseconds> retry_after,
                                   std::string_view message);

bool grpc_code_retryable(int code, bool has_retry_info);
component::Status status_from_grpc(int code, std::string_view message,
                                   std::optional<std::chrono::milliseconds> retry_info);
// "UNAVAILABLE" for 14, ...
std::string_view grpc_code_name(int code);

}  // namespace vigil::exporters
