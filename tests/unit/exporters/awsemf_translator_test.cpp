// The awsemf translation, rule by rule: OTLP metrics in, EMF documents out (parsed with simdjson
// and checked against the EMF specification's structure by parse_emf).

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "exporters/awsemf/emf_translator.hpp"
#include "tests/unit/exporters/awsemf_test_support.hpp"

namespace vigil::exporters::awsemf {
namespace {

using model::AggregationTemporality;
using model::MetricType;
using testing::Attrs;
using testing::Emf;
using testing::kSecond;
using testing::MetricsBuilder;
using testing::parse_emf;

std::unique_ptr<Translator> make(TranslatorOptions o = {}) {
  std::string error;
  auto t = Translator::create(std::move(o), nullptr, error);
  REQUIRE_MESSAGE(t, error);
  return t;
}

std::vector<Emf> run(Translator& t, const model::Batch& b, TranslateStats& stats) {
  std::vector<Emf> out;
  for (const Document& d : t.translate(b, stats)) {
    Emf e = parse_emf(d.json);
    CHECK(e.timestamp == d.timestamp_ms);
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<Emf> run(Translator& t, const model::Batch& b) {
  TranslateStats stats;
  return run(t, b, stats);
}

std::set<std::vector<std::string>> dim_sets(const Emf::Directive& d) {
  std::set<std::vector<std::string>> out;
  for (auto s : d.dimensions) {
    std::sort(s.begin(), s.end());
    out.insert(s);
  }
  return out;
}

TEST_CASE("units map from UCUM to CloudWatch") {
  CHECK(cloudwatch_unit("s") == "Seconds");
  CHECK(cloudwatch_unit("ms") == "Milliseconds");
  CHECK(cloudwatch_unit("us") == "Microseconds");
  CHECK(cloudwatch_unit("By") == "Bytes");
  CHECK(cloudwatch_unit("KiBy") == "Kilobytes");
  CHECK(cloudwatch_unit("KBy") == "Kilobytes");
  CHECK(cloudwatch_unit("MiBy") == "Megabytes");
  CHECK(cloudwatch_unit("bit") == "Bits");
  CHECK(cloudwatch_unit("%") == "Percent");
  CHECK(cloudwatch_unit("1") == "Count");
  CHECK(cloudwatch_unit("{request}") == "Count");
  CHECK(cloudwatch_unit("{request}/s") == "Count/Second");
  CHECK(cloudwatch_unit("By/s") == "Bytes/Second");
  CHECK(cloudwatch_unit("Mbit/s") == "Megabits/Second");
  CHECK(cloudwatch_unit("") == "");
  CHECK(cloudwatch_unit("furlong") == "None");
  CHECK(cloudwatch_unit("ns") == "None");
  CHECK(cloudwatch_unit("{a}b}") == "None");
}

TEST_CASE("a gauge becomes one document with the _aws directive, its dimensions and value at the root") {
  MetricsBuilder b({{"service.name", "shop"}, {"service.namespace", "acme"}}, "my.lib");
  auto& m = b.metric("queue_depth", MetricType::kGauge, "{job}");
  b.number(m, 7.5, 1'700'000'000'123'456'789ULL, {{"queue", "mail"}, {"region", "eu"}});
  auto t = make();
  auto docs = run(*t, b.batch());
  REQUIRE(docs.size() == 1);
  const Emf& e = docs[0];
  CHECK(e.timestamp == 1'700'000'000'123LL);
  REQUIRE(e.directives.size() == 1);
  CHECK(e.directives[0].ns == "acme/shop");
  REQUIRE(e.directives[0].metrics.size() == 1);
  CHECK(e.directives[0].metrics[0] == std::make_pair(std::string("queue_depth"), std::string("Count")));
  CHECK(e.numbers.at("queue_depth") == std::vector<double>{7.5});
  CHECK(e.strings.at("queue") == "mail");
  CHECK(e.strings.at("region") == "eu");
  CHECK(e.strings.at("OTelLib") == "my.lib");
  // ZeroAndSingleDimensionRollup (the default): all labels, OTelLib alone, OTelLib + each label.
  CHECK(dim_sets(e.directives[0]) ==
        std::set<std::vector<std::string>>{
            {"OTelLib", "queue", "region"}, {"OTelLib"}, {"OTelLib", "queue"}, {"OTelLib", "region"}});
}

TEST_CASE("values beyond 2^53 are written with an exponent, so int64-bound JSON parsers read them") {
  MetricsBuilder b({{"service.name", "shop"}}, "my.lib");
  auto& m = b.metric("bytes_total_ever", MetricType::kGauge, "By");
  const double huge = 18446744073709551616.0 * 4;  // 2^66: a 20-digit integer literal in shortest fixed form
  b.number(m, huge, 1'700'000'000'000'000'000ULL, {{"k", "a"}});
  b.number(m, -huge, 1'700'000'000'000'000'000ULL, {{"k", "b"}});
  b.number(m, 9007199254740991.0, 1'700'000'000'000'000'000ULL, {{"k", "c"}});  // 2^53-1 stays plain
  auto t = make();
  TranslateStats stats;
  std::vector<double> seen;
  for (const Document& d : t->translate(b.batch(), stats)) {
    const Emf e = parse_emf(d.json);  // simdjson refuses integer literals beyond int64/uint64
    for (double v : e.numbers.at("bytes_total_ever")) seen.push_back(v);
    if (e.strings.at("k") == "c") CHECK(d.json.find("9007199254740991") != std::string::npos);
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<double>{-huge, 9007199254740991.0, huge});
}

TEST_CASE("namespace: configured, else service.namespace/service.name, else default") {
  for (auto [resource, configured, want] : std::vector<std::tuple<Attrs, std::string, std::string>>{
           {{{"service.name", "shop"}}, "", "shop"},
           {{{"service.namespace", "acme"}}, "", "acme"},
           {{}, "", "default"},
           {{{"service.name", "shop"}}, "MyApp", "MyApp"},
           {{{"service.name", std::string(300, 'n')}}, "", std::string(255, 'n')},
       }) {
    MetricsBuilder b(resource);
    b.number(b.metric("g", MetricType::kGauge), 1, kSecond);
    TranslatorOptions o;
    o.metric_namespace = configured;
    auto t = make(o);
    auto docs = run(*t, b.batch());
    REQUIRE(docs.size() == 1);
    CHECK(docs[0].directives[0].ns == want);
  }
}

TEST_CASE("points sharing namespace, timestamp and labels share a document; others do not") {
  MetricsBuilder b;
  auto& a = b.metric("a", MetricType::kGauge);
  auto& c = b.metric("c", MetricType::kGauge, "ms");
  b.number(a, 1, 10 * kSecond, {{"k", "x"}});
  b.number(c, 2, 10 * kSecond, {{"k", "x"}});  // same document as a
  b.number(a, 3, 10 * kSecond, {{"k", "y"}});  // other labels
  b.number(a, 4, 11 * kSecond, {{"k", "x"}});  // other timestamp
  auto t = make();
  auto docs = run(*t, b.batch());
  REQUIRE(docs.size() == 3);
  const auto it =
      std::find_if(docs.begin(), docs.end(), [](const Emf& e) { return e.numbers.count("c") == 1; });
  REQUIRE(it != docs.end());
  CHECK(it->numbers.at("a") == std::vector<double>{1});
  CHECK(it->numbers.at("c") == std::vector<double>{2});
  CHECK(it->directives[0].metrics.size() == 2);
  CHECK(it->timestamp == 10'000);
}

TEST_CASE("a second value of a metric in the same document becomes an array of values") {
  MetricsBuilder b;
  auto& a = b.metric("a", MetricType::kGauge);
  b.number(a, 1, kSecond, {{"k", "x"}});
  b.number(a, 2, kSecond, {{"k", "x"}});
  auto t = make();
  auto docs = run(*t, b.batch());
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].numbers.at("a") == std::vector<double>{1, 2});
}

TEST_CASE("dimension_rollup_option") {
  auto sets_for = [](DimensionRollup r, const Attrs& labels) {
    MetricsBuilder b({}, "");  // no scope name: no OTelLib
    b.number(b.metric("m", MetricType::kGauge), 1, kSecond, labels);
    TranslatorOptions o;
    o.rollup = r;
    auto t = make(o);
    auto docs = run(*t, b.batch());
    REQUIRE(docs.size() == 1);
    return dim_sets(docs[0].directives[0]);
  };
  using Sets = std::set<std::vector<std::string>>;
  CHECK(sets_for(DimensionRollup::kNone, {{"a", "1"}, {"b", "2"}}) == Sets{{"a", "b"}});
  CHECK(sets_for(DimensionRollup::kSingleOnly, {{"a", "1"}, {"b", "2"}}) == Sets{{"a", "b"}, {"a"}, {"b"}});
  CHECK(sets_for(DimensionRollup::kZeroAndSingle, {{"a", "1"}, {"b", "2"}}) ==
        Sets{{"a", "b"}, {"a"}, {"b"}, {}});
  CHECK(sets_for(DimensionRollup::kZeroAndSingle, {{"a", "1"}}) == Sets{{"a"}, {}});
  CHECK(sets_for(DimensionRollup::kZeroAndSingle, {}) == Sets{{}});
}

TEST_CASE("metric_declarations select metrics and their dimension sets") {
  TranslatorOptions o;
  o.rollup = DimensionRollup::kNone;
  MetricDeclaration d1;
  d1.dimensions = {{"region"}, {"region", "method"}, {"absent"}};
  d1.metric_name_selectors = {"^orders_.*_total$"};
  MetricDeclaration d2;
  d2.dimensions = {{"queue"}};
  d2.metric_name_selectors = {"lag"};
  d2.label_matchers = {{{"queue", "env"}, ";", "^mail;prod$"}};
  o.metric_declarations = {d1, d2};
  auto t = make(o);

  MetricsBuilder b({}, "");
  b.number(b.metric("orders_created_total", MetricType::kGauge), 1, kSecond,
           {{"region", "eu"}, {"method", "card"}});
  b.number(b.metric("queue_lag", MetricType::kGauge), 2, kSecond, {{"queue", "mail"}, {"env", "prod"}});
  b.number(b.metric("queue_lag", MetricType::kGauge), 3, kSecond,
           {{"queue", "mail"}, {"env", "dev"}});  // matcher fails
  b.number(b.metric("unrelated", MetricType::kGauge), 4, kSecond, {{"region", "eu"}});
  TranslateStats stats;
  auto docs = run(*t, b.batch(), stats);
  REQUIRE(docs.size() == 2);
  CHECK(stats.dropped["not_declared"] == 2);
  for (const Emf& e : docs) {
    REQUIRE(e.directives.size() == 1);
    if (e.numbers.count("orders_created_total")) {
      CHECK(dim_sets(e.directives[0]) ==
            std::set<std::vector<std::string>>{{"region"}, {"method", "region"}});
    } else {
      CHECK(e.numbers.at("queue_lag") == std::vector<double>{2});
      CHECK(dim_sets(e.directives[0]) == std::set<std::vector<std::string>>{{"queue"}});
    }
  }
}

TEST_CASE("an invalid RE2 expression fails create") {
  TranslatorOptions o;
  MetricDeclaration d;
  d.metric_name_selectors = {"(unclosed"};
  o.metric_declarations = {d};
  std::string error;
  CHECK(Translator::create(o, nullptr, error) == nullptr);
  CHECK(error.find("(unclosed") != std::string::npos);
}

TEST_CASE("resource_to_telemetry_conversion makes resource attributes labels (the point's win)") {
  MetricsBuilder b({{"host.name", "h1"}, {"k", "resource"}}, "");
  b.number(b.metric("m", MetricType::kGauge), 1, kSecond, {{"k", "point"}});
  TranslatorOptions o;
  o.rollup = DimensionRollup::kNone;
  o.resource_to_telemetry = true;
  auto docs = run(*make(o), b.batch());
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].strings.at("host.name") == "h1");
  CHECK(docs[0].strings.at("k") == "point");
  CHECK(dim_sets(docs[0].directives[0]) == std::set<std::vector<std::string>>{{"host.name", "k"}});

