#include "exporters/awsemf/emf_translator.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "agent/aws/cloudwatch_logs.hpp"
#include "agent/model/utf8.hpp"

namespace vigil::exporters::awsemf {

using model::AnyValue;
using model::ValueType;

// ---- units ---------------------------------------------------------------------------------

std::string_view cloudwatch_unit(std::string_view unit) {
  if (unit.empty()) return "";
  struct Entry {
    std::string_view ucum;
    std::string_view cw;
  };
  static constexpr Entry kUnits[] = {
      {"s", "Seconds"},
      {"ms", "Milliseconds"},
      {"us", "Microseconds"},
      {"By", "Bytes"},
      {"KBy", "Kilobytes"},
      {"KiBy", "Kilobytes"},
      {"MBy", "Megabytes"},
      {"MiBy", "Megabytes"},
      {"GBy", "Gigabytes"},
      {"GiBy", "Gigabytes"},
      {"TBy", "Terabytes"},
      {"TiBy", "Terabytes"},
      {"bit", "Bits"},
      {"Kbit", "Kilobits"},
      {"Kibit", "Kilobits"},
      {"Mbit", "Megabits"},
      {"Mibit", "Megabits"},
      {"Gbit", "Gigabits"},
      {"Gibit", "Gigabits"},
      {"Tbit", "Terabits"},
      {"Tibit", "Terabits"},
      {"%", "Percent"},
      {"1", "Count"},
      {"By/s", "Bytes/Second"},
      {"KBy/s", "Kilobytes/Second"},
      {"KiBy/s", "Kilobytes/Second"},
      {"MBy/s", "Megabytes/Second"},
      {"MiBy/s", "Megabytes/Second"},
      {"GBy/s", "Gigabytes/Second"},
      {"GiBy/s", "Gigabytes/Second"},
      {"TBy/s", "Terabytes/Second"},
      {"TiBy/s", "Terabytes/Second"},
      {"bit/s", "Bits/Second"},
      {"Kbit/s", "Kilobits/Second"},
      {"Kibit/s", "Kilobits/Second"},
      {"Mbit/s", "Megabits/Second"},
      {"Mibit/s", "Megabits/Second"},
      {"Gbit/s", "Gigabits/Second"},
      {"Gibit/s", "Gigabits/Second"},
      {"Tbit/s", "Terabits/Second"},
      {"Tibit/s", "Terabits/Second"},
      {"1/s", "Count/Second"},
  };
  for (const Entry& e : kUnits) {
    if (e.ucum == unit) return e.cw;
  }
  // UCUM annotations ("{request}", "{order}") are dimensionless counts.
  const auto is_annotation = [](std::string_view u) {
    return u.size() >= 2 && u.front() == '{' && u.back() == '}' && u.find('}') == u.size() - 1;
  };
  if (is_annotation(unit)) return "Count";
  if (unit.size() > 2 && unit.substr(unit.size() - 2) == "/s" &&
      is_annotation(unit.substr(0, unit.size() - 2))) {
    return "Count/Second";
  }
  return "None";
}

namespace {

// ---- JSON text -------------------------------------------------------------------------------

// JSON strings as the CloudWatch Logs client writes them (invalid UTF-8 becomes U+FFFD), so a
// document is always valid JSON.
using aws::append_json_string;

// Shortest text that reads back as the same double (finite values only; see aws::append_double).
std::string format_number(double v) {
  std::string out;
  aws::append_double(out, v);
  return out;
}

std::string format_int(std::int64_t v) {
  std::array<char, 24> buf{};
  auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return std::string(buf.data(), r.ptr);
}

// A dimension value: the attribute as text, as the Collector's awsemf takes it (AsString).
using aws::append_value_text;

// Cuts `s` to at most `max_chars` code points (invalid bytes count as one each); true when cut.
bool truncate_chars(std::string& s, std::size_t max_chars) {
  const auto* begin = reinterpret_cast<const unsigned char*>(s.data());
  const auto* p = begin;
  const auto* end = begin + s.size();
  std::size_t chars = 0;
  while (p < end) {
    if (chars == max_chars) {
      s.resize(static_cast<std::size_t>(p - begin));
      return true;
    }
    std::size_t n = *p < 0x80 ? 1 : model::utf8_sequence(p, end);
    p += n == 0 ? 1 : n;
    ++chars;
  }
  return false;
}

std::uint64_t hash_of(std::string_view s) {
  return std::hash<std::string_view>{}(s);
}

constexpr char kSep = '\x1f';  // separates fields of keys (cannot be confused with text)

// ---- values ----------------------------------------------------------------------------------

// One bucket of a distribution: observations in (lo, hi] (lo == hi: exactly that value).
struct Bucket {
  double lo = 0;
  double hi = 0;
  double count = 0;
};

// Histograms of both kinds and summaries, in one form that can be subtracted.
struct Distribution {
  std::vector<Bucket> buckets;  // sorted by (lo, hi); empty for summaries
  double count = 0;
  double sum = 0;
  bool has_sum = false;
  std::optional<double> min;
  std::optional<double> max;
  bool is_summary = false;
};

// The value of one point after delta conversion.
struct Value {
  bool is_distribution = false;
  bool is_int = false;
  std::int64_t i = 0;
  double d = 0;
  Distribution dist;

