#include "agent/model/batch.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/otlp/json_encoder.hpp"
#include "tests/support/test_batches.hpp"

using namespace vigil::model;
using vigil::model::testing::make_logs;
using vigil::model::testing::make_spans;
using vigil::model::testing::Row;
using vigil::model::testing::rows;

namespace {

std::vector<Row> slice(const std::vector<Row>& v, std::size_t from, std::size_t n) {
  if (from > v.size()) from = v.size();
  if (n > v.size() - from) n = v.size() - from;
  return {v.begin() + static_cast<std::ptrdiff_t>(from), v.begin() + static_cast<std::ptrdiff_t>(from + n)};
}

// Metrics: gauge with `g` points, histogram with `h`, sum with `s` (all in one scope); point
// times continue from first_id.
Batch make_metrics(int g, int h, int s, std::uint64_t first_id = 0) {
  Batch b(Signal::kMetrics);
  Arena& a = b.arena();
  ResourceMetrics& rm = b.resource_metrics().emplace_back(a);
  rm.resource.attributes.push_back(a, {a.copy("res"), AnyValue::string(a.copy("r0"))});
  ScopeMetrics& sm = rm.scope_metrics.emplace_back(a);
  sm.scope.name = a.copy("s0.0");
  std::uint64_t id = first_id;
  Metric& mg = sm.metrics.emplace_back(a);
  mg.name = a.copy("gauge");
  mg.type = MetricType::kGauge;
  for (int i = 0; i < g; ++i) mg.number_points.emplace_back(a).time_unix_nano = id++;
  Metric& mh = sm.metrics.emplace_back(a);
  mh.name = a.copy("histogram");
  mh.type = MetricType::kHistogram;
  for (int i = 0; i < h; ++i) mh.histogram_points.emplace_back(a).time_unix_nano = id++;
  Metric& ms = sm.metrics.emplace_back(a);
  ms.name = a.copy("sum");
  ms.type = MetricType::kSum;
  for (int i = 0; i < s; ++i) ms.number_points.emplace_back(a).time_unix_nano = id++;
  return b;
}

}  // namespace

TEST_CASE("signal names") {
  CHECK(signal_name(Signal::kTraces) == "traces");
  CHECK(signal_name(Signal::kMetrics) == "metrics");
  CHECK(signal_name(Signal::kLogs) == "logs");
  CHECK(signal_item_name(Signal::kTraces) == "spans");
  CHECK(signal_item_name(Signal::kMetrics) == "metric_points");
  CHECK(signal_item_name(Signal::kLogs) == "log_records");
}

TEST_CASE("item_count per signal") {
  Batch empty(Signal::kLogs);
  CHECK(empty.item_count() == 0);
  CHECK(empty.empty());

  CHECK(make_logs({{2, 3}, {}, {0, 4}}).item_count() == 9);
  CHECK(make_spans({{1}, {5, 1}}).item_count() == 7);

  // Every metric type counts its own points; an empty metric counts nothing.
  Batch full = vigil::model::testing::full_metrics();
  // gauge 2, sum 1, histogram 2, exponential 1, summary 1, empty 0
  CHECK(full.item_count() == 7);
  CHECK_FALSE(full.empty());

  Batch m(Signal::kMetrics);
  Arena& a = m.arena();
  ScopeMetrics& sm = m.resource_metrics().emplace_back(a).scope_metrics.emplace_back(a);
  Metric& e = sm.metrics.emplace_back(a);
  e.type = MetricType::kExponentialHistogram;
  for (int i = 0; i < 4; ++i) e.exponential_histogram_points.emplace_back(a);
  Metric& s = sm.metrics.emplace_back(a);
  s.type = MetricType::kSummary;
  for (int i = 0; i < 3; ++i) s.summary_points.emplace_back(a);
  // Points stored under a type that does not use them are not counted.
  Metric& g = sm.metrics.emplace_back(a);
  g.type = MetricType::kGauge;
  g.number_points.emplace_back(a);
  g.summary_points.emplace_back(a);
  CHECK(m.item_count() == 8);

  // The signal decides which vector counts.
  Batch logs_with_spans(Signal::kLogs);
  logs_with_spans.resource_spans()
      .emplace_back(logs_with_spans.arena())
      .scope_spans.emplace_back(logs_with_spans.arena())
      .spans.emplace_back(logs_with_spans.arena());
  CHECK(logs_with_spans.item_count() == 0);
}