  o.resource_to_telemetry = false;
  auto without = run(*make(o), b.batch());
  CHECK(without[0].strings.count("host.name") == 0);
}

TEST_CASE("cumulative sums become deltas: baseline, increase, reset by decrease and by start time") {
  auto t = make();
  auto batch = [](double value, std::uint64_t time_s, std::uint64_t start = 1) {
    MetricsBuilder b({}, "");
    auto& m = b.metric("c", MetricType::kSum, "{order}", AggregationTemporality::kCumulative, true);
    b.number(m, value, time_s * kSecond, {{"k", "x"}}, start);
    return b.take();
  };
  TranslateStats stats;
  CHECK(run(*t, batch(10, 1), stats).empty());  // the baseline
  CHECK(stats.baseline_points == 1);

  auto docs = run(*t, batch(15, 2));
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].numbers.at("c") == std::vector<double>{5});

  docs = run(*t, batch(15, 3));
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].numbers.at("c") == std::vector<double>{0});

  docs = run(*t, batch(4, 4));  // went down: the counter restarted; all 4 are new
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].numbers.at("c") == std::vector<double>{4});

  docs = run(*t, batch(9, 5, 99));  // a new start time: a restart too, even though 9 > 4
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].numbers.at("c") == std::vector<double>{9});

  docs = run(*t, batch(12, 6, 99));
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].numbers.at("c") == std::vector<double>{3});
}

