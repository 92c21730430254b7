#pragma once
// The demo shop's traffic: orders, payment failures, webhook deliveries with provider outages and
// retries, and background jobs whose queue lag grows through the day. Deterministic for a seed,
// so tests can compute the KPIs the default pack must produce from the events themselves, and the
// demo (vigil-shop-demo) writes the same kind of traffic as JSON log lines for the default config.
//
// The event schema is the one documented in agent/connectors/kpi/README.md.
// Ownership: plain values. Thread-safety: none needed (pure functions).

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::examples::shop {

enum class Kind {
  kOrderCreated,
  kOrderFailed,
  kWebhookDelivered,  // log line: an attempt that succeeded
  kWebhookFailed,     // log line: an attempt that failed (HTTP status, or 0 for a timeout)
  kWebhookSpan,       // a CLIENT span of one attempt (http.response.status_code set)
  kJobStarted,        // log line with enqueued_at
  kJobCompleted,
  kJobFailed,
  kJobSpan,           // a CONSUMER span: the whole job, status ERROR when it failed
  kRequestSpan,       // the SERVER span of the HTTP request that created an order
};

// How an event reaches the agent.
enum class Channel { kFile, kOtlpLogs, kOtlpTraces };

struct Event {
  std::int64_t time_ms = 0;      // when it happened (span: start)
  std::int64_t end_ms = 0;       // spans: end
  Kind kind = Kind::kOrderCreated;
  Channel channel = Channel::kFile;
  std::string order_id, payment_method, region, currency, reason;
  double amount = 0;
  std::string provider;          // webhooks
  int status = 0;                // webhooks: HTTP status, 0 when the attempt timed out
  int attempt = 0;
  std::string queue, job_id;     // jobs
  std::int64_t enqueued_at_ms = 0;
  bool enqueued_at_as_text = false;  // RFC 3339 text instead of epoch milliseconds
  std::string request_id;
  std::string trace_id, span_id;     // lowercase hex; empty when the event has none

  // The job's lag at start, in seconds (jobs).
  double lag_seconds() const { return static_cast<double>(time_ms - enqueued_at_ms) / 1000.0; }
};

struct Settings {
  std::uint64_t seed = 1;
  std::int64_t start_unix_ms = 1763596800000;  // 2025-11-20T00:00:00Z
  std::int64_t duration_ms = 24LL * 3600 * 1000;
  int orders = 2000;             // order attempts over the duration (busier in the afternoon)
  bool with_otlp = true;         // false: every event is a log line (the demo writes only files)
};

// Every event of the period, sorted by time.
std::vector<Event> generate(const Settings& settings);

// The event as one JSON log line (no newline). Spans have no log line: "" for them.
std::string json_line(const Event& event);

// RFC 3339 UTC text with milliseconds, e.g. 2025-11-20T13:45:12.123Z.
std::string rfc3339(std::int64_t unix_ms);

const char* event_name(Kind kind);

}  // namespace vigil::examples::shop
