#pragma once
// How the CloudWatch Logs client reads the service's answers, exposed for the fuzzer
// (tests/fuzz/fuzz_aws_responses.cpp) and for tests. Components use CloudWatchLogsClient.
//
// Thread-safety: pure functions.

#include <cstddef>
#include <string>
#include <string_view>

namespace vigil::aws::detail {

// The events of a PutLogEvents request of `n` events that a 200 answer's rejectedLogEventsInfo
// names: tooOldLogEventEndIndex and expiredLogEventEndIndex (exclusive ends), tooNewLogEventStartIndex
// (inclusive start), clamped to the request. A body that is not JSON, or has no
// rejectedLogEventsInfo, rejects nothing. total() <= n.
struct RejectedEvents {
  std::size_t too_old = 0;
  std::size_t expired = 0;
  std::size_t too_new = 0;
  std::size_t total() const { return too_old + expired + too_new; }
};
RejectedEvents parse_rejected_log_events(std::string_view body, std::size_t n);

// The client's reading of an answer (status 0: no answer): the requests_total outcome ("ok",
// "network_error", "resource_not_found", "already_exists", "throttled", "server_error",
// "invalid_parameter", "rejected"), with what it would log in `message`. `error_type_header` is
// x-amzn-errortype ("" when absent).
std::string classify_answer(long status, const std::string& body, const std::string& error_type_header,
                            std::string& message);

}  // namespace vigil::aws::detail
