#include "agent/otlp/proto_decoder.hpp"

#include <google/protobuf/arena.h>
#include <google/protobuf/stubs/logging.h>

#include <climits>
#include <memory>
#include <cstring>
#include <new>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace vigil::otlp {
namespace {

namespace pbc = opentelemetry::proto::common::v1;
namespace pbr = opentelemetry::proto::resource::v1;
namespace pbl = opentelemetry::proto::logs::v1;
namespace pbt = opentelemetry::proto::trace::v1;
namespace pbm = opentelemetry::proto::metrics::v1;
namespace pbcol_logs = opentelemetry::proto::collector::logs::v1;
namespace pbcol_trace = opentelemetry::proto::collector::trace::v1;
namespace pbcol_metrics = opentelemetry::proto::collector::metrics::v1;

template <class T>
using Repeated = google::protobuf::RepeatedPtrField<T>;

// Converts parsed messages into the model, allocating only in the batch's arena. Converters
// return false on invalid content, with the reason in error_; each enclosing level prefixes its
// own path element on the way out, so the message names the exact place
// ("resource_spans[0].scope_spans[2].spans[7].trace_id: ...") without building paths on the
// success path.
class Converter {
 public:
  Converter(model::Arena& arena, std::string& error) : arena_(arena), error_(error) {}

  // --- common ---

  std::string_view str(const std::string& s) { return arena_.copy(s); }

  // Nesting is bounded by libprotobuf's parse recursion limit, so this recursion is too.
  model::AnyValue any(const pbc::AnyValue& v) {
    switch (v.value_case()) {
      case pbc::AnyValue::kStringValue: return model::AnyValue::string(str(v.string_value()));
      case pbc::AnyValue::kBoolValue: return model::AnyValue::boolean(v.bool_value());
      case pbc::AnyValue::kIntValue: return model::AnyValue::integer(v.int_value());
      case pbc::AnyValue::kDoubleValue: return model::AnyValue::floating(v.double_value());
      case pbc::AnyValue::kBytesValue: return model::AnyValue::bytes(str(v.bytes_value()));
      case pbc::AnyValue::kArrayValue: {
        const auto& values = v.array_value().values();
        const auto n = static_cast<std::uint32_t>(values.size());
        model::AnyValue* items = arena_.allocate_array<model::AnyValue>(n);
        for (std::uint32_t i = 0; i < n; ++i) new (&items[i]) model::AnyValue(any(values[static_cast<int>(i)]));
        return model::AnyValue::array(items, n);
      }
      case pbc::AnyValue::kKvlistValue: {
        const auto& values = v.kvlist_value().values();
        const auto n = static_cast<std::uint32_t>(values.size());
        model::KeyValue* items = arena_.allocate_array<model::KeyValue>(n);
        for (std::uint32_t i = 0; i < n; ++i) {
          const pbc::KeyValue& kv = values[static_cast<int>(i)];
          new (&items[i]) model::KeyValue{str(kv.key()), any(kv.value())};
        }
        return model::AnyValue::kvlist(items, n);
      }
      case pbc::AnyValue::VALUE_NOT_SET: break;
    }
    return {};
  }

  void attributes(const Repeated<pbc::KeyValue>& in, model::Attributes& out) {
    out.reserve(arena_, static_cast<std::size_t>(in.size()));
    for (const pbc::KeyValue& kv : in) out.push_back(arena_, model::KeyValue{str(kv.key()), any(kv.value())});
  }

  void resource(const pbr::Resource& in, model::Resource& out) {
    attributes(in.attributes(), out.attributes);
    out.dropped_attributes_count = in.dropped_attributes_count();
    // entity_refs (development status) has no place in the model yet and is dropped.
  }

  void scope(const pbc::InstrumentationScope& in, model::InstrumentationScope& out) {
    out.name = str(in.name());
    out.version = str(in.version());
    attributes(in.attributes(), out.attributes);
    out.dropped_attributes_count = in.dropped_attributes_count();
  }

  template <std::size_t N>
  bool id(const std::string& in, std::array<std::uint8_t, N>& out, const char* field) {
    if (in.empty()) return true;  // absent: the model's all-zero id
    if (in.size() != N) {
      error_ = std::string(field) + ": invalid length " + std::to_string(in.size()) + " bytes, want 0 or " +
               std::to_string(N);
      return false;
    }
    std::memcpy(out.data(), in.data(), N);
    return true;
  }