TEST_CASE("a replayed batch gives the same deltas; an older point is covered by the later delta") {
  auto t = make();
  auto batch = [](std::int64_t value, std::uint64_t time_s) {
    MetricsBuilder b({}, "");
    auto& m = b.metric("c", MetricType::kSum, "", AggregationTemporality::kCumulative, true);
    b.integer(m, value, time_s * kSecond);
    return b.take();
  };
  run(*t, batch(100, 1));
  const model::Batch second = batch(130, 2);
  auto first_try = run(*t, second);
  auto retry = run(*t, second);  // the exporter helper resends the same batch after a failure
  REQUIRE(first_try.size() == 1);
  REQUIRE(retry.size() == 1);
  CHECK(first_try[0].numbers.at("c") == std::vector<double>{30});
  CHECK(retry[0].numbers.at("c") == std::vector<double>{30});
  // A batch from before (a slower sender thread): nothing, since 100 → 130 already covers it.
  TranslateStats stats;
  CHECK(run(*t, batch(120, 1), stats).empty());
  auto next = run(*t, batch(131, 3));
  REQUIRE(next.size() == 1);
  CHECK(next[0].numbers.at("c") == std::vector<double>{1});
}

TEST_CASE("integer cumulative sums at the ends of int64: no overflow, resets seen beyond 2^53") {
  // Found by fuzz_emf: 9223372036854775807 - (-9223372036854775807) overflowed int64 (UB).
  auto t = make();
  auto batch = [](std::int64_t value, std::uint64_t time_s) {
    MetricsBuilder b({}, "");
    auto& m = b.metric("c", MetricType::kSum, "", AggregationTemporality::kCumulative, true);
    b.integer(m, value, time_s * kSecond);
    return b.take();
  };
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  run(*t, batch(-kMax / 2, 1));
  auto docs = run(*t, batch(kMax, 2));  // 1.5 * kMax: beyond int64, within what simdjson reads back
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].numbers.at("c")[0] == doctest::Approx(1.5 * static_cast<double>(kMax)));

  // 2^60 + 1 then 2^60: equal as doubles, but the counter went down, so it restarted.
  constexpr std::int64_t kBig = std::int64_t{1} << 60;
  run(*t, batch(kBig + 1, 3));
  docs = run(*t, batch(kBig, 4));
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].numbers.at("c")[0] == doctest::Approx(static_cast<double>(kBig)));
  CHECK(docs[0].numbers.at("c")[0] > 0);
}