  double number() const { return is_int ? static_cast<double>(i) : d; }
};

// ---- state -----------------------------------------------------------------------------------

struct HistoryEntry {
  std::uint64_t time = 0;
  std::uint64_t start = 0;
  Value cumulative;
  bool baseline = false;  // produced nothing
  Value delta;
};

struct DeltaSeries {
  std::deque<HistoryEntry> history;  // ascending time, at most kHistory entries
  std::chrono::steady_clock::time_point last_seen;
};

constexpr std::size_t kHistory = 4;
constexpr std::size_t kMaxFoldedTracked = 100'000;

}  // namespace

struct TranslatorState {
  std::mutex mu;
  std::unordered_map<std::string, DeltaSeries> deltas;
  std::chrono::steady_clock::time_point last_sweep;
  // The series guard.
  std::int64_t hour = std::numeric_limits<std::int64_t>::min();
  std::unordered_set<std::uint64_t> series;
  std::unordered_set<std::uint64_t> overflow_series;
  std::unordered_set<std::uint64_t> folded;
};

std::shared_ptr<TranslatorState> make_translator_state() {
  return std::make_shared<TranslatorState>();
}

struct Translator::CompiledDeclaration {
  std::vector<std::vector<std::string>> dimensions;
  std::vector<std::unique_ptr<re2::RE2>> selectors;
  struct Matcher {
    std::vector<std::string> label_names;
    std::string separator;
    std::unique_ptr<re2::RE2> regex;
  };
  std::vector<Matcher> matchers;
};

namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;  // sorted by key, unique keys

const std::string* find_label(const Labels& labels, std::string_view key) {
  auto it = std::lower_bound(labels.begin(), labels.end(), key,
                             [](const auto& kv, std::string_view k) { return kv.first < k; });
  return it != labels.end() && it->first == key ? &it->second : nullptr;
}

using DimSets = std::vector<std::vector<std::string>>;

bool matches_labels(const Translator::CompiledDeclaration& d, const Labels& labels) {
  if (d.matchers.empty()) return true;
  for (const auto& m : d.matchers) {
    std::string joined;
    bool all = true;
    for (std::size_t i = 0; i < m.label_names.size(); ++i) {
      const std::string* v = find_label(labels, m.label_names[i]);
      if (v == nullptr) {
        all = false;
        break;
      }
      if (i != 0) joined += m.separator;
      joined += *v;
    }
    if (all && re2::RE2::PartialMatch(joined, *m.regex)) return true;
  }
  return false;
}

bool matches_name(const Translator::CompiledDeclaration& d, std::string_view name) {
  for (const auto& r : d.selectors) {
    if (re2::RE2::PartialMatch(name, *r)) return true;
  }
  return false;
}

// The Collector's rollup: the zero set ([] or [OTelLib]) when there are labels, and one set per
// label (with OTelLib when present).
DimSets rollup_sets(DimensionRollup option, const std::vector<std::string>& keys) {
  DimSets out;
  if (option == DimensionRollup::kNone) return out;
  std::vector<std::string> zero;
  std::vector<std::string> others;
  for (const std::string& k : keys) {
    if (k == kOTelLibDimension)
      zero.push_back(k);
    else
      others.push_back(k);
  }
  if (option == DimensionRollup::kZeroAndSingle && !others.empty()) out.push_back(zero);
  for (const std::string& k : others) {
    std::vector<std::string> set = zero;
    set.push_back(k);
    out.push_back(std::move(set));
  }
  return out;
}

// Drops sets equal to an earlier one as sets (the same names in any order). Compared in place:
// sets are short, and sorted copies cost a dozen allocations per point.
void dedup(DimSets& sets) {
  DimSets out;
  out.reserve(sets.size());
  for (auto& s : sets) {
    const bool seen = std::any_of(out.begin(), out.end(), [&](const std::vector<std::string>& o) {
      return o.size() == s.size() && std::is_permutation(o.begin(), o.end(), s.begin());
    });
    if (!seen) out.push_back(std::move(s));
  }
  sets = std::move(out);
}

// ---- documents -------------------------------------------------------------------------------

struct DocMetric {
  std::string name;
  std::string unit;                  // CloudWatch unit, "" for none
  std::vector<std::string> numbers;  // JSON numbers (an array when more than one)
  std::string object;                // a distribution object, exclusive with numbers
  std::size_t directive = 0;
};

struct Doc {
  std::string log_group;
  std::string log_stream;
  std::string metric_namespace;
  std::int64_t timestamp_ms = 0;
  Labels labels;
  std::vector<DimSets> directives;  // dimension sets of each directive
  std::vector<DocMetric> metrics;
  std::size_t bytes = 0;  // estimate
};

std::string render(const Doc& doc) {
  std::string out;
  out.reserve(doc.bytes + 256);
  out += "{\"_aws\":{\"Timestamp\":";
  out += format_int(doc.timestamp_ms);
  out += ",\"CloudWatchMetrics\":[";
  bool first_directive = true;
  for (std::size_t d = 0; d < doc.directives.size(); ++d) {
    bool any = false;
    for (const DocMetric& m : doc.metrics) any = any || m.directive == d;
    if (!any) continue;
    if (!first_directive) out.push_back(',');
    first_directive = false;
    out += "{\"Namespace\":";
    append_json_string(out, doc.metric_namespace);
    out += ",\"Dimensions\":[";
    for (std::size_t s = 0; s < doc.directives[d].size(); ++s) {
      if (s != 0) out.push_back(',');
      out.push_back('[');
      for (std::size_t k = 0; k < doc.directives[d][s].size(); ++k) {
        if (k != 0) out.push_back(',');
        append_json_string(out, doc.directives[d][s][k]);
      }
      out.push_back(']');
    }
    out += "],\"Metrics\":[";
    bool first_metric = true;
    for (const DocMetric& m : doc.metrics) {
      if (m.directive != d) continue;
      if (!first_metric) out.push_back(',');
      first_metric = false;
      out += "{\"Name\":";
      append_json_string(out, m.name);
      if (!m.unit.empty()) {
        out += ",\"Unit\":";
        append_json_string(out, m.unit);
      }
      out.push_back('}');
    }
    out += "]}";
  }
  out += "]}";
  for (const auto& [k, v] : doc.labels) {
    out.push_back(',');
    append_json_string(out, k);
    out.push_back(':');
    append_json_string(out, v);
  }
  for (const DocMetric& m : doc.metrics) {
    out.push_back(',');
    append_json_string(out, m.name);
    out.push_back(':');
    if (!m.object.empty()) {
      out += m.object;
    } else if (m.numbers.size() == 1) {
      out += m.numbers[0];
    } else {
      out.push_back('[');
      for (std::size_t i = 0; i < m.numbers.size(); ++i) {
        if (i != 0) out.push_back(',');
        out += m.numbers[i];
      }
      out.push_back(']');
    }
  }
  out.push_back('}');
  return out;
}

// ---- distributions -----------------------------------------------------------------------------

constexpr double kInf = std::numeric_limits<double>::infinity();

bool finite_distribution(const Distribution& d) {
  if (!std::isfinite(d.count) || !std::isfinite(d.sum)) return false;
  if (d.min && !std::isfinite(*d.min)) return false;
  if (d.max && !std::isfinite(*d.max)) return false;
  return true;
}

// Count, sum, min and max: the same fields in histogram and exponential histogram points.
template <class Point>
void copy_totals(const Point& p, Distribution& d) {
  d.count = static_cast<double>(p.count);
  d.has_sum = p.sum.has_value();
  d.sum = p.sum.value_or(0);
  d.min = p.min;
  d.max = p.max;
}

std::optional<Distribution> from_histogram(const model::HistogramDataPoint& p) {
  Distribution d;
  const std::size_t n = p.bucket_counts.size();
  if (n != 0 && p.explicit_bounds.size() + 1 != n) return std::nullopt;
  for (std::size_t i = 0; i < n; ++i) {
    Bucket b;
    b.lo = i == 0 ? -kInf : p.explicit_bounds[i - 1];
    b.hi = i + 1 == n ? kInf : p.explicit_bounds[i];
    b.count = static_cast<double>(p.bucket_counts[i]);
    d.buckets.push_back(b);
  }
  copy_totals(p, d);
  return d;
}

Distribution from_exponential(const model::ExponentialHistogramDataPoint& p) {
  Distribution d;
  const double base = std::exp2(std::exp2(-static_cast<double>(p.scale)));
  // Negative buckets mirror positive ones: index i covers [-(base^(i+1)), -(base^i)).
  for (std::size_t j = p.negative.bucket_counts.size(); j-- > 0;) {
    const double idx = static_cast<double>(p.negative.offset) + static_cast<double>(j);
    d.buckets.push_back(
        {-std::pow(base, idx + 1), -std::pow(base, idx), static_cast<double>(p.negative.bucket_counts[j])});
  }
  if (p.zero_count != 0 || p.zero_threshold != 0) {
    d.buckets.push_back({-p.zero_threshold, p.zero_threshold, static_cast<double>(p.zero_count)});
  }
  for (std::size_t j = 0; j < p.positive.bucket_counts.size(); ++j) {
    const double idx = static_cast<double>(p.positive.offset) + static_cast<double>(j);
    d.buckets.push_back(
        {std::pow(base, idx), std::pow(base, idx + 1), static_cast<double>(p.positive.bucket_counts[j])});
  }
  copy_totals(p, d);
  return d;
}

// The Collector's summary: count, sum, min (quantile 0), max (quantile 1). Without those
// quantiles the lowest and highest quantiles given stand in; without any, the mean.
Distribution from_summary(const model::SummaryDataPoint& p) {
  Distribution d;
  d.is_summary = true;
  d.count = static_cast<double>(p.count);
  d.sum = p.sum;
  d.has_sum = true;
  std::optional<std::pair<double, double>> lowest, highest;  // (quantile, value)
  for (const auto& q : p.quantile_values) {
    if (!lowest || q.quantile < lowest->first) lowest = {q.quantile, q.value};
    if (!highest || q.quantile > highest->first) highest = {q.quantile, q.value};
  }
  if (lowest) d.min = lowest->second;
  if (highest) d.max = highest->second;
  return d;
}

enum class DeltaKind { kDelta, kReset, kNoLayout };

// cur - prev, bucket by bucket (matched by their bounds). kReset when any count went down
// (the caller then sends cur whole); kNoLayout when a bucket of prev is gone from cur.
DeltaKind subtract(const Distribution& cur, const Distribution& prev, Distribution& out) {
  if (cur.count < prev.count) return DeltaKind::kReset;
  out = cur;
  out.count = cur.count - prev.count;
  out.sum = cur.sum - prev.sum;
  std::size_t j = 0;
  for (Bucket& b : out.buckets) {
    while (j < prev.buckets.size() &&
           (prev.buckets[j].lo < b.lo || (prev.buckets[j].lo == b.lo && prev.buckets[j].hi < b.hi))) {
      if (prev.buckets[j].count != 0) return DeltaKind::kNoLayout;
      ++j;
    }
    if (j < prev.buckets.size() && prev.buckets[j].lo == b.lo && prev.buckets[j].hi == b.hi) {
      if (b.count < prev.buckets[j].count) return DeltaKind::kReset;
      b.count -= prev.buckets[j].count;
      ++j;
    }
  }
  for (; j < prev.buckets.size(); ++j) {
    if (prev.buckets[j].count != 0) return DeltaKind::kNoLayout;
  }
  // The lifetime min/max still bound this interval's observations; the buckets narrow them.
  return DeltaKind::kDelta;
}

// The EMF object of a distribution: {"Values","Counts","Max","Min","Count","Sum"}, or the
// statistic set {"Max","Min","Count","Sum"} of a summary. Empty when it holds no observation.
std::string distribution_json(const Distribution& d, bool exact_min_max, TranslateStats& stats) {
  if (d.count <= 0) return {};
  std::vector<std::pair<double, double>> vc;  // (value, count)
  double lo_seen = kInf, hi_seen = -kInf;
  for (const Bucket& b : d.buckets) {
    if (b.count <= 0) continue;
    double lo = b.lo, hi = b.hi;
    if (d.min) lo = std::max(lo, *d.min);
    if (d.max) hi = std::min(hi, *d.max);
    if (lo > hi) std::swap(lo, hi);  // min/max inconsistent with the buckets: keep the bucket
    double value;
    if (std::isinf(lo) && std::isinf(hi))
      value = d.count > 0 && d.has_sum ? d.sum / d.count : 0;
    else if (std::isinf(lo))
      value = hi;
    else if (std::isinf(hi))
      value = lo;
    else
      value = lo + (hi - lo) / 2;
    if (!std::isfinite(value)) value = lo / 2 + hi / 2;  // hi - lo beyond the double range
    lo_seen = std::min(lo_seen, std::isinf(lo) ? value : lo);
    hi_seen = std::max(hi_seen, std::isinf(hi) ? value : hi);
    vc.emplace_back(value, b.count);
  }
  // At most 100 values: neighbouring buckets merged, each group at its count-weighted mean.
  if (vc.size() > kMaxValuesPerMetric) {
    const std::size_t per = (vc.size() + kMaxValuesPerMetric - 1) / kMaxValuesPerMetric;
    std::vector<std::pair<double, double>> merged;
    for (std::size_t i = 0; i < vc.size(); i += per) {
      double c = 0, weighted = 0;
      for (std::size_t k = i; k < std::min(vc.size(), i + per); ++k) {
        c += vc[k].second;
        weighted += vc[k].first * vc[k].second;
      }
      double mean = weighted / c;
      if (!std::isfinite(mean)) {  // the products overflowed: the same mean, weighted first
        mean = 0;
        for (std::size_t k = i; k < std::min(vc.size(), i + per); ++k) mean += vc[k].first * (vc[k].second / c);
      }
      merged.emplace_back(mean, c);
    }
    ++stats.adjusted["buckets_merged"];
    vc = std::move(merged);
  }
  double min, max;
  if (exact_min_max && d.min && d.max) {
    min = *d.min;
    max = *d.max;
  } else if (!vc.empty()) {
    min = lo_seen;
    max = hi_seen;
  } else {
    const double mean = d.has_sum ? d.sum / d.count : 0;
    min = d.min.value_or(mean);
    max = d.max.value_or(mean);
  }
  double sum = d.sum;
  if (!d.has_sum) {
    sum = 0;
    for (const auto& [v, c] : vc) sum += v * c;
  }
  if (!std::isfinite(min) || !std::isfinite(max) || !std::isfinite(sum)) return {};
  for (const auto& [v, c] : vc) {
    if (!std::isfinite(v) || !std::isfinite(c)) return {};
  }
  std::string out = "{";
  if (!d.is_summary) {
    out += "\"Values\":[";
    for (std::size_t i = 0; i < vc.size(); ++i) {
      if (i != 0) out.push_back(',');
      out += format_number(vc[i].first);
    }
    out += "],\"Counts\":[";
    for (std::size_t i = 0; i < vc.size(); ++i) {
      if (i != 0) out.push_back(',');
      out += format_number(vc[i].second);
    }
    out += "],";
  }
  out += "\"Max\":" + format_number(max) + ",\"Min\":" + format_number(min) +
         ",\"Count\":" + format_number(d.count) + ",\"Sum\":" + format_number(sum) + "}";
  return out;
}

}  // namespace

