#pragma once
// A CloudWatch Logs client for PutLogEvents, shared by the awscloudwatchlogs and awsemf
// exporters (see exporters/awscloudwatchlogs/README.md): events sorted and split into requests
// within every documented limit, log group and stream created on ResourceNotFoundException,
// throttling, 5xx and network failures retried with backoff, every drop counted by reason.
//
// Thread-safety: put_log_events()/put() are called concurrently by the exporters' queue consumers;
// abort() from any thread. The HttpClient and the Telemetry must outlive the client.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/aws/credentials.hpp"
#include "agent/component/status.hpp"
#include "agent/model/common.hpp"
#include "agent/runtime/exporter_helper.hpp"

namespace vigil::telemetry {
class Telemetry;
}
namespace vigil::runtime {
class HttpClient;
}

namespace vigil::aws {

struct LogEvent {
  std::int64_t timestamp_ms = 0;  // milliseconds since the epoch
  std::string message;            // UTF-8 (invalid bytes are replaced by U+FFFD before sending)
};

// The documented PutLogEvents limits.
inline constexpr std::size_t kMaxRequestBytes = 1'048'576;  // message UTF-8 bytes + 26 per event
inline constexpr std::size_t kEventOverheadBytes = 26;
inline constexpr std::size_t kMaxRequestEvents = 10'000;
inline constexpr std::int64_t kMaxRequestSpanMs = 24LL * 3600 * 1000;
inline constexpr std::int64_t kMaxEventAgeMs = 14LL * 24 * 3600 * 1000;
inline constexpr std::int64_t kMaxEventFutureMs = 2LL * 3600 * 1000;
// One event's size, its 26 bytes included. 256 KiB is the limit the Collector keeps and every
// region accepts (CloudWatch raised it to 1 MiB in 2025).
inline constexpr std::size_t kDefaultMaxEventBytes = 256 * 1024;
// Appended to a message cut to the per-event limit (counted in events_truncated).
inline constexpr std::string_view kTruncatedSuffix = "[Truncated...]";

// The retention periods CloudWatch accepts (days).
bool valid_retention_days(std::int64_t days);
std::string retention_days_list();  // "1, 3, 5, ..., 3653" for messages

// Log group and stream names as CloudWatch checks them: group 1-512 of [.-_/#A-Za-z0-9],
// stream 1-512 characters without ':' or '*'. "" when valid, else why not.
std::string check_log_group_name(std::string_view name);
std::string check_log_stream_name(std::string_view name);
// A tag as CreateLogGroup accepts it: key 1-128 characters, value 0-256, letters, digits,
// spaces and _.:/=+-@, the key not starting with "aws:". "" when valid, else why not.
std::string check_tag(std::string_view key, std::string_view value);
inline constexpr std::size_t kMaxTags = 50;

// `pattern` with each "{key}" replaced by the resource attribute `key` (strings as they are,
// other scalars in their JSON form). A key that is missing (or not a scalar) is replaced by
// `fallback` and appended to `missing` (comma-separated); "{" without a closing "}" is literal.
std::string expand_placeholders(std::string_view pattern, const model::Attributes& resource,
                                std::string& missing, std::string_view fallback = "undefined");

// ---- the request plan (pure, no I/O) ----------------------------------------------------------

// What plan_requests() did besides splitting.
struct PlanCounts {
  std::size_t too_old = 0;       // older than 14 days: dropped
  std::size_t too_new = 0;       // more than 2 hours ahead: dropped
  std::size_t empty = 0;         // empty message (CloudWatch requires 1+ characters): dropped
  std::size_t truncated = 0;     // cut to the per-event limit and flagged with kTruncatedSuffix: sent
  std::size_t invalid_utf8 = 0;  // had invalid UTF-8 replaced by U+FFFD: sent
};

// Turns events into PutLogEvents requests: invalid UTF-8 replaced, empty messages, events older
// than 14 days or more than 2 hours after `now_ms` dropped, messages over `max_event_bytes`
// (26 bytes included) truncated at a character boundary and flagged, events sorted by time
// (stably), split so that each request holds at most 10,000 events, at most 1,048,576 bytes
// (counting 26 per event) and spans less than 24 hours (exactly 24 h is left out: the edge).
std::vector<std::vector<LogEvent>> plan_requests(std::vector<LogEvent> events, std::int64_t now_ms,
                                                 PlanCounts& counts,
                                                 std::size_t max_event_bytes = kDefaultMaxEventBytes);

// Message bytes as CloudWatch counts them (UTF-8 bytes + 26).
inline std::size_t event_size(const LogEvent& e) {
  return e.message.size() + kEventOverheadBytes;
}

// The PutLogEvents JSON body (strings escaped; messages must already be valid UTF-8).
std::string put_log_events_body(std::string_view group, std::string_view stream,
                                const std::vector<LogEvent>& events);

// Appends `s` as a JSON string (quoted, escaped). Invalid UTF-8 becomes U+FFFD.
void append_json_string(std::string& out, std::string_view s);

// Appends a finite double in its shortest round-trip form; past 2^53 with an exponent, since
// parsers that read integer literals as int64 (simdjson) refuse 20-digit ones.
void append_double(std::string& out, double v);

// Appends `v` as plain JSON, the way the Collector's AWS exporters marshal attribute values (not
// OTLP/JSON's tagged form): strings escaped, bytes base64, doubles by append_double, NaN and
// infinities as the strings "NaN", "+Inf" and "-Inf" (JSON has no such numbers), empty as null,
// arrays and maps nested.
void append_json_value(std::string& out, const model::AnyValue& v);

// Appends `v` as text, as pcommon.Value.AsString() gives it: a string as it is, bytes base64,
// bools, ints and doubles as their literals ("NaN", "+Inf", "-Inf" for the non-finite), empty as
// nothing, arrays and maps as JSON (append_json_value).
void append_value_text(std::string& out, const model::AnyValue& v);

// ---- the client -------------------------------------------------------------------------------

struct CloudWatchLogsSettings {
  std::string exporter_id;  // label of the self-metrics
  std::string region;
  std::string endpoint;                                   // "" → https://logs.<region>.amazonaws.com
  int log_retention_days = 0;                             // 0: never expire (no PutRetentionPolicy)
  std::vector<std::pair<std::string, std::string>> tags;  // for CreateLogGroup
  runtime::RetrySettings retry;                           // throttling / 5xx / network retries, per request
  std::size_t max_event_bytes = kDefaultMaxEventBytes;
  std::chrono::milliseconds request_timeout{30'000};
};

// Options of one put() call, for callers that retry whole calls themselves (the exporter helper).
struct PutOptions {
  // Something of the caller's unit of work (e.g. another group of the same batch) was already
  // delivered or dropped for good: a failure must not be handed back for a retry of the whole.
  bool committed_before = false;
  // While nothing is committed, hand a retryable failure back at once (the caller's retry loop
  // backs off, can be aborted and hands the data over at a reload) instead of retrying here.
  bool hand_back_uncommitted = false;
};

struct PutResult {
  // Ok: every event was accepted or dropped with a counted reason (some may have been).
  // Retryable: nothing was delivered and nothing counted; the caller may resend the whole call.
  // Permanent: no event was accepted and at least one request was refused for good (counted).
  component::Status status;
  std::size_t accepted = 0;  // events CloudWatch kept
  std::size_t dropped = 0;   // events dropped, each counted with a reason
  bool committed = false;    // some request reached a final answer (accepted or refused)
};

class CloudWatchLogsClient {
 public:
  CloudWatchLogsClient(CloudWatchLogsSettings settings, std::shared_ptr<CredentialsProvider> credentials,
                       runtime::HttpClient& http, telemetry::Telemetry& telemetry);
  ~CloudWatchLogsClient();
  CloudWatchLogsClient(const CloudWatchLogsClient&) = delete;
  CloudWatchLogsClient& operator=(const CloudWatchLogsClient&) = delete;

  // Sends `events` to group/stream, each request retried here (settings.retry) until it is
  // answered for good, its retries run out or abort() is called. Ok when every event was
  // accepted or dropped with a counted reason; retryable when nothing could be delivered (nothing
  // counted: resending the same events duplicates nothing); permanent when every request was
  // refused (counted).
  component::Status put_log_events(const std::string& group, const std::string& stream,
                                   std::vector<LogEvent> events);

  // The same with the caller's retry policy (see PutOptions) and what happened.
  PutResult put(const std::string& group, const std::string& stream, std::vector<LogEvent> events,
                const PutOptions& options);

  // Wakes retry sleeps and makes them give up (shutdown). Later calls do not retry.
  void abort();

  const std::string& endpoint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::aws
