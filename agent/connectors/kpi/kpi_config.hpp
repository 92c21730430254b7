#pragma once
// The kpi connector's config: rules (from the shipped packs and the user's own) parsed from the
// config tree with a location for every error, their OTTL compiled, and the metrics they feed.
//
// Ownership: a KpiConfig owns its compiled expressions. Thread-safety: immutable once parsed;
// evaluating its expressions from many threads is safe (see agent/ottl/ottl.hpp).

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/schema.hpp"
#include "agent/config/value.hpp"
#include "agent/ottl/ottl.hpp"

namespace vigil::connectors::kpi {

// Fixed bounds that keep a series key small and allocation-free (see kpi_state.hpp).
inline constexpr std::size_t kMaxLabels = 8;
inline constexpr std::size_t kMaxResourceAttributes = 8;
inline constexpr std::size_t kDefaultMaxValues = 100;
inline constexpr std::size_t kDefaultMaxSeries = 10000;

enum class MetricKind { kCounter, kGauge, kHistogram };
enum class Source { kLogs, kSpans };

std::string_view metric_kind_name(MetricKind k);
std::string_view source_name(Source s);

struct LabelCase {
  std::unique_ptr<ottl::Expression> where;
  std::string value;
};

// One label of a rule. The short form (a string) reads attributes[name], then
// resource.attributes[name]; the long form tries `cases`, then `from`, then `default`.
struct LabelRule {
  std::string name;
  bool short_form = false;
  std::vector<LabelCase> cases;
  std::unique_ptr<ottl::Expression> from;
  std::optional<std::string> default_value;
  std::size_t max_values = kDefaultMaxValues;
};

struct Rule {
  std::string metric;     // the metric name (several rules may feed one metric)
  std::string self_name;  // `rule` label of self-metrics: the name, plus "/logs" or "/spans" when shared
  Source source = Source::kLogs;
  std::unique_ptr<ottl::Expression> where;  // nullptr: every record
  std::unique_ptr<ottl::Expression> value;  // nullptr: 1 per matching record (counters only)
  std::vector<LabelRule> labels;            // in the metric's label order
  bool exemplars = false;
  std::size_t metric_index = 0;  // into KpiConfig::metrics
  config::Location location;
};

// What the rules sharing one name agree on, and what a series store is keyed by.
struct MetricDef {
  std::string name;
  std::string description;
  std::string unit;
  MetricKind kind = MetricKind::kCounter;
  bool int_sum = true;  // counters: no rule has a `value`, so the sum is an integer
  std::vector<double> bounds;  // histograms
  std::vector<std::string> label_names;
  std::vector<std::size_t> label_max_values;
  std::size_t max_series = kDefaultMaxSeries;
  config::Location location;  // the first rule's name

  // Identity of the series store: a definition that changes any of these starts fresh (a kept
  // one keeps its cumulative values across reloads). `resource_attributes` is part of it too.
  std::string key(const std::vector<std::string>& resource_attributes) const;
};

struct KpiConfig {
  std::chrono::nanoseconds interval{std::chrono::seconds(10)};
  std::vector<std::string> resource_attributes;
  std::vector<MetricDef> metrics;
  std::vector<Rule> rules;
};

// The default `resource_attributes`.
std::vector<std::string> default_resource_attributes();

// The connector's schema (options other than `rules` are checked by config::validate).
config::Schema kpi_schema();

// Parses and compiles everything. Appends every problem to `errors` (with locations) and
// returns nullptr when there is any.
std::unique_ptr<KpiConfig> parse_kpi_config(const config::Settings& settings, const std::string& id,
                                            config::Errors& errors);

// The text of a shipped pack ("default"), or an empty view when there is no such pack.
std::string_view pack_text(std::string_view name);
// Names of the shipped packs.
std::vector<std::string> pack_names();

// True for a metric name that OpenTelemetry and Prometheus both accept unchanged.
bool valid_metric_name(std::string_view name);

}  // namespace vigil::connectors::kpi
