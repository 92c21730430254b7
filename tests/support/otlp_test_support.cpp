#include "tests/support/otlp_test_support.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

namespace vigil::otlp::testing {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::int64_t kI64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint32_t kU32Max = std::numeric_limits<std::uint32_t>::max();

std::uint64_t bits(double d) { return std::bit_cast<std::uint64_t>(d); }

template <std::size_t N>
std::string id_string(const std::array<std::uint8_t, N>& id) {
  if (model::is_zero(id)) return {};
  return std::string(reinterpret_cast<const char*>(id.data()), N);
}

}  // namespace

model::AnyValue Build::array(std::initializer_list<model::AnyValue> items) {
  auto* p = arena_.allocate_array<model::AnyValue>(items.size());
  std::uninitialized_copy(items.begin(), items.end(), p);
  return model::AnyValue::array(p, static_cast<std::uint32_t>(items.size()));
}

model::AnyValue Build::kvlist(std::initializer_list<model::KeyValue> items) {
  auto* p = arena_.allocate_array<model::KeyValue>(items.size());
  std::uninitialized_copy(items.begin(), items.end(), p);
  return model::AnyValue::kvlist(p, static_cast<std::uint32_t>(items.size()));
}

model::Attributes Build::attrs(std::initializer_list<model::KeyValue> items) {
  model::Attributes a;
  for (const model::KeyValue& kv : items) a.push_back(arena_, kv);
  return a;
}

model::Attributes every_value_attributes(Build& b) {
  using model::AnyValue;
  return b.attrs({
      b.kv("string", b.str("hello, world")),
      b.kv("empty_string", b.str("")),
      b.kv("unicode", b.str("\xc3\xbc" "n\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80")),
      b.kv("bool_true", AnyValue::boolean(true)),
      b.kv("bool_false", AnyValue::boolean(false)),
      b.kv("int_zero", AnyValue::integer(0)),
      b.kv("int_neg", AnyValue::integer(-1)),
      b.kv("int_min", AnyValue::integer(kI64Min)),
      b.kv("int_max", AnyValue::integer(kI64Max)),
      b.kv("double", AnyValue::floating(3.25)),
      b.kv("double_zero", AnyValue::floating(0.0)),
      b.kv("double_neg_zero", AnyValue::floating(-0.0)),
      b.kv("double_nan", AnyValue::floating(kNaN)),
      b.kv("double_inf", AnyValue::floating(kInf)),
      b.kv("double_neg_inf", AnyValue::floating(-kInf)),
      b.kv("double_min", AnyValue::floating(std::numeric_limits<double>::denorm_min())),
      b.kv("bytes", b.bytes(std::string_view("\x00\x01\xfe\xff", 4))),
      b.kv("empty_bytes", b.bytes("")),
      b.kv("empty_value", AnyValue()),
      b.kv("array", b.array({AnyValue::integer(1), b.str("two"), AnyValue::floating(3.0), AnyValue(),
                             b.array({AnyValue::boolean(true), b.array({})}),
                             b.kvlist({b.kv("k", b.str("v")), b.kv("none", AnyValue())})})),
      b.kv("empty_array", b.array({})),
      b.kv("map", b.kvlist({b.kv("a", b.kvlist({b.kv("b", b.kvlist({b.kv("c", b.array({b.str("deep"),
                                                                                            AnyValue::integer(0)}))}))})),
                            b.kv("flag", AnyValue::boolean(false))})),
      b.kv("empty_map", b.kvlist({})),
      b.kv("", b.str("empty key")),
  });
}

model::TraceId test_trace_id(std::uint8_t seed) {
  model::TraceId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(seed + i * 17);
  return id;
}

model::SpanId test_span_id(std::uint8_t seed) {
  model::SpanId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(seed + i * 31);
  return id;
}

// ---- fixtures -------------------------------------------------------------------------------

