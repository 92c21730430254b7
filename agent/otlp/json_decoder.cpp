// OTLP/JSON -> model::Batch with simdjson's On-Demand API: one forward pass over the document,
// no DOM, values read straight into the batch's arena.
#include "agent/otlp/json_decoder.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace vigil::otlp {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

// Nesting allowed below the request object. Objects (messages) count, as libprotobuf's recursion
// limit counts nested messages in the protobuf form, so a request decodes in one encoding exactly
// when it decodes in the other; inside unknown fields arrays count too (they are walked, see
// skip()). This bounds the decoder's recursion.
constexpr int kMaxDepth = 100;
// Requests up to this size reuse a per-thread input buffer and parser; larger ones get their own
// for the call, so a thread does not keep the memory of its largest request for ever.
constexpr std::size_t kRetainedBytes = 1 << 20;
// Longest piece of input quoted in an error message, and the longest field path kept.
constexpr std::size_t kQuoteBytes = 40;
constexpr std::size_t kPathBytes = 400;

// One field of a message: its JSON (lowerCamelCase) name and, when different, its proto name,
// which protobuf's JSON parsers accept too.
struct Name {
  std::string_view json;
  std::string_view proto = {};
};

template <std::size_t N>
using Names = std::array<Name, N>;

// Field tables. The enum next to each table gives the index of each name.
constexpr Names<1> kTraceRequest{{{"resourceSpans", "resource_spans"}}};
constexpr Names<1> kMetricsRequest{{{"resourceMetrics", "resource_metrics"}}};
constexpr Names<1> kLogsRequest{{{"resourceLogs", "resource_logs"}}};

enum { kResource, kResourceScopes, kResourceSchemaUrl };
constexpr Names<3> kResourceSpans{{{"resource"}, {"scopeSpans", "scope_spans"}, {"schemaUrl", "schema_url"}}};
constexpr Names<3> kResourceMetrics{
    {{"resource"}, {"scopeMetrics", "scope_metrics"}, {"schemaUrl", "schema_url"}}};
constexpr Names<3> kResourceLogs{{{"resource"}, {"scopeLogs", "scope_logs"}, {"schemaUrl", "schema_url"}}};

enum { kScope, kScopeItems, kScopeSchemaUrl };
constexpr Names<3> kScopeSpans{{{"scope"}, {"spans"}, {"schemaUrl", "schema_url"}}};
constexpr Names<3> kScopeMetrics{{{"scope"}, {"metrics"}, {"schemaUrl", "schema_url"}}};
constexpr Names<3> kScopeLogs{{{"scope"}, {"logRecords", "log_records"}, {"schemaUrl", "schema_url"}}};

enum { kResAttributes, kResDropped };
constexpr Names<2> kResourceFields{{{"attributes"}, {"droppedAttributesCount", "dropped_attributes_count"}}};

enum { kScopeName, kScopeVersion, kScopeAttributes, kScopeDropped };
constexpr Names<4> kScopeFields{
    {{"name"}, {"version"}, {"attributes"}, {"droppedAttributesCount", "dropped_attributes_count"}}};

enum { kKey, kValue };
constexpr Names<2> kKeyValue{{{"key"}, {"value"}}};

enum { kStringValue, kBoolValue, kIntValue, kDoubleValue, kArrayValue, kKvlistValue, kBytesValue };
constexpr Names<7> kAnyValue{{{"stringValue", "string_value"},
                              {"boolValue", "bool_value"},
                              {"intValue", "int_value"},
                              {"doubleValue", "double_value"},
                              {"arrayValue", "array_value"},
                              {"kvlistValue", "kvlist_value"},
                              {"bytesValue", "bytes_value"}}};
constexpr Names<1> kValues{{{"values"}}};

enum {
  kLogTime,
  kLogObservedTime,
  kLogSeverityNumber,
  kLogSeverityText,
  kLogBody,
  kLogAttributes,
  kLogDropped,
  kLogFlags,
  kLogTraceId,
  kLogSpanId,
  kLogEventName
};
constexpr Names<11> kLogRecord{{{"timeUnixNano", "time_unix_nano"},
                                {"observedTimeUnixNano", "observed_time_unix_nano"},
                                {"severityNumber", "severity_number"},
                                {"severityText", "severity_text"},
                                {"body"},
                                {"attributes"},
                                {"droppedAttributesCount", "dropped_attributes_count"},
                                {"flags"},
                                {"traceId", "trace_id"},
                                {"spanId", "span_id"},
                                {"eventName", "event_name"}}};

enum {
  kSpanTraceId,
  kSpanSpanId,
  kSpanTraceState,
  kSpanParentSpanId,
  kSpanFlags,
  kSpanName,
  kSpanKind,
  kSpanStart,
  kSpanEnd,
  kSpanAttributes,
  kSpanDropped,
  kSpanEvents,
  kSpanDroppedEvents,
  kSpanLinks,
  kSpanDroppedLinks,
  kSpanStatus
};
constexpr Names<16> kSpan{{{"traceId", "trace_id"},
                           {"spanId", "span_id"},
                           {"traceState", "trace_state"},
                           {"parentSpanId", "parent_span_id"},
                           {"flags"},
                           {"name"},
                           {"kind"},
                           {"startTimeUnixNano", "start_time_unix_nano"},
                           {"endTimeUnixNano", "end_time_unix_nano"},
                           {"attributes"},
                           {"droppedAttributesCount", "dropped_attributes_count"},
                           {"events"},
                           {"droppedEventsCount", "dropped_events_count"},
                           {"links"},
                           {"droppedLinksCount", "dropped_links_count"},
                           {"status"}}};

enum { kEventTime, kEventName, kEventAttributes, kEventDropped };
constexpr Names<4> kSpanEvent{{{"timeUnixNano", "time_unix_nano"},
                               {"name"},
                               {"attributes"},
                               {"droppedAttributesCount", "dropped_attributes_count"}}};

enum { kLinkTraceId, kLinkSpanId, kLinkTraceState, kLinkAttributes, kLinkDropped, kLinkFlags };
constexpr Names<6> kSpanLink{{{"traceId", "trace_id"},
                              {"spanId", "span_id"},
                              {"traceState", "trace_state"},
                              {"attributes"},
                              {"droppedAttributesCount", "dropped_attributes_count"},
                              {"flags"}}};