  // Prefixes "name[i]." to the error raised below this level; returns false for chaining.
  bool at(const char* name, int i) {
    error_.insert(0, std::string(name) + "[" + std::to_string(i) + "].");
    return false;
  }

  // --- logs ---

  bool log_record(const pbl::LogRecord& in, model::LogRecord& out) {
    out.time_unix_nano = in.time_unix_nano();
    out.observed_time_unix_nano = in.observed_time_unix_nano();
    out.severity_number = static_cast<std::int32_t>(in.severity_number());
    out.severity_text = str(in.severity_text());
    if (in.has_body()) out.body = any(in.body());
    attributes(in.attributes(), out.attributes);
    out.dropped_attributes_count = in.dropped_attributes_count();
    out.flags = in.flags();
    out.event_name = str(in.event_name());
    return id(in.trace_id(), out.trace_id, "trace_id") && id(in.span_id(), out.span_id, "span_id");
  }

  bool logs(const Repeated<pbl::ResourceLogs>& in, model::ArenaVec<model::ResourceLogs>& out) {
    out.reserve(arena_, out.size() + static_cast<std::size_t>(in.size()));
    for (int ri = 0; ri < in.size(); ++ri) {
      const pbl::ResourceLogs& rl = in[ri];
      model::ResourceLogs& mrl = out.emplace_back(arena_);
      resource(rl.resource(), mrl.resource);
      mrl.schema_url = str(rl.schema_url());
      mrl.scope_logs.reserve(arena_, static_cast<std::size_t>(rl.scope_logs_size()));
      for (int si = 0; si < rl.scope_logs_size(); ++si) {
        const pbl::ScopeLogs& sl = rl.scope_logs(si);
        model::ScopeLogs& msl = mrl.scope_logs.emplace_back(arena_);
        scope(sl.scope(), msl.scope);
        msl.schema_url = str(sl.schema_url());
        msl.log_records.reserve(arena_, static_cast<std::size_t>(sl.log_records_size()));
        for (int i = 0; i < sl.log_records_size(); ++i) {
          if (!log_record(sl.log_records(i), msl.log_records.emplace_back(arena_))) {
            return at("log_records", i) || at("scope_logs", si) || at("resource_logs", ri);
          }
        }
      }
    }
    return true;
  }

  // --- traces ---

  bool span(const pbt::Span& in, model::Span& out) {
    if (!id(in.trace_id(), out.trace_id, "trace_id") || !id(in.span_id(), out.span_id, "span_id") ||
        !id(in.parent_span_id(), out.parent_span_id, "parent_span_id")) {
      return false;
    }
    out.trace_state = str(in.trace_state());
    out.flags = in.flags();
    out.name = str(in.name());
    out.kind = static_cast<model::SpanKind>(in.kind());
    out.start_time_unix_nano = in.start_time_unix_nano();
    out.end_time_unix_nano = in.end_time_unix_nano();
    attributes(in.attributes(), out.attributes);
    out.dropped_attributes_count = in.dropped_attributes_count();
    out.events.reserve(arena_, static_cast<std::size_t>(in.events_size()));
    for (const pbt::Span::Event& e : in.events()) {
      model::SpanEvent& me = out.events.emplace_back(arena_);
      me.time_unix_nano = e.time_unix_nano();
      me.name = str(e.name());
      attributes(e.attributes(), me.attributes);
      me.dropped_attributes_count = e.dropped_attributes_count();
    }
    out.dropped_events_count = in.dropped_events_count();
    out.links.reserve(arena_, static_cast<std::size_t>(in.links_size()));
    for (int i = 0; i < in.links_size(); ++i) {
      const pbt::Span::Link& l = in.links(i);
      model::SpanLink& ml = out.links.emplace_back(arena_);
      if (!id(l.trace_id(), ml.trace_id, "trace_id") || !id(l.span_id(), ml.span_id, "span_id")) {
        return at("links", i);
      }
      ml.trace_state = str(l.trace_state());
      attributes(l.attributes(), ml.attributes);
      ml.dropped_attributes_count = l.dropped_attributes_count();
      ml.flags = l.flags();
    }
    out.dropped_links_count = in.dropped_links_count();
    out.status.message = str(in.status().message());
    out.status.code = static_cast<model::StatusCode>(in.status().code());
    return true;
  }

