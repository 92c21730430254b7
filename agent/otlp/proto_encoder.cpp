#include "agent/otlp/proto_encoder.hpp"

#include <bit>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <vector>

namespace vigil::otlp {
namespace {

using model::AnyValue;
using model::Attributes;
using model::Batch;
using model::KeyValue;
using model::ValueType;

// Packed fixed64/double arrays are copied with memcpy: the wire is little-endian.
static_assert(std::endian::native == std::endian::little, "encoder assumes a little-endian host");

enum WireType : std::uint32_t { kVarint = 0, kI64 = 1, kLen = 2, kI32 = 5 };

constexpr std::uint64_t make_tag(std::uint32_t field, WireType wt) {
  return (std::uint64_t{field} << 3) | wt;
}

inline std::size_t varint_size(std::uint64_t v) {
  return (static_cast<std::size_t>(std::bit_width(v | 1)) + 6) / 7;
}

inline std::uint64_t zigzag32(std::int32_t v) {
  return (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31);
}

// Enums are int32 on the wire; negative values are sign-extended to 10 bytes, as libprotobuf does.
inline std::uint64_t enum_varint(std::int32_t v) {
  return static_cast<std::uint64_t>(static_cast<std::int64_t>(v));
}

// The encoder walks the batch twice with the same templated code: a Sizer pass that counts
// bytes and records the length of every nested message in the order they begin, then a Writer
// pass that emits each length prefix from that list. Both passes visit the same fields under
// the same data-only conditions, so the lists line up by construction.

// Pass 1. kRecord=false only counts (encoded_size()).
template <bool kRecord>
class Sizer {
 public:
  struct Mark {
    std::size_t start;
    std::size_t slot;
    std::uint32_t field;
  };

  explicit Sizer(std::vector<std::uint32_t>* sizes) : sizes_(sizes) {}

  void varint(std::uint32_t f, std::uint64_t v) { n_ += varint_size(make_tag(f, kVarint)) + varint_size(v); }
  void fixed64(std::uint32_t f, std::uint64_t) { n_ += varint_size(make_tag(f, kI64)) + 8; }
  void fixed32(std::uint32_t f, std::uint32_t) { n_ += varint_size(make_tag(f, kI32)) + 4; }
  void bytes(std::uint32_t f, const void*, std::size_t len) {
    n_ += varint_size(make_tag(f, kLen)) + varint_size(len) + len;
  }
  void packed_fixed64(std::uint32_t f, const void*, std::size_t count) { bytes(f, nullptr, count * 8); }

  Mark begin(std::uint32_t f) {
    Mark m{n_, 0, f};
    if constexpr (kRecord) {
      m.slot = sizes_->size();
      sizes_->push_back(0);
    }
    return m;
  }
  void end(const Mark& m) {
    std::size_t len = n_ - m.start;
    if constexpr (kRecord) (*sizes_)[m.slot] = static_cast<std::uint32_t>(len);
    n_ += varint_size(make_tag(m.field, kLen)) + varint_size(len);
  }
  // Elements of a packed varint field, between begin() and end().
  void raw_varint(std::uint64_t v) { n_ += varint_size(v); }

  std::size_t size() const { return n_; }

 private:
  std::vector<std::uint32_t>* sizes_;
  std::size_t n_ = 0;
};

// Pass 2: writes into a buffer sized by pass 1.
class Writer {
 public:
  struct Mark {};

  Writer(char* out, const std::uint32_t* sizes) : p_(out), sizes_(sizes) {}

  void varint(std::uint32_t f, std::uint64_t v) {
    put_varint(make_tag(f, kVarint));
    put_varint(v);
  }
  void fixed64(std::uint32_t f, std::uint64_t v) {
    put_varint(make_tag(f, kI64));
    std::memcpy(p_, &v, 8);
    p_ += 8;
  }
  void fixed32(std::uint32_t f, std::uint32_t v) {
    put_varint(make_tag(f, kI32));
    std::memcpy(p_, &v, 4);
    p_ += 4;
  }
  void bytes(std::uint32_t f, const void* data, std::size_t len) {
    put_varint(make_tag(f, kLen));
    put_varint(len);
    if (len != 0) std::memcpy(p_, data, len);
    p_ += len;
  }
  void packed_fixed64(std::uint32_t f, const void* data, std::size_t count) { bytes(f, data, count * 8); }

