#include "tests/support/otlp_proto_reference.hpp"

#include <string>

namespace vigil::otlp::testing {
namespace {

void any_to_proto(const model::AnyValue& v, pbc::AnyValue& out);

void kv_to_proto(const model::KeyValue& kv, pbc::KeyValue& out) {
  out.set_key(std::string(kv.key));
  any_to_proto(kv.value, *out.mutable_value());
}

void any_to_proto(const model::AnyValue& v, pbc::AnyValue& out) {
  switch (v.type()) {
    case model::ValueType::kEmpty: break;
    case model::ValueType::kString: out.set_string_value(std::string(v.string_value())); break;
    case model::ValueType::kBool: out.set_bool_value(v.bool_value()); break;
    case model::ValueType::kInt: out.set_int_value(v.int_value()); break;
    case model::ValueType::kDouble: out.set_double_value(v.double_value()); break;
    case model::ValueType::kBytes: out.set_bytes_value(std::string(v.string_value())); break;
    case model::ValueType::kArray: {
      auto* array = out.mutable_array_value();
      for (std::uint32_t i = 0; i < v.size(); ++i) any_to_proto(v.array_begin()[i], *array->add_values());
      break;
    }
    case model::ValueType::kKvList: {
      auto* list = out.mutable_kvlist_value();
      for (std::uint32_t i = 0; i < v.size(); ++i) kv_to_proto(v.kvlist_begin()[i], *list->add_values());
      break;
    }
  }
}

template <class Field>
void attrs_to_proto(const model::Attributes& attrs, Field* out) {
  for (const model::KeyValue& kv : attrs) kv_to_proto(kv, *out->Add());
}

template <std::size_t N>
std::string id_bytes(const std::array<std::uint8_t, N>& id) {
  if (model::is_zero(id)) return {};
  return std::string(reinterpret_cast<const char*>(id.data()), N);
}

void resource_to_proto(const model::Resource& r, pbr::Resource& out) {
  attrs_to_proto(r.attributes, out.mutable_attributes());
  out.set_dropped_attributes_count(r.dropped_attributes_count);
}

void scope_to_proto(const model::InstrumentationScope& s, pbc::InstrumentationScope& out) {
  out.set_name(std::string(s.name));
  out.set_version(std::string(s.version));
  attrs_to_proto(s.attributes, out.mutable_attributes());
  out.set_dropped_attributes_count(s.dropped_attributes_count);
}

template <class Field>
void exemplars_to_proto(const model::ArenaVec<model::Exemplar>& in, Field* out) {
  for (const model::Exemplar& e : in) {
    pbm::Exemplar* pe = out->Add();
    attrs_to_proto(e.filtered_attributes, pe->mutable_filtered_attributes());
    pe->set_time_unix_nano(e.time_unix_nano);
    if (e.is_int) pe->set_as_int(e.as_int); else pe->set_as_double(e.as_double);
    pe->set_span_id(id_bytes(e.span_id));
    pe->set_trace_id(id_bytes(e.trace_id));
  }
}

template <class Field>
void number_points_to_proto(const model::ArenaVec<model::NumberDataPoint>& in, Field* out) {
  for (const model::NumberDataPoint& p : in) {
    pbm::NumberDataPoint* pp = out->Add();
    attrs_to_proto(p.attributes, pp->mutable_attributes());
    pp->set_start_time_unix_nano(p.start_time_unix_nano);
    pp->set_time_unix_nano(p.time_unix_nano);
    if (p.is_int) pp->set_as_int(p.as_int); else pp->set_as_double(p.as_double);
    exemplars_to_proto(p.exemplars, pp->mutable_exemplars());
    pp->set_flags(p.flags);
  }
}

void buckets_to_proto(const model::ExponentialBuckets& b,
                      pbm::ExponentialHistogramDataPoint& p, bool positive) {
  if (b.offset == 0 && b.bucket_counts.empty()) return;
  auto* pb = positive ? p.mutable_positive() : p.mutable_negative();
  pb->set_offset(b.offset);
  for (std::uint64_t c : b.bucket_counts) pb->add_bucket_counts(c);
}

void metric_to_proto(const model::Metric& m, pbm::Metric& out) {
  out.set_name(std::string(m.name));
  out.set_description(std::string(m.description));
  out.set_unit(std::string(m.unit));
  attrs_to_proto(m.metadata, out.mutable_metadata());
  const auto temporality = static_cast<pbm::AggregationTemporality>(m.aggregation_temporality);
  switch (m.type) {
    case model::MetricType::kEmpty: break;
    case model::MetricType::kGauge:
      number_points_to_proto(m.number_points, out.mutable_gauge()->mutable_data_points());
      break;
    case model::MetricType::kSum:
      number_points_to_proto(m.number_points, out.mutable_sum()->mutable_data_points());
      out.mutable_sum()->set_aggregation_temporality(temporality);
      out.mutable_sum()->set_is_monotonic(m.is_monotonic);
      break;
    case model::MetricType::kHistogram: {
      auto* h = out.mutable_histogram();
      h->set_aggregation_temporality(temporality);
      for (const model::HistogramDataPoint& p : m.histogram_points) {
        pbm::HistogramDataPoint* pp = h->add_data_points();
        attrs_to_proto(p.attributes, pp->mutable_attributes());
        pp->set_start_time_unix_nano(p.start_time_unix_nano);
        pp->set_time_unix_nano(p.time_unix_nano);
        pp->set_count(p.count);
        if (p.sum) pp->set_sum(*p.sum);
        for (std::uint64_t c : p.bucket_counts) pp->add_bucket_counts(c);
        for (double b : p.explicit_bounds) pp->add_explicit_bounds(b);
        exemplars_to_proto(p.exemplars, pp->mutable_exemplars());
        pp->set_flags(p.flags);
        if (p.min) pp->set_min(*p.min);
        if (p.max) pp->set_max(*p.max);
      }
      break;
    }
    case model::MetricType::kExponentialHistogram: {
      auto* h = out.mutable_exponential_histogram();
      h->set_aggregation_temporality(temporality);
      for (const model::ExponentialHistogramDataPoint& p : m.exponential_histogram_points) {
        pbm::ExponentialHistogramDataPoint* pp = h->add_data_points();
        attrs_to_proto(p.attributes, pp->mutable_attributes());
        pp->set_start_time_unix_nano(p.start_time_unix_nano);
        pp->set_time_unix_nano(p.time_unix_nano);
        pp->set_count(p.count);
        if (p.sum) pp->set_sum(*p.sum);
        pp->set_scale(p.scale);
        pp->set_zero_count(p.zero_count);
        buckets_to_proto(p.positive, *pp, true);
        buckets_to_proto(p.negative, *pp, false);
        pp->set_flags(p.flags);
        exemplars_to_proto(p.exemplars, pp->mutable_exemplars());
        if (p.min) pp->set_min(*p.min);
        if (p.max) pp->set_max(*p.max);
        pp->set_zero_threshold(p.zero_threshold);
      }
      break;
    }
    case model::MetricType::kSummary: {
      auto* s = out.mutable_summary();
      for (const model::SummaryDataPoint& p : m.summary_points) {
        pbm::SummaryDataPoint* pp = s->add_data_points();
        attrs_to_proto(p.attributes, pp->mutable_attributes());
        pp->set_start_time_unix_nano(p.start_time_unix_nano);
        pp->set_time_unix_nano(p.time_unix_nano);
        pp->set_count(p.count);
        pp->set_sum(p.sum);
        for (const model::ValueAtQuantile& q : p.quantile_values) {
          auto* pq = pp->add_quantile_values();
          pq->set_quantile(q.quantile);
          pq->set_value(q.value);
        }
        pp->set_flags(p.flags);
      }
      break;
    }
  }
}

}  // namespace

void to_proto(const model::Batch& batch, LogsRequest& out) {
  for (const model::ResourceLogs& rl : batch.resource_logs()) {
    pbl::ResourceLogs* prl = out.add_resource_logs();
    resource_to_proto(rl.resource, *prl->mutable_resource());
    prl->set_schema_url(std::string(rl.schema_url));
    for (const model::ScopeLogs& sl : rl.scope_logs) {
      pbl::ScopeLogs* psl = prl->add_scope_logs();
      scope_to_proto(sl.scope, *psl->mutable_scope());
      psl->set_schema_url(std::string(sl.schema_url));
      for (const model::LogRecord& r : sl.log_records) {
        pbl::LogRecord* pr = psl->add_log_records();
        pr->set_time_unix_nano(r.time_unix_nano);
        pr->set_observed_time_unix_nano(r.observed_time_unix_nano);
        pr->set_severity_number(static_cast<pbl::SeverityNumber>(r.severity_number));
        pr->set_severity_text(std::string(r.severity_text));
        if (!r.body.empty()) any_to_proto(r.body, *pr->mutable_body());
        attrs_to_proto(r.attributes, pr->mutable_attributes());
        pr->set_dropped_attributes_count(r.dropped_attributes_count);
        pr->set_flags(r.flags);
        pr->set_trace_id(id_bytes(r.trace_id));
        pr->set_span_id(id_bytes(r.span_id));
        pr->set_event_name(std::string(r.event_name));
      }
    }
  }
}

void to_proto(const model::Batch& batch, TraceRequest& out) {
  for (const model::ResourceSpans& rs : batch.resource_spans()) {
    pbt::ResourceSpans* prs = out.add_resource_spans();
    resource_to_proto(rs.resource, *prs->mutable_resource());
    prs->set_schema_url(std::string(rs.schema_url));
    for (const model::ScopeSpans& ss : rs.scope_spans) {
      pbt::ScopeSpans* pss = prs->add_scope_spans();
      scope_to_proto(ss.scope, *pss->mutable_scope());
      pss->set_schema_url(std::string(ss.schema_url));
      for (const model::Span& s : ss.spans) {
        pbt::Span* ps = pss->add_spans();
        ps->set_trace_id(id_bytes(s.trace_id));
        ps->set_span_id(id_bytes(s.span_id));
        ps->set_trace_state(std::string(s.trace_state));
        ps->set_parent_span_id(id_bytes(s.parent_span_id));
        ps->set_flags(s.flags);
        ps->set_name(std::string(s.name));
        ps->set_kind(static_cast<pbt::Span::SpanKind>(s.kind));
        ps->set_start_time_unix_nano(s.start_time_unix_nano);
        ps->set_end_time_unix_nano(s.end_time_unix_nano);
        attrs_to_proto(s.attributes, ps->mutable_attributes());
        ps->set_dropped_attributes_count(s.dropped_attributes_count);
        for (const model::SpanEvent& e : s.events) {
          pbt::Span::Event* pe = ps->add_events();
          pe->set_time_unix_nano(e.time_unix_nano);
          pe->set_name(std::string(e.name));
          attrs_to_proto(e.attributes, pe->mutable_attributes());
          pe->set_dropped_attributes_count(e.dropped_attributes_count);
        }
        ps->set_dropped_events_count(s.dropped_events_count);
        for (const model::SpanLink& l : s.links) {
          pbt::Span::Link* pl = ps->add_links();
          pl->set_trace_id(id_bytes(l.trace_id));
          pl->set_span_id(id_bytes(l.span_id));
          pl->set_trace_state(std::string(l.trace_state));
          attrs_to_proto(l.attributes, pl->mutable_attributes());
          pl->set_dropped_attributes_count(l.dropped_attributes_count);
          pl->set_flags(l.flags);
        }
        ps->set_dropped_links_count(s.dropped_links_count);
        if (!s.status.message.empty() || s.status.code != model::StatusCode::kUnset) {
          ps->mutable_status()->set_message(std::string(s.status.message));
          ps->mutable_status()->set_code(static_cast<pbt::Status::StatusCode>(s.status.code));
        }
      }
    }
  }
}

void to_proto(const model::Batch& batch, MetricsRequest& out) {
  for (const model::ResourceMetrics& rm : batch.resource_metrics()) {
    pbm::ResourceMetrics* prm = out.add_resource_metrics();
    resource_to_proto(rm.resource, *prm->mutable_resource());
    prm->set_schema_url(std::string(rm.schema_url));
    for (const model::ScopeMetrics& sm : rm.scope_metrics) {
      pbm::ScopeMetrics* psm = prm->add_scope_metrics();
      scope_to_proto(sm.scope, *psm->mutable_scope());
      psm->set_schema_url(std::string(sm.schema_url));
      for (const model::Metric& m : sm.metrics) metric_to_proto(m, *psm->add_metrics());
    }
  }
}

}  // namespace vigil::otlp::testing