// ---- the translation pass ------------------------------------------------------------------------

struct Translator::Pass {
  // A constructor rather than aggregate initialization: clang's -Wmissing-field-initializers
  // (the fuzz build, -Werror) flags the members left to their defaults.
  Pass(Translator& translator, TranslatorState& state, TranslateStats& pass_stats)
      : t(translator), s(state), stats(pass_stats) {}

  Translator& t;
  TranslatorState& s;
  TranslateStats& stats;
  std::chrono::steady_clock::time_point steady_now = std::chrono::steady_clock::now();
  std::int64_t now_ms = 0;
  std::vector<Doc> docs;
  std::unordered_map<std::string, std::vector<std::size_t>> by_key;  // doc key → docs

  // Cumulative → delta. Returns the value to send, or nullopt (baseline, out of order).
  std::optional<Value> delta(const std::string& key, std::uint64_t time, std::uint64_t start,
                             const Value& cur) {
    auto it = s.deltas.find(key);
    if (it == s.deltas.end()) {
      if (s.deltas.size() >= kMaxDeltaSeries) sweep(true);
      if (s.deltas.size() >= kMaxDeltaSeries) {
        ++stats.dropped["delta_state_full"];
        return std::nullopt;
      }
      it = s.deltas.emplace(key, DeltaSeries{}).first;
    }
    DeltaSeries& series = it->second;
    series.last_seen = steady_now;
    auto& h = series.history;
    // A replay (the same batch retried): the same answer as the first time.
    for (const HistoryEntry& e : h) {
      if (e.time == time && e.start == start) {
        if (e.baseline) {
          ++stats.baseline_points;
          return std::nullopt;
        }
        return e.delta;
      }
    }
    HistoryEntry entry;
    entry.time = time;
    entry.start = start;
    entry.cumulative = cur;
    if (h.empty()) {
      entry.baseline = !t.options_.retain_initial_value_of_delta_metric;
      entry.delta = cur;
    } else if (time < h.back().time) {
      // Older than what was already turned into a delta: that delta covers it.
      ++stats.skipped_points;
      return std::nullopt;
    } else {
      const HistoryEntry& prev = h.back();
      const bool restarted = start != prev.start && start != 0 && prev.start != 0;
      if (!cur.is_distribution) {
        // Integers compared as integers: as doubles, counters beyond 2^53 that went down by a
        // little would look unchanged and give a negative delta.
        const bool went_down = cur.is_int && prev.cumulative.is_int ? cur.i < prev.cumulative.i
                                                                    : cur.number() < prev.cumulative.number();
        if (restarted || went_down) {
          entry.delta = cur;  // a counter reset: everything since the restart is new
        } else {
          entry.delta = cur;
          // A difference beyond int64 (from -9e18 to 9e18) is computed in doubles.
          if (!cur.is_int || !prev.cumulative.is_int ||
              __builtin_sub_overflow(cur.i, prev.cumulative.i, &entry.delta.i)) {
            entry.delta.is_int = false;
            entry.delta.d = cur.number() - prev.cumulative.number();
          }
        }
      } else {
        Distribution out;
        const DeltaKind k = restarted ? DeltaKind::kReset : subtract(cur.dist, prev.cumulative.dist, out);
        if (k == DeltaKind::kReset) {
          entry.delta = cur;
        } else if (k == DeltaKind::kNoLayout) {
          entry.baseline = true;  // buckets changed (a new exponential scale): start over
        } else {
          entry.delta.is_distribution = true;
          entry.delta.dist = std::move(out);
        }
        // An interval keeps the lifetime min/max (subtract copies them): not its own extremes, but
        // bounds that narrow its open-ended buckets (see distribution_json).
      }
    }
    h.push_back(entry);
    while (h.size() > kHistory) h.pop_front();
    if (entry.baseline) {
      ++stats.baseline_points;
      return std::nullopt;
    }
    return entry.delta;
  }

