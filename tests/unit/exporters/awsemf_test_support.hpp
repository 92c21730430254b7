#pragma once
// Shared by the awsemf tests: metric batches built point by point, and EMF documents parsed with
// simdjson and checked against the structural rules of the EMF specification.

#include <doctest/doctest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/model/batch.hpp"
#include "tests/support/cloudwatch_units.hpp"

namespace vigil::exporters::awsemf::testing {

using vigil::testing::cloudwatch_units;
using Attrs = std::vector<std::pair<std::string, std::string>>;

// A metrics batch with one resource and one scope; metrics are added with the helpers below.
class MetricsBuilder {
 public:
  explicit MetricsBuilder(const Attrs& resource = {}, std::string scope = "test.scope")
      : batch_(model::Signal::kMetrics) {
    model::Arena& a = batch_.arena();
    rm_ = &batch_.resource_metrics().emplace_back(a);
    for (const auto& [k, v] : resource) {
      rm_->resource.attributes.push_back(a, {a.copy(k), model::AnyValue::string(a.copy(v))});
    }
    sm_ = &rm_->scope_metrics.emplace_back(a);
    sm_->scope.name = a.copy(scope);
  }

  model::Metric& metric(const std::string& name, model::MetricType type, const std::string& unit = "",
                        model::AggregationTemporality t = model::AggregationTemporality::kUnspecified,
                        bool monotonic = false) {
    model::Arena& a = batch_.arena();
    model::Metric& m = sm_->metrics.emplace_back(a);
    m.name = a.copy(name);
    m.unit = a.copy(unit);
    m.type = type;
    m.aggregation_temporality = t;
    m.is_monotonic = monotonic;
    return m;
  }

  model::Attributes attrs(const Attrs& kv) {
    model::Arena& a = batch_.arena();
    model::Attributes out;
    for (const auto& [k, v] : kv) out.push_back(a, {a.copy(k), model::AnyValue::string(a.copy(v))});
    return out;
  }

  model::NumberDataPoint& number(model::Metric& m, double value, std::uint64_t time_ns, const Attrs& kv = {},
                                 std::uint64_t start_ns = 1) {
    model::NumberDataPoint& p = m.number_points.emplace_back(batch_.arena());
    p.attributes = attrs(kv);
    p.time_unix_nano = time_ns;
    p.start_time_unix_nano = start_ns;
    p.as_double = value;
    return p;
  }

  model::NumberDataPoint& integer(model::Metric& m, std::int64_t value, std::uint64_t time_ns,
                                  const Attrs& kv = {}, std::uint64_t start_ns = 1) {
    model::NumberDataPoint& p = number(m, 0, time_ns, kv, start_ns);
    p.is_int = true;
    p.as_int = value;
    return p;
  }

  model::HistogramDataPoint& histogram(model::Metric& m, const std::vector<double>& bounds,
                                       const std::vector<std::uint64_t>& counts, double sum,
                                       std::uint64_t time_ns, const Attrs& kv = {},
                                       std::uint64_t start_ns = 1) {
    model::Arena& a = batch_.arena();
    model::HistogramDataPoint& p = m.histogram_points.emplace_back(a);
    p.attributes = attrs(kv);
    p.time_unix_nano = time_ns;
    p.start_time_unix_nano = start_ns;
    p.explicit_bounds.assign(a, bounds.data(), bounds.size());
    p.bucket_counts.assign(a, counts.data(), counts.size());
    for (auto c : counts) p.count += c;
    p.sum = sum;
    return p;
  }

  model::Arena& arena() { return batch_.arena(); }
  model::Batch& batch() { return batch_; }
  model::Batch take() { return std::move(batch_); }

