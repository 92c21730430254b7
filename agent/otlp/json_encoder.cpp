#include "agent/otlp/json_encoder.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "agent/model/utf8.hpp"

namespace vigil::otlp {

namespace {

using namespace vigil::model;

constexpr char kHex[] = "0123456789abcdef";
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

using vigil::model::utf8_sequence;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void raw(std::string_view s) { out_.append(s); }
  void ch(char c) { out_.push_back(c); }

  // Writes `,"name":` (or without the comma for the first member of an object).
  void key(bool& first, std::string_view name) {
    if (!first) out_.push_back(',');
    first = false;
    out_.push_back('"');
    out_.append(name);
    out_.append("\":", 2);
  }

  void string(std::string_view s) {
    out_.push_back('"');
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    const auto* run = p;  // start of bytes not yet copied
    while (p < end) {
      const unsigned char c = *p;
      if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
        ++p;
        continue;
      }
      if (c >= 0x80) {
        std::size_t n = utf8_sequence(p, end);
        if (n != 0) {
          p += n;
          continue;
        }
      }
      out_.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
      switch (c) {
        case '"':
          out_.append("\\\"", 2);
          break;
        case '\\':
          out_.append("\\\\", 2);
          break;
        case '\n':
          out_.append("\\n", 2);
          break;
        case '\r':
          out_.append("\\r", 2);
          break;
        case '\t':
          out_.append("\\t", 2);
          break;
        case '\b':
          out_.append("\\b", 2);
          break;
        case '\f':
          out_.append("\\f", 2);
          break;
        default:
          if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
            out_.append(esc, 6);
          } else {
            out_.append("\xEF\xBF\xBD", 3);  // U+FFFD for a byte that is not valid UTF-8
          }
      }
      ++p;
      run = p;
    }
    out_.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    out_.push_back('"');
  }

  void u64(std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, static_cast<std::size_t>(r.ptr - buf));
  }
  void i64(std::int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, static_cast<std::size_t>(r.ptr - buf));
  }
  // 64-bit integers are JSON strings in proto3 JSON (JavaScript numbers lose precision).
  void u64_string(std::uint64_t v) {
    out_.push_back('"');
    u64(v);
    out_.push_back('"');
  }
  void i64_string(std::int64_t v) {
    out_.push_back('"');
    i64(v);
    out_.push_back('"');
  }
  void dbl(double d) {
    if (std::isnan(d)) {
      out_.append("\"NaN\"", 5);
    } else if (std::isinf(d)) {
      if (d > 0)
        out_.append("\"Infinity\"", 10);
      else
        out_.append("\"-Infinity\"", 11);
    } else {
      char buf[32];
      // Shortest round-trip form, in %g style: a large whole number is written with an exponent
      // (-2.7670116110564327e+19), never as a run of digits that readers with 64-bit integer
      // parsing (simdjson) refuse.
      auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::general);
      out_.append(buf, static_cast<std::size_t>(r.ptr - buf));
    }
  }
  void boolean(bool b) {
    if (b)
      out_.append("true", 4);
    else
      out_.append("false", 5);
  }
  template <std::size_t N>
  void hex(const std::array<std::uint8_t, N>& id) {
    char buf[2 * N + 2];
    buf[0] = '"';
    for (std::size_t i = 0; i < N; ++i) {
      buf[1 + 2 * i] = kHex[id[i] >> 4];
      buf[2 + 2 * i] = kHex[id[i] & 0xF];
    }
    buf[2 * N + 1] = '"';
    out_.append(buf, sizeof buf);
  }
  void base64(std::string_view s) {
    out_.push_back('"');
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    std::size_t n = s.size();
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
      std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
      char q[4] = {kBase64[v >> 18], kBase64[(v >> 12) & 63], kBase64[(v >> 6) & 63], kBase64[v & 63]};
      out_.append(q, 4);
    }
    if (n - i == 1) {
      std::uint32_t v = std::uint32_t{p[i]} << 16;
      char q[4] = {kBase64[v >> 18], kBase64[(v >> 12) & 63], '=', '='};
      out_.append(q, 4);
    } else if (n - i == 2) {
      std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
      char q[4] = {kBase64[v >> 18], kBase64[(v >> 12) & 63], kBase64[(v >> 6) & 63], '='};
      out_.append(q, 4);
    }
    out_.push_back('"');
  }

  // ---- optional-field helpers: proto3 omits defaults ----

  void str_field(bool& first, std::string_view name, std::string_view v) {
    if (v.empty()) return;
    key(first, name);
    string(v);
  }
  void u64_field(bool& first, std::string_view name, std::uint64_t v) {
    if (v == 0) return;
    key(first, name);
    u64_string(v);
  }
  void u32_field(bool& first, std::string_view name, std::uint32_t v) {
    if (v == 0) return;
    key(first, name);
    u64(v);
  }
  void i32_field(bool& first, std::string_view name, std::int32_t v) {
    if (v == 0) return;
    key(first, name);
    i64(v);
  }
  // Implicit-presence double: omitted when its bits are zero (as protobuf does; -0.0 is kept).
  void dbl_field(bool& first, std::string_view name, double v) {
    if (std::bit_cast<std::uint64_t>(v) == 0) return;
    key(first, name);
    dbl(v);
  }
  void opt_dbl_field(bool& first, std::string_view name, const std::optional<double>& v) {
    if (!v) return;
    key(first, name);
    dbl(*v);
  }
  template <std::size_t N>
  void id_field(bool& first, std::string_view name, const std::array<std::uint8_t, N>& id) {
    for (auto b : id) {
      if (b != 0) {
        key(first, name);
        hex(id);
        return;
      }
    }
  }

  // ---- common messages ----

  void any_value(const AnyValue& v) {
    ch('{');
    switch (v.type()) {
      case ValueType::kEmpty:
        break;
      case ValueType::kString:
        raw("\"stringValue\":");
        string(v.string_value());
        break;
      case ValueType::kBool:
        raw("\"boolValue\":");
        boolean(v.bool_value());
        break;
      case ValueType::kInt:
        raw("\"intValue\":");
        i64_string(v.int_value());
        break;
      case ValueType::kDouble:
        raw("\"doubleValue\":");
        dbl(v.double_value());
        break;
      case ValueType::kBytes:
        raw("\"bytesValue\":");
        base64(v.string_value());
        break;
      case ValueType::kArray:
        raw("\"arrayValue\":{");
        if (v.size() != 0) {
          raw("\"values\":[");
          for (std::uint32_t i = 0; i < v.size(); ++i) {
            if (i != 0) ch(',');
            any_value(v.array_begin()[i]);
          }
          ch(']');
        }
        ch('}');
        break;
      case ValueType::kKvList:
        raw("\"kvlistValue\":{");
        if (v.size() != 0) {
          raw("\"values\":[");
          for (std::uint32_t i = 0; i < v.size(); ++i) {
            if (i != 0) ch(',');
            key_value(v.kvlist_begin()[i]);
          }
          ch(']');
        }
        ch('}');
        break;
    }
    ch('}');
  }

  void key_value(const KeyValue& kv) {
    ch('{');
    bool first = true;
    str_field(first, "key", kv.key);
    key(first, "value");
    any_value(kv.value);
    ch('}');
  }

  void attrs_field(bool& first, std::string_view name, const Attributes& attrs) {
    if (attrs.empty()) return;
    key(first, name);
    ch('[');
    for (std::size_t i = 0; i < attrs.size(); ++i) {
      if (i != 0) ch(',');
      key_value(attrs[i]);
    }
    ch(']');
  }

  // Writes `"name":[item,item,...]` for a non-empty array, each item written by fn.
  template <class T, class Fn>
  void array_field(bool& first, std::string_view name, const ArenaVec<T>& v, Fn fn) {
    if (v.empty()) return;
    key(first, name);
    ch('[');
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i != 0) ch(',');
      fn(v[i]);
    }
    ch(']');
  }

  // The resource -> scope -> item nesting that the three export requests share; Scopes and
  // Items are the member pointers to the nested arrays.
  template <auto Scopes, auto Items, class R, class ItemFn>
  void request(std::string_view resources_key, const ArenaVec<R>& list, std::string_view scopes_key,
               std::string_view items_key, ItemFn item) {
    ch('{');
    bool top = true;
    array_field(top, resources_key, list, [&](const R& r) {
      ch('{');
      bool f = true;
      resource(f, r.resource);
      using S = typename std::remove_cvref_t<decltype(r.*Scopes)>::value_type;
      array_field(f, scopes_key, r.*Scopes, [&](const S& sc) {
        ch('{');
        bool g = true;
        scope(g, sc.scope);
        array_field(g, items_key, sc.*Items, item);
        str_field(g, "schemaUrl", sc.schema_url);
        ch('}');
      });
      str_field(f, "schemaUrl", r.schema_url);
      ch('}');
    });
    ch('}');
  }

  void resource(bool& first, const Resource& r) {
    key(first, "resource");
    ch('{');
    bool f = true;
    attrs_field(f, "attributes", r.attributes);
    u32_field(f, "droppedAttributesCount", r.dropped_attributes_count);
    ch('}');
  }

  void scope(bool& first, const InstrumentationScope& s) {
    key(first, "scope");
    ch('{');
    bool f = true;
    str_field(f, "name", s.name);
    str_field(f, "version", s.version);
    attrs_field(f, "attributes", s.attributes);
    u32_field(f, "droppedAttributesCount", s.dropped_attributes_count);
    ch('}');
  }

  // ---- logs ----

  void log_record(const LogRecord& r) {
    ch('{');
    bool f = true;
    u64_field(f, "timeUnixNano", r.time_unix_nano);
    u64_field(f, "observedTimeUnixNano", r.observed_time_unix_nano);
    i32_field(f, "severityNumber", r.severity_number);
    str_field(f, "severityText", r.severity_text);
    key(f, "body");
    any_value(r.body);
    attrs_field(f, "attributes", r.attributes);
    u32_field(f, "droppedAttributesCount", r.dropped_attributes_count);
    u32_field(f, "flags", r.flags);
    id_field(f, "traceId", r.trace_id);
    id_field(f, "spanId", r.span_id);
    str_field(f, "eventName", r.event_name);
    ch('}');
  }

  void logs(const ArenaVec<ResourceLogs>& rl) {
    request<&ResourceLogs::scope_logs, &ScopeLogs::log_records>(
        "resourceLogs", rl, "scopeLogs", "logRecords", [this](const LogRecord& x) { log_record(x); });
  }


  // ---- traces ----

  void span(const Span& s) {
    ch('{');
    bool f = true;
    id_field(f, "traceId", s.trace_id);
    id_field(f, "spanId", s.span_id);
    str_field(f, "traceState", s.trace_state);
    id_field(f, "parentSpanId", s.parent_span_id);
    u32_field(f, "flags", s.flags);
    str_field(f, "name", s.name);
    i32_field(f, "kind", static_cast<std::int32_t>(s.kind));
    u64_field(f, "startTimeUnixNano", s.start_time_unix_nano);
    u64_field(f, "endTimeUnixNano", s.end_time_unix_nano);
    attrs_field(f, "attributes", s.attributes);
    u32_field(f, "droppedAttributesCount", s.dropped_attributes_count);
    array_field(f, "events", s.events, [this](const SpanEvent& e) {
      ch('{');
      bool g = true;
      u64_field(g, "timeUnixNano", e.time_unix_nano);
      str_field(g, "name", e.name);
      attrs_field(g, "attributes", e.attributes);
      u32_field(g, "droppedAttributesCount", e.dropped_attributes_count);
      ch('}');
    });
    u32_field(f, "droppedEventsCount", s.dropped_events_count);
    array_field(f, "links", s.links, [this](const SpanLink& l) {
      ch('{');
      bool g = true;
      id_field(g, "traceId", l.trace_id);
      id_field(g, "spanId", l.span_id);
      str_field(g, "traceState", l.trace_state);
      attrs_field(g, "attributes", l.attributes);
      u32_field(g, "droppedAttributesCount", l.dropped_attributes_count);
      u32_field(g, "flags", l.flags);
      ch('}');
    });
    u32_field(f, "droppedLinksCount", s.dropped_links_count);
    key(f, "status");
    ch('{');
    bool g = true;
    str_field(g, "message", s.status.message);
    i32_field(g, "code", static_cast<std::int32_t>(s.status.code));
    ch('}');
    ch('}');
  }

  void traces(const ArenaVec<ResourceSpans>& rs) {
    request<&ResourceSpans::scope_spans, &ScopeSpans::spans>("resourceSpans", rs, "scopeSpans", "spans",
                                                             [this](const Span& x) { span(x); });
  }


  // ---- metrics ----

  void exemplars_field(bool& first, const ArenaVec<Exemplar>& ex) {
    array_field(first, "exemplars", ex, [this](const Exemplar& e) {
      ch('{');
      bool f = true;
      attrs_field(f, "filteredAttributes", e.filtered_attributes);
      u64_field(f, "timeUnixNano", e.time_unix_nano);
      if (e.is_int) {
        key(f, "asInt");
        i64_string(e.as_int);
      } else {
        key(f, "asDouble");
        dbl(e.as_double);
      }
      id_field(f, "spanId", e.span_id);
      id_field(f, "traceId", e.trace_id);
      ch('}');
    });
  }

  void u64_array_field(bool& first, std::string_view name, const ArenaVec<std::uint64_t>& v) {
    array_field(first, name, v, [this](std::uint64_t x) { u64_string(x); });
  }

  void number_point(const NumberDataPoint& p) {
    ch('{');
    bool f = true;
    attrs_field(f, "attributes", p.attributes);
    u64_field(f, "startTimeUnixNano", p.start_time_unix_nano);
    u64_field(f, "timeUnixNano", p.time_unix_nano);
    if (p.is_int) {
      key(f, "asInt");
      i64_string(p.as_int);
    } else {
      key(f, "asDouble");
      dbl(p.as_double);
    }
    exemplars_field(f, p.exemplars);
    u32_field(f, "flags", p.flags);
    ch('}');
  }

  void histogram_point(const HistogramDataPoint& p) {
    ch('{');
    bool f = true;
    attrs_field(f, "attributes", p.attributes);
    u64_field(f, "startTimeUnixNano", p.start_time_unix_nano);
    u64_field(f, "timeUnixNano", p.time_unix_nano);
    u64_field(f, "count", p.count);
    opt_dbl_field(f, "sum", p.sum);
    u64_array_field(f, "bucketCounts", p.bucket_counts);
    array_field(f, "explicitBounds", p.explicit_bounds, [this](double d) { dbl(d); });
    exemplars_field(f, p.exemplars);
    u32_field(f, "flags", p.flags);
    opt_dbl_field(f, "min", p.min);
    opt_dbl_field(f, "max", p.max);
    ch('}');
  }

  void buckets(bool& first, std::string_view name, const ExponentialBuckets& b) {
    key(first, name);
    ch('{');
    bool f = true;
    i32_field(f, "offset", b.offset);
    u64_array_field(f, "bucketCounts", b.bucket_counts);
    ch('}');
  }

  void exponential_point(const ExponentialHistogramDataPoint& p) {
    ch('{');
    bool f = true;
    attrs_field(f, "attributes", p.attributes);
    u64_field(f, "startTimeUnixNano", p.start_time_unix_nano);
    u64_field(f, "timeUnixNano", p.time_unix_nano);
    u64_field(f, "count", p.count);
    opt_dbl_field(f, "sum", p.sum);
    i32_field(f, "scale", p.scale);
    u64_field(f, "zeroCount", p.zero_count);
    buckets(f, "positive", p.positive);
    buckets(f, "negative", p.negative);
    u32_field(f, "flags", p.flags);
    exemplars_field(f, p.exemplars);
    opt_dbl_field(f, "min", p.min);
    opt_dbl_field(f, "max", p.max);
    dbl_field(f, "zeroThreshold", p.zero_threshold);
    ch('}');
  }

  void summary_point(const SummaryDataPoint& p) {
    ch('{');
    bool f = true;
    attrs_field(f, "attributes", p.attributes);
    u64_field(f, "startTimeUnixNano", p.start_time_unix_nano);
    u64_field(f, "timeUnixNano", p.time_unix_nano);
    u64_field(f, "count", p.count);
    dbl_field(f, "sum", p.sum);
    array_field(f, "quantileValues", p.quantile_values, [this](const ValueAtQuantile& q) {
      ch('{');
      bool g = true;
      dbl_field(g, "quantile", q.quantile);
      dbl_field(g, "value", q.value);
      ch('}');
    });
    u32_field(f, "flags", p.flags);
    ch('}');
  }

  void temporality(bool& first, AggregationTemporality t) {
    i32_field(first, "aggregationTemporality", static_cast<std::int32_t>(t));
  }

  void metric(const Metric& m) {
    ch('{');
    bool f = true;
    str_field(f, "name", m.name);
    str_field(f, "description", m.description);
    str_field(f, "unit", m.unit);
    bool g = true;
    switch (m.type) {
      case MetricType::kEmpty:
        break;
      case MetricType::kGauge:
        key(f, "gauge");
        ch('{');
        array_field(g, "dataPoints", m.number_points, [this](const NumberDataPoint& p) { number_point(p); });
        ch('}');
        break;
      case MetricType::kSum:
        key(f, "sum");
        ch('{');
        array_field(g, "dataPoints", m.number_points, [this](const NumberDataPoint& p) { number_point(p); });
        temporality(g, m.aggregation_temporality);
        if (m.is_monotonic) {
          key(g, "isMonotonic");
          boolean(true);
        }
        ch('}');
        break;
      case MetricType::kHistogram:
        key(f, "histogram");
        ch('{');
        array_field(g, "dataPoints", m.histogram_points,
                    [this](const HistogramDataPoint& p) { histogram_point(p); });
        temporality(g, m.aggregation_temporality);
        ch('}');
        break;
      case MetricType::kExponentialHistogram:
        key(f, "exponentialHistogram");
        ch('{');
        array_field(g, "dataPoints", m.exponential_histogram_points,
                    [this](const ExponentialHistogramDataPoint& p) { exponential_point(p); });
        temporality(g, m.aggregation_temporality);
        ch('}');
        break;
      case MetricType::kSummary:
        key(f, "summary");
        ch('{');
        array_field(g, "dataPoints", m.summary_points,
                    [this](const SummaryDataPoint& p) { summary_point(p); });
        ch('}');
        break;
    }
    attrs_field(f, "metadata", m.metadata);
    ch('}');
  }

  void metrics(const ArenaVec<ResourceMetrics>& rm) {
    request<&ResourceMetrics::scope_metrics, &ScopeMetrics::metrics>(
        "resourceMetrics", rm, "scopeMetrics", "metrics", [this](const Metric& m) { metric(m); });
  }


 private:
  std::string& out_;
};

}  // namespace

void append_json(const model::Batch& batch, std::string& out) {
  Writer w(out);
  switch (batch.signal()) {
    case model::Signal::kTraces:
      w.traces(batch.resource_spans());
      break;
    case model::Signal::kMetrics:
      w.metrics(batch.resource_metrics());
      break;
    case model::Signal::kLogs:
      w.logs(batch.resource_logs());
      break;
  }
}

void encode_json(const model::Batch& batch, std::string& out) {
  out.clear();
  append_json(batch, out);
}

}  // namespace vigil::otlp