enum { kStatusMessage, kStatusCode };
constexpr Names<2> kStatus{{{"message"}, {"code"}}};

enum {
  kMetricName,
  kMetricDescription,
  kMetricUnit,
  kMetricGauge,
  kMetricSum,
  kMetricHistogram,
  kMetricExponentialHistogram,
  kMetricSummary,
  kMetricMetadata
};
constexpr Names<9> kMetric{{{"name"},
                            {"description"},
                            {"unit"},
                            {"gauge"},
                            {"sum"},
                            {"histogram"},
                            {"exponentialHistogram", "exponential_histogram"},
                            {"summary"},
                            {"metadata"}}};

// Gauge, Sum, Histogram, ExponentialHistogram and Summary share these (each uses a subset).
enum { kDataPoints, kDataTemporality, kDataMonotonic };
constexpr Names<3> kMetricData{{{"dataPoints", "data_points"},
                                {"aggregationTemporality", "aggregation_temporality"},
                                {"isMonotonic", "is_monotonic"}}};

// Every data point type's fields; each type reads those it has and ignores the others, as
// unknown fields.
enum {
  kPointAttributes,
  kPointStart,
  kPointTime,
  kPointAsDouble,
  kPointAsInt,
  kPointExemplars,
  kPointFlags,
  kPointCount,
  kPointSum,
  kPointBucketCounts,
  kPointExplicitBounds,
  kPointMin,
  kPointMax,
  kPointScale,
  kPointZeroCount,
  kPointPositive,
  kPointNegative,
  kPointZeroThreshold,
  kPointQuantileValues
};
constexpr Names<19> kDataPoint{{{"attributes"},
                                {"startTimeUnixNano", "start_time_unix_nano"},
                                {"timeUnixNano", "time_unix_nano"},
                                {"asDouble", "as_double"},
                                {"asInt", "as_int"},
                                {"exemplars"},
                                {"flags"},
                                {"count"},
                                {"sum"},
                                {"bucketCounts", "bucket_counts"},
                                {"explicitBounds", "explicit_bounds"},
                                {"min"},
                                {"max"},
                                {"scale"},
                                {"zeroCount", "zero_count"},
                                {"positive"},
                                {"negative"},
                                {"zeroThreshold", "zero_threshold"},
                                {"quantileValues", "quantile_values"}}};

enum { kBucketsOffset, kBucketsCounts };
constexpr Names<2> kBuckets{{{"offset"}, {"bucketCounts", "bucket_counts"}}};

enum { kQuantile, kQuantileValue };
constexpr Names<2> kValueAtQuantile{{{"quantile"}, {"value"}}};

enum {
  kExemplarAttributes,
  kExemplarTime,
  kExemplarAsDouble,
  kExemplarAsInt,
  kExemplarSpanId,
  kExemplarTraceId
};
constexpr Names<6> kExemplar{{{"filteredAttributes", "filtered_attributes"},
                              {"timeUnixNano", "time_unix_nano"},
                              {"asDouble", "as_double"},
                              {"asInt", "as_int"},
                              {"spanId", "span_id"},
                              {"traceId", "trace_id"}}};

// Enum value names, indexed by value.
constexpr std::array<std::string_view, 6> kSpanKindNames{"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
                                                         "SPAN_KIND_SERVER",      "SPAN_KIND_CLIENT",
                                                         "SPAN_KIND_PRODUCER",    "SPAN_KIND_CONSUMER"};
constexpr std::array<std::string_view, 3> kStatusCodeNames{"STATUS_CODE_UNSET", "STATUS_CODE_OK",
                                                           "STATUS_CODE_ERROR"};
constexpr std::array<std::string_view, 3> kTemporalityNames{"AGGREGATION_TEMPORALITY_UNSPECIFIED",
                                                            "AGGREGATION_TEMPORALITY_DELTA",
                                                            "AGGREGATION_TEMPORALITY_CUMULATIVE"};
constexpr std::array<std::string_view, 25> kSeverityNames{
    "SEVERITY_NUMBER_UNSPECIFIED", "SEVERITY_NUMBER_TRACE",  "SEVERITY_NUMBER_TRACE2",
    "SEVERITY_NUMBER_TRACE3",      "SEVERITY_NUMBER_TRACE4", "SEVERITY_NUMBER_DEBUG",
    "SEVERITY_NUMBER_DEBUG2",      "SEVERITY_NUMBER_DEBUG3", "SEVERITY_NUMBER_DEBUG4",
    "SEVERITY_NUMBER_INFO",        "SEVERITY_NUMBER_INFO2",  "SEVERITY_NUMBER_INFO3",
    "SEVERITY_NUMBER_INFO4",       "SEVERITY_NUMBER_WARN",   "SEVERITY_NUMBER_WARN2",
    "SEVERITY_NUMBER_WARN3",       "SEVERITY_NUMBER_WARN4",  "SEVERITY_NUMBER_ERROR",
    "SEVERITY_NUMBER_ERROR2",      "SEVERITY_NUMBER_ERROR3", "SEVERITY_NUMBER_ERROR4",
    "SEVERITY_NUMBER_FATAL",       "SEVERITY_NUMBER_FATAL2", "SEVERITY_NUMBER_FATAL3",
    "SEVERITY_NUMBER_FATAL4"};

template <std::size_t N>
int find(std::string_view key, const Names<N>& names) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i].json == key || (!names[i].proto.empty() && names[i].proto == key))
      return static_cast<int>(i);
  }
  return -1;
}

