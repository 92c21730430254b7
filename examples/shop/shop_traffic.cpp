#include "examples/shop/shop_traffic.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>

namespace vigil::examples::shop {
namespace {

constexpr std::int64_t kHourMs = 3600 * 1000;

std::string hex(std::mt19937_64& rng, int digits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(static_cast<std::size_t>(digits));
  for (int i = 0; i < digits; ++i) out.push_back(kDigits[rng() & 15]);
  if (out.find_first_not_of('0') == std::string::npos) out.back() = '1';  // never the invalid zero ID
  return out;
}

// Orders per hour follow the shape of a shop's day: quiet at night, busiest in the evening.
int hour_weight(int hour) {
  static constexpr std::array<int, 24> kWeights = {2, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 10,
                                                   11, 10, 10, 10, 11, 12, 14, 15, 13, 9, 6, 3};
  return kWeights[static_cast<std::size_t>(hour % 24)];
}

struct Builder {
  const Settings& s;
  std::mt19937_64 rng;
  std::vector<Event> out;

  double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }
  template <class T, std::size_t N>
  const T& pick(const std::array<T, N>& items) { return items[rng() % N]; }
  int hour_of(std::int64_t t) const { return static_cast<int>(((t - s.start_unix_ms) / kHourMs) % 24); }

  void webhooks(const Event& order, std::int64_t t) {
    static constexpr std::array<const char*, 3> kProviders = {"stripe", "shopify", "slack"};
    const std::string provider = pick(kProviders);
    for (int attempt = 1; attempt <= 4; ++attempt) {
      const int hour = hour_of(t);
      int status = 200;
      if (provider == "stripe" && hour == 14 && uniform() < 0.8) status = 503;  // an afternoon outage
      else if (provider == "shopify" && uniform() < 0.1) status = uniform() < 0.5 ? 429 : 500;
      else if (provider == "slack" && uniform() < 0.05) status = 0;            // a timeout
      else if (uniform() < 0.01) status = 410;
      Event e;
      e.time_ms = t;
      e.provider = provider;
      e.status = status;
      e.attempt = attempt;
      e.order_id = order.order_id;
      e.request_id = order.request_id;
      const bool ok = status >= 200 && status < 300;
      if (provider == "shopify" && s.with_otlp) {
        e.kind = Kind::kWebhookSpan;
        e.channel = Channel::kOtlpTraces;
        e.end_ms = t + 80 + static_cast<std::int64_t>(rng() % 400);
        e.trace_id = hex(rng, 32);
        e.span_id = hex(rng, 16);
      } else {
        e.kind = ok ? Kind::kWebhookDelivered : Kind::kWebhookFailed;
      }
      out.push_back(e);
      if (ok || status == 410) return;  // delivered, or gone: no retry
      t += 30000LL << (attempt - 1);    // 30 s, 1 min, 2 min backoff
    }
  }

  void job(const Event& order, const std::string& queue, std::int64_t enqueued, double lag_s, bool as_span) {
    Event started;
    started.queue = queue;
    started.job_id = "job-" + hex(rng, 12);
    started.order_id = order.order_id;
    started.request_id = order.request_id;
    started.enqueued_at_ms = enqueued;
    started.enqueued_at_as_text = (rng() & 1) != 0;
    started.time_ms = enqueued + static_cast<std::int64_t>(lag_s * 1000.0);
    const bool failed = uniform() < 0.03;
    const std::int64_t end = started.time_ms + 1000 + static_cast<std::int64_t>(rng() % 9000);
    if (as_span) {
      started.kind = Kind::kJobSpan;
      started.channel = Channel::kOtlpTraces;
      started.end_ms = end;
      started.status = failed ? 2 : 0;  // span status code
      started.trace_id = hex(rng, 32);
      started.span_id = hex(rng, 16);
      out.push_back(started);
      return;
    }
    started.kind = Kind::kJobStarted;
    out.push_back(started);
    Event done = started;
    done.kind = failed ? Kind::kJobFailed : Kind::kJobCompleted;
    done.time_ms = end;
    if (failed) done.reason = "timeout";
    out.push_back(done);
  }