TEST_CASE("append keeps every record in order and keeps the other's arena alive") {
  Batch a = make_logs({{2}, {1}}, 0);
  std::vector<Row> expected = rows(a);
  {
    Batch b = make_logs({{1, 2}}, 100);
    auto rb = rows(b);
    expected.insert(expected.end(), rb.begin(), rb.end());
    std::size_t before = a.memory_bytes() + b.memory_bytes();
    a.append(std::move(b));
    CHECK(b.item_count() == 0);  // NOLINT(bugprone-use-after-move): append leaves it empty
    CHECK(a.memory_bytes() >= before);
  }  // b destroyed: a's records from b must still be readable (ASan checks)
  CHECK(a.item_count() == 6);
  CHECK(a.resource_logs().size() == 3);
  CHECK(rows(a) == expected);

  // Appending a batch that itself kept arenas keeps those too.
  Batch c = make_logs({{1}}, 200);
  {
    Batch d = make_logs({{1}}, 300);
    c.append(std::move(d));
  }
  auto rc = rows(c);
  expected.insert(expected.end(), rc.begin(), rc.end());
  a.append(std::move(c));
  c = Batch(Signal::kLogs);  // destroys the old c
  CHECK(rows(a) == expected);

  // Appending an empty batch changes nothing.
  a.append(Batch(Signal::kLogs));
  CHECK(rows(a) == expected);
}

TEST_CASE("split_front at every position preserves records across resource and scope boundaries") {
  // 10 records: r0 {s0.0: 2, s0.1: 3}, r1 {s1.0: 1}, r2 {s2.0: 4}
  const std::vector<std::vector<int>> shape = {{2, 3}, {1}, {4}};
  const std::vector<Row> all = rows(make_logs(shape));
  REQUIRE(all.size() == 10);

  for (std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{5},
                        std::size_t{6}, std::size_t{9}, std::size_t{10}, std::size_t{11}, std::size_t{100}}) {
    CAPTURE(k);
    Batch b = make_logs(shape);
    Batch front = b.split_front(k);
    CHECK(front.signal() == Signal::kLogs);
    CHECK(rows(front) == slice(all, 0, k));
    CHECK(rows(b) == slice(all, k, all.size()));
    CHECK(front.item_count() + b.item_count() == 10);
  }
}

TEST_CASE("split_front entry structure") {
  const std::vector<std::vector<int>> shape = {{2, 3}, {1}, {4}};
  SUBCASE("split at 0 leaves everything") {
    Batch b = make_logs(shape);
    Batch front = b.split_front(0);
    CHECK(front.resource_logs().empty());
    CHECK(b.resource_logs().size() == 3);
  }
  SUBCASE("split in the middle of a scope") {
    Batch b = make_logs(shape);
    Batch front = b.split_front(3);
    REQUIRE(front.resource_logs().size() == 1);
    REQUIRE(front.resource_logs()[0].scope_logs.size() == 2);
    CHECK(front.resource_logs()[0].scope_logs[1].log_records.size() == 1);
    REQUIRE(b.resource_logs().size() == 3);
    CHECK(b.resource_logs()[0].scope_logs.size() == 1);  // s0.1 with its last 2 records
    CHECK(b.resource_logs()[0].scope_logs[0].scope.name == "s0.1");
    CHECK(b.resource_logs()[0].scope_logs[0].log_records.size() == 2);
  }
  SUBCASE("split exactly at a resource boundary") {
    Batch b = make_logs(shape);
    Batch front = b.split_front(5);
    CHECK(front.resource_logs().size() == 1);
    CHECK(front.resource_logs()[0].scope_logs.size() == 2);
    CHECK(b.resource_logs().size() == 2);
    CHECK(testing::resource_tag(b.resource_logs()[0].resource) == "r1");
  }
  SUBCASE("more than total takes everything, empty entries too") {
    Batch b = make_logs({{1}, {}, {0}});
    Batch front = b.split_front(50);
    CHECK(front.resource_logs().size() == 3);
    CHECK(b.resource_logs().empty());
    CHECK(b.empty());
  }
}

TEST_CASE("split_front repeatedly drains a batch in order") {
  Batch b = make_logs({{7, 1}, {3}, {}, {2, 0, 5}});
  const std::vector<Row> all = rows(b);
  std::vector<Row> seen;
  int rounds = 0;
  while (!b.empty()) {
    Batch front = b.split_front(3);
    CHECK(front.item_count() <= 3);
    auto r = rows(front);
    seen.insert(seen.end(), r.begin(), r.end());
    ++rounds;
    REQUIRE(rounds < 20);
  }
  CHECK(rounds == 6);  // 18 records
  CHECK(seen == all);
}

TEST_CASE("split_front front and rest are independent and outlive the original's arena") {
  std::optional<Batch> original(make_logs({{4, 4}}));
  Batch front = original->split_front(5);
  Batch rest = std::move(*original);
  original.reset();
  // Writing into the front's records must not change the rest (records copied by value).
  front.resource_logs()[0].scope_logs[0].log_records[0].time_unix_nano = 999;
  CHECK(rows(rest).front() == Row{"r0", "s0.1", 5, "rec-5"});
  // The rest keeps growing without touching the front.
  rest.append(make_logs({{1}}, 50));
  CHECK(front.item_count() == 5);
  CHECK(rest.item_count() == 4);
  CHECK(std::get<3>(rows(front)[4]) == "rec-4");
  // Both readable after the producer of their strings is long gone.
  Batch moved = std::move(rest);
  CHECK(std::get<3>(rows(moved).back()) == "rec-50");
}

