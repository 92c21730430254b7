// Vigil's decoder: libprotobuf-built requests decoded into the model and compared field by
// field, re-encoded by Vigil and compared with the original (MessageDifferencer and bytes);
// malformed and hostile input.

#include <doctest/doctest.h>
#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>

#include <random>
#include <string>

#include "agent/otlp/proto_decoder.hpp"
#include "agent/otlp/proto_encoder.hpp"
#include "tests/support/otlp_test_support.hpp"

namespace vigil::otlp::testing {
namespace {

using google::protobuf::util::MessageDifferencer;

template <class Request>
void check_round_trip(model::Signal signal, const Request& original) {
  std::string bytes;
  REQUIRE(original.SerializeToString(&bytes));

  model::Batch batch(signal);
  std::string error;
  REQUIRE_MESSAGE(decode_export_request(signal, bytes, batch, error), error);
  CHECK(error.empty());
  compare(batch, original);

  // Vigil's encoding of the decoded batch parses to an equal message, byte for byte.
  std::string again;
  encode_export_request(batch, again);
  Request reparsed;
  REQUIRE(reparsed.ParseFromString(again));
  std::string report;
  MessageDifferencer differencer;
  // NaN is a test value; exact bits are checked by the byte comparison below.
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  differencer.set_field_comparator(&comparator);
  differencer.ReportDifferencesToString(&report);
  CHECK_MESSAGE(differencer.Compare(original, reparsed), report);
  CHECK(again == bytes);
}

TEST_CASE("decoder: logs round trip through libprotobuf messages") {
  model::Batch source = full_logs_batch();
  LogsRequest request;
  to_proto(source, request);
  check_round_trip(model::Signal::kLogs, request);
}

TEST_CASE("decoder: traces round trip through libprotobuf messages") {
  model::Batch source = full_traces_batch();
  TraceRequest request;
  to_proto(source, request);
  check_round_trip(model::Signal::kTraces, request);
}

TEST_CASE("decoder: metrics round trip through libprotobuf messages") {
  model::Batch source = full_metrics_batch();
  MetricsRequest request;
  to_proto(source, request);
  check_round_trip(model::Signal::kMetrics, request);
}

TEST_CASE("decoder: hand-built request, strings live in the batch arena") {
  LogsRequest request;
  auto* rl = request.add_resource_logs();
  rl->mutable_resource()->add_attributes()->set_key("service.name");
  rl->mutable_resource()->mutable_attributes(0)->mutable_value()->set_string_value("checkout");
  auto* rec = rl->add_scope_logs()->add_log_records();
  rec->set_time_unix_nano(1700000000000000000ull);
  rec->set_severity_number(pbl::SEVERITY_NUMBER_WARN);
  rec->mutable_body()->mutable_kvlist_value()->add_values()->set_key("k");
  rec->set_trace_id(std::string(16, '\x01'));
  rec->set_span_id(std::string(8, '\x02'));
  rec->set_event_name("ev");
  std::string bytes = request.SerializeAsString();

  model::Batch batch(model::Signal::kLogs);
  std::string error;
  REQUIRE(decode_export_request(model::Signal::kLogs, bytes, batch, error));
  bytes.assign(bytes.size(), '\0');  // the batch must not point into the input
  request.Clear();
  const model::LogRecord& r = batch.resource_logs()[0].scope_logs[0].log_records[0];
  CHECK(batch.resource_logs()[0].resource.attributes[0].key == "service.name");
  CHECK(batch.resource_logs()[0].resource.attributes[0].value.string_value() == "checkout");
  CHECK(r.severity_number == 13);
  CHECK(r.event_name == "ev");
  REQUIRE(r.body.type() == model::ValueType::kKvList);
  REQUIRE(r.body.size() == 1);
  CHECK(r.body.kvlist_begin()[0].key == "k");
  CHECK(r.body.kvlist_begin()[0].value.empty());
  CHECK(r.trace_id[15] == 1);
  CHECK(r.span_id[7] == 2);
}

TEST_CASE("decoder: values the model cannot mark as present decode to their defaults") {
  TraceRequest request;
  auto* span = request.add_resource_spans()->add_scope_spans()->add_spans();
  span->mutable_status();  // present but empty
  span->set_name("s");
  MetricsRequest mrequest;
  auto* metric = mrequest.add_resource_metrics()->add_scope_metrics()->add_metrics();
  metric->mutable_gauge()->add_data_points()->set_time_unix_nano(5);  // no value in the oneof
  auto* ep = metric->mutable_gauge();  // keep gauge; add an exponential histogram elsewhere
  (void)ep;
  auto* eh = mrequest.mutable_resource_metrics(0)->mutable_scope_metrics(0)->add_metrics();
  eh->mutable_exponential_histogram()->add_data_points()->mutable_positive();  // empty buckets
  auto* resource_entity = mrequest.mutable_resource_metrics(0)->mutable_resource()->add_entity_refs();
  resource_entity->set_type("service");

  model::Batch traces(model::Signal::kTraces);
  model::Batch metrics(model::Signal::kMetrics);
  std::string error;
  REQUIRE(decode_export_request(model::Signal::kTraces, request.SerializeAsString(), traces, error));
  REQUIRE(decode_export_request(model::Signal::kMetrics, mrequest.SerializeAsString(), metrics, error));
  const model::Metric& g = metrics.resource_metrics()[0].scope_metrics[0].metrics[0];
  CHECK(g.type == model::MetricType::kGauge);
  CHECK_FALSE(g.number_points[0].is_int);
  CHECK(g.number_points[0].as_double == 0.0);

  // Re-encoding writes the canonical form: no empty status, a double 0, no empty buckets,
  // no entity_refs (not in the model yet).
  std::string out;
  encode_export_request(traces, out);
  TraceRequest t2;
  REQUIRE(t2.ParseFromString(out));
  CHECK_FALSE(t2.resource_spans(0).scope_spans(0).spans(0).has_status());
  encode_export_request(metrics, out);
  MetricsRequest m2;
  REQUIRE(m2.ParseFromString(out));
  const auto& sm = m2.resource_metrics(0).scope_metrics(0);
  CHECK(sm.metrics(0).gauge().data_points(0).value_case() == pbm::NumberDataPoint::kAsDouble);
  CHECK_FALSE(sm.metrics(1).exponential_histogram().data_points(0).has_positive());
  CHECK(m2.resource_metrics(0).resource().entity_refs_size() == 0);
}

TEST_CASE("decoder: empty input is an empty request") {
  for (auto signal : {model::Signal::kLogs, model::Signal::kTraces, model::Signal::kMetrics}) {
    model::Batch batch(signal);
    std::string error;
    CHECK(decode_export_request(signal, {}, batch, error));
    CHECK(batch.resource_logs().empty());
    CHECK(batch.resource_spans().empty());
    CHECK(batch.resource_metrics().empty());
  }
}

TEST_CASE("decoder: signal mismatch is refused") {
  model::Batch batch(model::Signal::kLogs);
  std::string error;
  CHECK_FALSE(decode_export_request(model::Signal::kTraces, {}, batch, error));
  CHECK(error.find("signal") != std::string::npos);
}

template <class Request>
void check_rejected_id(model::Signal signal, const Request& request, const std::string& expected_path) {
  model::Batch batch(signal);
  std::string error;
  CHECK_FALSE(decode_export_request(signal, request.SerializeAsString(), batch, error));
  CHECK_MESSAGE(error.find(expected_path) != std::string::npos, error);
  CHECK_MESSAGE(error.find("invalid length") != std::string::npos, error);
}

TEST_CASE("decoder: ids of the wrong length are rejected with their location") {
  SUBCASE("log trace_id") {
    LogsRequest r;
    auto* sl = r.add_resource_logs()->add_scope_logs();
    sl->add_log_records();
    sl->add_log_records()->set_trace_id(std::string(15, 'a'));
    check_rejected_id(model::Signal::kLogs, r, "resource_logs[0].scope_logs[0].log_records[1].trace_id");
  }
  SUBCASE("log span_id") {
    LogsRequest r;
    r.add_resource_logs();
    r.add_resource_logs()->add_scope_logs()->add_log_records()->set_span_id(std::string(16, 'a'));
    check_rejected_id(model::Signal::kLogs, r, "resource_logs[1].scope_logs[0].log_records[0].span_id");
  }
  SUBCASE("span ids") {
    TraceRequest r;
    auto* span = r.add_resource_spans()->add_scope_spans()->add_spans();
    span->set_trace_id(std::string(17, 'a'));
    check_rejected_id(model::Signal::kTraces, r, "spans[0].trace_id");
    span->set_trace_id(std::string(16, 'a'));
    span->set_span_id(std::string(1, 'a'));
    check_rejected_id(model::Signal::kTraces, r, "spans[0].span_id");
    span->set_span_id(std::string(8, 'a'));
    span->set_parent_span_id(std::string(7, 'a'));
    check_rejected_id(model::Signal::kTraces, r, "spans[0].parent_span_id");
    span->set_parent_span_id("");
    span->add_links();
    span->add_links()->set_span_id(std::string(4, 'a'));
    check_rejected_id(model::Signal::kTraces, r, "resource_spans[0].scope_spans[0].spans[0].links[1].span_id");
  }
  SUBCASE("exemplar ids") {
    MetricsRequest r;
    auto* metric = r.add_resource_metrics()->add_scope_metrics()->add_metrics();
    auto* ex = metric->mutable_histogram()->add_data_points()->add_exemplars();
    ex->set_trace_id(std::string(8, 'a'));
    check_rejected_id(model::Signal::kMetrics, r,
                      "resource_metrics[0].scope_metrics[0].metrics[0].data_points[0].exemplars[0].trace_id");
    ex->set_trace_id("");
    ex->set_span_id(std::string(16, 'a'));
    check_rejected_id(model::Signal::kMetrics, r, "exemplars[0].span_id");
  }
}

TEST_CASE("decoder: truncated requests never crash and cut-off ones are rejected") {
  model::Batch source = full_metrics_batch();
  std::string bytes;
  encode_export_request(source, bytes);
  // Every prefix: either a valid shorter request or a clean failure with a reason.
  for (std::size_t n = 0; n < bytes.size(); n += (n < 4096 ? 1 : 97)) {
    model::Batch batch(model::Signal::kMetrics);
    std::string error;
    if (!decode_export_request(model::Signal::kMetrics, std::string_view(bytes).substr(0, n), batch, error)) {
      CHECK(!error.empty());
    }
  }
  model::Batch batch(model::Signal::kMetrics);
  std::string error;
  CHECK_FALSE(decode_export_request(model::Signal::kMetrics, std::string_view(bytes).substr(0, bytes.size() - 1),
                                    batch, error));
  CHECK(error.find("ExportMetricsServiceRequest") != std::string::npos);
}

TEST_CASE("decoder: garbage never crashes") {
  std::mt19937_64 rng(12345);
  model::Batch logs_source = full_logs_batch();
  std::string valid;
  encode_export_request(logs_source, valid);
  valid.resize(std::min<std::size_t>(valid.size(), 20000));
  int rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string input;
    if (iter % 2 == 0) {
      input.resize(rng() % 300);
      for (char& c : input) c = static_cast<char>(rng());
    } else {
      input = valid.substr(0, rng() % valid.size());  // mutate a valid prefix
      for (int k = 0; k < 4 && !input.empty(); ++k) input[rng() % input.size()] = static_cast<char>(rng());
    }
    for (auto signal : {model::Signal::kLogs, model::Signal::kTraces, model::Signal::kMetrics}) {
      model::Batch batch(signal);
      std::string error;
      if (!decode_export_request(signal, input, batch, error)) {
        ++rejected;
        CHECK(!error.empty());
      }
    }
  }
  CHECK(rejected > 1000);