TEST_CASE("retain_initial_value_of_delta_metric sends the first value") {
  TranslatorOptions o;
  o.retain_initial_value_of_delta_metric = true;
  auto t = make(o);
  MetricsBuilder b({}, "");
  b.number(b.metric("c", MetricType::kSum, "", AggregationTemporality::kCumulative, true), 42, kSecond);
  auto docs = run(*t, b.batch());
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].numbers.at("c") == std::vector<double>{42});
}

TEST_CASE("delta sums and gauges pass as they are; a cumulative up-down sum is sent as a level") {
  auto t = make();
  for (int round = 0; round < 2; ++round) {
    MetricsBuilder b({}, "");
    b.number(b.metric("d", MetricType::kSum, "", AggregationTemporality::kDelta, true), 3,
             (1 + round) * kSecond);
    b.number(b.metric("g", MetricType::kGauge), 5, (1 + round) * kSecond);
    b.number(b.metric("u", MetricType::kSum, "", AggregationTemporality::kCumulative, false), 8,
             (1 + round) * kSecond);
    auto docs = run(*t, b.batch());
    REQUIRE(docs.size() == 1);
    CHECK(docs[0].numbers.at("d") == std::vector<double>{3});
    CHECK(docs[0].numbers.at("g") == std::vector<double>{5});
    CHECK(docs[0].numbers.at("u") == std::vector<double>{8});
  }
}

