#pragma once
// OTLP metrics: mirrors opentelemetry/proto/metrics/v1/metrics.proto. Views into a batch's Arena.

#include "agent/model/common.hpp"

namespace vigil::model {

enum class AggregationTemporality : std::int32_t { kUnspecified = 0, kDelta = 1, kCumulative = 2 };

enum class MetricType : std::uint8_t { kEmpty, kGauge, kSum, kHistogram, kExponentialHistogram, kSummary };

struct Exemplar {
  Attributes filtered_attributes;
  std::uint64_t time_unix_nano = 0;
  bool is_int = false;  // which of as_int / as_double is set
  double as_double = 0;
  std::int64_t as_int = 0;
  SpanId span_id{};
  TraceId trace_id{};
};

struct NumberDataPoint {
  Attributes attributes;
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  bool is_int = false;  // which of as_int / as_double is set
  double as_double = 0;
  std::int64_t as_int = 0;
  ArenaVec<Exemplar> exemplars;
  std::uint32_t flags = 0;
};

struct HistogramDataPoint {
  Attributes attributes;
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  std::uint64_t count = 0;
  std::optional<double> sum;
  ArenaVec<std::uint64_t> bucket_counts;
  ArenaVec<double> explicit_bounds;
  ArenaVec<Exemplar> exemplars;
  std::uint32_t flags = 0;
  std::optional<double> min;
  std::optional<double> max;
};

struct ExponentialBuckets {
  std::int32_t offset = 0;
  ArenaVec<std::uint64_t> bucket_counts;
};

struct ExponentialHistogramDataPoint {
  Attributes attributes;
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  std::uint64_t count = 0;
  std::optional<double> sum;
  std::int32_t scale = 0;
  std::uint64_t zero_count = 0;
  ExponentialBuckets positive;
  ExponentialBuckets negative;
  std::uint32_t flags = 0;
  ArenaVec<Exemplar> exemplars;
  std::optional<double> min;
  std::optional<double> max;
  double zero_threshold = 0;
};

struct ValueAtQuantile {
  double quantile = 0;
  double value = 0;
};

struct SummaryDataPoint {
  Attributes attributes;
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t time_unix_nano = 0;
  std::uint64_t count = 0;
  double sum = 0;
  ArenaVec<ValueAtQuantile> quantile_values;
  std::uint32_t flags = 0;
};

struct Metric {
  std::string_view name;
  std::string_view description;
  std::string_view unit;
  MetricType type = MetricType::kEmpty;
  // kSum, kHistogram, kExponentialHistogram.
  AggregationTemporality aggregation_temporality = AggregationTemporality::kUnspecified;
  bool is_monotonic = false;  // kSum
  // Exactly one of these is used, per type: kGauge and kSum use number_points.
  ArenaVec<NumberDataPoint> number_points;
  ArenaVec<HistogramDataPoint> histogram_points;
  ArenaVec<ExponentialHistogramDataPoint> exponential_histogram_points;
  ArenaVec<SummaryDataPoint> summary_points;
  Attributes metadata;

  std::size_t point_count() const {
    switch (type) {
      case MetricType::kGauge:
      case MetricType::kSum: return number_points.size();
      case MetricType::kHistogram: return histogram_points.size();
      case MetricType::kExponentialHistogram: return exponential_histogram_points.size();
      case MetricType::kSummary: return summary_points.size();
      case MetricType::kEmpty: return 0;
    }
    return 0;
  }
};

struct ScopeMetrics {
  InstrumentationScope scope;
  ArenaVec<Metric> metrics;
  std::string_view schema_url;
};

struct ResourceMetrics {
  Resource resource;
  ArenaVec<ScopeMetrics> scope_metrics;
  std::string_view schema_url;
};

}  // namespace vigil::model