  bool traces(const Repeated<pbt::ResourceSpans>& in, model::ArenaVec<model::ResourceSpans>& out) {
    out.reserve(arena_, out.size() + static_cast<std::size_t>(in.size()));
    for (int ri = 0; ri < in.size(); ++ri) {
      const pbt::ResourceSpans& rs = in[ri];
      model::ResourceSpans& mrs = out.emplace_back(arena_);
      resource(rs.resource(), mrs.resource);
      mrs.schema_url = str(rs.schema_url());
      mrs.scope_spans.reserve(arena_, static_cast<std::size_t>(rs.scope_spans_size()));
      for (int si = 0; si < rs.scope_spans_size(); ++si) {
        const pbt::ScopeSpans& ss = rs.scope_spans(si);
        model::ScopeSpans& mss = mrs.scope_spans.emplace_back(arena_);
        scope(ss.scope(), mss.scope);
        mss.schema_url = str(ss.schema_url());
        mss.spans.reserve(arena_, static_cast<std::size_t>(ss.spans_size()));
        for (int i = 0; i < ss.spans_size(); ++i) {
          if (!span(ss.spans(i), mss.spans.emplace_back(arena_))) {
            return at("spans", i) || at("scope_spans", si) || at("resource_spans", ri);
          }
        }
      }
    }
    return true;
  }

  // --- metrics ---

  bool exemplars(const Repeated<pbm::Exemplar>& in, model::ArenaVec<model::Exemplar>& out) {
    out.reserve(arena_, static_cast<std::size_t>(in.size()));
    for (int i = 0; i < in.size(); ++i) {
      const pbm::Exemplar& e = in[i];
      model::Exemplar& me = out.emplace_back(arena_);
      attributes(e.filtered_attributes(), me.filtered_attributes);
      me.time_unix_nano = e.time_unix_nano();
      me.is_int = e.value_case() == pbm::Exemplar::kAsInt;
      me.as_int = e.as_int();
      me.as_double = e.as_double();
      if (!id(e.span_id(), me.span_id, "span_id") || !id(e.trace_id(), me.trace_id, "trace_id")) {
        return at("exemplars", i);
      }
    }
    return true;
  }

  template <class Points>
  bool number_points(const Points& in, model::ArenaVec<model::NumberDataPoint>& out) {
    out.reserve(arena_, static_cast<std::size_t>(in.size()));
    for (int i = 0; i < in.size(); ++i) {
      const pbm::NumberDataPoint& p = in[i];
      model::NumberDataPoint& mp = out.emplace_back(arena_);
      attributes(p.attributes(), mp.attributes);
      mp.start_time_unix_nano = p.start_time_unix_nano();
      mp.time_unix_nano = p.time_unix_nano();
      mp.is_int = p.value_case() == pbm::NumberDataPoint::kAsInt;
      mp.as_int = p.as_int();
      mp.as_double = p.as_double();
      mp.flags = p.flags();
      if (!exemplars(p.exemplars(), mp.exemplars)) return at("data_points", i);
    }
    return true;
  }

  bool histogram_points(const Repeated<pbm::HistogramDataPoint>& in,
                        model::ArenaVec<model::HistogramDataPoint>& out) {
    out.reserve(arena_, static_cast<std::size_t>(in.size()));
    for (int i = 0; i < in.size(); ++i) {
      const pbm::HistogramDataPoint& p = in[i];
      model::HistogramDataPoint& mp = out.emplace_back(arena_);
      attributes(p.attributes(), mp.attributes);
      mp.start_time_unix_nano = p.start_time_unix_nano();
      mp.time_unix_nano = p.time_unix_nano();
      mp.count = p.count();
      if (p.has_sum()) mp.sum = p.sum();
      mp.bucket_counts.assign(arena_, p.bucket_counts().data(), static_cast<std::size_t>(p.bucket_counts_size()));
      mp.explicit_bounds.assign(arena_, p.explicit_bounds().data(),
                                static_cast<std::size_t>(p.explicit_bounds_size()));
      mp.flags = p.flags();
      if (p.has_min()) mp.min = p.min();
      if (p.has_max()) mp.max = p.max();
      if (!exemplars(p.exemplars(), mp.exemplars)) return at("data_points", i);
    }
    return true;
  }