  void sweep(bool force) {
    if (!force && steady_now - s.last_sweep < std::chrono::minutes(1)) return;
    s.last_sweep = steady_now;
    for (auto it = s.deltas.begin(); it != s.deltas.end();) {
      if (steady_now - it->second.last_seen > kDeltaSeriesExpiry)
        it = s.deltas.erase(it);
      else
        ++it;
    }
  }

  // The series guard. True when the point may be sent with its own dimensions.
  bool admit(const std::vector<std::uint64_t>& keys) {
    std::size_t fresh = 0;
    for (std::uint64_t k : keys) fresh += s.series.count(k) == 0 ? 1 : 0;
    if (fresh == 0) return true;
    if (s.series.size() + fresh > t.options_.max_series) return false;
    for (std::uint64_t k : keys) s.series.insert(k);
    return true;
  }

  void point(const std::string& ns, const std::string& group, const std::string& stream, const Labels& labels,
             std::string_view name, std::string_view unit, std::uint64_t time_unix_nano, const Value& v,
             bool exact_min_max) {
    // The value, as JSON.
    std::string number, object;
    if (v.is_distribution) {
      if (!finite_distribution(v.dist)) {
        ++stats.dropped["non_finite"];
        return;
      }
      object = distribution_json(v.dist, exact_min_max, stats);
      if (object.empty()) {
        if (v.dist.count > 0)
          ++stats.dropped["non_finite"];
        else
          ++stats.skipped_points;  // no observation in this interval
        return;
      }
    } else if (v.is_int) {
      number = format_int(v.i);
    } else {
      if (!std::isfinite(v.d)) {
        ++stats.dropped["non_finite"];
        return;
      }
      number = format_number(v.d);
    }
    const std::string name_s(name);
    if (name_s == "_aws" || find_label(labels, name_s) != nullptr) {
      ++stats.dropped["name_conflict"];
      return;
    }

    // Dimension keys: the labels' keys, sorted; beyond 30 the last ones are left out of the sets
    // (they stay in the document as properties).
    std::vector<std::string> keys;
    for (const auto& kv : labels) keys.push_back(kv.first);
    if (keys.size() > kMaxDimensionsPerSet) {
      stats.adjusted["dimensions_dropped"] += keys.size() - kMaxDimensionsPerSet;
      keys.resize(kMaxDimensionsPerSet);
    }
    DimSets sets;
    if (t.declarations_.empty()) {
      sets.push_back(keys);
      DimSets rolled = rollup_sets(t.options_.rollup, keys);
      // The Collector's rule: with one label, the single-label rollup already names the full set.
      std::size_t plain = 0;
      for (const auto& k : keys) plain += k == kOTelLibDimension ? 0 : 1;
      if (plain <= 1 && !rolled.empty() && t.options_.rollup != DimensionRollup::kNone) sets.clear();
      for (auto& r : rolled) sets.push_back(std::move(r));
      dedup(sets);
    } else {
      bool any = false;
      for (const auto& d : t.declarations_) {
        if (!matches_labels(d, labels) || !matches_name(d, name)) continue;
        any = true;
        for (const auto& set : d.dimensions) {
          bool present = true;
          for (const auto& k : set) present = present && find_label(labels, k) != nullptr;
          if (present) sets.push_back(set);
        }
      }
      if (any) {
        for (auto& r : rollup_sets(t.options_.rollup, keys)) sets.push_back(std::move(r));
      }
      dedup(sets);
      if (sets.empty()) {
        ++stats.dropped["not_declared"];
        return;
      }
    }

    // One CloudWatch metric per dimension set with its values: what the guard counts.
    std::vector<std::uint64_t> series_keys;
    series_keys.reserve(sets.size());
    std::string k;  // one buffer for every set's key
    for (const auto& set : sets) {
      k.assign(ns);
      (k += kSep) += name_s;
      for (const auto& dim : set) {
        (k += kSep) += dim;
        k += '=';
        k += *find_label(labels, dim);
      }
      series_keys.push_back(hash_of(k));
    }
    const Labels* doc_labels = &labels;
    static const Labels kOverflowLabels = {{kOverflowDimension, "true"}};
    if (!admit(series_keys)) {
      // Folded, a metric named like the overflow dimension would be a second root member of that name.
      if (name_s == kOverflowDimension) {
        ++stats.dropped["name_conflict"];
        return;
      }
      const std::uint64_t overflow = hash_of(ns + kSep + name_s + kSep + kOverflowDimension);
      if (s.overflow_series.count(overflow) == 0) {
        if (s.overflow_series.size() >= kMaxOverflowSeries) {
          ++stats.dropped["max_series"];
          return;
        }
        s.overflow_series.insert(overflow);
      }
      if (s.folded.size() < kMaxFoldedTracked) s.folded.insert(series_keys.front());
      ++stats.folded_points;
      sets = {{kOverflowDimension}};
      doc_labels = &kOverflowLabels;
    }

    const std::int64_t ts =
        time_unix_nano == 0 ? now_ms : static_cast<std::int64_t>(time_unix_nano / 1'000'000);
    add(ns, group, stream, *doc_labels, ts, sets, name_s, std::string(cloudwatch_unit(unit)), number, object);
  }

