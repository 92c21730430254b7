#pragma once
// Batches for tests: shaped ones whose records can be followed through append/split, and "full"
// ones that set every field of every signal (for deep_copy and the encoders).

#include <cstdint>
#include <limits>
#include <new>
#include <string>
#include <tuple>
#include <vector>

#include "agent/model/batch.hpp"

namespace vigil::model::testing {

// shape[r][s] = records in scope s of resource r. Record i (counting from first_id) gets
// time_unix_nano = i and body "rec-<i>"; resource r has attribute res="r<r>", scope s is
// named "s<r>.<s>".
inline Batch make_logs(const std::vector<std::vector<int>>& shape, std::uint64_t first_id = 0) {
  Batch b(Signal::kLogs);
  Arena& a = b.arena();
  std::uint64_t id = first_id;
  for (std::size_t r = 0; r < shape.size(); ++r) {
    ResourceLogs& rl = b.resource_logs().emplace_back(a);
    rl.resource.attributes.push_back(a, {a.copy("res"), AnyValue::string(a.copy("r" + std::to_string(r)))});
    for (std::size_t s = 0; s < shape[r].size(); ++s) {
      ScopeLogs& sl = rl.scope_logs.emplace_back(a);
      sl.scope.name = a.copy("s" + std::to_string(r) + "." + std::to_string(s));
      for (int i = 0; i < shape[r][s]; ++i, ++id) {
        LogRecord& rec = sl.log_records.emplace_back(a);
        rec.time_unix_nano = id;
        rec.body = AnyValue::string(a.copy("rec-" + std::to_string(id)));
      }
    }
  }
  return b;
}

// Same idea for spans (span name "span-<i>", start time i).
inline Batch make_spans(const std::vector<std::vector<int>>& shape, std::uint64_t first_id = 0) {
  Batch b(Signal::kTraces);
  Arena& a = b.arena();
  std::uint64_t id = first_id;
  for (std::size_t r = 0; r < shape.size(); ++r) {
    ResourceSpans& rs = b.resource_spans().emplace_back(a);
    rs.resource.attributes.push_back(a, {a.copy("res"), AnyValue::string(a.copy("r" + std::to_string(r)))});
    for (std::size_t s = 0; s < shape[r].size(); ++s) {
      ScopeSpans& ss = rs.scope_spans.emplace_back(a);
      ss.scope.name = a.copy("s" + std::to_string(r) + "." + std::to_string(s));
      for (int i = 0; i < shape[r][s]; ++i, ++id) {
        Span& sp = ss.spans.emplace_back(a);
        sp.start_time_unix_nano = id;
        sp.name = a.copy("span-" + std::to_string(id));
      }
    }
  }
  return b;
}

// (resource tag, scope name, id, body/name) for every record in order.
using Row = std::tuple<std::string, std::string, std::uint64_t, std::string>;

inline std::string resource_tag(const Resource& r) {
  const AnyValue* v = find_attribute(r.attributes, "res");
  return v ? std::string(v->string_value()) : std::string("?");
}

inline std::vector<Row> rows(const Batch& b) {
  std::vector<Row> out;
  if (b.signal() == Signal::kLogs) {
    for (const ResourceLogs& r : b.resource_logs())
      for (const ScopeLogs& s : r.scope_logs)
        for (const LogRecord& rec : s.log_records)
          out.emplace_back(resource_tag(r.resource), std::string(s.scope.name), rec.time_unix_nano,
                           std::string(rec.body.string_value()));
  } else if (b.signal() == Signal::kTraces) {
    for (const ResourceSpans& r : b.resource_spans())
      for (const ScopeSpans& s : r.scope_spans)
        for (const Span& sp : s.spans)
          out.emplace_back(resource_tag(r.resource), std::string(s.scope.name), sp.start_time_unix_nano,
                           std::string(sp.name));
  } else {
    for (const ResourceMetrics& r : b.resource_metrics())
      for (const ScopeMetrics& s : r.scope_metrics)
        for (const Metric& m : s.metrics) {
          auto add = [&](std::uint64_t t) {
            out.emplace_back(resource_tag(r.resource), std::string(s.scope.name), t, std::string(m.name));
          };
          for (const auto& p : m.number_points) add(p.time_unix_nano);
          for (const auto& p : m.histogram_points) add(p.time_unix_nano);
          for (const auto& p : m.exponential_histogram_points) add(p.time_unix_nano);
          for (const auto& p : m.summary_points) add(p.time_unix_nano);
        }
  }
  return out;
}

inline TraceId trace_id(std::uint8_t seed) {
  TraceId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(seed + i * 17);
  return id;
}
inline SpanId span_id(std::uint8_t seed) {
  SpanId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(seed + i * 31);
  return id;
}

// Attributes with every AnyValue kind, nested array and kvlist included.
inline void fill_attributes(Arena& a, Attributes& attrs) {
  attrs.push_back(a, {a.copy("str"), AnyValue::string(a.copy("text \"quoted\"\n"))});
  attrs.push_back(a, {a.copy("bool"), AnyValue::boolean(true)});
  attrs.push_back(a, {a.copy("int"), AnyValue::integer(-9007199254740993LL)});
  attrs.push_back(a, {a.copy("double"), AnyValue::floating(2.5)});
  attrs.push_back(a, {a.copy("bytes"), AnyValue::bytes(a.copy(std::string("\x00\x01\xfe\xff", 4)))});
  KeyValue* inner = a.allocate_array<KeyValue>(2);
  new (&inner[0]) KeyValue{a.copy("k1"), AnyValue::string(a.copy("v1"))};
  new (&inner[1]) KeyValue{a.copy("k2"), AnyValue::integer(7)};
  AnyValue* items = a.allocate_array<AnyValue>(3);
  new (&items[0]) AnyValue(AnyValue::string(a.copy("a0")));
  new (&items[1]) AnyValue(AnyValue::kvlist(inner, 2));
  new (&items[2]) AnyValue();
  attrs.push_back(a, {a.copy("array"), AnyValue::array(items, 3)});
  attrs.push_back(a, {a.copy("empty"), AnyValue()});
}

inline void fill_scope(Arena& a, Resource& res, InstrumentationScope& scope) {
  fill_attributes(a, res.attributes);
  res.dropped_attributes_count = 1;
  scope.name = a.copy("my.scope");
  scope.version = a.copy("1.2.3");
  scope.attributes.push_back(a, {a.copy("scope.attr"), AnyValue::string(a.copy("x"))});
  scope.dropped_attributes_count = 2;
}

inline Batch full_logs() {
  Batch b(Signal::kLogs);
  Arena& a = b.arena();
  ResourceLogs& rl = b.resource_logs().emplace_back(a);
  rl.schema_url = a.copy("https://opentelemetry.io/schemas/1.21.0");
  ScopeLogs& sl = rl.scope_logs.emplace_back(a);
  fill_scope(a, rl.resource, sl.scope);
  sl.schema_url = a.copy("scope-schema");
  LogRecord& r = sl.log_records.emplace_back(a);
  r.time_unix_nano = 1700000000123456789ULL;
  r.observed_time_unix_nano = 1700000000987654321ULL;
  r.severity_number = 17;
  r.severity_text = a.copy("ERROR");
  r.body = AnyValue::string(a.copy("payment failed: \"card\" \\ declined\t\x01"));
  fill_attributes(a, r.attributes);
  r.dropped_attributes_count = 3;
  r.flags = 1;
  r.trace_id = trace_id(1);
  r.span_id = span_id(2);
  r.event_name = a.copy("payment.failed");
  LogRecord& empty = sl.log_records.emplace_back(a);  // every field default
  (void)empty;
  return b;
}

inline Batch full_traces() {
  Batch b(Signal::kTraces);
  Arena& a = b.arena();
  ResourceSpans& rs = b.resource_spans().emplace_back(a);
  rs.schema_url = a.copy("res-schema");
  ScopeSpans& ss = rs.scope_spans.emplace_back(a);
  fill_scope(a, rs.resource, ss.scope);
  Span& s = ss.spans.emplace_back(a);
  s.trace_id = trace_id(0xa0);
  s.span_id = span_id(0x0b);
  s.trace_state = a.copy("vendor=1");
  s.parent_span_id = span_id(0x33);
  s.flags = 0x101;
  s.name = a.copy("GET /orders");
  s.kind = SpanKind::kServer;
  s.start_time_unix_nano = 1000;
  s.end_time_unix_nano = 18446744073709551615ULL;
  fill_attributes(a, s.attributes);
  s.dropped_attributes_count = 4;
  SpanEvent& e = s.events.emplace_back(a);
  e.time_unix_nano = 1500;
  e.name = a.copy("exception");
  e.attributes.push_back(a, {a.copy("exception.type"), AnyValue::string(a.copy("IOError"))});
  e.dropped_attributes_count = 1;
  s.dropped_events_count = 5;
  SpanLink& l = s.links.emplace_back(a);
  l.trace_id = trace_id(0x10);
  l.span_id = span_id(0x20);
  l.trace_state = a.copy("ts=2");
  l.attributes.push_back(a, {a.copy("link.attr"), AnyValue::integer(3)});
  l.dropped_attributes_count = 2;
  l.flags = 1;
  s.dropped_links_count = 6;
  s.status.message = a.copy("boom");
  s.status.code = StatusCode::kError;
  ss.spans.emplace_back(a);  // every field default
  return b;
}

inline Batch full_metrics() {
  Batch b(Signal::kMetrics);
  Arena& a = b.arena();
  ResourceMetrics& rm = b.resource_metrics().emplace_back(a);
  ScopeMetrics& sm = rm.scope_metrics.emplace_back(a);
  fill_scope(a, rm.resource, sm.scope);

  Metric& g = sm.metrics.emplace_back(a);
  g.name = a.copy("queue.depth");
  g.description = a.copy("items waiting");
  g.unit = a.copy("{item}");
  g.type = MetricType::kGauge;
  NumberDataPoint& gp = g.number_points.emplace_back(a);
  gp.attributes.push_back(a, {a.copy("queue"), AnyValue::string(a.copy("q1"))});
  gp.start_time_unix_nano = 10;
  gp.time_unix_nano = 20;
  gp.as_double = 0;  // zero but set: a oneof member is always written
  gp.flags = 1;
  Exemplar& ex = gp.exemplars.emplace_back(a);
  ex.filtered_attributes.push_back(a, {a.copy("user"), AnyValue::string(a.copy("u1"))});
  ex.time_unix_nano = 15;
  ex.is_int = true;
  ex.as_int = -5;
  ex.span_id = span_id(9);
  ex.trace_id = trace_id(8);
  NumberDataPoint& gp2 = g.number_points.emplace_back(a);
  gp2.time_unix_nano = 21;
  gp2.as_double = std::numeric_limits<double>::quiet_NaN();

  Metric& s = sm.metrics.emplace_back(a);
  s.name = a.copy("orders.total");
  s.type = MetricType::kSum;
  s.aggregation_temporality = AggregationTemporality::kCumulative;
  s.is_monotonic = true;
  NumberDataPoint& sp = s.number_points.emplace_back(a);
  sp.time_unix_nano = 30;
  sp.is_int = true;
  sp.as_int = 9223372036854775807LL;

  Metric& h = sm.metrics.emplace_back(a);
  h.name = a.copy("latency");
  h.type = MetricType::kHistogram;
  h.aggregation_temporality = AggregationTemporality::kDelta;
  HistogramDataPoint& hp = h.histogram_points.emplace_back(a);
  hp.time_unix_nano = 40;
  hp.count = 6;
  hp.sum = 0.0;  // optional and set: written even though zero
  std::uint64_t counts[] = {1, 2, 3};
  double bounds[] = {0.5, std::numeric_limits<double>::infinity()};
  hp.bucket_counts.assign(a, counts, 3);
  hp.explicit_bounds.assign(a, bounds, 2);
  hp.min = -std::numeric_limits<double>::infinity();
  hp.max = 12.75;
  HistogramDataPoint& hp2 = h.histogram_points.emplace_back(a);  // sum/min/max absent
  hp2.time_unix_nano = 41;

  Metric& e = sm.metrics.emplace_back(a);
  e.name = a.copy("size");
  e.type = MetricType::kExponentialHistogram;
  e.aggregation_temporality = AggregationTemporality::kCumulative;
  ExponentialHistogramDataPoint& ep = e.exponential_histogram_points.emplace_back(a);
  ep.time_unix_nano = 50;
  ep.count = 5;
  ep.sum = 1e300;
  ep.scale = -2;
  ep.zero_count = 1;
  ep.positive.offset = -3;
  std::uint64_t pos[] = {1, 18446744073709551615ULL};
  ep.positive.bucket_counts.assign(a, pos, 2);
  ep.flags = 1;
  ep.zero_threshold = 1e-9;
  ep.min = 0.001;

  Metric& q = sm.metrics.emplace_back(a);
  q.name = a.copy("rpc.duration");
  q.type = MetricType::kSummary;
  SummaryDataPoint& qp = q.summary_points.emplace_back(a);
  qp.time_unix_nano = 60;
  qp.count = 3;
  qp.sum = 7.5;
  ValueAtQuantile qs[] = {{0.0, 1.0}, {0.99, 4.25}};
  qp.quantile_values.assign(a, qs, 2);
  q.metadata.push_back(a, {a.copy("meta"), AnyValue::string(a.copy("m"))});

  Metric& empty = sm.metrics.emplace_back(a);
  empty.name = a.copy("no.data");
  return b;
}

}  // namespace vigil::model::testing