  Mark begin(std::uint32_t f) {
    put_varint(make_tag(f, kLen));
    put_varint(*sizes_++);
    return {};
  }
  void end(const Mark&) {}
  void raw_varint(std::uint64_t v) { put_varint(v); }

  const char* position() const { return p_; }

 private:
  void put_varint(std::uint64_t v) {
    while (v >= 0x80) {
      *p_++ = static_cast<char>(static_cast<std::uint8_t>(v) | 0x80);
      v >>= 7;
    }
    *p_++ = static_cast<char>(v);
  }

  char* p_;
  const std::uint32_t* sizes_;
};

// --- scalar helpers: proto3 omits default values -------------------------------------------

template <class S>
void put_string(S& s, std::uint32_t f, std::string_view v) {
  if (!v.empty()) s.bytes(f, v.data(), v.size());
}
template <class S>
void put_fixed64(S& s, std::uint32_t f, std::uint64_t v) {
  if (v != 0) s.fixed64(f, v);
}
template <class S>
void put_fixed32(S& s, std::uint32_t f, std::uint32_t v) {
  if (v != 0) s.fixed32(f, v);
}
template <class S>
void put_uint32(S& s, std::uint32_t f, std::uint32_t v) {
  if (v != 0) s.varint(f, v);
}
template <class S>
void put_enum(S& s, std::uint32_t f, std::int32_t v) {
  if (v != 0) s.varint(f, enum_varint(v));
}
template <class S>
void put_sint32(S& s, std::uint32_t f, std::int32_t v) {
  if (v != 0) s.varint(f, zigzag32(v));
}
// A plain (non-optional, non-oneof) double is default only when its bits are zero: -0.0 and
// NaN are written, as libprotobuf does.
template <class S>
void put_double(S& s, std::uint32_t f, double v) {
  auto raw = std::bit_cast<std::uint64_t>(v);
  if (raw != 0) s.fixed64(f, raw);
}
template <class S>
void put_optional_double(S& s, std::uint32_t f, const std::optional<double>& v) {
  if (v.has_value()) s.fixed64(f, std::bit_cast<std::uint64_t>(*v));
}
template <class S, std::size_t N>
void put_id(S& s, std::uint32_t f, const std::array<std::uint8_t, N>& id) {
  for (std::uint8_t b : id) {
    if (b != 0) {
      s.bytes(f, id.data(), N);
      return;
    }
  }
}

// --- common.proto ------------------------------------------------------------------------

template <class S>
void put_key_value(S& s, std::uint32_t f, const KeyValue& kv);

// The fields of one AnyValue message. Oneof members are written even when zero or empty.
template <class S>
void put_any_value_fields(S& s, const AnyValue& v) {
  switch (v.type()) {
    case ValueType::kEmpty:
      break;
    case ValueType::kString:
      s.bytes(1, v.string_value().data(), v.size());
      break;
    case ValueType::kBool:
      s.varint(2, v.bool_value() ? 1 : 0);
      break;
    case ValueType::kInt:
      s.varint(3, static_cast<std::uint64_t>(v.int_value()));
      break;
    case ValueType::kDouble:
      s.fixed64(4, std::bit_cast<std::uint64_t>(v.double_value()));
      break;
    case ValueType::kArray: {
      auto array = s.begin(5);
      const AnyValue* items = v.array_begin();
      for (std::uint32_t i = 0; i < v.size(); ++i) {
        auto item = s.begin(1);
        put_any_value_fields(s, items[i]);
        s.end(item);
      }
      s.end(array);
      break;
    }
    case ValueType::kKvList: {
      auto list = s.begin(6);
      const KeyValue* items = v.kvlist_begin();
      for (std::uint32_t i = 0; i < v.size(); ++i) put_key_value(s, 1, items[i]);
      s.end(list);
      break;
    }
    case ValueType::kBytes:
      s.bytes(7, v.string_value().data(), v.size());
      break;
  }
}

// KeyValue.value is always written (an empty AnyValue when the model's value is empty), as the
// OpenTelemetry Collector does.
template <class S>
void put_key_value(S& s, std::uint32_t f, const KeyValue& kv) {
  auto m = s.begin(f);
  put_string(s, 1, kv.key);
  auto value = s.begin(2);
  put_any_value_fields(s, kv.value);
  s.end(value);
  s.end(m);
}

template <class S>
void put_attributes(S& s, std::uint32_t f, const Attributes& attrs) {
  for (const KeyValue& kv : attrs) put_key_value(s, f, kv);
}

// Resource and scope are always written, even when empty, as the Collector does.
template <class S>
void put_resource(S& s, std::uint32_t f, const model::Resource& r) {
  auto m = s.begin(f);
  put_attributes(s, 1, r.attributes);
  put_uint32(s, 2, r.dropped_attributes_count);
  s.end(m);
}

template <class S>
void put_scope(S& s, std::uint32_t f, const model::InstrumentationScope& scope) {
  auto m = s.begin(f);
  put_string(s, 1, scope.name);
  put_string(s, 2, scope.version);
  put_attributes(s, 3, scope.attributes);
  put_uint32(s, 4, scope.dropped_attributes_count);
  s.end(m);
}

// --- logs.proto --------------------------------------------------------------------------

template <class S>
void put_log_record(S& s, const model::LogRecord& r) {
  auto m = s.begin(2);  // ScopeLogs.log_records
  put_fixed64(s, 1, r.time_unix_nano);
  put_enum(s, 2, r.severity_number);
  put_string(s, 3, r.severity_text);
  if (!r.body.empty()) {
    auto body = s.begin(5);
    put_any_value_fields(s, r.body);
    s.end(body);
  }
  put_attributes(s, 6, r.attributes);
  put_uint32(s, 7, r.dropped_attributes_count);
  put_fixed32(s, 8, r.flags);
  put_id(s, 9, r.trace_id);
  put_id(s, 10, r.span_id);
  put_fixed64(s, 11, r.observed_time_unix_nano);
  put_string(s, 12, r.event_name);
  s.end(m);
}

template <class S>
void put_logs(S& s, const Batch& batch) {
  for (const model::ResourceLogs& rl : batch.resource_logs()) {
    auto m = s.begin(1);  // ExportLogsServiceRequest.resource_logs
    put_resource(s, 1, rl.resource);
    for (const model::ScopeLogs& sl : rl.scope_logs) {
      auto ms = s.begin(2);
      put_scope(s, 1, sl.scope);
      for (const model::LogRecord& r : sl.log_records) put_log_record(s, r);
      put_string(s, 3, sl.schema_url);
      s.end(ms);
    }
    put_string(s, 3, rl.schema_url);
    s.end(m);
  }
}

// --- trace.proto -------------------------------------------------------------------------

template <class S>
void put_span(S& s, const model::Span& span) {
  auto m = s.begin(2);  // ScopeSpans.spans
  put_id(s, 1, span.trace_id);
  put_id(s, 2, span.span_id);
  put_string(s, 3, span.trace_state);
  put_id(s, 4, span.parent_span_id);
  put_string(s, 5, span.name);
  put_enum(s, 6, static_cast<std::int32_t>(span.kind));
  put_fixed64(s, 7, span.start_time_unix_nano);
  put_fixed64(s, 8, span.end_time_unix_nano);
  put_attributes(s, 9, span.attributes);
  put_uint32(s, 10, span.dropped_attributes_count);
  for (const model::SpanEvent& e : span.events) {
    auto me = s.begin(11);
    put_fixed64(s, 1, e.time_unix_nano);
    put_string(s, 2, e.name);
    put_attributes(s, 3, e.attributes);
    put_uint32(s, 4, e.dropped_attributes_count);
    s.end(me);
  }
  put_uint32(s, 12, span.dropped_events_count);
  for (const model::SpanLink& l : span.links) {
    auto ml = s.begin(13);
    put_id(s, 1, l.trace_id);
    put_id(s, 2, l.span_id);
    put_string(s, 3, l.trace_state);
    put_attributes(s, 4, l.attributes);
    put_uint32(s, 5, l.dropped_attributes_count);
    put_fixed32(s, 6, l.flags);
    s.end(ml);
  }
  put_uint32(s, 14, span.dropped_links_count);
  // An unset status (no message, code UNSET) is left out: it means the same as no status.
  if (!span.status.message.empty() || span.status.code != model::StatusCode::kUnset) {
    auto mst = s.begin(15);
    put_string(s, 2, span.status.message);
    put_enum(s, 3, static_cast<std::int32_t>(span.status.code));
    s.end(mst);
  }
  put_fixed32(s, 16, span.flags);
  s.end(m);
}

template <class S>
void put_traces(S& s, const Batch& batch) {
  for (const model::ResourceSpans& rs : batch.resource_spans()) {
    auto m = s.begin(1);  // ExportTraceServiceRequest.resource_spans
    put_resource(s, 1, rs.resource);
    for (const model::ScopeSpans& ss : rs.scope_spans) {
      auto ms = s.begin(2);
      put_scope(s, 1, ss.scope);
      for (const model::Span& span : ss.spans) put_span(s, span);
      put_string(s, 3, ss.schema_url);
      s.end(ms);
    }
    put_string(s, 3, rs.schema_url);
    s.end(m);
  }
}

// --- metrics.proto -----------------------------------------------------------------------

template <class S>
void put_exemplars(S& s, std::uint32_t f, const model::ArenaVec<model::Exemplar>& exemplars) {
  for (const model::Exemplar& e : exemplars) {
    auto m = s.begin(f);
    put_fixed64(s, 2, e.time_unix_nano);
    if (!e.is_int) s.fixed64(3, std::bit_cast<std::uint64_t>(e.as_double));
    put_id(s, 4, e.span_id);
    put_id(s, 5, e.trace_id);
    if (e.is_int) s.fixed64(6, static_cast<std::uint64_t>(e.as_int));
    put_attributes(s, 7, e.filtered_attributes);
    s.end(m);
  }
}

// The model always holds a value for a number point (is_int selects which), so the oneof is
// always written.
template <class S>
void put_number_points(S& s, const model::ArenaVec<model::NumberDataPoint>& points) {
  for (const model::NumberDataPoint& p : points) {
    auto m = s.begin(1);
    put_fixed64(s, 2, p.start_time_unix_nano);
    put_fixed64(s, 3, p.time_unix_nano);
    if (!p.is_int) s.fixed64(4, std::bit_cast<std::uint64_t>(p.as_double));
    put_exemplars(s, 5, p.exemplars);
    if (p.is_int) s.fixed64(6, static_cast<std::uint64_t>(p.as_int));
    put_attributes(s, 7, p.attributes);
    put_uint32(s, 8, p.flags);
    s.end(m);
  }
}

template <class S>
void put_histogram_points(S& s, const model::ArenaVec<model::HistogramDataPoint>& points) {
  for (const model::HistogramDataPoint& p : points) {
    auto m = s.begin(1);
    put_fixed64(s, 2, p.start_time_unix_nano);
    put_fixed64(s, 3, p.time_unix_nano);
    put_fixed64(s, 4, p.count);
    put_optional_double(s, 5, p.sum);
    if (!p.bucket_counts.empty()) s.packed_fixed64(6, p.bucket_counts.data(), p.bucket_counts.size());
    if (!p.explicit_bounds.empty()) s.packed_fixed64(7, p.explicit_bounds.data(), p.explicit_bounds.size());
    put_exemplars(s, 8, p.exemplars);
    put_attributes(s, 9, p.attributes);
    put_uint32(s, 10, p.flags);
    put_optional_double(s, 11, p.min);
    put_optional_double(s, 12, p.max);
    s.end(m);
  }
}

// Empty buckets (offset 0, no counts) are left out: they mean the same as no buckets.
template <class S>
void put_buckets(S& s, std::uint32_t f, const model::ExponentialBuckets& b) {
  if (b.offset == 0 && b.bucket_counts.empty()) return;
  auto m = s.begin(f);
  put_sint32(s, 1, b.offset);
  if (!b.bucket_counts.empty()) {
    auto packed = s.begin(2);
    for (std::uint64_t c : b.bucket_counts) s.raw_varint(c);
    s.end(packed);
  }
  s.end(m);
}

template <class S>
void put_exponential_points(S& s, const model::ArenaVec<model::ExponentialHistogramDataPoint>& points) {
  for (const model::ExponentialHistogramDataPoint& p : points) {
    auto m = s.begin(1);
    put_attributes(s, 1, p.attributes);
    put_fixed64(s, 2, p.start_time_unix_nano);
    put_fixed64(s, 3, p.time_unix_nano);
    put_fixed64(s, 4, p.count);
    put_optional_double(s, 5, p.sum);
    put_sint32(s, 6, p.scale);
    put_fixed64(s, 7, p.zero_count);
    put_buckets(s, 8, p.positive);
    put_buckets(s, 9, p.negative);
    put_uint32(s, 10, p.flags);
    put_exemplars(s, 11, p.exemplars);
    put_optional_double(s, 12, p.min);
    put_optional_double(s, 13, p.max);
    put_double(s, 14, p.zero_threshold);
    s.end(m);
  }
}

template <class S>
void put_summary_points(S& s, const model::ArenaVec<model::SummaryDataPoint>& points) {
  for (const model::SummaryDataPoint& p : points) {
    auto m = s.begin(1);
    put_fixed64(s, 2, p.start_time_unix_nano);
    put_fixed64(s, 3, p.time_unix_nano);
    put_fixed64(s, 4, p.count);
    put_double(s, 5, p.sum);
    for (const model::ValueAtQuantile& q : p.quantile_values) {
      auto mq = s.begin(6);
      put_double(s, 1, q.quantile);
      put_double(s, 2, q.value);
      s.end(mq);
    }
    put_attributes(s, 7, p.attributes);
    put_uint32(s, 8, p.flags);
    s.end(m);
  }
}

template <class S>
void put_metric(S& s, const model::Metric& metric) {
  auto m = s.begin(2);  // ScopeMetrics.metrics
  put_string(s, 1, metric.name);
  put_string(s, 2, metric.description);
  put_string(s, 3, metric.unit);
  const auto temporality = static_cast<std::int32_t>(metric.aggregation_temporality);
  switch (metric.type) {
    case model::MetricType::kEmpty:
      break;
    case model::MetricType::kGauge: {
      auto d = s.begin(5);
      put_number_points(s, metric.number_points);
      s.end(d);
      break;
    }
    case model::MetricType::kSum: {
      auto d = s.begin(7);
      put_number_points(s, metric.number_points);
      put_enum(s, 2, temporality);
      if (metric.is_monotonic) s.varint(3, 1);
      s.end(d);
      break;
    }
    case model::MetricType::kHistogram: {
      auto d = s.begin(9);
      put_histogram_points(s, metric.histogram_points);
      put_enum(s, 2, temporality);
      s.end(d);
      break;
    }
    case model::MetricType::kExponentialHistogram: {
      auto d = s.begin(10);
      put_exponential_points(s, metric.exponential_histogram_points);
      put_enum(s, 2, temporality);
      s.end(d);
      break;
    }
    case model::MetricType::kSummary: {
      auto d = s.begin(11);
      put_summary_points(s, metric.summary_points);
      s.end(d);
      break;
    }
  }
  put_attributes(s, 12, metric.metadata);
  s.end(m);
}

template <class S>
void put_metrics(S& s, const Batch& batch) {
  for (const model::ResourceMetrics& rm : batch.resource_metrics()) {
    auto m = s.begin(1);  // ExportMetricsServiceRequest.resource_metrics
    put_resource(s, 1, rm.resource);
    for (const model::ScopeMetrics& sm : rm.scope_metrics) {
      auto ms = s.begin(2);
      put_scope(s, 1, sm.scope);
      for (const model::Metric& metric : sm.metrics) put_metric(s, metric);
      put_string(s, 3, sm.schema_url);
      s.end(ms);
    }
    put_string(s, 3, rm.schema_url);
    s.end(m);
  }
}

template <class S>
void put_request(S& s, const Batch& batch) {
  switch (batch.signal()) {
    case model::Signal::kTraces: put_traces(s, batch); break;
    case model::Signal::kMetrics: put_metrics(s, batch); break;
    case model::Signal::kLogs: put_logs(s, batch); break;
  }
}

// Per-thread list of nested-message lengths, reused across calls. A scratch that grew for an
// unusually large batch is released rather than kept for the thread's lifetime.
constexpr std::size_t kMaxKeptScratch = std::size_t{1} << 20;  // entries (4 MiB)

std::vector<std::uint32_t>& scratch() {
  thread_local std::vector<std::uint32_t> sizes;
  return sizes;
}

}  // namespace

void append_export_request(const model::Batch& batch, std::string& out) {
  std::vector<std::uint32_t>& sizes = scratch();
  sizes.clear();
  Sizer<true> sizer(&sizes);
  put_request(sizer, batch);

  const std::size_t base = out.size();
  out.resize(base + sizer.size());
  Writer writer(out.data() + base, sizes.data());
  put_request(writer, batch);
  assert(writer.position() == out.data() + out.size());

  if (sizes.capacity() > kMaxKeptScratch) std::vector<std::uint32_t>().swap(sizes);
}

void encode_export_request(const model::Batch& batch, std::string& out) {
  out.clear();
  append_export_request(batch, out);
}

std::size_t encoded_size(const model::Batch& batch) {
  Sizer<false> sizer(nullptr);
  put_request(sizer, batch);
  return sizer.size();
}

}  // namespace vigil::otlp