  void buckets(const pbm::ExponentialHistogramDataPoint::Buckets& in, model::ExponentialBuckets& out) {
    out.offset = in.offset();
    out.bucket_counts.assign(arena_, in.bucket_counts().data(), static_cast<std::size_t>(in.bucket_counts_size()));
  }

  bool exponential_points(const Repeated<pbm::ExponentialHistogramDataPoint>& in,
                          model::ArenaVec<model::ExponentialHistogramDataPoint>& out) {
    out.reserve(arena_, static_cast<std::size_t>(in.size()));
    for (int i = 0; i < in.size(); ++i) {
      const pbm::ExponentialHistogramDataPoint& p = in[i];
      model::ExponentialHistogramDataPoint& mp = out.emplace_back(arena_);
      attributes(p.attributes(), mp.attributes);
      mp.start_time_unix_nano = p.start_time_unix_nano();
      mp.time_unix_nano = p.time_unix_nano();
      mp.count = p.count();
      if (p.has_sum()) mp.sum = p.sum();
      mp.scale = p.scale();
      mp.zero_count = p.zero_count();
      buckets(p.positive(), mp.positive);
      buckets(p.negative(), mp.negative);
      mp.flags = p.flags();
      if (p.has_min()) mp.min = p.min();
      if (p.has_max()) mp.max = p.max();
      mp.zero_threshold = p.zero_threshold();
      if (!exemplars(p.exemplars(), mp.exemplars)) return at("data_points", i);
    }
    return true;
  }

  void summary_points(const Repeated<pbm::SummaryDataPoint>& in, model::ArenaVec<model::SummaryDataPoint>& out) {
    out.reserve(arena_, static_cast<std::size_t>(in.size()));
    for (const pbm::SummaryDataPoint& p : in) {
      model::SummaryDataPoint& mp = out.emplace_back(arena_);
      attributes(p.attributes(), mp.attributes);
      mp.start_time_unix_nano = p.start_time_unix_nano();
      mp.time_unix_nano = p.time_unix_nano();
      mp.count = p.count();
      mp.sum = p.sum();
      mp.quantile_values.reserve(arena_, static_cast<std::size_t>(p.quantile_values_size()));
      for (const auto& q : p.quantile_values()) {
        mp.quantile_values.push_back(arena_, model::ValueAtQuantile{q.quantile(), q.value()});
      }
      mp.flags = p.flags();
    }
  }

  bool metric(const pbm::Metric& in, model::Metric& out) {
    out.name = str(in.name());
    out.description = str(in.description());
    out.unit = str(in.unit());
    attributes(in.metadata(), out.metadata);
    bool ok = true;
    switch (in.data_case()) {
      case pbm::Metric::kGauge:
        out.type = model::MetricType::kGauge;
        ok = number_points(in.gauge().data_points(), out.number_points);
        break;
      case pbm::Metric::kSum:
        out.type = model::MetricType::kSum;
        out.aggregation_temporality = static_cast<model::AggregationTemporality>(in.sum().aggregation_temporality());
        out.is_monotonic = in.sum().is_monotonic();
        ok = number_points(in.sum().data_points(), out.number_points);
        break;
      case pbm::Metric::kHistogram:
        out.type = model::MetricType::kHistogram;
        out.aggregation_temporality =
            static_cast<model::AggregationTemporality>(in.histogram().aggregation_temporality());
        ok = histogram_points(in.histogram().data_points(), out.histogram_points);
        break;
      case pbm::Metric::kExponentialHistogram:
        out.type = model::MetricType::kExponentialHistogram;
        out.aggregation_temporality =
            static_cast<model::AggregationTemporality>(in.exponential_histogram().aggregation_temporality());
        ok = exponential_points(in.exponential_histogram().data_points(), out.exponential_histogram_points);
        break;
      case pbm::Metric::kSummary:
        out.type = model::MetricType::kSummary;
        summary_points(in.summary().data_points(), out.summary_points);
        break;
      case pbm::Metric::DATA_NOT_SET:
        out.type = model::MetricType::kEmpty;
        break;
    }
    return ok;
  }

