// Vigil's encoder against libprotobuf: encode model batches that set every field, parse the
// bytes with the generated classes and compare field by field, and check the bytes are exactly
// what libprotobuf itself serializes for the same message.

#include <doctest/doctest.h>

#include <string>

#include "agent/otlp/proto_encoder.hpp"
#include "opentelemetry/proto/logs/v1/logs.pb.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "tests/support/otlp_test_support.hpp"

namespace vigil::otlp::testing {
namespace {

template <class Request, class Data>
void check_encoding(const model::Batch& batch) {
  std::string bytes;
  encode_export_request(batch, bytes);
  CHECK(encoded_size(batch) == bytes.size());

  Request parsed;
  REQUIRE(parsed.ParseFromString(bytes));
  compare(batch, parsed);

  // Byte-identical to libprotobuf's serialization of the independently built reference message.
  Request reference;
  to_proto(batch, reference);
  std::string expected;
  REQUIRE(reference.SerializeToString(&expected));
  CHECK(expected.size() == bytes.size());
  CHECK(expected == bytes);

  // The request is wire-identical to the *Data message.
  Data data;
  REQUIRE(data.ParseFromString(bytes));
  CHECK(data.SerializeAsString() == bytes);
}

TEST_CASE("encoder: logs batch with every field") {
  model::Batch batch = full_logs_batch();
  check_encoding<LogsRequest, pbl::LogsData>(batch);
}

TEST_CASE("encoder: traces batch with every field") {
  model::Batch batch = full_traces_batch();
  check_encoding<TraceRequest, pbt::TracesData>(batch);
}

TEST_CASE("encoder: metrics batch with every metric type") {
  model::Batch batch = full_metrics_batch();
  check_encoding<MetricsRequest, pbm::MetricsData>(batch);
}

TEST_CASE("encoder: empty batches encode to zero bytes") {
  for (auto signal : {model::Signal::kLogs, model::Signal::kTraces, model::Signal::kMetrics}) {
    model::Batch batch(signal);
    std::string out = "stale";
    encode_export_request(batch, out);
    CHECK(out.empty());
    CHECK(encoded_size(batch) == 0);
  }
}

TEST_CASE("encoder: proto3 defaults are omitted, oneof and optional zeros are written") {
  model::Batch batch(model::Signal::kLogs);
  Build b(batch);
  auto& rl = batch.resource_logs().emplace_back(batch.arena());
  auto& sl = rl.scope_logs.emplace_back(batch.arena());
  sl.log_records.emplace_back(batch.arena());  // all default
  std::string out;
  encode_export_request(batch, out);
  // resource_logs{ resource{} scope_logs{ scope{} log_records{} } }
  CHECK(out == std::string("\x0a\x08\x0a\x00\x12\x04\x0a\x00\x12\x00", 10));

  // AnyValue int 0 as a body: body{ int_value: 0 }.
  sl.log_records[0].body = model::AnyValue::integer(0);
  encode_export_request(batch, out);
  CHECK(out.find(std::string("\x2a\x02\x18\x00", 4)) != std::string::npos);

  // Histogram sum = 0 (optional) is written; a zero count is not.
  model::Batch mb(model::Signal::kMetrics);
  auto& rm = mb.resource_metrics().emplace_back(mb.arena());
  auto& sm = rm.scope_metrics.emplace_back(mb.arena());
  auto& m = sm.metrics.emplace_back(mb.arena());
  m.type = model::MetricType::kHistogram;
  m.histogram_points.emplace_back(mb.arena()).sum = 0.0;
  encode_export_request(mb, out);
  MetricsRequest parsed;
  REQUIRE(parsed.ParseFromString(out));
  const auto& hp = parsed.resource_metrics(0).scope_metrics(0).metrics(0).histogram().data_points(0);
  CHECK(hp.has_sum());
  CHECK(hp.sum() == 0.0);
  CHECK_FALSE(hp.has_min());
  CHECK_FALSE(hp.has_max());
}

TEST_CASE("encoder: append keeps the caller's prefix") {
  model::Batch batch = full_traces_batch();
  std::string plain;
  encode_export_request(batch, plain);
  std::string framed("\x00\x01\x02\x03\x04", 5);
  append_export_request(batch, framed);
  REQUIRE(framed.size() == plain.size() + 5);
  CHECK(framed.compare(5, std::string::npos, plain) == 0);
}

TEST_CASE("encoder: repeated use on one thread gives identical bytes") {
  model::Batch metrics = full_metrics_batch();
  model::Batch logs = full_logs_batch();
  std::string a, b, c;
  encode_export_request(metrics, a);
  encode_export_request(logs, b);
  encode_export_request(metrics, c);
  CHECK(a == c);
  CHECK(a != b);
}

}  // namespace
}  // namespace vigil::otlp::testing