TEST_CASE("split_front for traces and metrics") {
  Batch t = make_spans({{2}, {2}});
  auto all_t = rows(t);
  Batch tf = t.split_front(3);
  CHECK(rows(tf) == slice(all_t, 0, 3));
  CHECK(rows(t) == slice(all_t, 3, 1));

  // Metrics split by data point, inside a metric.
  for (std::size_t k = 0; k <= 10; ++k) {
    CAPTURE(k);
    Batch m = make_metrics(3, 2, 4);
    auto all_m = rows(m);
    REQUIRE(all_m.size() == 9);
    Batch mf = m.split_front(k);
    CHECK(rows(mf) == slice(all_m, 0, k));
    CHECK(rows(m) == slice(all_m, k, 9));
    CHECK(mf.item_count() == std::min<std::size_t>(k, 9));
  }
  Batch m = make_metrics(3, 2, 4);
  Batch mf = m.split_front(4);
  REQUIRE(mf.resource_metrics()[0].scope_metrics[0].metrics.size() == 2);
  const Metric& split = mf.resource_metrics()[0].scope_metrics[0].metrics[1];
  CHECK(split.name == "histogram");
  CHECK(split.type == MetricType::kHistogram);
  CHECK(split.histogram_points.size() == 1);
  CHECK(m.resource_metrics()[0].scope_metrics[0].metrics[0].name == "histogram");
  CHECK(m.resource_metrics()[0].scope_metrics[0].metrics[0].histogram_points.size() == 1);
}

TEST_CASE("share: same records, independent further appends") {
  Batch a = make_logs({{2}}, 0);
  Batch s = a.share();
  CHECK(s.signal() == Signal::kLogs);
  CHECK(rows(s) == rows(a));
  CHECK(s.memory_bytes() >= a.memory_bytes());

  // a's top-level array has spare capacity; appending to a must not show up in s, and
  // appending to s must not overwrite what a appended into that capacity.
  a.append(make_logs({{1}}, 10));
  CHECK(s.item_count() == 2);
  CHECK(s.resource_logs().size() == 1);
  s.append(make_logs({{3}}, 20));
  CHECK(a.item_count() == 3);
  CHECK(std::get<2>(rows(a).back()) == 10);
  CHECK(s.item_count() == 5);
  CHECK(std::get<2>(rows(s).back()) == 22);

  // s reads a's records even after a is gone.
  auto expected = rows(s);
  a = Batch(Signal::kLogs);
  CHECK(rows(s) == expected);
}

TEST_CASE("deep_copy survives destruction of the original") {
  for (Signal sig : {Signal::kLogs, Signal::kTraces, Signal::kMetrics}) {
    CAPTURE(signal_name(sig));
    std::string before;
    std::optional<Batch> original;
    switch (sig) {
      case Signal::kLogs:
        original.emplace(testing::full_logs());
        break;
      case Signal::kTraces:
        original.emplace(testing::full_traces());
        break;
      case Signal::kMetrics:
        original.emplace(testing::full_metrics());
        break;
    }
    // Make the original also hold a kept arena, which the copy must not need.
    Batch extra = sig == Signal::kLogs     ? make_logs({{2}}, 40)
                  : sig == Signal::kTraces ? make_spans({{2}}, 40)
                                           : make_metrics(1, 1, 1, 40);
    original->append(std::move(extra));
    vigil::otlp::encode_json(*original, before);
    std::size_t count = original->item_count();

    Batch copy = original->deep_copy();
    original.reset();  // frees every arena the original held

    std::string after;
    vigil::otlp::encode_json(copy, after);
    CHECK(after == before);
    CHECK(copy.item_count() == count);
    CHECK(copy.memory_bytes() > 0);
  }
}

TEST_CASE("deep_copy is independent of later changes to the original") {
  Batch original = make_logs({{2}});
  Batch copy = original.deep_copy();
  original.resource_logs()[0].scope_logs[0].log_records[0].time_unix_nano = 77;
  original.append(make_logs({{1}}, 5));
  CHECK(copy.item_count() == 2);
  CHECK(std::get<2>(rows(copy)[0]) == 0);
}

TEST_CASE("memory_bytes grows with content and with kept arenas") {
  Batch b(Signal::kLogs);
  CHECK(b.memory_bytes() == 0);
  Arena& a = b.arena();
  LogRecord& r = b.resource_logs().emplace_back(a).scope_logs.emplace_back(a).log_records.emplace_back(a);
  r.body = AnyValue::string(a.copy("x"));
  std::size_t small = b.memory_bytes();
  CHECK(small > 0);
  std::string big(1 << 20, 'y');
  r.body = AnyValue::string(a.copy(big));
  CHECK(b.memory_bytes() >= small + big.size());

  std::size_t own = b.memory_bytes();
  Batch other = make_logs({{1}});
  std::size_t other_bytes = other.memory_bytes();
  b.append(std::move(other));
  CHECK(b.memory_bytes() >= own + other_bytes);

  // Adopted buffers count as well.
  std::size_t before_adopt = b.memory_bytes();
  b.arena().adopt(std::string(100000, 'z'));
  CHECK(b.memory_bytes() >= before_adopt + 100000);
}