TEST_CASE("histograms: Values/Counts with Min, Max, Count, Sum; cumulative ones as deltas") {
  auto t = make();
  auto batch = [](const std::vector<std::uint64_t>& counts, double sum, std::uint64_t time_s,
                  AggregationTemporality temp = AggregationTemporality::kCumulative) {
    MetricsBuilder b({}, "");
    auto& m = b.metric("lat", MetricType::kHistogram, "s", temp);
    auto& p = b.histogram(m, {1, 2, 5}, counts, sum, time_s * kSecond);
    p.min = 0.5;
    p.max = 4;
    return b.take();
  };
  // Delta temporality: sent as it is, exact min/max.
  auto docs = run(*t, batch({1, 0, 2, 0}, 7, 1, AggregationTemporality::kDelta));
  REQUIRE(docs.size() == 1);
  const Emf::Dist& d = docs[0].dists.at("lat");
  // Bucket midpoints, open and outer edges narrowed by min/max: (0.5+1)/2 and (2+min(5,4))/2.
  CHECK(d.values == std::vector<double>{0.75, 3});
  CHECK(d.counts == std::vector<double>{1, 2});
  CHECK(d.count == 3);
  CHECK(d.sum == 7);
  CHECK(d.min == 0.5);
  CHECK(d.max == 4);
  CHECK(docs[0].directives[0].metrics[0].second == "Seconds");

  // Cumulative: the first is the baseline, then interval deltas bucket by bucket.
  CHECK(run(*t, batch({1, 1, 0, 0}, 2, 10)).empty());
  docs = run(*t, batch({1, 3, 1, 0}, 10, 11));
  REQUIRE(docs.size() == 1);
  const Emf::Dist& i = docs[0].dists.at("lat");
  CHECK(i.values == std::vector<double>{1.5, 3});
  CHECK(i.counts == std::vector<double>{2, 1});
  CHECK(i.count == 3);
  CHECK(i.sum == 8);
  CHECK(i.min == 1);  // the interval's lowest non-empty bucket starts at 1
  CHECK(i.max == 4);
  // No observation in the interval: nothing is sent.
  TranslateStats stats;
  CHECK(run(*t, batch({1, 3, 1, 0}, 10, 12), stats).empty());
  CHECK(stats.skipped_points == 1);
  // A bucket went down: a reset; the whole histogram is the interval.
  docs = run(*t, batch({0, 1, 0, 0}, 1.5, 13));
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].dists.at("lat").count == 1);
  CHECK(docs[0].dists.at("lat").sum == 1.5);
}

TEST_CASE("a histogram with more than 100 non-empty buckets is merged to 100 values") {
  MetricsBuilder b({}, "");
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  for (int i = 1; i <= 250; ++i) bounds.push_back(i);
  for (int i = 0; i <= 250; ++i) counts.push_back(1);
  b.histogram(b.metric("h", MetricType::kHistogram, "", AggregationTemporality::kDelta), bounds, counts, 1000,
              kSecond);
  TranslateStats stats;
  auto docs = run(*make(), b.batch(), stats);
  REQUIRE(docs.size() == 1);
  const auto& d = docs[0].dists.at("h");
  CHECK(d.values.size() <= 100);
  CHECK(d.values.size() >= 84);
  double total = 0;
  for (double c : d.counts) total += c;
  CHECK(total == 251);
  CHECK(std::is_sorted(d.values.begin(), d.values.end()));
  CHECK(stats.adjusted["buckets_merged"] == 1);
}

