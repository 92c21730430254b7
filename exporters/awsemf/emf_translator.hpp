#pragma once
// OTLP metrics → CloudWatch Embedded Metric Format documents (see README.md for every rule):
// data points that share (log group, log stream, namespace, timestamp, labels) become one JSON
// document with an `_aws` directive naming the dimension sets and metrics, the dimension values
// and metric values at its root. Cumulative sums and histograms become per-interval deltas; a
// cost guard caps the distinct CloudWatch metric series per hour and folds what exceeds it.
//
// No I/O: the exporter sends or prints the documents. The translation is idempotent for a
// replayed batch (the exporter helper retries a failed send with the same batch): each series
// remembers its last few cumulative points and the delta it produced for each, so a replay
// yields the same documents instead of zero deltas.
//
// Thread-safety: translate() may be called concurrently (the exporter helper's consumers); the
// state it shares (deltas, series guard) is guarded by one mutex. A TranslatorState outlives
// config reloads (component::SharedState), so a reload neither re-baselines every counter nor
// resets the hour's series count.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/model/batch.hpp"

namespace re2 {
class RE2;
}

namespace vigil::exporters::awsemf {

enum class DimensionRollup { kNone, kSingleOnly, kZeroAndSingle };

struct LabelMatcher {
  std::vector<std::string> label_names;
  std::string separator = ";";
  std::string regex;
};

struct MetricDeclaration {
  std::vector<std::vector<std::string>> dimensions;
  std::vector<std::string> metric_name_selectors;
  std::vector<LabelMatcher> label_matchers;
};

struct TranslatorOptions {
  std::string metric_namespace;  // `namespace`; "" → service.namespace/service.name, else "default"
  DimensionRollup rollup = DimensionRollup::kZeroAndSingle;
  std::vector<MetricDeclaration> metric_declarations;
  bool resource_to_telemetry = false;
  bool retain_initial_value_of_delta_metric = false;
  std::string log_group_name = "/metrics/default";
  std::string log_stream_name = "otel-stream";
  std::size_t max_series = 1000;
  // Expands `{resource attribute}` placeholders of log_group_name / log_stream_name.
  std::function<std::string(const std::string& pattern, const model::Attributes& resource)> expand;
  // The wall clock (the series guard's hour, points without a timestamp). Tests replace it.
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
};

// Limits of the EMF specification and of CloudWatch, and Vigil's own bounds.
inline constexpr std::size_t kMaxMetricsPerDirective = 100;
inline constexpr std::size_t kMaxDimensionsPerSet = 30;
inline constexpr std::size_t kMaxDimensionValueChars = 1024;
inline constexpr std::size_t kMaxValuesPerMetric = 100;
inline constexpr std::size_t kMaxNamespaceChars = 255;
// A document stays well under the 256 KiB event size CloudWatch Logs took until 2025 (and the
// stand-in keeps): a split document costs a log line, a truncated one is invalid JSON.
inline constexpr std::size_t kMaxDocumentBytes = 200 * 1024;
// Series folded into `otel.overflow` (one per namespace and metric name) allowed past max_series.
inline constexpr std::size_t kMaxOverflowSeries = 100;
// Cumulative series whose baseline is kept, and how long an unseen one is remembered.
inline constexpr std::size_t kMaxDeltaSeries = 200'000;
inline constexpr std::chrono::minutes kDeltaSeriesExpiry{15};

inline constexpr char kOverflowDimension[] = "otel.overflow";
inline constexpr char kOTelLibDimension[] = "OTelLib";

// The CloudWatch unit for an OTLP (UCUM) unit: "" for an empty unit (no Unit is written),
// "None" for one CloudWatch has no name for.
std::string_view cloudwatch_unit(std::string_view unit);

struct Document {
  std::string log_group;
  std::string log_stream;
  std::int64_t timestamp_ms = 0;
  std::string json;
};

// What one translate() did besides the documents; the exporter turns it into self-metrics.
struct TranslateStats {
  std::map<std::string, std::uint64_t> dropped;   // points, by reason
  std::map<std::string, std::uint64_t> adjusted;  // changes made to fit the rules, by reason
  std::uint64_t points = 0;                       // points read
  std::uint64_t baseline_points = 0;              // first cumulative points: kept as the baseline, not sent
  std::uint64_t folded_points = 0;                // points sent under otel.overflow by the series guard
  std::uint64_t skipped_points = 0;  // empty intervals, out-of-order cumulative points (not data)
};

// Shared, reload-surviving state (opaque).
struct TranslatorState;
std::shared_ptr<TranslatorState> make_translator_state();

class Translator {
 public:
  // Compiles the regular expressions (RE2); nullptr with `error` when one is invalid.
  static std::unique_ptr<Translator> create(TranslatorOptions options, std::shared_ptr<TranslatorState> state,
                                            std::string& error);
  ~Translator();

  std::vector<Document> translate(const model::Batch& batch, TranslateStats& stats);

  // The series guard: distinct series sent this hour (overflow series included), and the
  // distinct series folded this hour (counted up to a bound).
  std::size_t series_this_hour() const;
  std::size_t folded_series_this_hour() const;

  struct CompiledDeclaration;

 private:
  Translator(TranslatorOptions options, std::shared_ptr<TranslatorState> state);
  struct Pass;

  TranslatorOptions options_;
  std::shared_ptr<TranslatorState> state_;
  std::vector<CompiledDeclaration> declarations_;
};

}  // namespace vigil::exporters::awsemf
