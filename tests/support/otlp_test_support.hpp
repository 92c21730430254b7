#pragma once
// Fixtures and field-by-field comparisons for the OTLP codec tests.

#include <initializer_list>
#include <string_view>

#include "agent/model/batch.hpp"
#include "tests/support/otlp_proto_reference.hpp"

namespace vigil::otlp::testing {

// Builds model values in a batch's arena.
class Build {
 public:
  explicit Build(model::Batch& batch) : arena_(batch.arena()) {}
  model::Arena& arena() { return arena_; }
  std::string_view s(std::string_view v) { return arena_.copy(v); }
  model::AnyValue str(std::string_view v) { return model::AnyValue::string(s(v)); }
  model::AnyValue bytes(std::string_view v) { return model::AnyValue::bytes(s(v)); }
  model::AnyValue array(std::initializer_list<model::AnyValue> items);
  model::AnyValue kvlist(std::initializer_list<model::KeyValue> items);
  model::KeyValue kv(std::string_view key, model::AnyValue v) { return {s(key), v}; }
  model::Attributes attrs(std::initializer_list<model::KeyValue> items);
  template <class T>
  model::ArenaVec<T> vec(std::initializer_list<T> items) {
    model::ArenaVec<T> v;
    v.assign(arena_, items.begin(), items.size());
    return v;
  }

 private:
  model::Arena& arena_;
};

// One attribute of every AnyValue type and edge value: empty strings, INT64_MIN/MAX, NaN, +-Inf,
// -0.0, bytes with NUL and 0xFF, empty value, empty and nested arrays and maps, empty key.
model::Attributes every_value_attributes(Build& b);

model::TraceId test_trace_id(std::uint8_t seed);
model::SpanId test_span_id(std::uint8_t seed);

// Batches that set every field of the model for their signal, several times over with edge values.
model::Batch full_logs_batch();
model::Batch full_traces_batch();
model::Batch full_metrics_batch();

// Field-by-field comparisons (doctest CHECKs) between the model and parsed libprotobuf messages.
void compare(const model::AnyValue& m, const pbc::AnyValue& p);
void compare(const model::Batch& m, const LogsRequest& p);
void compare(const model::Batch& m, const TraceRequest& p);
void compare(const model::Batch& m, const MetricsRequest& p);

}  // namespace vigil::otlp::testing