TEST_CASE("bucket values near the ends of the double range stay finite") {
  // Found by fuzz_emf: a bucket's midpoint lo + (hi - lo) / 2 overflowed to inf for extreme bounds,
  // as did the count-weighted mean of merged buckets, and "inf" was written into Values.
  constexpr double kHuge = 1.7e308;
  MetricsBuilder b({}, "");
  b.histogram(b.metric("wide", MetricType::kHistogram, "", AggregationTemporality::kDelta), {-kHuge, kHuge}, {0, 5, 0},
              10, kSecond);
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  for (int i = 1; i <= 150; ++i) bounds.push_back(i * 1e303);
  for (int i = 0; i <= 150; ++i) counts.push_back(1'000'000);
  b.histogram(b.metric("merged", MetricType::kHistogram, "", AggregationTemporality::kDelta), bounds, counts, 0,
              kSecond);
  TranslateStats stats;
  auto docs = run(*make(), b.batch(), stats);  // parse_emf: JSON without inf
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].dists.at("wide").values == std::vector<double>{0});
  const auto& merged = docs[0].dists.at("merged");
  CHECK(merged.values.size() <= 100);
  for (double v : merged.values) CHECK(std::isfinite(v));
  CHECK(std::is_sorted(merged.values.begin(), merged.values.end()));
  CHECK(merged.values.back() <= 151e303);
  CHECK(stats.dropped.count("non_finite") == 0);
}

TEST_CASE("summaries: count, sum, min (quantile 0), max (quantile 1); count and sum as deltas") {
  auto t = make();
  auto batch = [](std::uint64_t count, double sum, double q0, double q1, std::uint64_t time_s) {
    MetricsBuilder b({}, "");
    auto& m = b.metric("rt", MetricType::kSummary, "ms");
    auto& p = m.summary_points.emplace_back(b.arena());
    p.time_unix_nano = time_s * kSecond;
    p.start_time_unix_nano = 1;
    p.count = count;
    p.sum = sum;
    p.quantile_values.push_back(b.arena(), {0.0, q0});
    p.quantile_values.push_back(b.arena(), {0.5, (q0 + q1) / 2});
    p.quantile_values.push_back(b.arena(), {1.0, q1});
    return b.take();
  };
  CHECK(run(*t, batch(10, 100, 1, 30, 1)).empty());
  auto docs = run(*t, batch(14, 160, 1, 40, 2));
  REQUIRE(docs.size() == 1);
  const auto& d = docs[0].dists.at("rt");
  CHECK_FALSE(d.has_values);
  CHECK(d.count == 4);
  CHECK(d.sum == 60);
  CHECK(d.min == 1);
  CHECK(d.max == 40);
  CHECK(docs[0].directives[0].metrics[0].second == "Milliseconds");
}

TEST_CASE("exponential histograms become Values/Counts at bucket midpoints") {
  MetricsBuilder b({}, "");
  auto& m = b.metric("e", MetricType::kExponentialHistogram, "", AggregationTemporality::kDelta);
  auto& p = m.exponential_histogram_points.emplace_back(b.arena());
  p.time_unix_nano = kSecond;
  p.scale = 0;  // base 2: bucket i is (2^i, 2^(i+1)]
  p.positive.offset = 1;
  std::uint64_t pos[] = {3, 0, 1};  // (2,4]: 3, (8,16]: 1
  p.positive.bucket_counts.assign(b.arena(), pos, 3);
  p.zero_count = 2;
  p.count = 6;
  p.sum = 20;
  auto docs = run(*make(), b.batch());
  REQUIRE(docs.size() == 1);
  const auto& d = docs[0].dists.at("e");
  CHECK(d.values == std::vector<double>{0, 3, 12});
  CHECK(d.counts == std::vector<double>{2, 3, 1});
  CHECK(d.count == 6);
  CHECK(d.min == 0);
  CHECK(d.max == 16);
}

TEST_CASE("at most 100 metrics per directive: more are split into documents") {
  MetricsBuilder b({}, "");
  for (int i = 0; i < 250; ++i)
    b.number(b.metric("m" + std::to_string(i), MetricType::kGauge), i, kSecond, {{"k", "v"}});
  auto docs = run(*make(), b.batch());
  REQUIRE(docs.size() == 3);
  std::set<std::string> names;
  for (const Emf& e : docs) {
    std::size_t in_doc = 0;
    for (const auto& d : e.directives) in_doc += d.metrics.size();
    CHECK(in_doc <= 100);
    for (const auto& d : e.directives) {
      for (const auto& m : d.metrics) names.insert(m.first);
    }
  }
  CHECK(names.size() == 250);
}