  void add(const std::string& ns, const std::string& group, const std::string& stream, const Labels& labels,
           std::int64_t ts, const DimSets& sets, const std::string& name, const std::string& unit,
           const std::string& number, const std::string& object) {
    std::string key = group;
    (key += kSep) += stream;
    (key += kSep) += ns;
    (key += kSep) += format_int(ts);
    for (const auto& [k, v] : labels) {
      ((key += kSep) += k) += '\x1e';
      key += v;
    }
    const std::size_t added = name.size() + unit.size() + number.size() + object.size() + 40;
    std::vector<std::size_t>& candidates = by_key[key];
    for (std::size_t idx : candidates) {
      Doc& d = docs[idx];
      auto m = std::find_if(d.metrics.begin(), d.metrics.end(),
                            [&](const DocMetric& x) { return x.name == name; });
      if (m != d.metrics.end()) {
        // A second value of the same metric: EMF takes an array of up to 100 numbers.
        if (!object.empty() || !m->object.empty() || m->unit != unit ||
            m->numbers.size() >= kMaxValuesPerMetric || d.directives[m->directive] != sets ||
            d.bytes + number.size() + 1 > kMaxDocumentBytes) {
          continue;
        }
        m->numbers.push_back(number);
        d.bytes += number.size() + 1;
        return;
      }
      if (d.metrics.size() >= kMaxMetricsPerDirective || d.bytes + added > kMaxDocumentBytes) continue;
      append_metric(d, sets, name, unit, number, object, added);
      return;
    }
    Doc d;
    d.log_group = group;
    d.log_stream = stream;
    d.metric_namespace = ns;
    d.timestamp_ms = ts;
    d.labels = labels;
    d.bytes = 128 + ns.size();
    for (const auto& [k, v] : labels) d.bytes += k.size() + v.size() + 8;
    append_metric(d, sets, name, unit, number, object, added);
    candidates.push_back(docs.size());
    docs.push_back(std::move(d));
  }