 private:
  model::Batch batch_;
  model::ResourceMetrics* rm_ = nullptr;
  model::ScopeMetrics* sm_ = nullptr;
};

inline constexpr std::uint64_t kSecond = 1'000'000'000ULL;


// One parsed EMF document: what the tests look at.
struct Emf {
  std::int64_t timestamp = 0;
  struct Directive {
    std::string ns;
    std::vector<std::vector<std::string>> dimensions;
    std::vector<std::pair<std::string, std::string>> metrics;  // (Name, Unit or "")
  };
  std::vector<Directive> directives;
  std::map<std::string, std::string> strings;          // root string members
  std::map<std::string, std::vector<double>> numbers;  // root numbers (one) or arrays of numbers
  struct Dist {
    std::vector<double> values, counts;
    double max = 0, min = 0, count = 0, sum = 0;
    bool has_values = false;
  };
  std::map<std::string, Dist> dists;
};

// Parses `json` and checks every structural rule of the EMF specification (REQUIRE on failure).
inline Emf parse_emf(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.parse(json).get(root);
  REQUIRE_MESSAGE(!err, "not JSON: " << json);
  simdjson::dom::object obj;
  REQUIRE(root.get_object().get(obj) == simdjson::SUCCESS);
  Emf out;
  simdjson::dom::object aws;
  REQUIRE_MESSAGE(obj["_aws"].get_object().get(aws) == simdjson::SUCCESS, "no _aws object: " << json);
  std::int64_t ts = 0;
  REQUIRE_MESSAGE(aws["Timestamp"].get_int64().get(ts) == simdjson::SUCCESS, "Timestamp is not an integer");
  REQUIRE(ts > 0);
  out.timestamp = ts;
  simdjson::dom::array cwm;
  REQUIRE(aws["CloudWatchMetrics"].get_array().get(cwm) == simdjson::SUCCESS);
  REQUIRE(cwm.size() >= 1);
  // Root members first, so that the directives can be checked against them.
  for (auto field : obj) {
    const std::string key(field.key);
    if (key == "_aws") continue;
    std::string_view sv;
    double d = 0;
    simdjson::dom::array arr;
    simdjson::dom::object o;
    if (field.value.get_string().get(sv) == simdjson::SUCCESS) {
      out.strings[key] = std::string(sv);
    } else if (field.value.get_double().get(d) == simdjson::SUCCESS) {
      out.numbers[key] = {d};
    } else if (field.value.get_array().get(arr) == simdjson::SUCCESS) {
      std::vector<double> v;
      for (auto x : arr) {
        double xd = 0;
        REQUIRE(x.get_double().get(xd) == simdjson::SUCCESS);
        v.push_back(xd);
      }
      out.numbers[key] = v;
    } else if (field.value.get_object().get(o) == simdjson::SUCCESS) {
      Emf::Dist dist;
      simdjson::dom::array values, counts;
      if (o["Values"].get_array().get(values) == simdjson::SUCCESS) {
        REQUIRE(o["Counts"].get_array().get(counts) == simdjson::SUCCESS);
        dist.has_values = true;
        for (auto x : values) dist.values.push_back(x.get_double().value());
        for (auto x : counts) dist.counts.push_back(x.get_double().value());
        REQUIRE(dist.values.size() == dist.counts.size());
        REQUIRE(dist.values.size() <= 100);
      }
      REQUIRE(o["Max"].get_double().get(dist.max) == simdjson::SUCCESS);
      REQUIRE(o["Min"].get_double().get(dist.min) == simdjson::SUCCESS);
      REQUIRE(o["Count"].get_double().get(dist.count) == simdjson::SUCCESS);
      REQUIRE(o["Sum"].get_double().get(dist.sum) == simdjson::SUCCESS);
      CHECK(dist.min <= dist.max);
      out.dists[key] = dist;
    }
  }
  for (auto dir : cwm) {
    Emf::Directive d;
    std::string_view ns;
    REQUIRE(dir["Namespace"].get_string().get(ns) == simdjson::SUCCESS);
    REQUIRE(!ns.empty());
    REQUIRE(ns.size() <= 255);
    d.ns = std::string(ns);
    simdjson::dom::array dims, metrics;
    REQUIRE(dir["Dimensions"].get_array().get(dims) == simdjson::SUCCESS);
    for (auto set : dims) {
      simdjson::dom::array s;
      REQUIRE(set.get_array().get(s) == simdjson::SUCCESS);
      REQUIRE(s.size() <= 30);
      std::vector<std::string> names;
      for (auto n : s) {
        std::string_view name;
        REQUIRE(n.get_string().get(name) == simdjson::SUCCESS);
        REQUIRE_MESSAGE(out.strings.count(std::string(name)) == 1,
                        "dimension " << name << " is not a root string");
        CHECK(out.strings[std::string(name)].size() <= 1024 * 4);
        names.emplace_back(name);
      }
      d.dimensions.push_back(names);
    }
    REQUIRE(dir["Metrics"].get_array().get(metrics) == simdjson::SUCCESS);
    REQUIRE(metrics.size() <= 100);
    for (auto m : metrics) {
      std::string_view name, unit;
      REQUIRE(m["Name"].get_string().get(name) == simdjson::SUCCESS);
      REQUIRE(!name.empty());
      const std::string n(name);
      REQUIRE_MESSAGE((out.numbers.count(n) == 1 || out.dists.count(n) == 1),
                      "metric " << n << " has no value");
      if (out.numbers.count(n)) {
        CHECK(out.numbers[n].size() <= 100);
        for (double x : out.numbers[n]) CHECK(std::isfinite(x));
      }
      std::string u;
      if (m["Unit"].get_string().get(unit) == simdjson::SUCCESS) {
        u = std::string(unit);
        CHECK_MESSAGE(cloudwatch_units().count(u) == 1, "unit " << u);
      }
      d.metrics.emplace_back(n, u);
    }
    out.directives.push_back(d);
  }
  return out;
}

}  // namespace vigil::exporters::awsemf::testing
