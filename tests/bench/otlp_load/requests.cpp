// The requests the load generator sends, encoded once with Vigil's OTLP encoder.
//
// Log records look like an access log line turned into OTLP by an SDK or a log agent: timestamps,
// severity, a string body, three attributes and trace context (about 170 bytes on the wire, like
// the records of the Fluent Bit comparison in issue 3). Spans look like an instrumented HTTP
// server's: ids and parent, name, kind, times and five attributes (about 280 bytes). The body
// (logs) or the url.full attribute (spans) is padded to reach the requested size per item.

#include <algorithm>
#include <cstdio>
#include <string>

#include "agent/model/batch.hpp"
#include "agent/otlp/proto_encoder.hpp"
#include "tests/bench/otlp_load/load.hpp"

namespace vigil::bench {

namespace {

constexpr std::uint64_t kTime0 = 1714564800000000000ull;  // 2024-05-01T12:00:00Z

model::KeyValue kv_str(model::Arena& a, std::string_view k, std::string_view v) {
  return {a.copy(k), model::AnyValue::string(a.copy(v))};
}

void resource(model::Arena& a, model::Resource& r) {
  r.attributes.push_back(a, kv_str(a, "service.name", "checkout"));
  r.attributes.push_back(a, kv_str(a, "host.name", "ip-10-0-3-17"));
}

void fill_id(std::uint8_t* out, std::size_t n, std::uint64_t seed) {
  for (std::size_t i = 0; i < n; ++i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    out[i] = static_cast<std::uint8_t>(seed >> 56);
  }
}

// `pad` characters of filler text appended to the variable field of every item.
model::Batch make_batch(SignalKind signal, int items, std::size_t pad, std::uint64_t seq) {
  const std::string filler = [&] {
    std::string s;
    static constexpr std::string_view kWords = " user=u-48213 cart=7 region=eu-west-1 retry=0 cache=miss";
    while (s.size() < pad) s += kWords;
    s.resize(pad);
    return s;
  }();
  char buf[256];
  if (signal == SignalKind::kLogs) {
    model::Batch b(model::Signal::kLogs);
    model::Arena& a = b.arena();
    model::ResourceLogs& rl = b.resource_logs().emplace_back(a);
    resource(a, rl.resource);
    model::ScopeLogs& sl = rl.scope_logs.emplace_back(a);
    sl.scope.name = a.copy("vigil.bench");
    sl.log_records.reserve(a, static_cast<std::size_t>(items));
    const std::string_view info = a.copy("INFO");
    for (int i = 0; i < items; ++i) {
      const std::uint64_t n = seq * static_cast<std::uint64_t>(items) + static_cast<std::uint64_t>(i);
      model::LogRecord& r = sl.log_records.emplace_back(a);
      r.time_unix_nano = kTime0 + n * 1000;
      r.observed_time_unix_nano = r.time_unix_nano + 250000;
      r.severity_number = 9;
      r.severity_text = info;
      std::snprintf(buf, sizeof buf, "GET /api/orders/%06llu 200 %llums", static_cast<unsigned long long>(n % 1000000),
                    static_cast<unsigned long long>(n % 97));
      r.body = model::AnyValue::string(a.copy(std::string(buf) + filler));
      r.attributes.push_back(a, kv_str(a, "http.method", "GET"));
      r.attributes.push_back(a, {a.copy("http.status_code"), model::AnyValue::integer(200)});
      std::snprintf(buf, sizeof buf, "u-%05llu", static_cast<unsigned long long>(n % 100000));
      r.attributes.push_back(a, kv_str(a, "user.id", buf));
      fill_id(r.trace_id.data(), r.trace_id.size(), n / 8 + 1);
      fill_id(r.span_id.data(), r.span_id.size(), n + 1);
    }
    return b;
  }
  model::Batch b(model::Signal::kTraces);
  model::Arena& a = b.arena();
  model::ResourceSpans& rs = b.resource_spans().emplace_back(a);
  resource(a, rs.resource);
  model::ScopeSpans& ss = rs.scope_spans.emplace_back(a);
  ss.scope.name = a.copy("io.opentelemetry.http");
  ss.scope.version = a.copy("1.32.0");
  ss.spans.reserve(a, static_cast<std::size_t>(items));
  const std::string_view name = a.copy("POST /api/orders");
  for (int i = 0; i < items; ++i) {
    const std::uint64_t n = seq * static_cast<std::uint64_t>(items) + static_cast<std::uint64_t>(i);
    model::Span& s = ss.spans.emplace_back(a);
    fill_id(s.trace_id.data(), s.trace_id.size(), n / 8 + 1);
    fill_id(s.span_id.data(), s.span_id.size(), n + 1);
    if (n % 8 != 0) fill_id(s.parent_span_id.data(), s.parent_span_id.size(), n);
    s.flags = 0x101;
    s.name = name;
    s.kind = model::SpanKind::kServer;
    s.start_time_unix_nano = kTime0 + n * 100000;
    s.end_time_unix_nano = s.start_time_unix_nano + 12500000 + n % 1000;
    s.attributes.push_back(a, kv_str(a, "http.request.method", "POST"));
    s.attributes.push_back(a, kv_str(a, "http.route", "/api/orders"));
    s.attributes.push_back(a, {a.copy("http.response.status_code"), model::AnyValue::integer(200)});
    s.attributes.push_back(a, kv_str(a, "server.address", "checkout.shop.svc"));
    std::snprintf(buf, sizeof buf, "https://checkout.shop.svc/api/orders?id=%06llu",
                  static_cast<unsigned long long>(n % 1000000));
    s.attributes.push_back(a, kv_str(a, "url.full", std::string(buf) + filler));
  }
  return b;
}

// Encoded bytes per item of a request of `items` items with `pad` filler characters each.
double per_item(SignalKind signal, int items, std::size_t pad) {
  const std::size_t full = otlp::encoded_size(make_batch(signal, items, pad, 0));
  const std::size_t none = otlp::encoded_size(make_batch(signal, 0, pad, 0));
  return static_cast<double>(full - none) / items;
}

}  // namespace

std::vector<Request> build_requests(const Options& options, double& bytes_per_item) {
  const int target = options.record_size > 0 ? options.record_size
                                             : (options.signal == SignalKind::kLogs ? 170 : 280);
  const int probe = std::max(options.items, 1);
  // The smallest item; pad towards the target (the length prefix may grow by a byte, so adjust
  // once more after the first guess).
  std::size_t pad = 0;
  double size = per_item(options.signal, probe, 0);
  for (int round = 0; round < 3 && size < target - 0.5; ++round) {
    pad += static_cast<std::size_t>(std::max(1.0, target - size));
    size = per_item(options.signal, probe, pad);
    if (size > target + 0.5 && pad > 0) {
      pad -= static_cast<std::size_t>(std::min<double>(static_cast<double>(pad), size - target));
      size = per_item(options.signal, probe, pad);
    }
  }
  bytes_per_item = size;

  std::vector<Request> out;
  out.reserve(static_cast<std::size_t>(options.pool));
  for (int i = 0; i < options.pool; ++i) {
    model::Batch b = make_batch(options.signal, options.items, pad, static_cast<std::uint64_t>(i));
    Request r;
    r.items = b.item_count();
    otlp::encode_export_request(b, r.body);
    out.push_back(std::move(r));
  }
  return out;
}

void Stats::merge(Stats&& other) {
  ok_requests += other.ok_requests;
  ok_items += other.ok_items;
  failed_requests += other.failed_requests;
  for (const auto& [k, v] : other.errors) errors[k] += v;
  if (latency_us.empty()) {
    latency_us = std::move(other.latency_us);
  } else {
    latency_us.insert(latency_us.end(), other.latency_us.begin(), other.latency_us.end());
  }
  last_completion = std::max(last_completion, other.last_completion);
}

}  // namespace vigil::bench