  static void append_metric(Doc& d, const DimSets& sets, const std::string& name, const std::string& unit,
                            const std::string& number, const std::string& object, std::size_t added) {
    std::size_t directive = d.directives.size();
    for (std::size_t i = 0; i < d.directives.size(); ++i) {
      if (d.directives[i] == sets) directive = i;
    }
    if (directive == d.directives.size()) {
      d.directives.push_back(sets);
      for (const auto& set : sets) {
        for (const auto& k : set) d.bytes += k.size() + 4;
      }
    }
    DocMetric m;
    m.name = name;
    m.unit = unit;
    if (object.empty())
      m.numbers.push_back(number);
    else
      m.object = object;
    m.directive = directive;
    d.metrics.push_back(std::move(m));
    d.bytes += added;
  }
};

// ---- Translator --------------------------------------------------------------------------------

Translator::Translator(TranslatorOptions options, std::shared_ptr<TranslatorState> state)
    : options_(std::move(options)), state_(std::move(state)) {}

Translator::~Translator() = default;

std::unique_ptr<Translator> Translator::create(TranslatorOptions options,
                                               std::shared_ptr<TranslatorState> state, std::string& error) {
  std::vector<CompiledDeclaration> compiled;
  re2::RE2::Options re_options;
  re_options.set_log_errors(false);
  for (std::size_t i = 0; i < options.metric_declarations.size(); ++i) {
    const MetricDeclaration& d = options.metric_declarations[i];
    const std::string where = "metric_declarations[" + std::to_string(i) + "]";
    CompiledDeclaration c;
    c.dimensions = d.dimensions;
    for (const std::string& sel : d.metric_name_selectors) {
      auto re = std::make_unique<re2::RE2>(sel, re_options);
      if (!re->ok()) {
        error =
            where + ".metric_name_selectors: \"" + sel + "\" is not a valid RE2 expression: " + re->error();
        return nullptr;
      }
      c.selectors.push_back(std::move(re));
    }
    for (const LabelMatcher& m : d.label_matchers) {
      auto re = std::make_unique<re2::RE2>(m.regex, re_options);
      if (!re->ok()) {
        error = where + ".label_matchers: \"" + m.regex + "\" is not a valid RE2 expression: " + re->error();
        return nullptr;
      }
      c.matchers.push_back({m.label_names, m.separator, std::move(re)});
    }
    compiled.push_back(std::move(c));
  }
  if (!state) state = make_translator_state();
  std::unique_ptr<Translator> t(new Translator(std::move(options), std::move(state)));
  t->declarations_ = std::move(compiled);
  return t;
}