  bool metrics(const Repeated<pbm::ResourceMetrics>& in, model::ArenaVec<model::ResourceMetrics>& out) {
    out.reserve(arena_, out.size() + static_cast<std::size_t>(in.size()));
    for (int ri = 0; ri < in.size(); ++ri) {
      const pbm::ResourceMetrics& rm = in[ri];
      model::ResourceMetrics& mrm = out.emplace_back(arena_);
      resource(rm.resource(), mrm.resource);
      mrm.schema_url = str(rm.schema_url());
      mrm.scope_metrics.reserve(arena_, static_cast<std::size_t>(rm.scope_metrics_size()));
      for (int si = 0; si < rm.scope_metrics_size(); ++si) {
        const pbm::ScopeMetrics& sm = rm.scope_metrics(si);
        model::ScopeMetrics& msm = mrm.scope_metrics.emplace_back(arena_);
        scope(sm.scope(), msm.scope);
        msm.schema_url = str(sm.schema_url());
        msm.metrics.reserve(arena_, static_cast<std::size_t>(sm.metrics_size()));
        for (int i = 0; i < sm.metrics_size(); ++i) {
          if (!metric(sm.metrics(i), msm.metrics.emplace_back(arena_))) {
            return at("metrics", i) || at("scope_metrics", si) || at("resource_metrics", ri);
          }
        }
      }
    }
    return true;
  }

 private:
  model::Arena& arena_;
  std::string& error_;
};

template <class Request>
Request* parse(google::protobuf::Arena& pb_arena, std::string_view bytes, std::string& error) {
  auto* request = google::protobuf::Arena::CreateMessage<Request>(&pb_arena);
  // libprotobuf logs a line to stderr for every string with invalid UTF-8; hostile clients
  // would turn that into an unbounded log. The failure is reported through `error` instead,
  // which the receiver counts and logs rate-limited. (The silencer is process-wide while alive.)
  google::protobuf::LogSilencer silence_parse_errors;
  // ParseFromArray keeps libprotobuf's default recursion limit (100 nested messages), which
  // bounds AnyValue nesting and therefore the conversion's recursion.
  if (!request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    error = "invalid " + request->GetTypeName() +
            ": malformed or truncated protobuf, invalid UTF-8 in a string field, or nesting deeper than 100";
    return nullptr;
  }
  return request;
}

constexpr std::size_t kScratchBytes = 256 * 1024;

}  // namespace

bool decode_export_request(model::Signal signal, std::string_view bytes, model::Batch& out, std::string& error) {
  if (out.signal() != signal) {
    error = "batch signal does not match the request's signal";
    return false;
  }
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    error = "request of " + std::to_string(bytes.size()) + " bytes exceeds the protobuf limit of 2 GiB";
    return false;
  }
  // The parsed messages live on a protobuf arena for the length of this call. Its first block is
  // a per-thread scratch buffer, so a typical request parses without touching malloc for the
  // message tree; larger requests grow in blocks of up to 1 MiB.
  thread_local std::unique_ptr<char[]> scratch(new char[kScratchBytes]);
  google::protobuf::ArenaOptions options;
  options.initial_block = scratch.get();
  options.initial_block_size = kScratchBytes;
  options.start_block_size = 64 * 1024;
  options.max_block_size = 1024 * 1024;
  google::protobuf::Arena pb_arena(options);
  Converter convert(out.arena(), error);
  switch (signal) {
    case model::Signal::kLogs: {
      auto* request = parse<pbcol_logs::ExportLogsServiceRequest>(pb_arena, bytes, error);
      return request != nullptr && convert.logs(request->resource_logs(), out.resource_logs());
    }
    case model::Signal::kTraces: {
      auto* request = parse<pbcol_trace::ExportTraceServiceRequest>(pb_arena, bytes, error);
      return request != nullptr && convert.traces(request->resource_spans(), out.resource_spans());
    }
    case model::Signal::kMetrics: {
      auto* request = parse<pbcol_metrics::ExportMetricsServiceRequest>(pb_arena, bytes, error);
      return request != nullptr && convert.metrics(request->resource_metrics(), out.resource_metrics());
    }
  }
  error = "unknown signal";
  return false;
}

}  // namespace vigil::otlp