  model::Batch batch(model::Signal::kLogs);
  std::string error;
  // A length prefix that claims far more bytes than there are.
  CHECK_FALSE(decode_export_request(model::Signal::kLogs, std::string("\x0a\xff\xff\xff\xff\x0f", 6), batch, error));
  // Invalid UTF-8 in a string field.
  LogsRequest r;
  r.add_resource_logs()->add_scope_logs()->add_log_records()->set_severity_text("ok");
  std::string bytes = r.SerializeAsString();
  bytes[bytes.size() - 1] = '\xff';
  CHECK_FALSE(decode_export_request(model::Signal::kLogs, bytes, batch, error));
}

LogsRequest nested_body(int depth) {
  LogsRequest r;
  auto* rl = r.add_resource_logs();
  rl->mutable_resource();
  auto* sl = rl->add_scope_logs();
  sl->mutable_scope();
  pbc::AnyValue* v = sl->add_log_records()->mutable_body();
  for (int i = 0; i < depth; ++i) v = v->mutable_array_value()->add_values();
  v->set_int_value(7);
  return r;
}

TEST_CASE("decoder: AnyValue nesting is bounded by the recursion limit") {
  std::string error;
  {
    LogsRequest ok = nested_body(40);  // 40 arrays: about 85 nested messages in all
    model::Batch batch(model::Signal::kLogs);
    REQUIRE_MESSAGE(decode_export_request(model::Signal::kLogs, ok.SerializeAsString(), batch, error), error);
    compare(batch, ok);
    const model::AnyValue* v = &batch.resource_logs()[0].scope_logs[0].log_records[0].body;
    int depth = 0;
    while (v->type() == model::ValueType::kArray) {
      v = v->array_begin();
      ++depth;
    }
    CHECK(depth == 40);
    CHECK(v->int_value() == 7);
  }
  {
    LogsRequest deep = nested_body(5000);
    std::string bytes;
    REQUIRE(deep.SerializeToString(&bytes));
    model::Batch batch(model::Signal::kLogs);
    CHECK_FALSE(decode_export_request(model::Signal::kLogs, bytes, batch, error));
    CHECK(error.find("nesting") != std::string::npos);
  }
}

}  // namespace
}  // namespace vigil::otlp::testing