std::size_t Translator::series_this_hour() const {
  std::lock_guard lock(state_->mu);
  return state_->series.size() + state_->overflow_series.size();
}

std::size_t Translator::folded_series_this_hour() const {
  std::lock_guard lock(state_->mu);
  return state_->folded.size();
}

namespace {

std::string namespace_for(const std::string& configured, const model::Attributes& resource) {
  if (!configured.empty()) return configured;
  const AnyValue* name = model::find_attribute(resource, "service.name");
  const AnyValue* ns = model::find_attribute(resource, "service.namespace");
  const bool has_name = name != nullptr && name->type() == ValueType::kString && name->size() != 0;
  const bool has_ns = ns != nullptr && ns->type() == ValueType::kString && ns->size() != 0;
  if (has_name && has_ns) return std::string(ns->string_value()) + "/" + std::string(name->string_value());
  if (has_name) return std::string(name->string_value());
  if (has_ns) return std::string(ns->string_value());
  return "default";
}

void add_labels(Labels& out, const model::Attributes& attrs, TranslateStats& stats) {
  for (const model::KeyValue& kv : attrs) {
    if (kv.key.empty()) continue;
    if (kv.key == "_aws") {
      ++stats.adjusted["reserved_label"];
      continue;
    }
    std::string value;
    append_value_text(value, kv.value);
    if (truncate_chars(value, kMaxDimensionValueChars)) ++stats.adjusted["value_truncated"];
    std::string key(kv.key);
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == key; });
    if (it != out.end())
      it->second = std::move(value);  // the point's attribute wins
    else
      out.emplace_back(std::move(key), std::move(value));
  }
}

void append_attrs_key(std::string& k, const Labels& labels) {
  for (const auto& [key, v] : labels) {
    ((k += kSep) += key) += '\x1e';
    k += v;
  }
}

}  // namespace