// s cut to at most n bytes without splitting a UTF-8 sequence (the input was validated as UTF-8,
// and error messages must stay valid UTF-8: they go into protobuf strings).
std::string_view utf8_prefix(std::string_view s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// A token of the input for an error message: without trailing whitespace, shortened.
std::string shortened(std::string_view token) {
  while (!token.empty() &&
         (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' || token.back() == '\t')) {
    token.remove_suffix(1);
  }
  std::string_view cut = utf8_prefix(token, kQuoteBytes);
  return std::string(cut) + (cut.size() < token.size() ? "..." : "");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Standard and URL-safe alphabets, as protobuf's JSON parsers accept both.
int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Converts a JSON document into the model. Every method returns false on failure with the reason
// in error_; each enclosing level prefixes its own path element on the way out (see in()), so
// the success path builds no strings.
class Decoder {
 public:
  Decoder(model::Arena& arena, std::string& error, const char* input, const char* input_end,
          std::deque<std::vector<std::byte>>& levels)
      : arena_(arena), error_(error), input_(input), input_end_(input_end), levels_(levels) {}

  void set_document(od::document* doc) { doc_ = doc; }

  template <class R, std::size_t N, class Fn>
  bool request(od::value& root, const Names<N>& names, model::ArenaVec<R>& out, Fn&& entry) {
    return object(root, names, [&](int, od::value& v) { return repeated(v, out, entry); });
  }

  // --- resource / scope / item nesting, shared by the three signals ---

  template <auto Scopes, auto Items, class R, class Item>
  bool resource_entry(od::value& v, R& out, const Names<3>& names, const Names<3>& scope_names, Item&& item) {
    return object(v, names, [&](int id, od::value& f) {
      switch (id) {
        case kResource:
          return resource(f, out.resource);
        case kResourceScopes:
          return repeated(f, out.*Scopes, [&](od::value& e, auto& scope_entry) {
            return object(e, scope_names, [&](int sid, od::value& g) {
              switch (sid) {
                case kScope:
                  return scope(g, scope_entry.scope);
                case kScopeItems:
                  return repeated(g, scope_entry.*Items, item);
                case kScopeSchemaUrl:
                  return str(g, scope_entry.schema_url);
              }
              return true;
            });
          });
        case kResourceSchemaUrl:
          return str(f, out.schema_url);
      }
      return true;
    });
  }

  bool resource(od::value& v, model::Resource& out) {
    return object(v, kResourceFields, [&](int id, od::value& f) {
      return id == kResAttributes ? attributes(f, out.attributes) : u32(f, out.dropped_attributes_count);
    });
  }

  bool scope(od::value& v, model::InstrumentationScope& out) {
    return object(v, kScopeFields, [&](int id, od::value& f) {
      switch (id) {
        case kScopeName:
          return str(f, out.name);
        case kScopeVersion:
          return str(f, out.version);
        case kScopeAttributes:
          return attributes(f, out.attributes);
        case kScopeDropped:
          return u32(f, out.dropped_attributes_count);
      }
      return true;
    });
  }

  // --- common ---

  bool attributes(od::value& v, model::Attributes& out) {
    return repeated(v, out, [&](od::value& e, model::KeyValue& kv) { return key_value(e, kv); });
  }

  bool key_value(od::value& v, model::KeyValue& out) {
    return object(v, kKeyValue,
                  [&](int id, od::value& f) { return id == kKey ? str(f, out.key) : any(f, out.value); });
  }

  // Recursion through arrayValue / kvlistValue is bounded by the object depth (kMaxDepth).
  bool any(od::value& v, model::AnyValue& out) {
    return object(v, kAnyValue, [&](int id, od::value& f) {
      switch (id) {
        case kStringValue: {
          std::string_view s;
          if (!str(f, s)) return false;
          out = model::AnyValue::string(s);
          return true;
        }
        case kBoolValue: {
          bool b = false;
          if (!boolean(f, b)) return false;
          out = model::AnyValue::boolean(b);
          return true;
        }
        case kIntValue: {
          std::int64_t i = 0;
          if (!integer(f, i)) return false;
          out = model::AnyValue::integer(i);
          return true;
        }
        case kDoubleValue: {
          double d = 0;
          if (!dbl(f, d)) return false;
          out = model::AnyValue::floating(d);
          return true;
        }
        case kBytesValue: {
          std::string_view s;
          if (!bytes(f, s)) return false;
          out = model::AnyValue::bytes(s);
          return true;
        }
        case kArrayValue:
          out = model::AnyValue::array(nullptr, 0);
          return object(f, kValues, [&](int, od::value& g) {
            return elements<model::AnyValue>(
                g, [&](od::value& e, model::AnyValue& item) { return any(e, item); },
                [&](const model::AnyValue* items, std::size_t n) {
                  out = model::AnyValue::array(copy_array(items, n), static_cast<std::uint32_t>(n));
                });
          });
        case kKvlistValue:
          out = model::AnyValue::kvlist(nullptr, 0);
          return object(f, kValues, [&](int, od::value& g) {
            return elements<model::KeyValue>(
                g, [&](od::value& e, model::KeyValue& item) { return key_value(e, item); },
                [&](const model::KeyValue* items, std::size_t n) {
                  out = model::AnyValue::kvlist(copy_array(items, n), static_cast<std::uint32_t>(n));
                });
          });
      }
      return true;
    });
  }

  // --- logs ---

  bool log_record(od::value& v, model::LogRecord& out) {
    return object(v, kLogRecord, [&](int id, od::value& f) {
      switch (id) {
        case kLogTime:
          return integer(f, out.time_unix_nano);
        case kLogObservedTime:
          return integer(f, out.observed_time_unix_nano);
        case kLogSeverityNumber:
          return enumeration(f, kSeverityNames, out.severity_number);
        case kLogSeverityText:
          return str(f, out.severity_text);
        case kLogBody:
          return any(f, out.body);
        case kLogAttributes:
          return attributes(f, out.attributes);
        case kLogDropped:
          return u32(f, out.dropped_attributes_count);
        case kLogFlags:
          return u32(f, out.flags);
        case kLogTraceId:
          return id_field(f, out.trace_id);
        case kLogSpanId:
          return id_field(f, out.span_id);
        case kLogEventName:
          return str(f, out.event_name);
      }
      return true;
    });
  }

  // --- traces ---

  bool span(od::value& v, model::Span& out) {
    return object(v, kSpan, [&](int id, od::value& f) {
      switch (id) {
        case kSpanTraceId:
          return id_field(f, out.trace_id);
        case kSpanSpanId:
          return id_field(f, out.span_id);
        case kSpanTraceState:
          return str(f, out.trace_state);
        case kSpanParentSpanId:
          return id_field(f, out.parent_span_id);
        case kSpanFlags:
          return u32(f, out.flags);
        case kSpanName:
          return str(f, out.name);
        case kSpanKind:
          return enumeration(f, kSpanKindNames, out.kind);
        case kSpanStart:
          return integer(f, out.start_time_unix_nano);
        case kSpanEnd:
          return integer(f, out.end_time_unix_nano);
        case kSpanAttributes:
          return attributes(f, out.attributes);
        case kSpanDropped:
          return u32(f, out.dropped_attributes_count);
        case kSpanEvents:
          return repeated(f, out.events, [&](od::value& e, model::SpanEvent& ev) { return event(e, ev); });
        case kSpanDroppedEvents:
          return u32(f, out.dropped_events_count);
        case kSpanLinks:
          return repeated(f, out.links, [&](od::value& e, model::SpanLink& l) { return link(e, l); });
        case kSpanDroppedLinks:
          return u32(f, out.dropped_links_count);
        case kSpanStatus:
          return object(f, kStatus, [&](int sid, od::value& g) {
            return sid == kStatusMessage ? str(g, out.status.message)
                                         : enumeration(g, kStatusCodeNames, out.status.code);
          });
      }
      return true;
    });
  }

  bool event(od::value& v, model::SpanEvent& out) {
    return object(v, kSpanEvent, [&](int id, od::value& f) {
      switch (id) {
        case kEventTime:
          return integer(f, out.time_unix_nano);
        case kEventName:
          return str(f, out.name);
        case kEventAttributes:
          return attributes(f, out.attributes);
        case kEventDropped:
          return u32(f, out.dropped_attributes_count);
      }
      return true;
    });
  }

  bool link(od::value& v, model::SpanLink& out) {
    return object(v, kSpanLink, [&](int id, od::value& f) {
      switch (id) {
        case kLinkTraceId:
          return id_field(f, out.trace_id);
        case kLinkSpanId:
          return id_field(f, out.span_id);
        case kLinkTraceState:
          return str(f, out.trace_state);
        case kLinkAttributes:
          return attributes(f, out.attributes);
        case kLinkDropped:
          return u32(f, out.dropped_attributes_count);
        case kLinkFlags:
          return u32(f, out.flags);
      }
      return true;
    });
  }

  // --- metrics ---

  bool metric(od::value& v, model::Metric& out) {
    return object(v, kMetric, [&](int id, od::value& f) {
      switch (id) {
        case kMetricName:
          return str(f, out.name);
        case kMetricDescription:
          return str(f, out.description);
        case kMetricUnit:
          return str(f, out.unit);
        case kMetricMetadata:
          return attributes(f, out.metadata);
        case kMetricGauge:
          return metric_data(f, out, model::MetricType::kGauge);
        case kMetricSum:
          return metric_data(f, out, model::MetricType::kSum);
        case kMetricHistogram:
          return metric_data(f, out, model::MetricType::kHistogram);
        case kMetricExponentialHistogram:
          return metric_data(f, out, model::MetricType::kExponentialHistogram);
        case kMetricSummary:
          return metric_data(f, out, model::MetricType::kSummary);
      }
      return true;
    });
  }

  // The `data` oneof: a later member replaces an earlier one, as in the protobuf form.
  bool metric_data(od::value& v, model::Metric& out, model::MetricType type) {
    out.type = type;
    out.aggregation_temporality = model::AggregationTemporality::kUnspecified;
    out.is_monotonic = false;
    out.number_points = {};
    out.histogram_points = {};
    out.exponential_histogram_points = {};
    out.summary_points = {};
    return object(v, kMetricData, [&](int id, od::value& f) {
      switch (id) {
        case kDataPoints:
          switch (type) {
            case model::MetricType::kGauge:
            case model::MetricType::kSum:
              return repeated(f, out.number_points,
                              [&](od::value& e, auto& p) { return number_point(e, p); });
            case model::MetricType::kHistogram:
              return repeated(f, out.histogram_points,
                              [&](od::value& e, auto& p) { return histogram_point(e, p); });
            case model::MetricType::kExponentialHistogram:
              return repeated(f, out.exponential_histogram_points,
                              [&](od::value& e, auto& p) { return exponential_point(e, p); });
            case model::MetricType::kSummary:
              return repeated(f, out.summary_points,
                              [&](od::value& e, auto& p) { return summary_point(e, p); });
            case model::MetricType::kEmpty:
              break;
          }
          return true;
        case kDataTemporality:
          if (type == model::MetricType::kGauge || type == model::MetricType::kSummary) return skip(f);
          return enumeration(f, kTemporalityNames, out.aggregation_temporality);
        case kDataMonotonic:
          if (type != model::MetricType::kSum) return skip(f);
          return boolean(f, out.is_monotonic);
      }
      return true;
    });
  }

  bool number_point(od::value& v, model::NumberDataPoint& out) {
    return object(v, kDataPoint, [&](int id, od::value& f) {
      switch (id) {
        case kPointAttributes:
          return attributes(f, out.attributes);
        case kPointStart:
          return integer(f, out.start_time_unix_nano);
        case kPointTime:
          return integer(f, out.time_unix_nano);
        case kPointAsDouble:
          return number_value(f, false, out.is_int, out.as_double, out.as_int);
        case kPointAsInt:
          return number_value(f, true, out.is_int, out.as_double, out.as_int);
        case kPointExemplars:
          return exemplars(f, out.exemplars);
        case kPointFlags:
          return u32(f, out.flags);
      }
      return skip(f);
    });
  }

  bool histogram_point(od::value& v, model::HistogramDataPoint& out) {
    return object(v, kDataPoint, [&](int id, od::value& f) {
      switch (id) {
        case kPointAttributes:
          return attributes(f, out.attributes);
        case kPointStart:
          return integer(f, out.start_time_unix_nano);
        case kPointTime:
          return integer(f, out.time_unix_nano);
        case kPointCount:
          return integer(f, out.count);
        case kPointSum:
          return optional_dbl(f, out.sum);
        case kPointBucketCounts:
          return u64_array(f, out.bucket_counts);
        case kPointExplicitBounds:
          return dbl_array(f, out.explicit_bounds);
        case kPointExemplars:
          return exemplars(f, out.exemplars);
        case kPointFlags:
          return u32(f, out.flags);
        case kPointMin:
          return optional_dbl(f, out.min);
        case kPointMax:
          return optional_dbl(f, out.max);
      }
      return skip(f);
    });
  }

  bool exponential_point(od::value& v, model::ExponentialHistogramDataPoint& out) {
    return object(v, kDataPoint, [&](int id, od::value& f) {
      switch (id) {
        case kPointAttributes:
          return attributes(f, out.attributes);
        case kPointStart:
          return integer(f, out.start_time_unix_nano);
        case kPointTime:
          return integer(f, out.time_unix_nano);
        case kPointCount:
          return integer(f, out.count);
        case kPointSum:
          return optional_dbl(f, out.sum);
        case kPointScale:
          return integer(f, out.scale);
        case kPointZeroCount:
          return integer(f, out.zero_count);
        case kPointPositive:
          return buckets(f, out.positive);
        case kPointNegative:
          return buckets(f, out.negative);
        case kPointFlags:
          return u32(f, out.flags);
        case kPointExemplars:
          return exemplars(f, out.exemplars);
        case kPointMin:
          return optional_dbl(f, out.min);
        case kPointMax:
          return optional_dbl(f, out.max);
        case kPointZeroThreshold:
          return dbl(f, out.zero_threshold);
      }
      return skip(f);
    });
  }

  bool buckets(od::value& v, model::ExponentialBuckets& out) {
    return object(v, kBuckets, [&](int id, od::value& f) {
      return id == kBucketsOffset ? integer(f, out.offset) : u64_array(f, out.bucket_counts);
    });
  }

  bool summary_point(od::value& v, model::SummaryDataPoint& out) {
    return object(v, kDataPoint, [&](int id, od::value& f) {
      switch (id) {
        case kPointAttributes:
          return attributes(f, out.attributes);
        case kPointStart:
          return integer(f, out.start_time_unix_nano);
        case kPointTime:
          return integer(f, out.time_unix_nano);
        case kPointCount:
          return integer(f, out.count);
        case kPointSum:
          return dbl(f, out.sum);
        case kPointQuantileValues:
          return repeated(f, out.quantile_values, [&](od::value& e, model::ValueAtQuantile& q) {
            return object(e, kValueAtQuantile, [&](int qid, od::value& g) {
              return dbl(g, qid == kQuantile ? q.quantile : q.value);
            });
          });
        case kPointFlags:
          return u32(f, out.flags);
      }
      return skip(f);
    });
  }

  bool exemplars(od::value& v, model::ArenaVec<model::Exemplar>& out) {
    return repeated(v, out, [&](od::value& e, model::Exemplar& ex) {
      return object(e, kExemplar, [&](int id, od::value& f) {
        switch (id) {
          case kExemplarAttributes:
            return attributes(f, ex.filtered_attributes);
          case kExemplarTime:
            return integer(f, ex.time_unix_nano);
          case kExemplarAsDouble:
            return number_value(f, false, ex.is_int, ex.as_double, ex.as_int);
          case kExemplarAsInt:
            return number_value(f, true, ex.is_int, ex.as_double, ex.as_int);
          case kExemplarSpanId:
            return id_field(f, ex.span_id);
          case kExemplarTraceId:
            return id_field(f, ex.trace_id);
        }
        return true;
      });
    });
  }

  // The `value` oneof of NumberDataPoint and Exemplar: the member read last wins, the other
  // reads as zero (as the protobuf decoder leaves it).
  bool number_value(od::value& v, bool as_int, bool& is_int, double& d, std::int64_t& i) {
    is_int = as_int;
    d = 0;
    i = 0;
    return as_int ? integer(v, i) : dbl(v, d);
  }

  bool u64_array(od::value& v, model::ArenaVec<std::uint64_t>& out) {
    return repeated(v, out, [&](od::value& e, std::uint64_t& x) { return integer(e, x); });
  }
  bool dbl_array(od::value& v, model::ArenaVec<double>& out) {
    return repeated(v, out, [&](od::value& e, double& x) { return dbl(e, x); });
  }

  // --- structure ---

  // Iterates an object's fields, calling fn(index, value) for the names in `names`. null values
  // are absent fields; unknown names are walked over (skip()).
  template <std::size_t N, class Fn>
  bool object(od::value& v, const Names<N>& names, Fn&& fn) {
    od::object obj;
    if (error_code e = v.get_object().get(obj)) return wrong_type(v, e, "an object");
    if (++depth_ > kMaxDepth) return too_deep();
    for (auto result : obj) {
      od::field field;
      if (error_code e = std::move(result).get(field)) return json_error(e);
      std::string_view key;
      if (!key_of(field, key)) return false;
      od::value& value = field.value();
      const int id = find(key, names);
      if (id < 0) {
        if (!skip(value)) return in(utf8_prefix(key, kQuoteBytes));
        continue;
      }
      bool null = false;
      if (value.is_null().get(null) == simdjson::SUCCESS && null) continue;  // else fn reports what it is
      if (!fn(id, value)) return in(names[id].json);
    }
    --depth_;
    return true;
  }

  // Decodes an array's elements, item(element, slot) each, into this array nesting level's
  // scratch buffer, then hands them to done(items, n) to be copied into the arena in one piece.
  // So arena arrays get their exact size without a counting pass over the input (which costs
  // about as much as the decoding) and without the waste of growing them element by element.
  template <class T, class Item, class Done>
  bool elements(od::value& v, Item&& item, Done&& done) {
    static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
    od::array arr;
    if (error_code e = v.get_array().get(arr)) return wrong_type(v, e, "an array");
    const std::size_t level = level_++;
    if (level == levels_.size()) levels_.emplace_back();
    std::vector<std::byte>& buffer = levels_[level];  // a deque element: stays put as levels are added
    std::size_t n = 0;
    for (auto result : arr) {
      od::value element;
      if (error_code e = std::move(result).get(element)) return json_error(e) || in(n);
      if ((n + 1) * sizeof(T) > buffer.size()) buffer.resize(std::max(2 * buffer.size(), 16 * sizeof(T)));
      T* slot = new (buffer.data() + n * sizeof(T)) T{};
      if (!item(element, *slot)) return in(n);
      ++n;
    }
    --level_;
    done(std::launder(reinterpret_cast<const T*>(buffer.data())), n);
    return true;
  }

  // A repeated field: appends the array's elements to out.
  template <class T, class Item>
  bool repeated(od::value& v, model::ArenaVec<T>& out, Item&& item) {
    return elements<T>(v, item, [&](const T* items, std::size_t n) {
      if (n == 0) return;
      if (out.empty()) {
        out.assign(arena_, items, n);
        return;
      }
      out.reserve(arena_, out.size() + n);  // the field was given twice: protobuf appends
      for (std::size_t i = 0; i < n; ++i) out.push_back(arena_, items[i]);
    });
  }

  template <class T>
  const T* copy_array(const T* items, std::size_t n) {
    T* out = arena_.allocate_array<T>(n);
    if (n != 0) std::uninitialized_copy_n(items, n, out);
    return out;
  }

  // Walks a value of an unknown field, checking that it is valid JSON within the depth limit.
  bool skip(od::value& v) {
    od::json_type type;
    if (error_code e = v.type().get(type)) return json_error(e);
    switch (type) {
      case od::json_type::object: {
        od::object obj;
        if (error_code e = v.get_object().get(obj)) return json_error(e);
        if (++depth_ > kMaxDepth) return too_deep();
        for (auto result : obj) {
          od::field field;
          if (error_code e = std::move(result).get(field)) return json_error(e);
          std::string_view key;
          if (error_code e = field.unescaped_key().get(key)) return json_error(e);
          if (!skip(field.value())) return in(utf8_prefix(key, kQuoteBytes));
        }
        --depth_;
        return true;
      }
      case od::json_type::array: {
        od::array arr;
        if (error_code e = v.get_array().get(arr)) return json_error(e);
        if (++depth_ > kMaxDepth) return too_deep();
        std::size_t i = 0;
        for (auto result : arr) {
          od::value element;
          if (error_code e = std::move(result).get(element)) return json_error(e) || in(i);
          if (!skip(element)) return in(i);
          ++i;
        }
        --depth_;
        return true;
      }
      case od::json_type::string: {
        std::string_view s;
        if (error_code e = v.get_string().get(s)) return json_error(e);
        return true;
      }
      case od::json_type::number: {
        double d = 0;
        if (v.get_double().get(d) != simdjson::SUCCESS) return fail(": invalid number " + quote(v));
        return true;
      }
      case od::json_type::boolean: {
        bool b = false;
        if (v.get_bool().get(b) != simdjson::SUCCESS) return fail(": invalid literal " + quote(v));
        return true;
      }
      case od::json_type::null: {
        bool null = false;
        if (v.is_null().get(null) != simdjson::SUCCESS || !null) return fail(": invalid literal " + quote(v));
        return true;
      }
    }
    return fail(": invalid JSON value");
  }

  // --- scalars ---

  // A string's text: a view of the input when it has no escapes (the usual case: no copy
  // beyond the one into the arena), else unescaped by simdjson into the parser's buffer.
  bool text(od::value& v, std::string_view& out, const char* want) {
    std::string_view token = v.raw_json_token();
    if (token.empty() || token[0] != '"') return wrong_type(v, simdjson::INCORRECT_TYPE, want);
    const char* begin = token.data() + 1;
    const auto* quote =
        static_cast<const char*>(std::memchr(begin, '"', static_cast<std::size_t>(input_end_ - begin)));
    if (quote != nullptr && std::memchr(begin, '\\', static_cast<std::size_t>(quote - begin)) == nullptr) {
      od::raw_json_string raw;
      if (error_code e = v.get_raw_json_string().get(raw)) return json_error(e);
      out = std::string_view(begin, static_cast<std::size_t>(quote - begin));
      return true;
    }
    if (error_code e = v.get_string().get(out)) return wrong_type(v, e, want);
    return true;
  }

  bool str(od::value& v, std::string_view& out) {
    std::string_view s;
    if (!text(v, s, "a string")) return false;
    out = arena_.copy(s);
    return true;
  }

  bool bytes(od::value& v, std::string_view& out) {
    std::string_view s;
    if (!text(v, s, "a base64 string")) return false;
    while (!s.empty() && s.back() == '=') s.remove_suffix(1);
    if (s.size() % 4 == 1) return fail(": invalid base64 (length)");
    char* p = static_cast<char*>(arena_.allocate(s.size() * 3 / 4 + 1, 1));
    std::size_t n = 0;
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const int x = base64_value(s[i]);
      if (x < 0) return fail(": invalid base64 character at offset " + std::to_string(i));
      acc = (acc << 6) | static_cast<std::uint32_t>(x);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        p[n++] = static_cast<char>((acc >> bits) & 0xFF);
      }
    }
    out = std::string_view(n == 0 ? nullptr : p, n);
    return true;
  }

  template <std::size_t N>
  bool id_field(od::value& v, std::array<std::uint8_t, N>& out) {
    std::string_view s;
    if (!text(v, s, "a hex string")) return false;
    out = {};
    if (s.empty()) return true;  // absent
    if (s.size() != 2 * N) {
      return fail(": want " + std::to_string(2 * N) + " hex digits, got " + std::to_string(s.size()));
    }
    for (std::size_t i = 0; i < N; ++i) {
      const int hi = hex_value(s[2 * i]);
      const int lo = hex_value(s[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return fail(": not a hex digit at offset " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
      out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return true;
  }

  bool boolean(od::value& v, bool& out) {
    if (error_code e = v.get_bool().get(out)) return wrong_type(v, e, "true or false");
    return true;
  }

  bool u32(od::value& v, std::uint32_t& out) { return integer(v, out); }

  // Integers of any width, from a JSON number or a decimal string. A number written with a
  // fraction or exponent is accepted when its value is a whole number in range (1e3, 5.0).
  template <class T>
  bool integer(od::value& v, T& out) {
    static_assert(std::is_integral_v<T>);
    od::json_type type;
    if (error_code e = v.type().get(type)) return json_error(e);
    if (type == od::json_type::string) {
      std::string_view s;
      if (!text(v, s, "an integer")) return false;
      T x = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
      if (ec != std::errc() || end != s.data() + s.size() || s.empty())
        return integer_error("\"" + std::string(utf8_prefix(s, kQuoteBytes)) + "\"", out);
      out = x;
      return true;
    }
    if (type != od::json_type::number) return wrong_type(v, simdjson::INCORRECT_TYPE, integer_name(out));
    error_code e = simdjson::SUCCESS;
    if constexpr (std::is_signed_v<T>) {
      std::int64_t wide = 0;
      e = v.get_int64().get(wide);
      if (e == simdjson::SUCCESS) {
        if (!std::in_range<T>(wide)) return integer_error(quote(v), out);
        out = static_cast<T>(wide);
        return true;
      }
    } else {
      std::uint64_t wide = 0;
      e = v.get_uint64().get(wide);
      if (e == simdjson::SUCCESS) {
        if (!std::in_range<T>(wide)) return integer_error(quote(v), out);
        out = static_cast<T>(wide);
        return true;
      }
    }
    // Only a literal with a fraction or an exponent gets here legitimately; an integer literal
    // that did not parse is out of range (as a double it would round into range).
    const std::string_view token = v.raw_json_token();
    if (token.find_first_of(".eE") == std::string_view::npos) return integer_error(quote(v), out);
    double d = 0;
    // 2^63 and 2^64 are exact doubles: compare against them, not against the (rounded) maxima.
    constexpr double kLimit = std::is_signed_v<T> ? 9223372036854775808.0 : 18446744073709551616.0;
    if (v.get_double().get(d) == simdjson::SUCCESS && std::trunc(d) == d && d < kLimit &&
        d >= static_cast<double>(std::numeric_limits<T>::min()) &&
        d <= static_cast<double>(std::numeric_limits<T>::max())) {
      out = static_cast<T>(d);
      return true;
    }
    return integer_error(quote(v), out);
  }

  template <class T>
  static const char* integer_name(const T&) {
    if constexpr (std::is_same_v<T, std::uint64_t>) return "an unsigned 64-bit integer";
    if constexpr (std::is_same_v<T, std::int64_t>) return "a 64-bit integer";
    if constexpr (std::is_same_v<T, std::uint32_t>) return "an unsigned 32-bit integer";
    return "a 32-bit integer";
  }

  template <class T>
  bool integer_error(const std::string& got, const T& out) {
    return fail(std::string(": want ") + integer_name(out) + ", got " + got);
  }

  // A double from a JSON number, or a string: "NaN", "Infinity", "-Infinity" or a number.
  bool dbl(od::value& v, double& out) {
    od::json_type type;
    if (error_code e = v.type().get(type)) return json_error(e);
    if (type == od::json_type::number) {
      if (v.get_double().get(out) != simdjson::SUCCESS) return fail(": want a double, got " + quote(v));
      return true;
    }
    if (type != od::json_type::string) return wrong_type(v, simdjson::INCORRECT_TYPE, "a double");
    std::string_view s;
    if (!text(v, s, "a double")) return false;
    if (s == "NaN") {
      out = std::numeric_limits<double>::quiet_NaN();
    } else if (s == "Infinity") {
      out = std::numeric_limits<double>::infinity();
    } else if (s == "-Infinity") {
      out = -std::numeric_limits<double>::infinity();
    } else {
      // Only JSON-number text: from_chars alone would also take "inf", "nan" and hex forms.
      const bool numeric = !s.empty() && (s[0] == '-' ? s.size() > 1 && s[1] >= '0' && s[1] <= '9'
                                                      : s[0] >= '0' && s[0] <= '9');
      auto [end, ec] = numeric ? std::from_chars(s.data(), s.data() + s.size(), out)
                               : std::from_chars_result{s.data(), std::errc::invalid_argument};
      if (ec != std::errc() || end != s.data() + s.size()) {
        return fail(": want a double, got \"" + std::string(utf8_prefix(s, kQuoteBytes)) + "\"");
      }
    }
    return true;
  }

  bool optional_dbl(od::value& v, std::optional<double>& out) {
    double d = 0;
    if (!dbl(v, d)) return false;
    out = d;
    return true;
  }

  // An enum: its number (any int32: proto3 enums are open), or its name.
  template <std::size_t N, class E>
  bool enumeration(od::value& v, const std::array<std::string_view, N>& names, E& out) {
    od::json_type type;
    if (error_code e = v.type().get(type)) return json_error(e);
    std::int32_t x = 0;
    if (type == od::json_type::string) {
      std::string_view s;
      if (!text(v, s, "an enum name or number")) return false;
      std::size_t i = 0;
      while (i < N && names[i] != s) ++i;
      if (i == N) return fail(": unknown enum value \"" + std::string(utf8_prefix(s, kQuoteBytes)) + "\"");
      x = static_cast<std::int32_t>(i);
    } else if (!integer(v, x)) {
      return false;
    }
    out = static_cast<E>(x);
    return true;
  }

  // --- errors ---

  // Prefixes a path element to the error raised below; returns false for chaining.
  bool in(std::string_view name) {
    if (!error_.empty() && error_[0] != ':' && error_[0] != '[') error_.insert(0, 1, '.');
    error_.insert(0, name);
    return false;
  }
  bool in(std::size_t index) {
    if (!error_.empty() && error_[0] != ':' && error_[0] != '[') error_.insert(0, 1, '.');
    error_.insert(0, "[" + std::to_string(index) + "]");
    return false;
  }

  bool fail(std::string message) {
    error_ = std::move(message);
    message_bytes_ = error_.size();
    return false;
  }

  // The final form of an error: "request" names the top level, and an overlong path keeps its
  // start and its end (which names the failing field).
  void finish_error() {
    if (error_.empty()) return;
    if (error_[0] == ':') error_.insert(0, "request");
    const std::size_t path = error_.size() - std::min(message_bytes_, error_.size());
    if (path <= kPathBytes) return;
    std::string_view head = utf8_prefix(std::string_view(error_).substr(0, path), kPathBytes / 2);
    std::size_t tail = path - kPathBytes / 2;
    while (tail < path && (static_cast<unsigned char>(error_[tail]) & 0xC0) == 0x80) ++tail;
    error_ = std::string(head) + "..." + error_.substr(tail);
  }

  bool too_deep() { return fail(": nesting deeper than " + std::to_string(kMaxDepth) + " levels"); }

  bool json_error(error_code e) {
    std::string where;
    const char* at = nullptr;
    if (doc_ != nullptr && doc_->current_location().get(at) == simdjson::SUCCESS && at >= input_ &&
        at < input_end_) {
      where = " at offset " + std::to_string(at - input_);
    }
    switch (e) {
      case simdjson::STRING_ERROR:
        return fail(": invalid string" + where + " (bad escape or unpaired UTF-16 surrogate)");
      case simdjson::UTF8_ERROR:
        return fail(": invalid UTF-8");
      default:
        return fail(": invalid JSON" + where + ": " + simdjson::error_message(e));
    }
  }

  // INCORRECT_TYPE: the value is valid JSON of another type; anything else is broken JSON.
  bool wrong_type(od::value& v, error_code e, const char* want) {
    od::json_type type;
    if (e == simdjson::INCORRECT_TYPE) e = v.type().get(type);  // past the end: not a type error
    if (e != simdjson::SUCCESS) return json_error(e);
    return fail(std::string(": want ") + want + ", got " + quote(v));
  }

  // The value for an error message: its type for containers, its text (shortened) otherwise.
  std::string quote(od::value& v) {
    od::json_type type;
    if (v.type().get(type) != simdjson::SUCCESS) return "invalid JSON";
    if (type == od::json_type::object) return "an object";
    if (type == od::json_type::array) return "an array";
    return shortened(v.raw_json_token());
  }

  // The key of a field; like text(), without a copy unless it has escapes.
  bool key_of(od::field& field, std::string_view& key) {
    const char* begin = field.key().raw();
    const auto* quote =
        static_cast<const char*>(std::memchr(begin, '"', static_cast<std::size_t>(input_end_ - begin)));
    if (quote != nullptr && std::memchr(begin, '\\', static_cast<std::size_t>(quote - begin)) == nullptr) {
      key = std::string_view(begin, static_cast<std::size_t>(quote - begin));
      return true;
    }
    if (error_code e = field.unescaped_key().get(key)) return json_error(e);
    return true;
  }

 private:
  model::Arena& arena_;
  std::string& error_;
  const char* input_;
  const char* input_end_;
  std::deque<std::vector<std::byte>>& levels_;
  std::size_t level_ = 0;
  std::size_t message_bytes_ = 0;  // of error_, after the path
  od::document* doc_ = nullptr;
  int depth_ = -1;  // the request object itself is not nested: it is level 0
};

// A parser and a padded copy of the input (simdjson reads up to SIMDJSON_PADDING bytes past the
// end).
struct Scratch {
  od::parser parser;
  std::unique_ptr<char[]> buffer;
  std::size_t capacity = 0;
  std::deque<std::vector<std::byte>> levels;  // Decoder::elements(), one per array nesting level

  // Keeps at most kRetainedBytes of element buffers between requests: a request may grow them
  // far beyond (2-byte "{}" elements become 200-byte spans). The parser and the input buffer
  // are bounded by kRetainedBytes already.
  void trim() {
    std::size_t kept = 0;
    for (auto& level : levels) {
      if (kept + level.capacity() > kRetainedBytes) std::vector<std::byte>().swap(level);
      kept += level.capacity();
    }
  }

  simdjson::padded_string_view load(std::string_view json) {
    const std::size_t need = json.size() + simdjson::SIMDJSON_PADDING;
    if (capacity < need) {
      capacity = std::max(need, std::min(capacity * 2, kRetainedBytes + simdjson::SIMDJSON_PADDING));
      buffer.reset(new char[capacity]);
    }
    std::memcpy(buffer.get(), json.data(), json.size());
    std::memset(buffer.get() + json.size(), 0, simdjson::SIMDJSON_PADDING);
    return simdjson::padded_string_view(buffer.get(), json.size(), capacity);
  }
};

bool blank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

bool run(Decoder& decoder, model::Signal signal, simdjson::padded_string_view input, model::Batch& out,
         od::parser& parser) {
  const char* begin = input.data();
  od::document doc;
  if (error_code e = parser.iterate(input).get(doc)) return decoder.json_error(e);
  decoder.set_document(&doc);
  od::value root;
  if (error_code e = doc.get_value().get(root)) {
    std::string_view token;
    if (e == simdjson::SCALAR_DOCUMENT_AS_VALUE && doc.raw_json_token().get(token) == simdjson::SUCCESS) {
      return decoder.fail(": want an object, got " + shortened(token));
    }
    return decoder.json_error(e);
  }
  bool ok = false;
  switch (signal) {
    case model::Signal::kTraces:
      ok = decoder.request(
          root, kTraceRequest, out.resource_spans(), [&](od::value& v, model::ResourceSpans& r) {
            return decoder.resource_entry<&model::ResourceSpans::scope_spans, &model::ScopeSpans::spans>(
                v, r, kResourceSpans, kScopeSpans,
                [&](od::value& e, model::Span& s) { return decoder.span(e, s); });
          });
      break;
    case model::Signal::kMetrics:
      ok = decoder.request(
          root, kMetricsRequest, out.resource_metrics(), [&](od::value& v, model::ResourceMetrics& r) {
            return decoder
                .resource_entry<&model::ResourceMetrics::scope_metrics, &model::ScopeMetrics::metrics>(
                    v, r, kResourceMetrics, kScopeMetrics,
                    [&](od::value& e, model::Metric& m) { return decoder.metric(e, m); });
          });
      break;
    case model::Signal::kLogs:
      ok =
          decoder.request(root, kLogsRequest, out.resource_logs(), [&](od::value& v, model::ResourceLogs& r) {
            return decoder.resource_entry<&model::ResourceLogs::scope_logs, &model::ScopeLogs::log_records>(
                v, r, kResourceLogs, kScopeLogs,
                [&](od::value& e, model::LogRecord& l) { return decoder.log_record(e, l); });
          });
      break;
  }
  if (!ok) return false;
  // On-Demand stops at the end of the root object; anything after it is an error.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) {
    return decoder.fail(": unexpected content after the JSON object at offset " +
                        std::to_string(rest - begin));
  }
  return true;
}

bool decode(model::Signal signal, std::string_view json, model::Batch& out, std::string& error,
            Scratch& scratch) {
  simdjson::padded_string_view input = scratch.load(json);
  Decoder decoder(out.arena(), error, input.data(), input.data() + json.size(), scratch.levels);
  if (run(decoder, signal, input, out, scratch.parser)) return true;
  decoder.finish_error();
  return false;
}

}  // namespace

bool decode_json_export_request(model::Signal signal, std::string_view json, model::Batch& out,
                                std::string& error) {
  if (out.signal() != signal) {
    error = "batch signal does not match the request's signal";
    return false;
  }
  if (blank(json)) return true;
  if (json.size() > simdjson::SIMDJSON_MAXSIZE_BYTES - simdjson::SIMDJSON_PADDING) {
    error = "request of " + std::to_string(json.size()) + " bytes exceeds the JSON parser's limit of 4 GiB";
    return false;
  }
  error.clear();
  bool ok = false;
  if (json.size() <= kRetainedBytes) {
    thread_local Scratch scratch;
    ok = decode(signal, json, out, error, scratch);
    scratch.trim();
  } else {
    auto scratch = std::make_unique<Scratch>();
    ok = decode(signal, json, out, error, *scratch);
  }
  return ok;
}

}  // namespace vigil::otlp