  void order(int index, std::int64_t t) {
    static constexpr std::array<const char*, 4> kMethods = {"card", "paypal", "apple_pay", "bank_transfer"};
    static constexpr std::array<const char*, 3> kRegions = {"eu-west-1", "us-east-1", "ap-southeast-2"};
    Event o;
    o.time_ms = t;
    o.order_id = "o-" + std::to_string(100000 + index);
    o.payment_method = pick(kMethods);
    o.region = pick(kRegions);
    o.currency = o.region == "us-east-1" ? "USD" : o.region == "eu-west-1" ? "EUR" : "AUD";
    o.amount = std::round((5.0 + uniform() * 295.0) * 100.0) / 100.0;
    o.request_id = "req-" + hex(rng, 16);
    const double fail_rate = o.payment_method == "bank_transfer" ? 0.12 : 0.04;
    const bool failed = uniform() < fail_rate;
    o.kind = failed ? Kind::kOrderFailed : Kind::kOrderCreated;
    if (failed) o.reason = uniform() < 0.5 ? "card_declined" : "insufficient_funds";
    o.channel = (s.with_otlp && index % 5 == 0) ? Channel::kOtlpLogs : Channel::kFile;
    if (s.with_otlp && o.channel == Channel::kFile && index % 4 == 0) {
      // The request's server span carries the request ID and the trace; the log line only the
      // request ID, so the correlation processor joins them.
      Event span;
      span.kind = Kind::kRequestSpan;
      span.channel = Channel::kOtlpTraces;
      span.time_ms = t - 40;
      span.end_ms = t + 5;
      span.request_id = o.request_id;
      span.trace_id = hex(rng, 32);
      span.span_id = hex(rng, 16);
      span.order_id = o.order_id;
      out.push_back(span);
    } else {
      o.trace_id = hex(rng, 32);
      o.span_id = hex(rng, 16);
    }
    out.push_back(o);
    if (!failed) {
      webhooks(o, t + 200);
      // Fulfilment lag grows through the day as the workers fall behind the evening peak.
      const double hours = static_cast<double>(t - s.start_unix_ms) / static_cast<double>(kHourMs);
      job(o, "fulfillment", t + 100, 2.0 + hours * 20.0 + uniform() * 5.0, false);
    }
    job(o, "email", t + 50, 0.2 + uniform() * 3.0, s.with_otlp && index % 3 == 0);
  }
};

}  // namespace

std::vector<Event> generate(const Settings& settings) {
  Builder b{settings, std::mt19937_64(settings.seed), {}};
  // The period is cut into hours (or one shorter slot); each slot gets its hour's share of orders.
  const std::int64_t slot = std::max<std::int64_t>(1, std::min(settings.duration_ms, kHourMs));
  const int slots = static_cast<int>(std::max<std::int64_t>(1, settings.duration_ms / slot));
  auto weight = [&](int i) { return hour_weight(b.hour_of(settings.start_unix_ms + i * slot)); };
  int total_weight = 0;
  for (int i = 0; i < slots; ++i) total_weight += weight(i);
  int index = 0;
  for (int i = 0; i < slots; ++i) {
    const int n = settings.orders * weight(i) / total_weight;
    for (int k = 0; k < n; ++k) {
      const std::int64_t t = settings.start_unix_ms + i * slot + static_cast<std::int64_t>(b.rng() % static_cast<std::uint64_t>(slot));
      b.order(index++, t);
    }
  }
  std::stable_sort(b.out.begin(), b.out.end(), [](const Event& a, const Event& c) { return a.time_ms < c.time_ms; });
  return std::move(b.out);
}

const char* event_name(Kind kind) {
  switch (kind) {
    case Kind::kOrderCreated: return "order.created";
    case Kind::kOrderFailed: return "order.failed";
    case Kind::kWebhookDelivered: return "webhook.delivered";
    case Kind::kWebhookFailed: return "webhook.failed";
    case Kind::kJobStarted: return "job.started";
    case Kind::kJobCompleted: return "job.completed";
    case Kind::kJobFailed: return "job.failed";
    case Kind::kWebhookSpan: return "webhook";
    case Kind::kJobSpan: return "job";
    case Kind::kRequestSpan: return "POST /orders";
  }
  return "";
}

std::string rfc3339(std::int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string json_line(const Event& e) {
  if (e.kind == Kind::kWebhookSpan || e.kind == Kind::kJobSpan || e.kind == Kind::kRequestSpan) return "";
  // Values are plain ASCII without quotes or backslashes, so no escaping is needed.
  std::string out = "{\"time\":\"" + rfc3339(e.time_ms) + "\"";
  auto str = [&](const char* key, const std::string& value) {
    if (!value.empty()) out += std::string(",\"") + key + "\":\"" + value + "\"";
  };
  auto num = [&](const char* key, const std::string& value) { out += std::string(",\"") + key + "\":" + value; };
  const bool bad = e.kind == Kind::kOrderFailed || e.kind == Kind::kWebhookFailed || e.kind == Kind::kJobFailed;
  str("level", bad ? "error" : "info");
  str("event", event_name(e.kind));
  str("request_id", e.request_id);
  str("trace_id", e.trace_id);
  str("span_id", e.span_id);
  str("order_id", e.order_id);
  switch (e.kind) {
    case Kind::kOrderCreated:
    case Kind::kOrderFailed: {
      char amount[32];
      std::snprintf(amount, sizeof amount, "%.2f", e.amount);
      num("amount", amount);
      str("currency", e.currency);
      str("payment_method", e.payment_method);
      str("region", e.region);
      str("reason", e.reason);
      break;
    }
    case Kind::kWebhookDelivered:
    case Kind::kWebhookFailed:
      str("provider", e.provider);
      if (e.status != 0) num("status", std::to_string(e.status));
      num("attempt", std::to_string(e.attempt));
      if (e.status == 0) str("reason", "timeout");
      break;
    case Kind::kJobStarted:
    case Kind::kJobCompleted:
    case Kind::kJobFailed:
      str("queue", e.queue);
      str("job_id", e.job_id);
      if (e.kind == Kind::kJobStarted) {
        if (e.enqueued_at_as_text) str("enqueued_at", rfc3339(e.enqueued_at_ms));
        else num("enqueued_at", std::to_string(e.enqueued_at_ms));
      }
      str("reason", e.reason);
      break;
    default: break;
  }
  out += "}";
  return out;
}

}  // namespace vigil::examples::shop