std::vector<Document> Translator::translate(const model::Batch& batch, TranslateStats& stats) {
  std::lock_guard lock(state_->mu);
  Pass pass{*this, *state_, stats};
  const auto wall = options_.now();
  pass.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
  const std::int64_t hour = std::chrono::duration_cast<std::chrono::hours>(wall.time_since_epoch()).count();
  if (hour != state_->hour) {
    state_->hour = hour;
    state_->series.clear();
    state_->overflow_series.clear();
    state_->folded.clear();
  }
  pass.sweep(false);

  for (const model::ResourceMetrics& rm : batch.resource_metrics()) {
    std::string ns = namespace_for(options_.metric_namespace, rm.resource.attributes);
    if (truncate_chars(ns, kMaxNamespaceChars)) ++stats.adjusted["namespace_truncated"];
    const std::string group = options_.expand
                                  ? options_.expand(options_.log_group_name, rm.resource.attributes)
                                  : options_.log_group_name;
    const std::string stream = options_.expand
                                   ? options_.expand(options_.log_stream_name, rm.resource.attributes)
                                   : options_.log_stream_name;
    Labels resource_labels;
    add_labels(resource_labels, rm.resource.attributes, stats);
    std::sort(resource_labels.begin(), resource_labels.end());
    std::string resource_key;
    append_attrs_key(resource_key, resource_labels);

    for (const model::ScopeMetrics& sm : rm.scope_metrics) {
      for (const model::Metric& metric : sm.metrics) {
        const std::size_t n = metric.point_count();
        stats.points += n;
        if (metric.name.empty()) {
          stats.dropped["empty_name"] += n;
          continue;
        }
        const std::string name(metric.name);
        auto labels_of = [&](const model::Attributes& attrs) {
          Labels l;
          if (options_.resource_to_telemetry) l = resource_labels;
          add_labels(l, attrs, stats);
          if (!sm.scope.name.empty()) {
            std::string lib(sm.scope.name);
            truncate_chars(lib, kMaxDimensionValueChars);
            auto it =
                std::find_if(l.begin(), l.end(), [](const auto& p) { return p.first == kOTelLibDimension; });
            if (it == l.end()) l.emplace_back(kOTelLibDimension, std::move(lib));
          }
          std::sort(l.begin(), l.end());
          return l;
        };
        auto series_key = [&](const Labels& l) {
          std::string k = resource_key;
          (k += kSep) += sm.scope.name;
          (k += kSep) += name;
          k += kSep;
          k += std::to_string(static_cast<int>(metric.type));
          append_attrs_key(k, l);
          return k;
        };
        const bool cumulative = metric.aggregation_temporality == model::AggregationTemporality::kCumulative;
        switch (metric.type) {
          case model::MetricType::kGauge:
          case model::MetricType::kSum: {
            // Cumulative monotonic sums become deltas; a cumulative up-down sum is a level, sent
            // as it is (as a gauge).
            const bool to_delta = metric.type == model::MetricType::kSum && cumulative && metric.is_monotonic;
            for (const model::NumberDataPoint& p : metric.number_points) {
              const Labels l = labels_of(p.attributes);
              Value v;
              v.is_int = p.is_int;
              v.i = p.as_int;
              v.d = p.as_double;
              if (!p.is_int && !std::isfinite(p.as_double)) {
                ++stats.dropped["non_finite"];
                continue;
              }
              std::optional<Value> out = v;
              if (to_delta) out = pass.delta(series_key(l), p.time_unix_nano, p.start_time_unix_nano, v);
              if (out) pass.point(ns, group, stream, l, name, metric.unit, p.time_unix_nano, *out, false);
            }
            break;
          }
          case model::MetricType::kHistogram:
          case model::MetricType::kExponentialHistogram:
          case model::MetricType::kSummary: {
            const std::size_t count = metric.point_count();
            for (std::size_t i = 0; i < count; ++i) {
              const model::Attributes* attrs = nullptr;
              std::uint64_t time = 0, start = 0;
              Value v;
              v.is_distribution = true;
              bool to_delta = cumulative;
              if (metric.type == model::MetricType::kHistogram) {
                const auto& p = metric.histogram_points[i];
                attrs = &p.attributes;
                time = p.time_unix_nano;
                start = p.start_time_unix_nano;
                auto d = from_histogram(p);
                if (!d) {
                  ++stats.dropped["invalid_histogram"];
                  continue;
                }
                v.dist = std::move(*d);
              } else if (metric.type == model::MetricType::kExponentialHistogram) {
                const auto& p = metric.exponential_histogram_points[i];
                attrs = &p.attributes;
                time = p.time_unix_nano;
                start = p.start_time_unix_nano;
                v.dist = from_exponential(p);
              } else {
                const auto& p = metric.summary_points[i];
                attrs = &p.attributes;
                time = p.time_unix_nano;
                start = p.start_time_unix_nano;
                v.dist = from_summary(p);
                to_delta = true;  // a summary's count and sum are cumulative (the Collector's rule)
              }
              const Labels l = labels_of(*attrs);
              std::optional<Value> out = v;
              bool exact = true;
              if (to_delta) {
                out = pass.delta(series_key(l), time, start, v);
                // A delta's min/max are the lifetime's; exact only when the whole point is sent.
                exact = out && out->dist.count == v.dist.count && out->dist.sum == v.dist.sum;
              }
              if (out) pass.point(ns, group, stream, l, name, metric.unit, time, *out, exact);
            }
            break;
          }
          case model::MetricType::kEmpty:
            break;
        }
      }
    }
  }

  std::vector<Document> out;
  out.reserve(pass.docs.size());
  for (const Doc& d : pass.docs) {
    out.push_back({d.log_group, d.log_stream, d.timestamp_ms, render(d)});
  }
  return out;
}

}  // namespace vigil::exporters::awsemf
