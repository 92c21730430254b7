#pragma once
// The kpi connector's cumulative state: interned label values, series and their values, kept in
// the component's shared state ("kpi/<id>") so that both instances of one ID (logs and traces
// input) update the same series and a config reload that keeps a rule keeps its values.
//
// Ownership: KpiState is held by shared_ptr by every connector instance of one ID; it holds
// MetricStores and ResourceGroups by weak_ptr, keyed by their definition, and the instances
// hold them by shared_ptr (a store lives while some config uses its definition).
// Thread-safety: everything but the atomics is guarded by KpiState::mu, which the connector
// takes once per batch (and to build an emission). Lookups of known values never allocate.

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/component/component.hpp"
#include "agent/connectors/kpi/kpi_config.hpp"
#include "agent/model/common.hpp"

namespace vigil::connectors::kpi {

// Room for the text of a number, so that label values never allocate.
using NumberText = std::array<char, 40>;
// The text of a scalar attribute value (string; int, double and bool formatted into `buf`);
// false for empty, bytes, arrays and maps.
bool any_value_text(const model::AnyValue& v, NumberText& buf, std::string_view& out);

// Values of one label (or resource attribute), each interned once. Id 0 is "other", where
// values past the budget go; kAbsent marks a label left off the point.
class Interner {
 public:
  static constexpr std::uint32_t kOther = 0;
  static constexpr std::uint32_t kAbsent = 0xffffffffu;

  explicit Interner(std::size_t max_values);
  // The id of `value`; a new value allocates once; past max_values it is kOther and `overflow`
  // is set.
  std::uint32_t intern(std::string_view value, bool& overflow);
  std::string_view value(std::uint32_t id) const { return *values_[id]; }
  void set_max_values(std::size_t n) { max_values_ = n; }
  std::size_t distinct() const { return values_.size() - 1; }  // "other" not counted

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>> ids_;
  std::vector<const std::string*> values_;  // by id; points at the keys of ids_ (stable)
  std::size_t max_values_;
};

struct SeriesKey {
  std::uint32_t group = 0;
  std::array<std::uint32_t, kMaxLabels> labels{};
  bool operator==(const SeriesKey& o) const { return group == o.group && labels == o.labels; }
};

struct SeriesKeyHash {
  std::size_t operator()(const SeriesKey& k) const {
    std::uint64_t h = 0x9e3779b97f4a7c15ull ^ k.group;
    for (std::uint32_t v : k.labels) h = (h ^ v) * 0x100000001b3ull + (h >> 29);
    return static_cast<std::size_t>(h);
  }
};

struct Series {
  SeriesKey key;
  std::int64_t int_sum = 0;  // counters without `value`
  double sum = 0;            // counters with `value`, histograms
  double last = 0;           // gauges
  std::uint64_t count = 0;   // histograms
  double min = 0;
  double max = 0;
  std::vector<std::uint64_t> buckets;  // histograms: bounds + 1
  bool has_exemplar = false;
  model::TraceId trace_id{};
  model::SpanId span_id{};
  std::uint64_t exemplar_time_unix_nano = 0;
  double exemplar_value = 0;
};

// The distinct combinations of the configured resource attributes seen in the input: each is
// one output ResourceMetrics.
class ResourceGroups {
 public:
  static constexpr std::size_t kMaxValues = 1000;  // per attribute; past it: "other"
  using Ids = std::array<std::uint32_t, kMaxResourceAttributes>;

  explicit ResourceGroups(std::vector<std::string> names);
  // The group of `resource`; `overflowed[i]` counts values of attribute i folded into "other".
  std::uint32_t group_of(const model::Resource& resource, std::array<std::uint64_t, kMaxResourceAttributes>& overflowed);
  const std::vector<std::string>& names() const { return names_; }
  std::size_t size() const { return groups_.size(); }
  const Ids& ids(std::uint32_t group) const { return groups_[group]; }
  std::string_view value(std::size_t attribute, std::uint32_t id) const { return values_[attribute].value(id); }

 private:
  struct IdsHash {
    std::size_t operator()(const Ids& k) const {
      std::uint64_t h = 0x9e3779b97f4a7c15ull;
      for (std::uint32_t v : k) h = (h ^ v) * 0x100000001b3ull + (h >> 29);
      return static_cast<std::size_t>(h);
    }
  };
  std::vector<std::string> names_;
  std::vector<Interner> values_;
  std::unordered_map<Ids, std::uint32_t, IdsHash> index_;
  std::vector<Ids> groups_;
};

// The series of one metric definition.
class MetricStore {
 public:
  MetricStore(const MetricDef& def, std::shared_ptr<ResourceGroups> groups, std::uint64_t start_time_unix_nano);

  // The series for `key`, created when new. Past max_series a new key folds into the series of
  // its resource group whose labels are all "other"; `overflowed` is then set.
  Series& find_or_add(const SeriesKey& key, bool& overflowed);
  // Bounds that may change with a reload without changing the definition.
  void set_limits(const MetricDef& def);

  Interner& label(std::size_t i) { return labels_[i]; }
  const Interner& label(std::size_t i) const { return labels_[i]; }
  const std::deque<Series>& series() const { return series_; }
  std::uint64_t start_time_unix_nano() const { return start_time_unix_nano_; }
  const ResourceGroups& groups() const { return *groups_; }
  ResourceGroups& groups() { return *groups_; }

 private:
  Series& add(const SeriesKey& key);

  MetricKind kind_;
  std::size_t bucket_count_;
  std::size_t label_count_;
  std::size_t max_series_;
  std::shared_ptr<ResourceGroups> groups_;
  std::vector<Interner> labels_;
  std::unordered_map<SeriesKey, std::uint32_t, SeriesKeyHash> index_;
  std::deque<Series> series_;  // a deque: growing never moves the series
  std::uint64_t start_time_unix_nano_;
};

class KpiState {
 public:
  KpiState();

  // Guards the stores, the groups and their contents.
  std::mutex mu;
  // Serialises emissions (building and sending), so that batches leave in order.
  std::mutex emit_mu;
  // When the last batch was built (steady clock); instances tick on it so that one batch goes
  // out per interval however many instances tick.
  std::atomic<component::Clock::rep> last_emit;
  // Instances started and not yet shut down; the last one to stop emits once more.
  std::atomic<int> running{0};

  // With `mu` held: the store of `def` (the existing one when a live config uses the same
  // definition), its limits updated to `def`'s.
  std::shared_ptr<MetricStore> store_for(const MetricDef& def, const std::vector<std::string>& resource_attributes,
                                         std::uint64_t now_unix_nano);
  // With `mu` held.
  std::shared_ptr<ResourceGroups> groups_for(const std::vector<std::string>& resource_attributes);

 private:
  std::map<std::string, std::weak_ptr<MetricStore>> stores_;
  std::map<std::string, std::weak_ptr<ResourceGroups>> groups_;
};

}  // namespace vigil::connectors::kpi
