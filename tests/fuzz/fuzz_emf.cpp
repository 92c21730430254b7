// libFuzzer target: the awsemf exporter's translator (exporters/awsemf/emf_translator.cpp), OTLP
// metrics → CloudWatch Embedded Metric Format documents.
//
// Input: byte 0 picks the options (bits 0-1: dimension_rollup_option none, single-only,
// zero-and-single, zero-and-single; bit 2: resource_to_telemetry_conversion; bit 3: two
// metric_declarations, one with a label matcher; bit 4: max_series 3 instead of 1000; bit 5:
// retain_initial_value_of_delta_metric; bit 6: a configured namespace; bit 7: a second batch,
// the first one replayed); the rest is an ExportMetricsServiceRequest, decoded by the OTLP
// protobuf decoder. Every document of every translate() must:
//   - parse as JSON (simdjson; integer literals beyond 64 bits, which JSON allows, are given a
//     ".0" first), as one object without duplicate keys, and fit in one CloudWatch Logs event;
//   - hold `_aws` with an integer Timestamp (the document's) and CloudWatchMetrics directives,
//     each with a non-empty Namespace of at most 255 characters, dimension sets of at most 30
//     names, each a root string of at most 1,024 characters, and 1 to 100 Metrics named once,
//     with a CloudWatch unit;
//   - give each metric a value at the root: a finite number, an array of 1 to 100 finite
//     numbers, or a distribution object with finite Max/Min/Count/Sum (Count > 0) and as many
//     Values as Counts (at most 100, counts > 0).
// A replayed batch (translated again with the same state) gives the same documents when no series
// has more points than the translator's replay history (4). Broken properties __builtin_trap().
// VIGIL_FUZZ_PRINT=1 prints every document to stderr (to read what a crashing input produced).

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/aws/cloudwatch_logs.hpp"
#include "agent/model/batch.hpp"
#include "agent/otlp/proto_decoder.hpp"
#include "exporters/awsemf/emf_translator.hpp"
#include "tests/support/cloudwatch_units.hpp"