TEST_CASE("at most 30 dimensions per set: the first 30 keys in order, the rest counted") {
  Attrs labels;
  for (int i = 0; i < 35; ++i)
    labels.emplace_back("k" + std::string(i < 10 ? "0" : "") + std::to_string(i), "v");
  MetricsBuilder b({}, "");
  b.number(b.metric("m", MetricType::kGauge), 1, kSecond, labels);
  TranslatorOptions o;
  o.rollup = DimensionRollup::kNone;
  TranslateStats stats;
  auto docs = run(*make(o), b.batch(), stats);
  REQUIRE(docs.size() == 1);
  REQUIRE(docs[0].directives[0].dimensions.size() == 1);
  const auto& set = docs[0].directives[0].dimensions[0];
  CHECK(set.size() == 30);
  CHECK(std::find(set.begin(), set.end(), "k29") != set.end());
  CHECK(std::find(set.begin(), set.end(), "k30") == set.end());
  CHECK(docs[0].strings.at("k34") == "v");  // kept as a property
  CHECK(stats.adjusted["dimensions_dropped"] == 5);
}

TEST_CASE("dimension values are strings of at most 1,024 characters") {
  MetricsBuilder b({}, "");
  auto& m = b.metric("m", MetricType::kGauge);
  auto& p = b.number(m, 1, kSecond,
                     {{"long", std::string(1500, 'x')}, {"utf", std::string(1100, 'x') + "\xC3\xA9"}});
  // Non-string attributes become text.
  p.attributes.push_back(b.arena(), {b.arena().copy("n"), model::AnyValue::integer(42)});
  p.attributes.push_back(b.arena(), {b.arena().copy("b"), model::AnyValue::boolean(true)});
  std::string accents;
  for (int i = 0; i < 1030; ++i) accents += "\xC3\xA9";  // é: 2 bytes, 1 character
  p.attributes.push_back(b.arena(),
                         {b.arena().copy("accents"), model::AnyValue::string(b.arena().copy(accents))});
  TranslateStats stats;
  auto docs = run(*make(), b.batch(), stats);
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].strings.at("long") == std::string(1024, 'x'));
  CHECK(docs[0].strings.at("n") == "42");
  CHECK(docs[0].strings.at("b") == "true");
  CHECK(docs[0].strings.at("accents").size() == 2048);  // 1024 characters, not bytes
  CHECK(stats.adjusted["value_truncated"] == 3);
}

TEST_CASE("NaN and infinite values, empty names and name clashes are dropped and counted") {
  MetricsBuilder b({}, "");
  auto& g = b.metric("g", MetricType::kGauge);
  b.number(g, std::numeric_limits<double>::quiet_NaN(), kSecond);
  b.number(g, std::numeric_limits<double>::infinity(), kSecond);
  b.number(g, 1, kSecond);
  b.number(b.metric("", MetricType::kGauge), 1, kSecond);
  b.number(b.metric("k", MetricType::kGauge), 1, kSecond, {{"k", "clash"}});
  auto& h = b.metric("h", MetricType::kHistogram, "", AggregationTemporality::kDelta);
  b.histogram(h, {1}, {1, 1}, std::numeric_limits<double>::infinity(), kSecond);
  TranslateStats stats;
  auto docs = run(*make(), b.batch(), stats);
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].numbers.at("g") == std::vector<double>{1});
  CHECK(stats.dropped["non_finite"] == 3);
  CHECK(stats.dropped["empty_name"] == 1);
  CHECK(stats.dropped["name_conflict"] == 1);
  CHECK(stats.points == 6);
}

