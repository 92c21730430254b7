#include "exporters/debug/debug_exporter.hpp"

#include <charconv>
#include <cmath>
#include <ctime>
#include <string_view>

namespace vigil::exporters {

namespace {

using namespace vigil::model;

constexpr char kHex[] = "0123456789abcdef";

void num(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
void num(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
void num(std::string& out, std::uint32_t v) {
  num(out, std::uint64_t{v});
}
void num(std::string& out, std::int32_t v) {
  num(out, std::int64_t{v});
}
void num(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

template <std::size_t N>
void hex(std::string& out, const std::array<std::uint8_t, N>& id) {
  for (auto b : id) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
}
void hex(std::string& out, std::string_view bytes) {
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
}

// Nanoseconds since the epoch as UTC. rfc3339: 2024-05-01T12:00:00.000000001Z; otherwise the
// Collector's style: 2024-05-01 12:00:00.000000001 +0000 UTC.
void timestamp(std::string& out, std::uint64_t ns, bool rfc3339) {
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000ULL);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, rfc3339 ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
  out.append(buf, n);
  std::snprintf(buf, sizeof buf, ".%09llu", static_cast<unsigned long long>(ns % 1'000'000'000ULL));
  out += buf;
  out += rfc3339 ? "Z" : " +0000 UTC";
}

std::string_view severity_name(std::int32_t n) {
  static constexpr std::string_view kNames[] = {
      "Unspecified", "Trace",  "Trace2", "Trace3", "Trace4", "Debug",  "Debug2", "Debug3", "Debug4",
      "Info",        "Info2",  "Info3",  "Info4",  "Warn",   "Warn2",  "Warn3",  "Warn4",  "Error",
      "Error2",      "Error3", "Error4", "Fatal",  "Fatal2", "Fatal3", "Fatal4"};
  if (n < 0 || n > 24) return "Unknown";
  return kNames[n];
}

std::string_view span_kind_name(SpanKind k) {
  switch (k) {
    case SpanKind::kUnspecified:
      return "Unspecified";
    case SpanKind::kInternal:
      return "Internal";
    case SpanKind::kServer:
      return "Server";
    case SpanKind::kClient:
      return "Client";
    case SpanKind::kProducer:
      return "Producer";
    case SpanKind::kConsumer:
      return "Consumer";
  }
  return "Unknown";
}

std::string_view status_name(StatusCode c) {
  switch (c) {
    case StatusCode::kUnset:
      return "Unset";
    case StatusCode::kOk:
      return "Ok";
    case StatusCode::kError:
      return "Error";
  }
  return "Unknown";
}

std::string_view metric_type_name(MetricType t) {
  switch (t) {
    case MetricType::kEmpty:
      return "Empty";
    case MetricType::kGauge:
      return "Gauge";
    case MetricType::kSum:
      return "Sum";
    case MetricType::kHistogram:
      return "Histogram";
    case MetricType::kExponentialHistogram:
      return "ExponentialHistogram";
    case MetricType::kSummary:
      return "Summary";
  }
  return "Unknown";
}

std::string_view temporality_name(AggregationTemporality t) {
  switch (t) {
    case AggregationTemporality::kUnspecified:
      return "Unspecified";
    case AggregationTemporality::kDelta:
      return "Delta";
    case AggregationTemporality::kCumulative:
      return "Cumulative";
  }
  return "Unknown";
}

// Text with control characters escaped, so one record stays on one line and a log line cannot
// forge terminal output.
void text(std::string& out, std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
}

// A value as text: strings raw at the top level, quoted inside arrays and maps.
void plain_value(std::string& out, const AnyValue& v, bool nested) {
  switch (v.type()) {
    case ValueType::kEmpty:
      out += nested ? "null" : "";
      break;
    case ValueType::kString:
      if (nested) out.push_back('"');
      text(out, v.string_value());
      if (nested) out.push_back('"');
      break;
    case ValueType::kBool:
      out += v.bool_value() ? "true" : "false";
      break;
    case ValueType::kInt:
      num(out, v.int_value());
      break;
    case ValueType::kDouble:
      num(out, v.double_value());
      break;
    case ValueType::kBytes:
      hex(out, v.string_value());
      break;
    case ValueType::kArray:
      out.push_back('[');
      for (std::uint32_t i = 0; i < v.size(); ++i) {
        if (i != 0) out.push_back(',');
        plain_value(out, v.array_begin()[i], true);
      }
      out.push_back(']');
      break;
    case ValueType::kKvList:
      out.push_back('{');
      for (std::uint32_t i = 0; i < v.size(); ++i) {
        if (i != 0) out.push_back(',');
        text(out, v.kvlist_begin()[i].key);
        out.push_back(':');
        plain_value(out, v.kvlist_begin()[i].value, true);
      }
      out.push_back('}');
      break;
  }
}

// The Collector's typed form: Str(x), Int(5), Slice([...]), Map({...}).
void typed_value(std::string& out, const AnyValue& v) {
  switch (v.type()) {
    case ValueType::kEmpty:
      out += "Empty()";
      return;
    case ValueType::kString:
      out += "Str(";
      break;
    case ValueType::kBool:
      out += "Bool(";
      break;
    case ValueType::kInt:
      out += "Int(";
      break;
    case ValueType::kDouble:
      out += "Double(";
      break;
    case ValueType::kBytes:
      out += "Bytes(";
      break;
    case ValueType::kArray:
      out += "Slice(";
      break;
    case ValueType::kKvList:
      out += "Map(";
      break;
  }
  plain_value(out, v, false);
  out.push_back(')');
}

// Compact attributes for one-line output: {k=v, k2=v2} (nothing when empty).
void compact_attributes(std::string& out, const Attributes& attrs) {
  if (attrs.empty()) return;
  out += " {";
  for (std::size_t i = 0; i < attrs.size(); ++i) {
    if (i != 0) out += ", ";
    text(out, attrs[i].key);
    out.push_back('=');
    plain_value(out, attrs[i].value, false);
  }
  out.push_back('}');
}

class Detailed {
 public:
  explicit Detailed(std::string& out) : out_(out) {}

  void line(std::string_view a) {
    out_.append(a);
    out_.push_back('\n');
  }
  void attributes(std::string_view title, const Attributes& attrs, std::string_view indent = "     ") {
    if (attrs.empty()) return;
    out_.append(title);
    out_ += ":\n";
    for (const KeyValue& kv : attrs) {
      out_.append(indent);
      out_ += "-> ";
      text(out_, kv.key);
      out_ += ": ";
      typed_value(out_, kv.value);
      out_.push_back('\n');
    }
  }
  void resource(std::string_view kind, std::size_t i, const Resource& r, std::string_view schema_url) {
    out_.append(kind);
    out_ += " #";
    num(out_, std::uint64_t{i});
    out_ += "\nResource SchemaURL: ";
    out_.append(schema_url);
    out_.push_back('\n');
    attributes("Resource attributes", r.attributes);
  }
  void scope(std::string_view kind, std::size_t i, const InstrumentationScope& s,
             std::string_view schema_url) {
    out_.append(kind);
    out_ += " #";
    num(out_, std::uint64_t{i});
    out_.push_back('\n');
    out_.append(kind);
    out_ += " SchemaURL: ";
    out_.append(schema_url);
    out_ += "\nInstrumentationScope ";
    out_.append(s.name);
    out_.push_back(' ');
    out_.append(s.version);
    out_.push_back('\n');
    attributes("InstrumentationScope attributes", s.attributes);
  }
  void field(std::string_view name, std::string_view value) {
    out_.append(name);
    out_ += ": ";
    text(out_, value);
    out_.push_back('\n');
  }
  template <class Fn>
  void field_fn(std::string_view name, Fn fn) {
    out_.append(name);
    out_ += ": ";
    fn();
    out_.push_back('\n');
  }
  void time_field(std::string_view name, std::uint64_t ns) {
    field_fn(name, [&] { timestamp(out_, ns, false); });
  }
  template <class T>
  void num_field(std::string_view name, T v) {
    field_fn(name, [&] { num(out_, v); });
  }
  void exemplars(const ArenaVec<Exemplar>& ex) {
    if (ex.empty()) return;
    line("Exemplars:");
    for (std::size_t i = 0; i < ex.size(); ++i) {
      const Exemplar& e = ex[i];
      out_ += "Exemplar #";
      num(out_, std::uint64_t{i});
      out_ += "\n     -> Trace ID: ";
      hex(out_, e.trace_id);
      out_ += "\n     -> Span ID: ";
      hex(out_, e.span_id);
      out_ += "\n     -> Timestamp: ";
      timestamp(out_, e.time_unix_nano, false);
      out_ += "\n     -> Value: ";
      if (e.is_int)
        num(out_, e.as_int);
      else
        num(out_, e.as_double);
      out_.push_back('\n');
      attributes("     -> FilteredAttributes", e.filtered_attributes, "          ");
    }
  }
  void point_header(std::string_view kind, std::size_t i, const Attributes& attrs, std::uint64_t start,
                    std::uint64_t time) {
    out_.append(kind);
    out_ += " #";
    num(out_, std::uint64_t{i});
    out_.push_back('\n');
    attributes("Data point attributes", attrs);
    time_field("StartTimestamp", start);
    time_field("Timestamp", time);
  }
  void opt_double(std::string_view name, const std::optional<double>& v) {
    if (v) num_field(name, *v);
  }

  void logs(const Batch& b) {
    for (std::size_t ri = 0; ri < b.resource_logs().size(); ++ri) {
      const ResourceLogs& rl = b.resource_logs()[ri];
      resource("ResourceLog", ri, rl.resource, rl.schema_url);
      for (std::size_t si = 0; si < rl.scope_logs.size(); ++si) {
        const ScopeLogs& sl = rl.scope_logs[si];
        scope("ScopeLogs", si, sl.scope, sl.schema_url);
        for (std::size_t i = 0; i < sl.log_records.size(); ++i) {
          const LogRecord& r = sl.log_records[i];
          out_ += "LogRecord #";
          num(out_, std::uint64_t{i});
          out_.push_back('\n');
          time_field("ObservedTimestamp", r.observed_time_unix_nano);
          time_field("Timestamp", r.time_unix_nano);
          field("SeverityText", r.severity_text);
          field_fn("SeverityNumber", [&] {
            out_.append(severity_name(r.severity_number));
            out_.push_back('(');
            num(out_, r.severity_number);
            out_.push_back(')');
          });
          if (!r.event_name.empty()) field("EventName", r.event_name);
          field_fn("Body", [&] { typed_value(out_, r.body); });
          attributes("Attributes", r.attributes);
          field_fn("Trace ID", [&] {
            if (!is_zero(r.trace_id)) hex(out_, r.trace_id);
          });
          field_fn("Span ID", [&] {
            if (!is_zero(r.span_id)) hex(out_, r.span_id);
          });
          num_field("Flags", r.flags);
        }
      }
    }
  }

  void traces(const Batch& b) {
    for (std::size_t ri = 0; ri < b.resource_spans().size(); ++ri) {
      const ResourceSpans& rs = b.resource_spans()[ri];
      resource("ResourceSpans", ri, rs.resource, rs.schema_url);
      for (std::size_t si = 0; si < rs.scope_spans.size(); ++si) {
        const ScopeSpans& ss = rs.scope_spans[si];
        scope("ScopeSpans", si, ss.scope, ss.schema_url);
        for (std::size_t i = 0; i < ss.spans.size(); ++i) {
          const Span& s = ss.spans[i];
          out_ += "Span #";
          num(out_, std::uint64_t{i});
          out_.push_back('\n');
          field_fn("    Trace ID       ", [&] { hex(out_, s.trace_id); });
          field_fn("    Parent ID      ", [&] {
            if (!is_zero(s.parent_span_id)) hex(out_, s.parent_span_id);
          });
          field_fn("    ID             ", [&] { hex(out_, s.span_id); });
          field("    Name           ", s.name);
          field("    Kind           ", span_kind_name(s.kind));
          field("    TraceState     ", s.trace_state);
          time_field("    Start time     ", s.start_time_unix_nano);
          time_field("    End time       ", s.end_time_unix_nano);
          field("    Status code    ", status_name(s.status.code));
          field("    Status message ", s.status.message);
          num_field("    Flags          ", s.flags);
          attributes("Attributes", s.attributes);
          if (!s.events.empty()) {
            line("Events:");
            for (std::size_t e = 0; e < s.events.size(); ++e) {
              const SpanEvent& ev = s.events[e];
              out_ += "SpanEvent #";
              num(out_, std::uint64_t{e});
              out_ += "\n     -> Name: ";
              out_.append(ev.name);
              out_ += "\n     -> Timestamp: ";
              timestamp(out_, ev.time_unix_nano, false);
              out_ += "\n     -> DroppedAttributesCount: ";
              num(out_, ev.dropped_attributes_count);
              out_.push_back('\n');
              attributes("     -> Attributes", ev.attributes, "          ");
            }
          }
          if (!s.links.empty()) {
            line("Links:");
            for (std::size_t l = 0; l < s.links.size(); ++l) {
              const SpanLink& ln = s.links[l];
              out_ += "SpanLink #";
              num(out_, std::uint64_t{l});
              out_ += "\n     -> Trace ID: ";
              hex(out_, ln.trace_id);
              out_ += "\n     -> ID: ";
              hex(out_, ln.span_id);
              out_ += "\n     -> TraceState: ";
              out_.append(ln.trace_state);
              out_ += "\n     -> DroppedAttributesCount: ";
              num(out_, ln.dropped_attributes_count);
              out_.push_back('\n');
              attributes("     -> Attributes", ln.attributes, "          ");
            }
          }
        }
      }
    }
  }

  void metrics(const Batch& b) {
    for (std::size_t ri = 0; ri < b.resource_metrics().size(); ++ri) {
      const ResourceMetrics& rm = b.resource_metrics()[ri];
      resource("ResourceMetrics", ri, rm.resource, rm.schema_url);
      for (std::size_t si = 0; si < rm.scope_metrics.size(); ++si) {
        const ScopeMetrics& sm = rm.scope_metrics[si];
        scope("ScopeMetrics", si, sm.scope, sm.schema_url);
        for (std::size_t i = 0; i < sm.metrics.size(); ++i) metric(i, sm.metrics[i]);
      }
    }
  }

  void metric(std::size_t i, const Metric& m) {
    out_ += "Metric #";
    num(out_, std::uint64_t{i});
    out_ += "\nDescriptor:\n     -> Name: ";
    out_.append(m.name);
    out_ += "\n     -> Description: ";
    out_.append(m.description);
    out_ += "\n     -> Unit: ";
    out_.append(m.unit);
    out_ += "\n     -> DataType: ";
    out_.append(metric_type_name(m.type));
    out_.push_back('\n');
    if (m.type == MetricType::kSum) {
      out_ += "     -> IsMonotonic: ";
      out_ += m.is_monotonic ? "true\n" : "false\n";
    }
    if (m.type == MetricType::kSum || m.type == MetricType::kHistogram ||
        m.type == MetricType::kExponentialHistogram) {
      out_ += "     -> AggregationTemporality: ";
      out_.append(temporality_name(m.aggregation_temporality));
      out_.push_back('\n');
    }
    attributes("Metadata", m.metadata);
    switch (m.type) {
      case MetricType::kEmpty:
        break;
      case MetricType::kGauge:
      case MetricType::kSum:
        for (std::size_t p = 0; p < m.number_points.size(); ++p) {
          const NumberDataPoint& dp = m.number_points[p];
          point_header("NumberDataPoints", p, dp.attributes, dp.start_time_unix_nano, dp.time_unix_nano);
          if (dp.is_int)
            num_field("Value", dp.as_int);
          else
            num_field("Value", dp.as_double);
          if (dp.flags != 0) num_field("Flags", dp.flags);
          exemplars(dp.exemplars);
        }
        break;
      case MetricType::kHistogram:
        for (std::size_t p = 0; p < m.histogram_points.size(); ++p) {
          const HistogramDataPoint& dp = m.histogram_points[p];
          point_header("HistogramDataPoints", p, dp.attributes, dp.start_time_unix_nano, dp.time_unix_nano);
          num_field("Count", dp.count);
          opt_double("Sum", dp.sum);
          opt_double("Min", dp.min);
          opt_double("Max", dp.max);
          for (std::size_t k = 0; k < dp.explicit_bounds.size(); ++k) {
            out_ += "ExplicitBounds #";
            num(out_, std::uint64_t{k});
            out_ += ": ";
            num(out_, dp.explicit_bounds[k]);
            out_.push_back('\n');
          }
          for (std::size_t k = 0; k < dp.bucket_counts.size(); ++k) {
            out_ += "Buckets #";
            num(out_, std::uint64_t{k});
            out_ += ", Count: ";
            num(out_, dp.bucket_counts[k]);
            out_.push_back('\n');
          }
          if (dp.flags != 0) num_field("Flags", dp.flags);
          exemplars(dp.exemplars);
        }
        break;
      case MetricType::kExponentialHistogram:
        for (std::size_t p = 0; p < m.exponential_histogram_points.size(); ++p) {
          const ExponentialHistogramDataPoint& dp = m.exponential_histogram_points[p];
          point_header("ExponentialHistogramDataPoints", p, dp.attributes, dp.start_time_unix_nano,
                       dp.time_unix_nano);
          num_field("Count", dp.count);
          opt_double("Sum", dp.sum);
          opt_double("Min", dp.min);
          opt_double("Max", dp.max);
          num_field("Scale", dp.scale);
          num_field("ZeroCount", dp.zero_count);
          num_field("ZeroThreshold", dp.zero_threshold);
          buckets("Positive", dp.positive);
          buckets("Negative", dp.negative);
          if (dp.flags != 0) num_field("Flags", dp.flags);
          exemplars(dp.exemplars);
        }
        break;
      case MetricType::kSummary:
        for (std::size_t p = 0; p < m.summary_points.size(); ++p) {
          const SummaryDataPoint& dp = m.summary_points[p];
          point_header("SummaryDataPoints", p, dp.attributes, dp.start_time_unix_nano, dp.time_unix_nano);
          num_field("Count", dp.count);
          num_field("Sum", dp.sum);
          for (std::size_t k = 0; k < dp.quantile_values.size(); ++k) {
            out_ += "QuantileValue #";
            num(out_, std::uint64_t{k});
            out_ += ": Quantile ";
            num(out_, dp.quantile_values[k].quantile);
            out_ += ", Value ";
            num(out_, dp.quantile_values[k].value);
            out_.push_back('\n');
          }
          if (dp.flags != 0) num_field("Flags", dp.flags);
        }
        break;
    }
  }

  void buckets(std::string_view name, const ExponentialBuckets& b) {
    out_.append(name);
    out_ += " buckets: offset ";
    num(out_, b.offset);
    out_ += ", counts [";
    for (std::size_t k = 0; k < b.bucket_counts.size(); ++k) {
      if (k != 0) out_.push_back(',');
      num(out_, b.bucket_counts[k]);
    }
    out_ += "]\n";
  }

 private:
  std::string& out_;
};

void summary(std::string& out, const Batch& b) {
  switch (b.signal()) {
    case Signal::kTraces:
      out += "Traces: resource spans: ";
      num(out, std::uint64_t{b.resource_spans().size()});
      out += ", spans: ";
      num(out, std::uint64_t{b.item_count()});
      break;
    case Signal::kMetrics: {
      std::uint64_t metrics = 0;
      for (const auto& r : b.resource_metrics())
        for (const auto& s : r.scope_metrics) metrics += s.metrics.size();
      out += "Metrics: resource metrics: ";
      num(out, std::uint64_t{b.resource_metrics().size()});
      out += ", metrics: ";
      num(out, metrics);
      out += ", data points: ";
      num(out, std::uint64_t{b.item_count()});
      break;
    }
    case Signal::kLogs:
      out += "Logs: resource logs: ";
      num(out, std::uint64_t{b.resource_logs().size()});
      out += ", log records: ";
      num(out, std::uint64_t{b.item_count()});
      break;
  }
  out.push_back('\n');
}

// One line per record.
void normal(std::string& out, const Batch& b) {
  switch (b.signal()) {
    case Signal::kLogs:
      for (const auto& r : b.resource_logs())
        for (const auto& s : r.scope_logs)
          for (const LogRecord& rec : s.log_records) {
            timestamp(out, rec.time_unix_nano != 0 ? rec.time_unix_nano : rec.observed_time_unix_nano, true);
            out.push_back(' ');
            if (!rec.severity_text.empty())
              text(out, rec.severity_text);
            else
              out.append(severity_name(rec.severity_number));
            out.push_back(' ');
            plain_value(out, rec.body, false);
            compact_attributes(out, rec.attributes);
            out.push_back('\n');
          }
      break;
    case Signal::kTraces:
      for (const auto& r : b.resource_spans())
        for (const auto& s : r.scope_spans)
          for (const Span& sp : s.spans) {
            hex(out, sp.trace_id);
            out.push_back(' ');
            hex(out, sp.span_id);
            out.push_back(' ');
            text(out, sp.name);
            out += " duration=";
            std::uint64_t d = sp.end_time_unix_nano > sp.start_time_unix_nano
                                  ? sp.end_time_unix_nano - sp.start_time_unix_nano
                                  : 0;
            num(out, static_cast<double>(d) / 1e6);
            out += "ms";
            if (sp.status.code != StatusCode::kUnset) {
              out += " status=";
              out.append(status_name(sp.status.code));
            }
            compact_attributes(out, sp.attributes);
            out.push_back('\n');
          }
      break;
    case Signal::kMetrics:
      for (const auto& r : b.resource_metrics())
        for (const auto& s : r.scope_metrics)
          for (const Metric& m : s.metrics) {
            text(out, m.name);
            out.push_back(' ');
            out.append(metric_type_name(m.type));
            auto point = [&](const Attributes& attrs, auto&& value) {
              out += " |";
              compact_attributes(out, attrs);
              out.push_back(' ');
              value();
            };
            for (const auto& p : m.number_points) {
              if (m.type != MetricType::kGauge && m.type != MetricType::kSum) break;
              point(p.attributes, [&] {
                if (p.is_int)
                  num(out, p.as_int);
                else
                  num(out, p.as_double);
              });
            }
            if (m.type == MetricType::kHistogram)
              for (const auto& p : m.histogram_points)
                point(p.attributes, [&] {
                  out += "count=";
                  num(out, p.count);
                  if (p.sum) {
                    out += " sum=";
                    num(out, *p.sum);
                  }
                });
            if (m.type == MetricType::kExponentialHistogram)
              for (const auto& p : m.exponential_histogram_points)
                point(p.attributes, [&] {
                  out += "count=";
                  num(out, p.count);
                  if (p.sum) {
                    out += " sum=";
                    num(out, *p.sum);
                  }
                });
            if (m.type == MetricType::kSummary)
              for (const auto& p : m.summary_points)
                point(p.attributes, [&] {
                  out += "count=";
                  num(out, p.count);
                  out += " sum=";
                  num(out, p.sum);
                });
            out.push_back('\n');
          }
      break;
  }
}

}  // namespace

std::string format_debug(const model::Batch& batch, DebugVerbosity verbosity) {
  std::string out;
  summary(out, batch);
  if (verbosity == DebugVerbosity::kNormal) {
    normal(out, batch);
  } else if (verbosity == DebugVerbosity::kDetailed) {
    Detailed d(out);
    switch (batch.signal()) {
      case Signal::kLogs:
        d.logs(batch);
        break;
      case Signal::kTraces:
        d.traces(batch);
        break;
      case Signal::kMetrics:
        d.metrics(batch);
        break;
    }
  }
  return out;
}

component::Status DebugExporter::send(const model::Batch& batch) {
  const std::string text = format_debug(batch, verbosity_);
  std::lock_guard lock(mu_);
  if (std::fwrite(text.data(), 1, text.size(), out_) != text.size() || std::fflush(out_) != 0) {
    // stdout closed or full: nothing to retry that would help, and the data is only for viewing.
    return component::Status::permanent("debug exporter: writing to the output failed");
  }
  return component::Status::ok();
}

void DebugExporter::shutdown(component::Deadline) {
  std::lock_guard lock(mu_);
  std::fflush(out_);
}

DebugVerbosity read_debug_verbosity(const config::Settings& settings) {
  const std::string v = settings.get_string("verbosity");
  if (v == "detailed") return DebugVerbosity::kDetailed;
  if (v == "normal") return DebugVerbosity::kNormal;
  return DebugVerbosity::kBasic;
}

component::Factory debug_exporter_factory() {
  component::Factory f;
  f.kind = component::Kind::kExporter;
  f.type = "debug";
  f.description = "Writes received telemetry to stdout, for debugging pipelines.";
  f.signals = {Signal::kTraces, Signal::kMetrics, Signal::kLogs};
  f.exporter_queue = false;
  f.schema = {
      config::opt_string("verbosity", "basic",
                         "basic: one summary line per batch; normal: one line per record; "
                         "detailed: every field",
                         {"basic", "normal", "detailed"}),
      // Accepted so Collector configs load unchanged; Vigil writes every batch (no sampling).
      config::opt_int("sampling_initial", 2, "accepted for Collector compatibility; ignored", 0),
      config::opt_int("sampling_thereafter", 1, "accepted for Collector compatibility; ignored", 0),
  };
  f.create_exporter = [](const component::CreateSettings& cs, Signal) -> std::unique_ptr<component::Sender> {
    return std::make_unique<DebugExporter>(read_debug_verbosity(cs.settings));
  };
  return f;
}

}  // namespace vigil::exporters