namespace {

using namespace vigil;
using namespace vigil::exporters::awsemf;
using vigil::testing::cloudwatch_units;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

bool finite_number(simdjson::dom::element e) {
  double d = 0;
  return e.get_double().get(d) == simdjson::SUCCESS && std::isfinite(d);
}


void check_distribution(simdjson::dom::object o) {
  for (const char* k : {"Max", "Min", "Count", "Sum"}) {
    simdjson::dom::element e;
    check(o[k].get(e) == simdjson::SUCCESS && finite_number(e));
  }
  double count = 0;
  check(o["Count"].get_double().get(count) == simdjson::SUCCESS && count > 0);
  simdjson::dom::array values, counts;
  const bool has_values = o["Values"].get(values) == simdjson::SUCCESS;
  const bool has_counts = o["Counts"].get(counts) == simdjson::SUCCESS;
  check(has_values == has_counts);
  if (!has_values) return;
  check(values.size() == counts.size() && values.size() <= kMaxValuesPerMetric);
  for (simdjson::dom::element v : values) check(finite_number(v));
  for (simdjson::dom::element c : counts) {
    double d = 0;
    check(c.get_double().get(d) == simdjson::SUCCESS && std::isfinite(d) && d > 0);
  }
}

void check_document(const Document& doc, const TranslatorOptions& options) {
  if (std::getenv("VIGIL_FUZZ_PRINT") != nullptr) std::fprintf(stderr, "%s\n", doc.json.c_str());
  check(doc.log_group == options.log_group_name && doc.log_stream == options.log_stream_name);
  // One PutLogEvents event: larger would be truncated, and a cut document is not JSON.
  check(doc.json.size() + aws::kEventOverheadBytes <= aws::kDefaultMaxEventBytes);
  check(simdjson::validate_utf8(doc.json.data(), doc.json.size()));
  static simdjson::dom::parser parser;
  // As it is: the exporter writes numbers past 2^53 with an exponent, so an integer literal
  // that simdjson (int64/uint64 only) refuses is a bug the fuzzer must see.
  simdjson::padded_string padded(doc.json);
  simdjson::dom::element root_el;
  check(parser.parse(padded).get(root_el) == simdjson::SUCCESS);
  simdjson::dom::object root;
  check(root_el.get(root) == simdjson::SUCCESS);
  std::set<std::string_view> keys;
  for (auto field : root) check(keys.insert(field.key).second);

  simdjson::dom::object aws;
  check(root["_aws"].get(aws) == simdjson::SUCCESS);
  std::int64_t ts = 0;
  check(aws["Timestamp"].get(ts) == simdjson::SUCCESS && ts == doc.timestamp_ms);
  simdjson::dom::array directives;
  check(aws["CloudWatchMetrics"].get(directives) == simdjson::SUCCESS);
  check(directives.size() > 0);
  for (simdjson::dom::element d : directives) {
    std::string_view ns;
    check(d["Namespace"].get(ns) == simdjson::SUCCESS);
    check(!ns.empty() && code_points(ns) <= kMaxNamespaceChars);
    simdjson::dom::array sets;
    check(d["Dimensions"].get(sets) == simdjson::SUCCESS);
    for (simdjson::dom::element set : sets) {
      simdjson::dom::array names;
      check(set.get(names) == simdjson::SUCCESS);
      check(names.size() <= kMaxDimensionsPerSet);
      for (simdjson::dom::element n : names) {
        std::string_view name, value;
        check(n.get(name) == simdjson::SUCCESS);
        check(root[name].get(value) == simdjson::SUCCESS);
        check(code_points(value) <= kMaxDimensionValueChars);
      }
    }
    simdjson::dom::array metrics;
    check(d["Metrics"].get(metrics) == simdjson::SUCCESS);
    check(metrics.size() >= 1 && metrics.size() <= kMaxMetricsPerDirective);
    std::set<std::string_view> names;
    for (simdjson::dom::element m : metrics) {
      std::string_view name;
      check(m["Name"].get(name) == simdjson::SUCCESS && !name.empty() && name != "_aws");
      check(names.insert(name).second);
      std::string_view unit;
      if (m["Unit"].get(unit) == simdjson::SUCCESS) check(cloudwatch_units().count(unit) == 1);
      simdjson::dom::element value;
      check(root[name].get(value) == simdjson::SUCCESS);
      simdjson::dom::array list;
      simdjson::dom::object object;
      if (value.get(list) == simdjson::SUCCESS) {
        check(list.size() >= 1 && list.size() <= kMaxValuesPerMetric);
        for (simdjson::dom::element v : list) check(finite_number(v));
      } else if (value.get(object) == simdjson::SUCCESS) {
        check_distribution(object);
      } else {
        check(finite_number(value));
      }
    }
  }
}

TranslatorOptions options_for(std::uint8_t bits) {
  TranslatorOptions o;
  static constexpr DimensionRollup kRollups[] = {DimensionRollup::kNone, DimensionRollup::kSingleOnly,
                                                 DimensionRollup::kZeroAndSingle,
                                                 DimensionRollup::kZeroAndSingle};
  o.rollup = kRollups[bits & 3];
  o.resource_to_telemetry = (bits & 4) != 0;
  if (bits & 8) {
    MetricDeclaration all;
    all.dimensions = {{"service.name"}, {"a", "b"}, {}};
    all.metric_name_selectors = {"^[a-m]", "total$"};
    MetricDeclaration matched;
    matched.dimensions = {{"OTelLib", "a"}};
    matched.metric_name_selectors = {".*"};
    matched.label_matchers = {LabelMatcher{{"a", "b"}, ";", "^x;"}};
    o.metric_declarations = {all, matched};
  }
  o.max_series = (bits & 16) != 0 ? 3 : 1000;
  o.retain_initial_value_of_delta_metric = (bits & 32) != 0;
  if (bits & 64) o.metric_namespace = "Fuzz/NS";
  o.now = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)); };
  return o;
}

// Points per (metric name, type): above the replay history, a replay may differ, as designed.
bool replay_comparable(const model::Batch& batch) {
  std::map<std::pair<std::string_view, int>, std::size_t> points;
  for (const auto& rm : batch.resource_metrics()) {
    for (const auto& sm : rm.scope_metrics) {
      for (const auto& m : sm.metrics) {
        if ((points[{m.name, static_cast<int>(m.type)}] += m.point_count()) > 4) return false;
      }
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t bits = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  model::Batch batch(model::Signal::kMetrics);
  std::string error;
  if (!otlp::decode_export_request(model::Signal::kMetrics, body, batch, error)) return 0;

  const TranslatorOptions options = options_for(bits);
  std::unique_ptr<Translator> t = Translator::create(options, make_translator_state(), error);
  check(t != nullptr);
  TranslateStats stats;
  const std::vector<Document> first = t->translate(batch, stats);
  check(stats.points == batch.item_count());
  for (const Document& d : first) check_document(d, options);
  check(t->series_this_hour() <= options.max_series + kMaxOverflowSeries);
  if (bits & 128) {
    TranslateStats again_stats;
    const std::vector<Document> again = t->translate(batch, again_stats);
    for (const Document& d : again) check_document(d, options);
    if (replay_comparable(batch)) {
      check(again.size() == first.size());
      for (std::size_t i = 0; i < again.size(); ++i) check(again[i].json == first[i].json);
    }
  }
  return 0;
}