TEST_CASE("the cost guard folds series beyond max_series into otel.overflow and resets each hour") {
  auto clock = std::make_shared<std::chrono::system_clock::time_point>(std::chrono::hours(500'000) +
                                                                       std::chrono::minutes(5));
  TranslatorOptions o;
  o.max_series = 10;
  o.rollup = DimensionRollup::kNone;
  o.now = [clock] { return *clock; };
  auto t = make(o);
  auto batch = [](int first, int n) {
    MetricsBuilder b({}, "");
    auto& m = b.metric("requests", MetricType::kSum, "", AggregationTemporality::kDelta, true);
    for (int i = first; i < first + n; ++i) b.number(m, 1, kSecond, {{"user", "u" + std::to_string(i)}});
    return b.take();
  };
  TranslateStats stats;
  auto docs = run(*t, batch(0, 25), stats);
  CHECK(stats.folded_points == 15);
  CHECK(t->series_this_hour() == 11);  // 10 + the overflow series
  CHECK(t->folded_series_this_hour() == 15);
  double folded_total = 0, plain = 0;
  for (const Emf& e : docs) {
    if (e.strings.count("otel.overflow")) {
      CHECK(e.strings.at("otel.overflow") == "true");
      CHECK(e.strings.count("user") == 0);
      CHECK(dim_sets(e.directives[0]) == std::set<std::vector<std::string>>{{"otel.overflow"}});
      for (double v : e.numbers.at("requests")) folded_total += v;
    } else {
      plain += e.numbers.at("requests")[0];
    }
  }
  CHECK(plain == 10);
  CHECK(folded_total == 15);  // folded, not lost
  // Known series keep their own dimensions.
  stats = {};
  run(*t, batch(0, 10), stats);
  CHECK(stats.folded_points == 0);
  // The next hour starts from zero.
  *clock += std::chrono::hours(1);
  stats = {};
  run(*t, batch(100, 10), stats);
  CHECK(stats.folded_points == 0);
  CHECK(t->series_this_hour() == 10);
  CHECK(t->folded_series_this_hour() == 0);
}

TEST_CASE("a folded metric named otel.overflow is dropped as a name clash, not written twice") {
  // Found by fuzz_emf: the folded point's document held two root members "otel.overflow".
  TranslatorOptions o;
  o.max_series = 1;
  o.rollup = DimensionRollup::kNone;
  MetricsBuilder b({}, "");
  auto& m = b.metric("otel.overflow", MetricType::kGauge);
  b.number(m, 1, kSecond, {{"user", "a"}});
  b.number(m, 2, kSecond, {{"user", "b"}});  // beyond max_series: folded
  TranslateStats stats;
  std::size_t members = 0;
  for (const Document& d : make(o)->translate(b.batch(), stats)) {
    parse_emf(d.json);
    for (std::size_t at = d.json.find("\"otel.overflow\":"); at != std::string::npos;
         at = d.json.find("\"otel.overflow\":", at + 1)) {
      ++members;
    }
  }
  CHECK(members == 1);  // the first point's value
  CHECK(stats.dropped["name_conflict"] == 1);
  CHECK(stats.folded_points == 0);
}

TEST_CASE("the cost guard counts each rolled-up dimension set as a series") {
  TranslatorOptions o;
  o.max_series = 4;
  auto t = make(o);
  MetricsBuilder b({}, "");
  auto& m = b.metric("m", MetricType::kGauge);
  b.number(m, 1, kSecond, {{"a", "1"}, {"b", "1"}});  // [a,b], [], [a], [b]: 4 series
  b.number(m, 1, kSecond, {{"a", "2"}, {"b", "1"}});  // [a,b] and [a] are new: over the cap
  TranslateStats stats;
  run(*t, b.batch(), stats);
  CHECK(stats.folded_points == 1);
  CHECK(t->series_this_hour() == 5);
}

TEST_CASE("placeholders in log group and stream are expanded per resource") {
  TranslatorOptions o;
  o.log_group_name = "/aws/{service.name}";
  o.log_stream_name = "fixed";
  o.expand = [](const std::string& pattern, const model::Attributes& resource) {
    const auto* v = model::find_attribute(resource, "service.name");
    std::string out = pattern;
    if (auto at = out.find("{service.name}"); at != std::string::npos) {
      out.replace(at, 14, v ? std::string(v->string_value()) : "undefined");
    }
    return out;
  };
  MetricsBuilder b(Attrs{{"service.name", "shop"}});
  b.number(b.metric("m", MetricType::kGauge), 1, kSecond);
  TranslateStats stats;
  auto docs = make(o)->translate(b.batch(), stats);
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].log_group == "/aws/shop");
  CHECK(docs[0].log_stream == "fixed");
}

}  // namespace
}  // namespace vigil::exporters::awsemf