model::Batch full_logs_batch() {
  model::Batch batch(model::Signal::kLogs);
  Build b(batch);
  model::Arena& a = b.arena();

  model::ResourceLogs& r0 = batch.resource_logs().emplace_back(a);
  r0.resource.attributes = every_value_attributes(b);
  r0.resource.dropped_attributes_count = 3;
  r0.schema_url = b.s("https://opentelemetry.io/schemas/1.26.0");

  model::ScopeLogs& s0 = r0.scope_logs.emplace_back(a);
  s0.scope.name = b.s("io.vigil.test");
  s0.scope.version = b.s("1.2.3");
  s0.scope.attributes = b.attrs({b.kv("scope.attr", b.str("x")), b.kv("scope.int", model::AnyValue::integer(7))});
  s0.scope.dropped_attributes_count = kU32Max;
  s0.schema_url = b.s("https://opentelemetry.io/schemas/1.25.0");

  // Every field set, extreme values.
  model::LogRecord& full = s0.log_records.emplace_back(a);
  full.time_unix_nano = kU64Max;
  full.observed_time_unix_nano = 1;
  full.severity_number = 24;
  full.severity_text = b.s("FATAL4");
  full.body = b.kvlist({b.kv("msg", b.str("order placed")), b.kv("nested", b.kvlist({b.kv("n", model::AnyValue::integer(1))}))});
  full.attributes = every_value_attributes(b);
  full.dropped_attributes_count = kU32Max;
  full.flags = kU32Max;
  full.trace_id = test_trace_id(1);
  full.span_id = test_span_id(2);
  full.event_name = b.s("order.placed");

  // Every field default: an empty LogRecord message.
  s0.log_records.emplace_back(a);

  // One record per body type, including the oneof zero values and an empty body.
  for (const model::KeyValue& kv : every_value_attributes(b)) {
    model::LogRecord& r = s0.log_records.emplace_back(a);
    r.body = kv.value;
    r.severity_text = kv.key;
    r.time_unix_nano = 1700000000000000000ull;
  }

  // Unusual but representable: a negative severity (open enum), trace id without span id.
  model::LogRecord& odd = s0.log_records.emplace_back(a);
  odd.severity_number = -5;
  odd.trace_id = test_trace_id(9);
  odd.flags = 1;

  // A huge body and attribute (several MiB).
  model::LogRecord& huge = s0.log_records.emplace_back(a);
  std::string big(5u << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>('a' + i % 26);
  huge.body = b.str(big);
  huge.attributes = b.attrs({b.kv(std::string(70000, 'k'), b.bytes(std::string(300000, '\xff')))});

  // An empty scope, and an empty resource entry.
  r0.scope_logs.emplace_back(a);
  batch.resource_logs().emplace_back(a);

  model::ResourceLogs& r2 = batch.resource_logs().emplace_back(a);
  r2.resource.attributes = b.attrs({b.kv("service.name", b.str("checkout"))});
  model::ScopeLogs& s2 = r2.scope_logs.emplace_back(a);
  model::LogRecord& plain = s2.log_records.emplace_back(a);
  plain.time_unix_nano = 1700000000123456789ull;
  plain.severity_number = 9;
  plain.body = b.str("{\"level\":\"info\",\"msg\":\"hello\"}");
  return batch;
}

model::Batch full_traces_batch() {
  model::Batch batch(model::Signal::kTraces);
  Build b(batch);
  model::Arena& a = b.arena();

  model::ResourceSpans& r0 = batch.resource_spans().emplace_back(a);
  r0.resource.attributes = every_value_attributes(b);
  r0.resource.dropped_attributes_count = 1;
  r0.schema_url = b.s("https://opentelemetry.io/schemas/1.26.0");

  model::ScopeSpans& s0 = r0.scope_spans.emplace_back(a);
  s0.scope.name = b.s("tracer");
  s0.scope.version = b.s("0.0.1");
  s0.scope.attributes = b.attrs({b.kv("a", model::AnyValue::boolean(true))});
  s0.scope.dropped_attributes_count = 5;
  s0.schema_url = b.s("scope-schema");

  model::Span& full = s0.spans.emplace_back(a);
  full.trace_id = test_trace_id(10);
  full.span_id = test_span_id(11);
  full.trace_state = b.s("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  full.parent_span_id = test_span_id(12);
  full.flags = 0x301;
  full.name = b.s("POST /orders");
  full.kind = model::SpanKind::kServer;
  full.start_time_unix_nano = 1;
  full.end_time_unix_nano = kU64Max;
  full.attributes = every_value_attributes(b);
  full.dropped_attributes_count = kU32Max;
  model::SpanEvent& e0 = full.events.emplace_back(a);
  e0.time_unix_nano = 1700000000000000001ull;
  e0.name = b.s("exception");
  e0.attributes = b.attrs({b.kv("exception.message", b.str("boom")), b.kv("n", model::AnyValue::integer(kI64Min))});
  e0.dropped_attributes_count = 2;
  full.events.emplace_back(a);  // an empty event
  full.dropped_events_count = 4;
  model::SpanLink& l0 = full.links.emplace_back(a);
  l0.trace_id = test_trace_id(20);
  l0.span_id = test_span_id(21);
  l0.trace_state = b.s("k=v");
  l0.attributes = b.attrs({b.kv("link.kind", b.str("follows"))});
  l0.dropped_attributes_count = 6;
  l0.flags = 0x101;
  model::SpanLink& l1 = full.links.emplace_back(a);
  l1.trace_id = test_trace_id(22);  // span id absent
  full.links.emplace_back(a);        // an empty link
  full.dropped_links_count = 8;
  full.status.message = b.s("upstream failed");
  full.status.code = model::StatusCode::kError;

  // An empty span.
  s0.spans.emplace_back(a);

  // Each kind and status code, with and without status message.
  for (int k = 0; k <= 5; ++k) {
    model::Span& sp = s0.spans.emplace_back(a);
    sp.trace_id = test_trace_id(static_cast<std::uint8_t>(30 + k));
    sp.span_id = test_span_id(static_cast<std::uint8_t>(40 + k));
    sp.kind = static_cast<model::SpanKind>(k);
    sp.name = b.s("span-" + std::to_string(k));
    sp.status.code = static_cast<model::StatusCode>(k % 3);
    if (k == 3) sp.status.message = b.s("only a message");
    sp.start_time_unix_nano = 1000;
    sp.end_time_unix_nano = 2000;
  }

  r0.scope_spans.emplace_back(a);          // empty scope
  batch.resource_spans().emplace_back(a);  // empty resource
  return batch;
}

model::Batch full_metrics_batch() {
  using model::AnyValue;
  model::Batch batch(model::Signal::kMetrics);
  Build b(batch);
  model::Arena& a = b.arena();

  model::ResourceMetrics& r0 = batch.resource_metrics().emplace_back(a);
  r0.resource.attributes = every_value_attributes(b);
  r0.resource.dropped_attributes_count = 2;
  r0.schema_url = b.s("https://opentelemetry.io/schemas/1.26.0");
  model::ScopeMetrics& s0 = r0.scope_metrics.emplace_back(a);
  s0.scope.name = b.s("meter");
  s0.scope.version = b.s("9");
  s0.scope.attributes = b.attrs({b.kv("m", AnyValue::floating(1.5))});
  s0.scope.dropped_attributes_count = 1;
  s0.schema_url = b.s("metrics-scope-schema");

  auto exemplars = [&]() {
    model::ArenaVec<model::Exemplar> ex;
    model::Exemplar& e0 = ex.emplace_back(a);
    e0.filtered_attributes = b.attrs({b.kv("user", b.str("u1"))});
    e0.time_unix_nano = 123;
    e0.as_double = 0.0;  // oneof zero: still written
    e0.span_id = test_span_id(50);
    e0.trace_id = test_trace_id(51);
    model::Exemplar& e1 = ex.emplace_back(a);
    e1.is_int = true;
    e1.as_int = kI64Min;
    model::Exemplar& e2 = ex.emplace_back(a);
    e2.as_double = kNaN;
    e2.trace_id = test_trace_id(52);
    return ex;
  };

  // Gauge, double values at the edges.
  model::Metric& gauge = s0.metrics.emplace_back(a);
  gauge.name = b.s("cpu.utilization");
  gauge.description = b.s("CPU use");
  gauge.unit = b.s("1");
  gauge.type = model::MetricType::kGauge;
  gauge.metadata = b.attrs({b.kv("prometheus.type", b.str("gauge"))});
  for (double v : {0.0, -0.0, 1.5, kNaN, kInf, -kInf}) {
    model::NumberDataPoint& p = gauge.number_points.emplace_back(a);
    p.attributes = b.attrs({b.kv("cpu", AnyValue::integer(0))});
    p.start_time_unix_nano = 1;
    p.time_unix_nano = kU64Max;
    p.as_double = v;
    p.flags = 1;
  }
  gauge.number_points[0].exemplars = exemplars();

  // Gauge, int values.
  model::Metric& igauge = s0.metrics.emplace_back(a);
  igauge.name = b.s("queue.depth");
  igauge.type = model::MetricType::kGauge;
  for (std::int64_t v : {std::int64_t{0}, kI64Min, kI64Max, std::int64_t{-1}}) {
    model::NumberDataPoint& p = igauge.number_points.emplace_back(a);
    p.is_int = true;
    p.as_int = v;
    p.time_unix_nano = 5;
  }

  // Sum, int, cumulative monotonic; sum, double, delta; sum with unspecified temporality.
  model::Metric& isum = s0.metrics.emplace_back(a);
  isum.name = b.s("orders.total");
  isum.type = model::MetricType::kSum;
  isum.aggregation_temporality = model::AggregationTemporality::kCumulative;
  isum.is_monotonic = true;
  model::NumberDataPoint& ip = isum.number_points.emplace_back(a);
  ip.is_int = true;
  ip.as_int = 42;
  ip.start_time_unix_nano = 10;
  ip.time_unix_nano = 20;
  ip.exemplars = exemplars();
  model::Metric& dsum = s0.metrics.emplace_back(a);
  dsum.name = b.s("bytes.delta");
  dsum.type = model::MetricType::kSum;
  dsum.aggregation_temporality = model::AggregationTemporality::kDelta;
  dsum.number_points.emplace_back(a).as_double = 2.5;
  model::Metric& usum = s0.metrics.emplace_back(a);
  usum.name = b.s("unspecified");
  usum.type = model::MetricType::kSum;

  // Histogram with sum/min/max, one with none, one with sum = 0 (optional: still written).
  model::Metric& hist = s0.metrics.emplace_back(a);
  hist.name = b.s("http.server.duration");
  hist.unit = b.s("ms");
  hist.type = model::MetricType::kHistogram;
  hist.aggregation_temporality = model::AggregationTemporality::kDelta;
  model::HistogramDataPoint& h0 = hist.histogram_points.emplace_back(a);
  h0.attributes = b.attrs({b.kv("route", b.str("/orders"))});
  h0.start_time_unix_nano = 100;
  h0.time_unix_nano = 200;
  h0.count = kU64Max;
  h0.sum = 1234.5;
  h0.bucket_counts = b.vec<std::uint64_t>({0, 1, kU64Max, 3});
  h0.explicit_bounds = b.vec<double>({-kInf, 0.0, 10.0});
  h0.exemplars = exemplars();
  h0.flags = 1;
  h0.min = -1.0;
  h0.max = kInf;
  model::HistogramDataPoint& h1 = hist.histogram_points.emplace_back(a);
  h1.count = 3;
  h1.bucket_counts = b.vec<std::uint64_t>({3});
  model::HistogramDataPoint& h2 = hist.histogram_points.emplace_back(a);
  h2.sum = 0.0;
  h2.min = 0.0;
  h2.max = -0.0;
  hist.histogram_points.emplace_back(a);  // all default

  // Exponential histograms: both bucket sides, negative offsets, scale at both ends.
  model::Metric& exph = s0.metrics.emplace_back(a);
  exph.name = b.s("latency.exp");
  exph.type = model::MetricType::kExponentialHistogram;
  exph.aggregation_temporality = model::AggregationTemporality::kCumulative;
  model::ExponentialHistogramDataPoint& e0 = exph.exponential_histogram_points.emplace_back(a);
  e0.attributes = b.attrs({b.kv("host", b.str("a"))});
  e0.start_time_unix_nano = 1;
  e0.time_unix_nano = 2;
  e0.count = 100;
  e0.sum = 55.5;
  e0.scale = -3;
  e0.zero_count = 7;
  e0.positive.offset = -12;
  e0.positive.bucket_counts = b.vec<std::uint64_t>({1, 0, 300, kU64Max});
  e0.negative.offset = 5;
  e0.negative.bucket_counts = b.vec<std::uint64_t>({2, 127, 128});
  e0.flags = 1;
  e0.exemplars = exemplars();
  e0.min = -1e300;
  e0.max = 1e300;
  e0.zero_threshold = 1e-9;
  model::ExponentialHistogramDataPoint& e1 = exph.exponential_histogram_points.emplace_back(a);
  e1.scale = 20;
  e1.positive.offset = std::numeric_limits<std::int32_t>::min();  // offset only, no counts
  e1.negative.bucket_counts = b.vec<std::uint64_t>({0});         // counts only, offset 0
  e1.zero_threshold = -0.0;
  exph.exponential_histogram_points.emplace_back(a);  // all default

  // Summary with quantiles, and an empty one.
  model::Metric& summary = s0.metrics.emplace_back(a);
  summary.name = b.s("rpc.duration");
  summary.type = model::MetricType::kSummary;
  model::SummaryDataPoint& sp = summary.summary_points.emplace_back(a);
  sp.attributes = b.attrs({b.kv("rpc", b.str("get"))});
  sp.start_time_unix_nano = 3;
  sp.time_unix_nano = 4;
  sp.count = 9;
  sp.sum = 99.5;
  sp.quantile_values = b.vec<model::ValueAtQuantile>({{0.0, 1.0}, {0.5, 0.0}, {0.99, kNaN}, {1.0, kInf}});
  sp.flags = 1;
  summary.summary_points.emplace_back(a);

  // A metric without data, one with metadata only, one gauge with no points.
  s0.metrics.emplace_back(a);
  model::Metric& meta = s0.metrics.emplace_back(a);
  meta.name = b.s("meta.only");
  meta.metadata = every_value_attributes(b);
  model::Metric& empty_gauge = s0.metrics.emplace_back(a);
  empty_gauge.name = b.s("empty.gauge");
  empty_gauge.type = model::MetricType::kGauge;

  r0.scope_metrics.emplace_back(a);
  batch.resource_metrics().emplace_back(a);
  return batch;
}

// ---- comparisons ----------------------------------------------------------------------------

namespace {

void compare_kv(const model::KeyValue& m, const pbc::KeyValue& p) {
  CHECK(m.key == p.key());
  compare(m.value, p.value());
}

template <class Field>
void compare_attrs(const model::Attributes& m, const Field& p) {
  REQUIRE(m.size() == static_cast<std::size_t>(p.size()));
  for (std::size_t i = 0; i < m.size(); ++i) compare_kv(m[i], p[static_cast<int>(i)]);
}

void compare_resource(const model::Resource& m, const pbr::Resource& p) {
  compare_attrs(m.attributes, p.attributes());
  CHECK(m.dropped_attributes_count == p.dropped_attributes_count());
  CHECK(p.entity_refs_size() == 0);
}

void compare_scope(const model::InstrumentationScope& m, const pbc::InstrumentationScope& p) {
  CHECK(m.name == p.name());
  CHECK(m.version == p.version());
  compare_attrs(m.attributes, p.attributes());
  CHECK(m.dropped_attributes_count == p.dropped_attributes_count());
}

template <class Field>
void compare_exemplars(const model::ArenaVec<model::Exemplar>& m, const Field& p) {
  REQUIRE(m.size() == static_cast<std::size_t>(p.size()));
  for (std::size_t i = 0; i < m.size(); ++i) {
    const model::Exemplar& me = m[i];
    const pbm::Exemplar& pe = p[static_cast<int>(i)];
    compare_attrs(me.filtered_attributes, pe.filtered_attributes());
    CHECK(me.time_unix_nano == pe.time_unix_nano());
    if (me.is_int) {
      CHECK(pe.value_case() == pbm::Exemplar::kAsInt);
      CHECK(me.as_int == pe.as_int());
    } else {
      CHECK(pe.value_case() == pbm::Exemplar::kAsDouble);
      CHECK(bits(me.as_double) == bits(pe.as_double()));
    }
    CHECK(id_string(me.span_id) == pe.span_id());
    CHECK(id_string(me.trace_id) == pe.trace_id());
  }
}

template <class Field>
void compare_number_points(const model::ArenaVec<model::NumberDataPoint>& m, const Field& p) {
  REQUIRE(m.size() == static_cast<std::size_t>(p.size()));
  for (std::size_t i = 0; i < m.size(); ++i) {
    const model::NumberDataPoint& mp = m[i];
    const pbm::NumberDataPoint& pp = p[static_cast<int>(i)];
    compare_attrs(mp.attributes, pp.attributes());
    CHECK(mp.start_time_unix_nano == pp.start_time_unix_nano());
    CHECK(mp.time_unix_nano == pp.time_unix_nano());
    if (mp.is_int) {
      CHECK(pp.value_case() == pbm::NumberDataPoint::kAsInt);
      CHECK(mp.as_int == pp.as_int());
    } else {
      CHECK(pp.value_case() == pbm::NumberDataPoint::kAsDouble);
      CHECK(bits(mp.as_double) == bits(pp.as_double()));
    }
    compare_exemplars(mp.exemplars, pp.exemplars());
    CHECK(mp.flags == pp.flags());
  }
}

void compare_optional(const std::optional<double>& m, bool has, double value) {
  CHECK(m.has_value() == has);
  if (m && has) CHECK(bits(*m) == bits(value));
}

void compare_buckets(const model::ExponentialBuckets& m, const pbm::ExponentialHistogramDataPoint::Buckets& p) {
  CHECK(m.offset == p.offset());
  REQUIRE(m.bucket_counts.size() == static_cast<std::size_t>(p.bucket_counts_size()));
  for (std::size_t i = 0; i < m.bucket_counts.size(); ++i) CHECK(m.bucket_counts[i] == p.bucket_counts(static_cast<int>(i)));
}

void compare_metric(const model::Metric& m, const pbm::Metric& p) {
  CHECK(m.name == p.name());
  CHECK(m.description == p.description());
  CHECK(m.unit == p.unit());
  compare_attrs(m.metadata, p.metadata());
  const auto temporality = static_cast<int>(m.aggregation_temporality);
  switch (m.type) {
    case model::MetricType::kEmpty:
      CHECK(p.data_case() == pbm::Metric::DATA_NOT_SET);
      break;
    case model::MetricType::kGauge:
      REQUIRE(p.data_case() == pbm::Metric::kGauge);
      compare_number_points(m.number_points, p.gauge().data_points());
      break;
    case model::MetricType::kSum:
      REQUIRE(p.data_case() == pbm::Metric::kSum);
      CHECK(temporality == p.sum().aggregation_temporality());
      CHECK(m.is_monotonic == p.sum().is_monotonic());
      compare_number_points(m.number_points, p.sum().data_points());
      break;
    case model::MetricType::kHistogram: {
      REQUIRE(p.data_case() == pbm::Metric::kHistogram);
      CHECK(temporality == p.histogram().aggregation_temporality());
      REQUIRE(m.histogram_points.size() == static_cast<std::size_t>(p.histogram().data_points_size()));
      for (std::size_t i = 0; i < m.histogram_points.size(); ++i) {
        const model::HistogramDataPoint& mp = m.histogram_points[i];
        const pbm::HistogramDataPoint& pp = p.histogram().data_points(static_cast<int>(i));
        compare_attrs(mp.attributes, pp.attributes());
        CHECK(mp.start_time_unix_nano == pp.start_time_unix_nano());
        CHECK(mp.time_unix_nano == pp.time_unix_nano());
        CHECK(mp.count == pp.count());
        compare_optional(mp.sum, pp.has_sum(), pp.sum());
        REQUIRE(mp.bucket_counts.size() == static_cast<std::size_t>(pp.bucket_counts_size()));
        for (std::size_t j = 0; j < mp.bucket_counts.size(); ++j) CHECK(mp.bucket_counts[j] == pp.bucket_counts(static_cast<int>(j)));
        REQUIRE(mp.explicit_bounds.size() == static_cast<std::size_t>(pp.explicit_bounds_size()));
        for (std::size_t j = 0; j < mp.explicit_bounds.size(); ++j) {
          CHECK(bits(mp.explicit_bounds[j]) == bits(pp.explicit_bounds(static_cast<int>(j))));
        }
        compare_exemplars(mp.exemplars, pp.exemplars());
        CHECK(mp.flags == pp.flags());
        compare_optional(mp.min, pp.has_min(), pp.min());
        compare_optional(mp.max, pp.has_max(), pp.max());
      }
      break;
    }
    case model::MetricType::kExponentialHistogram: {
      REQUIRE(p.data_case() == pbm::Metric::kExponentialHistogram);
      const auto& eh = p.exponential_histogram();
      CHECK(temporality == eh.aggregation_temporality());
      REQUIRE(m.exponential_histogram_points.size() == static_cast<std::size_t>(eh.data_points_size()));
      for (std::size_t i = 0; i < m.exponential_histogram_points.size(); ++i) {
        const model::ExponentialHistogramDataPoint& mp = m.exponential_histogram_points[i];
        const pbm::ExponentialHistogramDataPoint& pp = eh.data_points(static_cast<int>(i));
        compare_attrs(mp.attributes, pp.attributes());
        CHECK(mp.start_time_unix_nano == pp.start_time_unix_nano());
        CHECK(mp.time_unix_nano == pp.time_unix_nano());
        CHECK(mp.count == pp.count());
        compare_optional(mp.sum, pp.has_sum(), pp.sum());
        CHECK(mp.scale == pp.scale());
        CHECK(mp.zero_count == pp.zero_count());
        compare_buckets(mp.positive, pp.positive());
        compare_buckets(mp.negative, pp.negative());
        CHECK(mp.flags == pp.flags());
        compare_exemplars(mp.exemplars, pp.exemplars());
        compare_optional(mp.min, pp.has_min(), pp.min());
        compare_optional(mp.max, pp.has_max(), pp.max());
        CHECK(bits(mp.zero_threshold) == bits(pp.zero_threshold()));
      }
      break;
    }
    case model::MetricType::kSummary: {
      REQUIRE(p.data_case() == pbm::Metric::kSummary);
      REQUIRE(m.summary_points.size() == static_cast<std::size_t>(p.summary().data_points_size()));
      for (std::size_t i = 0; i < m.summary_points.size(); ++i) {
        const model::SummaryDataPoint& mp = m.summary_points[i];
        const pbm::SummaryDataPoint& pp = p.summary().data_points(static_cast<int>(i));
        compare_attrs(mp.attributes, pp.attributes());
        CHECK(mp.start_time_unix_nano == pp.start_time_unix_nano());
        CHECK(mp.time_unix_nano == pp.time_unix_nano());
        CHECK(mp.count == pp.count());
        CHECK(bits(mp.sum) == bits(pp.sum()));
        REQUIRE(mp.quantile_values.size() == static_cast<std::size_t>(pp.quantile_values_size()));
        for (std::size_t j = 0; j < mp.quantile_values.size(); ++j) {
          CHECK(bits(mp.quantile_values[j].quantile) == bits(pp.quantile_values(static_cast<int>(j)).quantile()));
          CHECK(bits(mp.quantile_values[j].value) == bits(pp.quantile_values(static_cast<int>(j)).value()));
        }
        CHECK(mp.flags == pp.flags());
      }
      break;
    }
  }
}

}  // namespace

void compare(const model::AnyValue& m, const pbc::AnyValue& p) {
  switch (m.type()) {
    case model::ValueType::kEmpty:
      CHECK(p.value_case() == pbc::AnyValue::VALUE_NOT_SET);
      break;
    case model::ValueType::kString:
      REQUIRE(p.value_case() == pbc::AnyValue::kStringValue);
      CHECK(m.string_value() == p.string_value());
      break;
    case model::ValueType::kBool:
      REQUIRE(p.value_case() == pbc::AnyValue::kBoolValue);
      CHECK(m.bool_value() == p.bool_value());
      break;
    case model::ValueType::kInt:
      REQUIRE(p.value_case() == pbc::AnyValue::kIntValue);
      CHECK(m.int_value() == p.int_value());
      break;
    case model::ValueType::kDouble:
      REQUIRE(p.value_case() == pbc::AnyValue::kDoubleValue);
      CHECK(bits(m.double_value()) == bits(p.double_value()));
      break;
    case model::ValueType::kBytes:
      REQUIRE(p.value_case() == pbc::AnyValue::kBytesValue);
      CHECK(m.string_value() == p.bytes_value());
      break;
    case model::ValueType::kArray: {
      REQUIRE(p.value_case() == pbc::AnyValue::kArrayValue);
      REQUIRE(m.size() == static_cast<std::uint32_t>(p.array_value().values_size()));
      for (std::uint32_t i = 0; i < m.size(); ++i) compare(m.array_begin()[i], p.array_value().values(static_cast<int>(i)));
      break;
    }
    case model::ValueType::kKvList: {
      REQUIRE(p.value_case() == pbc::AnyValue::kKvlistValue);
      REQUIRE(m.size() == static_cast<std::uint32_t>(p.kvlist_value().values_size()));
      for (std::uint32_t i = 0; i < m.size(); ++i) compare_kv(m.kvlist_begin()[i], p.kvlist_value().values(static_cast<int>(i)));
      break;
    }
  }
}

void compare(const model::Batch& batch, const LogsRequest& req) {
  REQUIRE(batch.signal() == model::Signal::kLogs);
  const auto& m = batch.resource_logs();
  REQUIRE(m.size() == static_cast<std::size_t>(req.resource_logs_size()));
  for (std::size_t ri = 0; ri < m.size(); ++ri) {
    const model::ResourceLogs& mr = m[ri];
    const pbl::ResourceLogs& pr = req.resource_logs(static_cast<int>(ri));
    CHECK(pr.has_resource());
    compare_resource(mr.resource, pr.resource());
    CHECK(mr.schema_url == pr.schema_url());
    REQUIRE(mr.scope_logs.size() == static_cast<std::size_t>(pr.scope_logs_size()));
    for (std::size_t si = 0; si < mr.scope_logs.size(); ++si) {
      const model::ScopeLogs& ms = mr.scope_logs[si];
      const pbl::ScopeLogs& ps = pr.scope_logs(static_cast<int>(si));
      CHECK(ps.has_scope());
      compare_scope(ms.scope, ps.scope());
      CHECK(ms.schema_url == ps.schema_url());
      REQUIRE(ms.log_records.size() == static_cast<std::size_t>(ps.log_records_size()));
      for (std::size_t i = 0; i < ms.log_records.size(); ++i) {
        CAPTURE(i);
        const model::LogRecord& r = ms.log_records[i];
        const pbl::LogRecord& pl = ps.log_records(static_cast<int>(i));
        CHECK(r.time_unix_nano == pl.time_unix_nano());
        CHECK(r.observed_time_unix_nano == pl.observed_time_unix_nano());
        CHECK(r.severity_number == static_cast<std::int32_t>(pl.severity_number()));
        CHECK(r.severity_text == pl.severity_text());
        CHECK(r.body.empty() == !pl.has_body());
        compare(r.body, pl.body());
        compare_attrs(r.attributes, pl.attributes());
        CHECK(r.dropped_attributes_count == pl.dropped_attributes_count());
        CHECK(r.flags == pl.flags());
        CHECK(id_string(r.trace_id) == pl.trace_id());
        CHECK(id_string(r.span_id) == pl.span_id());
        CHECK(r.event_name == pl.event_name());
      }
    }
  }
}

void compare(const model::Batch& batch, const TraceRequest& req) {
  REQUIRE(batch.signal() == model::Signal::kTraces);
  const auto& m = batch.resource_spans();
  REQUIRE(m.size() == static_cast<std::size_t>(req.resource_spans_size()));
  for (std::size_t ri = 0; ri < m.size(); ++ri) {
    const model::ResourceSpans& mr = m[ri];
    const pbt::ResourceSpans& pr = req.resource_spans(static_cast<int>(ri));
    CHECK(pr.has_resource());
    compare_resource(mr.resource, pr.resource());
    CHECK(mr.schema_url == pr.schema_url());
    REQUIRE(mr.scope_spans.size() == static_cast<std::size_t>(pr.scope_spans_size()));
    for (std::size_t si = 0; si < mr.scope_spans.size(); ++si) {
      const model::ScopeSpans& ms = mr.scope_spans[si];
      const pbt::ScopeSpans& ps = pr.scope_spans(static_cast<int>(si));
      CHECK(ps.has_scope());
      compare_scope(ms.scope, ps.scope());
      CHECK(ms.schema_url == ps.schema_url());
      REQUIRE(ms.spans.size() == static_cast<std::size_t>(ps.spans_size()));
      for (std::size_t i = 0; i < ms.spans.size(); ++i) {
        CAPTURE(i);
        const model::Span& s = ms.spans[i];
        const pbt::Span& p = ps.spans(static_cast<int>(i));
        CHECK(id_string(s.trace_id) == p.trace_id());
        CHECK(id_string(s.span_id) == p.span_id());
        CHECK(s.trace_state == p.trace_state());
        CHECK(id_string(s.parent_span_id) == p.parent_span_id());
        CHECK(s.flags == p.flags());
        CHECK(s.name == p.name());
        CHECK(static_cast<int>(s.kind) == static_cast<int>(p.kind()));
        CHECK(s.start_time_unix_nano == p.start_time_unix_nano());
        CHECK(s.end_time_unix_nano == p.end_time_unix_nano());
        compare_attrs(s.attributes, p.attributes());
        CHECK(s.dropped_attributes_count == p.dropped_attributes_count());
        REQUIRE(s.events.size() == static_cast<std::size_t>(p.events_size()));
        for (std::size_t j = 0; j < s.events.size(); ++j) {
          const pbt::Span::Event& pe = p.events(static_cast<int>(j));
          CHECK(s.events[j].time_unix_nano == pe.time_unix_nano());
          CHECK(s.events[j].name == pe.name());
          compare_attrs(s.events[j].attributes, pe.attributes());
          CHECK(s.events[j].dropped_attributes_count == pe.dropped_attributes_count());
        }
        CHECK(s.dropped_events_count == p.dropped_events_count());
        REQUIRE(s.links.size() == static_cast<std::size_t>(p.links_size()));
        for (std::size_t j = 0; j < s.links.size(); ++j) {
          const pbt::Span::Link& pl = p.links(static_cast<int>(j));
          CHECK(id_string(s.links[j].trace_id) == pl.trace_id());
          CHECK(id_string(s.links[j].span_id) == pl.span_id());
          CHECK(s.links[j].trace_state == pl.trace_state());
          compare_attrs(s.links[j].attributes, pl.attributes());
          CHECK(s.links[j].dropped_attributes_count == pl.dropped_attributes_count());
          CHECK(s.links[j].flags == pl.flags());
        }
        CHECK(s.dropped_links_count == p.dropped_links_count());
        CHECK(s.status.message == p.status().message());
        CHECK(static_cast<int>(s.status.code) == static_cast<int>(p.status().code()));
      }
    }
  }
}

void compare(const model::Batch& batch, const MetricsRequest& req) {
  REQUIRE(batch.signal() == model::Signal::kMetrics);
  const auto& m = batch.resource_metrics();
  REQUIRE(m.size() == static_cast<std::size_t>(req.resource_metrics_size()));
  for (std::size_t ri = 0; ri < m.size(); ++ri) {
    const model::ResourceMetrics& mr = m[ri];
    const pbm::ResourceMetrics& pr = req.resource_metrics(static_cast<int>(ri));
    CHECK(pr.has_resource());
    compare_resource(mr.resource, pr.resource());
    CHECK(mr.schema_url == pr.schema_url());
    REQUIRE(mr.scope_metrics.size() == static_cast<std::size_t>(pr.scope_metrics_size()));
    for (std::size_t si = 0; si < mr.scope_metrics.size(); ++si) {
      const model::ScopeMetrics& ms = mr.scope_metrics[si];
      const pbm::ScopeMetrics& ps = pr.scope_metrics(static_cast<int>(si));
      CHECK(ps.has_scope());
      compare_scope(ms.scope, ps.scope());
      CHECK(ms.schema_url == ps.schema_url());
      REQUIRE(ms.metrics.size() == static_cast<std::size_t>(ps.metrics_size()));
      for (std::size_t i = 0; i < ms.metrics.size(); ++i) {
        CAPTURE(i);
        compare_metric(ms.metrics[i], ps.metrics(static_cast<int>(i)));
      }
    }
  }
}

}  // namespace vigil::otlp::testing
