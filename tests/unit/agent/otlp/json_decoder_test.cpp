// The OTLP/JSON decoder: the sample batches round trip through Vigil's JSON encoder; hand-written
// documents (the OTLP specification's examples, every accepted spelling) decode to what the
// protobuf decoder makes of the same request; malformed and hostile input fails with the place
// named.

#include <doctest/doctest.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/otlp/json_decoder.hpp"
#include "agent/otlp/json_encoder.hpp"
#include "agent/otlp/proto_decoder.hpp"
#include "agent/otlp/proto_encoder.hpp"
#include "tests/support/otlp_test_support.hpp"
#include "tests/support/test_batches.hpp"

namespace vigil::otlp::testing {
namespace {

using model::Signal;

model::Batch decode_ok(Signal signal, std::string_view json) {
  model::Batch batch(signal);
  std::string error;
  const bool ok = decode_json_export_request(signal, json, batch, error);
  INFO(json.substr(0, 2000));
  REQUIRE_MESSAGE(ok, error);
  CHECK(error.empty());
  return batch;
}

std::string decode_error(Signal signal, std::string_view json) {
  model::Batch batch(signal);
  std::string error;
  const bool ok = decode_json_export_request(signal, json, batch, error);
  INFO(json.substr(0, 2000));
  CHECK_FALSE(ok);
  CHECK(!error.empty());
  return error;
}

std::string proto_bytes(const model::Batch& batch) {
  std::string out;
  encode_export_request(batch, out);
  return out;
}

// The batch encoded as OTLP/JSON by Vigil's encoder, decoded again: same protobuf bytes, same
// fields as the libprotobuf reference conversion of the original.
void check_round_trip(const model::Batch& original) {
  std::string json;
  encode_json(original, json);
  model::Batch decoded = decode_ok(original.signal(), json);
  CHECK(decoded.item_count() == original.item_count());
  CHECK(proto_bytes(decoded) == proto_bytes(original));
  switch (original.signal()) {
    case Signal::kLogs: {
      LogsRequest request;
      to_proto(original, request);
      compare(decoded, request);
      break;
    }
    case Signal::kTraces: {
      TraceRequest request;
      to_proto(original, request);
      compare(decoded, request);
      break;
    }
    case Signal::kMetrics: {
      MetricsRequest request;
      to_proto(original, request);
      compare(decoded, request);
      break;
    }
  }
  // Re-encoding the decoded batch gives the same JSON text.
  std::string again;
  encode_json(decoded, again);
  CHECK(again == json);
}

// What the protobuf decoder makes of the request libprotobuf's own JSON parser reads from json
// (usable for documents without trace/span ids, which OTLP writes in hex, not base64).
template <class Request>
std::string libprotobuf_view(Signal signal, std::string_view json) {
  Request request;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &request, options);
  REQUIRE_MESSAGE(status.ok(), status.ToString());
  model::Batch batch(signal);
  std::string error;
  REQUIRE_MESSAGE(decode_export_request(signal, request.SerializeAsString(), batch, error), error);
  return proto_bytes(batch);
}

template <class Request>
void check_agrees_with_libprotobuf(Signal signal, std::string_view json) {
  INFO(json);
  model::Batch batch = decode_ok(signal, json);
  CHECK(proto_bytes(batch) == libprotobuf_view<Request>(signal, json));
}

std::string hex(std::span<const std::uint8_t> id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (auto b : id) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

TEST_CASE("json decoder: sample batches round trip through the JSON encoder") {
  SUBCASE("test_batches.hpp") {
    check_round_trip(model::testing::full_logs());
    check_round_trip(model::testing::full_traces());
    check_round_trip(model::testing::full_metrics());
    check_round_trip(model::testing::make_logs({{3, 0, 2}, {}, {1}}, 7));
    check_round_trip(model::testing::make_spans({{1}, {4, 4}}, 100));
  }
  SUBCASE("every field with edge values (incl. a 5 MiB body: the unretained-buffer path)") {
    check_round_trip(full_logs_batch());
    check_round_trip(full_traces_batch());
    check_round_trip(full_metrics_batch());
  }
  SUBCASE("empty batches") {
    for (Signal s : {Signal::kLogs, Signal::kTraces, Signal::kMetrics}) check_round_trip(model::Batch(s));
  }
}

TEST_CASE("json decoder: the OTLP specification's example documents") {
  SUBCASE("trace.json: uppercase hex ids, int64 timestamps as JSON numbers, kind as a number") {
    constexpr std::string_view kTrace = R"({
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeSpans": [{
      "scope": {"name": "my.library", "version": "1.0.0",
                "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "startTimeUnixNano": 1544712660000000000,
        "endTimeUnixNano": 1544712661000000000,
        "kind": 2,
        "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}]
      }]
    }]
  }]
})";
    model::Batch b = decode_ok(Signal::kTraces, kTrace);
    REQUIRE(b.item_count() == 1);
    const model::ResourceSpans& rs = b.resource_spans()[0];
    CHECK(rs.resource.attributes[0].key == "service.name");
    CHECK(rs.resource.attributes[0].value.string_value() == "my.service");
    CHECK(rs.scope_spans[0].scope.name == "my.library");
    CHECK(rs.scope_spans[0].scope.version == "1.0.0");
    CHECK(rs.scope_spans[0].scope.attributes[0].value.string_value() == "some scope attribute");
    const model::Span& s = rs.scope_spans[0].spans[0];
    CHECK(hex(s.trace_id) == "5b8efff798038103d269b633813fc60c");
    CHECK(hex(s.span_id) == "eee19b7ec3c1b174");
    CHECK(hex(s.parent_span_id) == "eee19b7ec3c1b173");
    CHECK(s.name == "I'm a server span");
    CHECK(s.start_time_unix_nano == 1544712660000000000ull);
    CHECK(s.end_time_unix_nano == 1544712661000000000ull);
    CHECK(s.kind == model::SpanKind::kServer);
    CHECK(s.attributes[0].key == "my.span.attr");
    CHECK(s.status.code == model::StatusCode::kUnset);
  }
  SUBCASE("logs.json: every attribute value type, body, ids") {
    constexpr std::string_view kLogs = R"({"resourceLogs": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
  "scopeLogs": [{
    "scope": {"name": "my.library", "version": "1.0.0"},
    "logRecords": [{
      "timeUnixNano": 1544712660300000000,
      "observedTimeUnixNano": 1544712660300000000,
      "severityText": "Information",
      "traceId": "5B8EFFF798038103D269B633813FC60C",
      "spanId": "EEE19B7EC3C1B174",
      "body": {"stringValue": "Example log record"},
      "attributes": [
        {"key": "string.attribute", "value": {"stringValue": "some string"}},
        {"key": "boolean.attribute", "value": {"boolValue": true}},
        {"key": "int.attribute", "value": {"intValue": 10}},
        {"key": "double.attribute", "value": {"doubleValue": 637.704}},
        {"key": "array.attribute", "value": {"arrayValue": {"values": [{"stringValue": "many"}, {"stringValue": "values"}]}}},
        {"key": "map.attribute", "value": {"kvlistValue": {"values": [{"key": "some.map.key", "value": {"stringValue": "some value"}}]}}}
      ]
    }]
  }]
}]})";
    model::Batch b = decode_ok(Signal::kLogs, kLogs);
    const model::LogRecord& r = b.resource_logs()[0].scope_logs[0].log_records[0];
    CHECK(r.time_unix_nano == 1544712660300000000ull);
    CHECK(r.observed_time_unix_nano == 1544712660300000000ull);
    CHECK(r.severity_text == "Information");
    CHECK(r.severity_number == 0);
    CHECK(hex(r.trace_id) == "5b8efff798038103d269b633813fc60c");
    CHECK(hex(r.span_id) == "eee19b7ec3c1b174");
    CHECK(r.body.string_value() == "Example log record");
    REQUIRE(r.attributes.size() == 6);
    CHECK(r.attributes[1].value.type() == model::ValueType::kBool);
    CHECK(r.attributes[1].value.bool_value());
    CHECK(r.attributes[2].value.type() == model::ValueType::kInt);
    CHECK(r.attributes[2].value.int_value() == 10);
    CHECK(r.attributes[3].value.double_value() == 637.704);
    const model::AnyValue& arr = r.attributes[4].value;
    REQUIRE(arr.type() == model::ValueType::kArray);
    REQUIRE(arr.size() == 2);
    CHECK(arr.array_begin()[1].string_value() == "values");
    const model::AnyValue& map = r.attributes[5].value;
    REQUIRE(map.type() == model::ValueType::kKvList);
    REQUIRE(map.size() == 1);
    CHECK(map.kvlist_begin()[0].key == "some.map.key");
    CHECK(map.kvlist_begin()[0].value.string_value() == "some value");
  }
  SUBCASE("metrics.json: sum, gauge, histogram (and exponential histogram, summary)") {
    constexpr std::string_view kMetrics = R"({"resourceMetrics": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
  "scopeMetrics": [{
    "scope": {"name": "my.library", "version": "1.0.0"},
    "metrics": [
      {"name": "my.counter", "unit": "1", "description": "I`m a Counter",
       "sum": {"aggregationTemporality": 1, "isMonotonic": true,
               "dataPoints": [{"asDouble": 5, "startTimeUnixNano": 1544712660300000000, "timeUnixNano": 1544712660300000000,
                               "attributes": [{"key": "my.counter.attr", "value": {"stringValue": "some value"}}]}]}},
      {"name": "my.gauge", "unit": "1", "description": "I`m a Gauge",
       "gauge": {"dataPoints": [{"asDouble": 10, "timeUnixNano": 1544712660300000000}]}},
      {"name": "my.histogram", "unit": "1", "description": "I`m a Histogram",
       "histogram": {"aggregationTemporality": 1,
                     "dataPoints": [{"startTimeUnixNano": 1544712660300000000, "timeUnixNano": 1544712660300000000,
                                     "count": 3, "sum": 3, "bucketCounts": [1,1,1], "explicitBounds": [1], "min": 1, "max": 1}]}},
      {"name": "my.exponential.histogram", "unit": "1",
       "exponentialHistogram": {"aggregationTemporality": 1,
                                "dataPoints": [{"startTimeUnixNano": 1544712660300000000, "timeUnixNano": 1544712660300000000,
                                                "count": 3, "sum": 10, "scale": 0, "zeroCount": 1,
                                                "positive": {"offset": 1, "bucketCounts": [0, 2]}, "min": 0, "max": 5,
                                                "zeroThreshold": 0}]}},
      {"name": "my.summary", "unit": "1",
       "summary": {"dataPoints": [{"startTimeUnixNano": 1544712660300000000, "timeUnixNano": 1544712660300000000,
                                   "count": 3, "sum": 9,
                                   "quantileValues": [{"quantile": 0.5, "value": 3}, {"quantile": 0.99, "value": 5}]}]}}
    ]
  }]
}]})";
    model::Batch b = decode_ok(Signal::kMetrics, kMetrics);
    const auto& metrics = b.resource_metrics()[0].scope_metrics[0].metrics;
    REQUIRE(metrics.size() == 5);
    CHECK(metrics[0].type == model::MetricType::kSum);
    CHECK(metrics[0].description == "I`m a Counter");
    CHECK(metrics[0].aggregation_temporality == model::AggregationTemporality::kDelta);
    CHECK(metrics[0].is_monotonic);
    CHECK_FALSE(metrics[0].number_points[0].is_int);
    CHECK(metrics[0].number_points[0].as_double == 5.0);
    CHECK(metrics[1].type == model::MetricType::kGauge);
    CHECK(metrics[1].number_points[0].as_double == 10.0);
    const model::HistogramDataPoint& h = metrics[2].histogram_points[0];
    CHECK(h.count == 3);
    CHECK(h.sum == 3.0);
    REQUIRE(h.bucket_counts.size() == 3);
    CHECK(h.bucket_counts[2] == 1);
    REQUIRE(h.explicit_bounds.size() == 1);
    CHECK(h.min == 1.0);
    CHECK(h.max == 1.0);
    const model::ExponentialHistogramDataPoint& e = metrics[3].exponential_histogram_points[0];
    CHECK(metrics[3].type == model::MetricType::kExponentialHistogram);
    CHECK(e.zero_count == 1);
    CHECK(e.positive.offset == 1);
    REQUIRE(e.positive.bucket_counts.size() == 2);
    CHECK(e.positive.bucket_counts[1] == 2);
    CHECK(e.min == 0.0);
    const model::SummaryDataPoint& s = metrics[4].summary_points[0];
    CHECK(s.sum == 9.0);
    REQUIRE(s.quantile_values.size() == 2);
    CHECK(s.quantile_values[1].quantile == 0.99);
    CHECK(s.quantile_values[1].value == 5.0);
    // libprotobuf's JSON parser reads the same document (no ids in it) to the same request.
    check_agrees_with_libprotobuf<MetricsRequest>(Signal::kMetrics, kMetrics);
  }
}

TEST_CASE("json decoder: every accepted spelling decodes as libprotobuf's JSON parser reads it") {
  SUBCASE("proto field names (snake_case) and lowerCamelCase mixed") {
    check_agrees_with_libprotobuf<LogsRequest>(
        Signal::kLogs, R"({"resource_logs":[{"resource":{"dropped_attributes_count":2},
      "scope_logs":[{"scope":{"name":"s","dropped_attributes_count":1},"schema_url":"u1","log_records":[
        {"time_unix_nano":"5","observedTimeUnixNano":"6","severity_number":9,"severity_text":"INFO",
         "body":{"kvlist_value":{"values":[{"key":"a","value":{"int_value":"-3"}},{"key":"b","value":{"array_value":{"values":[{"double_value":1.5},{"bool_value":false}]}}}]}},
         "dropped_attributes_count":4,"flags":1,"event_name":"ev"}]}],"schemaUrl":"u2"}]})");
    check_agrees_with_libprotobuf<MetricsRequest>(Signal::kMetrics,
                                                  R"({"resource_metrics":[{"scope_metrics":[{"metrics":[
      {"name":"h","exponential_histogram":{"aggregation_temporality":2,"data_points":[{"zero_count":"3","zero_threshold":0.5,
        "positive":{"bucket_counts":["1",2]},"negative":{"offset":-4},"start_time_unix_nano":1,"time_unix_nano":2}]}},
      {"name":"s","summary":{"data_points":[{"quantile_values":[{"quantile":0.5,"value":1}]}]}},
      {"name":"x","histogram":{"data_points":[{"bucket_counts":[1,"2"],"explicit_bounds":[0.5]}]}}]}]}]})");
  }
  SUBCASE("64-bit integers as numbers and as strings, 32-bit ones as strings") {
    check_agrees_with_libprotobuf<TraceRequest>(Signal::kTraces,
                                                R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"name":"a","startTimeUnixNano":18446744073709551615,"endTimeUnixNano":"18446744073709551615","flags":"4294967295",
       "droppedAttributesCount":"7","droppedEventsCount":4294967295,
       "attributes":[{"key":"min","value":{"intValue":"-9223372036854775808"}},{"key":"max","value":{"intValue":9223372036854775807}},
                     {"key":"exp","value":{"intValue":1e3}},{"key":"whole","value":{"intValue":5.0}}]}]}]}]})");
    check_agrees_with_libprotobuf<MetricsRequest>(Signal::kMetrics,
                                                  R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[
      {"name":"g","gauge":{"dataPoints":[{"asInt":"-9223372036854775808"},{"asInt":42},{"asDouble":"2.5"}]}},
      {"name":"e","exponentialHistogram":{"dataPoints":[{"scale":"-3","positive":{"offset":"-2147483648"}}]}}]}]}]})");
  }
  SUBCASE("enums by name") {
    check_agrees_with_libprotobuf<TraceRequest>(Signal::kTraces,
                                                R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"kind":"SPAN_KIND_CLIENT","status":{"code":"STATUS_CODE_ERROR","message":"m"}},
      {"kind":"SPAN_KIND_CONSUMER","status":{"code":"STATUS_CODE_OK"}},{"kind":7,"status":{"code":-1}}]}]}]})");
    check_agrees_with_libprotobuf<LogsRequest>(Signal::kLogs,
                                               R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
      {"severityNumber":"SEVERITY_NUMBER_WARN3"},{"severityNumber":"SEVERITY_NUMBER_FATAL4"},{"severityNumber":"SEVERITY_NUMBER_UNSPECIFIED"}]}]}]})");
    check_agrees_with_libprotobuf<MetricsRequest>(Signal::kMetrics,
                                                  R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[
      {"name":"s","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,"dataPoints":[{"asInt":"1"}]}}]}]}]})");
  }
  SUBCASE("NaN and infinities as strings, numbers as strings") {
    check_agrees_with_libprotobuf<MetricsRequest>(Signal::kMetrics,
                                                  R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[
      {"name":"g","gauge":{"dataPoints":[{"asDouble":"NaN"},{"asDouble":"Infinity"},{"asDouble":"-Infinity"},
                                         {"asDouble":"1e-3"},{"asDouble":5e-324},{"asDouble":1.7976931348623157e308}]}},
      {"name":"h","histogram":{"dataPoints":[{"sum":"NaN","min":"-Infinity","max":"Infinity","explicitBounds":["NaN",1,"-0"]}]}}]}]}]})");
  }
  SUBCASE("base64 bytes") {
    check_agrees_with_libprotobuf<LogsRequest>(Signal::kLogs,
                                               R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
      {"body":{"bytesValue":"AAH+/w=="}},{"body":{"bytesValue":"AAH+/w"}},{"body":{"bytesValue":""}},
      {"body":{"bytesValue":"aGVsbG8gd29ybGQ="}},{"body":{"bytesValue":"YQ=="}},{"body":{"bytesValue":"YWI="}}]}]}]})");
  }
  SUBCASE("null fields are absent") {
    check_agrees_with_libprotobuf<MetricsRequest>(Signal::kMetrics,
                                                  R"({"resourceMetrics":[{"resource":null,"schemaUrl":null,
      "scopeMetrics":[{"scope":null,"metrics":[{"name":"n","description":null,"gauge":{"dataPoints":[{"asDouble":null,"asInt":null,"timeUnixNano":null,
       "attributes":[{"key":"k","value":null},{"key":null,"value":{"stringValue":null}}],"exemplars":null}]}},
       {"name":"h","histogram":{"dataPoints":[{"sum":null,"min":null,"max":null,"bucketCounts":null}],"aggregationTemporality":null}}]}]}]})");
  }
  SUBCASE("unknown fields of every JSON type are ignored, at every level") {
    check_agrees_with_libprotobuf<TraceRequest>(Signal::kTraces,
                                                R"({"unknown":{"a":[1,{"b":null}],"c":"d"},"resourceSpans":[
      {"x":1,"resource":{"entityRefs":[{"type":"service","idKeys":["service.name"]}],"y":[[],[[]],{}],"attributes":[{"key":"k","z":true,"value":{"w":false,"stringValue":"v"}}]},
       "scopeSpans":[{"scope":{"name":"s","q":-1.5e10},"spans":[{"name":"a","future":{"deep":{"deeper":[null,true,"x",0.5]}},
         "status":{"deprecatedCode":1,"code":2},"events":[{"name":"e","u":"\u00e9\n"}],"links":[{"v":[]}]}],"extra":null}]}],"more":[]})");
  }
}

TEST_CASE("json decoder: strings are copied into the batch arena, escapes decoded") {
  std::string json =
      R"({"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
    "scopeLogs":[{"logRecords":[{"body":{"stringValue":"tab\there \"q\" \\ \u00e9 \ud83d\ude80 \u0000end"},
      "severityText":"WARN","eventName":"ev","attributes":[{"key":"k\u0065y","value":{"bytesValue":"AP8="}}]}]}]}]})";
  model::Batch batch = decode_ok(Signal::kLogs, json);
  json.assign(json.size(), '#');  // the batch must not point into the input
  const model::ResourceLogs& rl = batch.resource_logs()[0];
  CHECK(rl.resource.attributes[0].key == "service.name");
  CHECK(rl.resource.attributes[0].value.string_value() == "checkout");
  const model::LogRecord& r = rl.scope_logs[0].log_records[0];
  CHECK(r.body.string_value() == std::string_view("tab\there \"q\" \\ \xc3\xa9 \xf0\x9f\x9a\x80 \0end", 27));
  CHECK(r.severity_text == "WARN");
  CHECK(r.event_name == "ev");
  CHECK(r.attributes[0].key == "key");  // an escape in a string value
  CHECK(r.attributes[0].value.type() == model::ValueType::kBytes);
  CHECK(r.attributes[0].value.string_value() == std::string_view("\x00\xff", 2));
}

TEST_CASE("json decoder: keys with escapes") {
  model::Batch b = decode_ok(
      Signal::kTraces,
      R"({"resource\u0053pans":[{"scope_\u0073pans":[{"spans":[{"n\u0061me":"a","trace\u005fid":"0102030405060708090a0b0c0d0e0f10"}]}]}]})");
  REQUIRE(b.item_count() == 1);
  const model::Span& s = b.resource_spans()[0].scope_spans[0].spans[0];
  CHECK(s.name == "a");
  CHECK(hex(s.trace_id) == "0102030405060708090a0b0c0d0e0f10");
  // An invalid escape in a key, known or unknown, is invalid JSON.
  CHECK(decode_error(Signal::kTraces, R"({"resource\qSpans":[]})").rfind("request: invalid string", 0) == 0);
  CHECK(decode_error(Signal::kTraces, R"({"x":{"\q":1}})").rfind("x: invalid string", 0) == 0);
}

TEST_CASE("json decoder: empty requests, appending, signal mismatch") {
  for (Signal s : {Signal::kLogs, Signal::kTraces, Signal::kMetrics}) {
    for (std::string_view json : {"", "{}", " \n\t{ } \r\n", "  ",
                                  R"({"resourceSpans":[],"resourceLogs":[],"resourceMetrics":[]})"}) {
      model::Batch b = decode_ok(s, json);
      CHECK(b.item_count() == 0);
    }
  }
  // Keys of the other signals are unknown fields.
  CHECK(decode_ok(Signal::kLogs, R"({"resourceSpans":[{"scopeSpans":[{"spans":[{}]}]}]})")
            .resource_logs()
            .empty());

  // Decoding appends to what the batch holds.
  model::Batch batch(Signal::kTraces);
  std::string error;
  REQUIRE(decode_json_export_request(
      Signal::kTraces, R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a"}]}]}]})", batch, error));
  REQUIRE(decode_json_export_request(
      Signal::kTraces, R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"b"}]}]}]})", batch, error));
  REQUIRE(batch.resource_spans().size() == 2);
  CHECK(batch.resource_spans()[1].scope_spans[0].spans[0].name == "b");

  // A repeated field given twice appends, as protobuf merges repeated fields.
  model::Batch twice = decode_ok(
      Signal::kTraces,
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a"}],"spans":[{"name":"b"},{"name":"c"}]}]}]})");
  CHECK(twice.item_count() == 3);

  model::Batch logs(Signal::kLogs);
  CHECK_FALSE(decode_json_export_request(Signal::kTraces, "{}", logs, error));
  CHECK(error == "batch signal does not match the request's signal");
}

TEST_CASE("json decoder: doubles and bytes in every form") {
  model::Batch b = decode_ok(Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
    {"body":{"doubleValue":-0}},{"body":{"doubleValue":"-0"}},{"body":{"doubleValue":0}},{"body":{"doubleValue":"NaN"}},
    {"body":{"doubleValue":"-Infinity"}},{"body":{"doubleValue":1E2}},{"body":{"doubleValue":"2.5e-3"}},
    {"body":{"bytesValue":"_-8="}},{"body":{"bytesValue":"/+8"}},{"body":{"bytesValue":"AAAA"}}]}]}]})");
  const auto& r = b.resource_logs()[0].scope_logs[0].log_records;
  // -0 keeps its sign (Vigil's encoder writes -0.0 as -0; libprotobuf's parser would read +0).
  CHECK(std::signbit(r[0].body.double_value()));
  CHECK(std::signbit(r[1].body.double_value()));
  CHECK_FALSE(std::signbit(r[2].body.double_value()));
  CHECK(r[2].body.type() == model::ValueType::kDouble);
  CHECK(std::isnan(r[3].body.double_value()));
  CHECK(r[4].body.double_value() == -std::numeric_limits<double>::infinity());
  CHECK(r[5].body.double_value() == 100.0);
  CHECK(r[6].body.double_value() == 0.0025);
  // URL-safe and standard alphabets, with and without padding.
  CHECK(r[7].body.string_value() == "\xff\xef");
  CHECK(r[8].body.string_value() == "\xff\xef");
  CHECK(r[9].body.string_value() == std::string_view("\0\0\0", 3));
}

TEST_CASE("json decoder: oneof members, the last one wins") {
  model::Batch b = decode_ok(Signal::kMetrics, R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[
    {"name":"m","gauge":{"dataPoints":[{"asInt":"5"},{"asInt":"6"}]},"sum":{"isMonotonic":true,"aggregationTemporality":2,"dataPoints":[{"asInt":"7","asDouble":1.5}]}},
    {"name":"n","sum":{"isMonotonic":true,"aggregationTemporality":2},"gauge":{}}]}]}]})");
  const auto& metrics = b.resource_metrics()[0].scope_metrics[0].metrics;
  CHECK(metrics[0].type == model::MetricType::kSum);
  REQUIRE(metrics[0].number_points.size() == 1);
  CHECK_FALSE(metrics[0].number_points[0].is_int);
  CHECK(metrics[0].number_points[0].as_int == 0);
  CHECK(metrics[0].number_points[0].as_double == 1.5);
  CHECK(metrics[1].type == model::MetricType::kGauge);
  CHECK_FALSE(metrics[1].is_monotonic);
  CHECK(metrics[1].aggregation_temporality == model::AggregationTemporality::kUnspecified);

  model::Batch l = decode_ok(
      Signal::kLogs,
      R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"s","intValue":3}},{"body":{"arrayValue":{}}},{"body":{"kvlistValue":{}}},{"body":{}}]}]}]})");
  const auto& records = l.resource_logs()[0].scope_logs[0].log_records;
  CHECK(records[0].body.type() == model::ValueType::kInt);
  CHECK(records[0].body.int_value() == 3);
  CHECK(records[1].body.type() == model::ValueType::kArray);
  CHECK(records[1].body.size() == 0);
  CHECK(records[2].body.type() == model::ValueType::kKvList);
  CHECK(records[3].body.empty());
}

TEST_CASE("json decoder: ids") {
  SUBCASE("upper, lower and mixed case hex; empty means absent; all-zero ids") {
    model::Batch b = decode_ok(Signal::kTraces, R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"traceId":"0123456789ABCDEFabcdefABCDEF0123","spanId":"aBcDeF0123456789","parentSpanId":""},
      {"traceId":"00000000000000000000000000000000","spanId":"0000000000000000"}]}]}]})");
    const auto& spans = b.resource_spans()[0].scope_spans[0].spans;
    CHECK(hex(spans[0].trace_id) == "0123456789abcdefabcdefabcdef0123");
    CHECK(hex(spans[0].span_id) == "abcdef0123456789");
    CHECK(model::is_zero(spans[0].parent_span_id));
    CHECK(model::is_zero(spans[1].trace_id));
  }
  SUBCASE("wrong length, with the path") {
    CHECK(
        decode_error(
            Signal::kTraces,
            R"({"resourceSpans":[{"scopeSpans":[{},{"spans":[{},{},{},{"traceId":"5B8EFFF798038103D269B633813FC60"}]}]}]})") ==
        "resourceSpans[0].scopeSpans[1].spans[3].traceId: want 32 hex digits, got 31");
    CHECK(decode_error(
              Signal::kTraces,
              R"({"resource_spans":[{"scope_spans":[{"spans":[{"span_id":"EEE19B7EC3C1B17400"}]}]}]})") ==
          "resourceSpans[0].scopeSpans[0].spans[0].spanId: want 16 hex digits, got 18");
    CHECK(decode_error(Signal::kTraces,
                       R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"parentSpanId":"ab"}]}]}]})") ==
          "resourceSpans[0].scopeSpans[0].spans[0].parentSpanId: want 16 hex digits, got 2");
    CHECK(
        decode_error(Signal::kTraces,
                     R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"links":[{},{"spanId":"abc"}]}]}]}]})") ==
        "resourceSpans[0].scopeSpans[0].spans[0].links[1].spanId: want 16 hex digits, got 3");
    CHECK(
        decode_error(
            Signal::kLogs,
            R"({"resourceLogs":[{},{"scopeLogs":[{"logRecords":[{"traceId":"5B8EFFF798038103D269B633813FC60CC0"}]}]}]})") ==
        "resourceLogs[1].scopeLogs[0].logRecords[0].traceId: want 32 hex digits, got 34");
    CHECK(
        decode_error(
            Signal::kMetrics,
            R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"exemplars":[{"spanId":"1"}]}]}}]}]}]})") ==
        "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].exemplars[0].spanId: want 16 "
        "hex digits, got 1");
  }
  SUBCASE("not hex, or base64 as the protobuf JSON mapping would write it") {
    CHECK(
        decode_error(
            Signal::kTraces,
            R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60G"}]}]}]})") ==
        "resourceSpans[0].scopeSpans[0].spans[0].traceId: not a hex digit at offset 31");
    CHECK(decode_error(Signal::kTraces,
                       R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"7uGbfsPBsXQ="}]}]}]})") ==
          "resourceSpans[0].scopeSpans[0].spans[0].spanId: want 16 hex digits, got 12");
    CHECK(
        decode_error(
            Signal::kMetrics,
            R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{"exemplars":[{"traceId":12}]}]}}]}]}]})") ==
        "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].exemplars[0].traceId: want a hex "
        "string, got 12");
  }
}

TEST_CASE("json decoder: invalid JSON and invalid UTF-8") {
  const std::string prefix = "request: invalid JSON";
  struct Case {
    std::string_view json;
    std::string_view error_starts_with;
  };
  const Case cases[] = {
      {R"({"resourceLogs":[)", "resourceLogs[0]: invalid JSON"},
      {R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityText":"x"}]}]})",
       "resourceLogs[1]: invalid JSON"},
      {R"({"resourceLogs":[{"scopeLogs":[]} {"scopeLogs":[]}]})", "resourceLogs[1]: invalid JSON"},
      {R"({"x":[1 2]})", "x[1]: invalid JSON"},
      {R"({"resourceLogs":[],})", "request: invalid JSON"},
      {R"({"resourceLogs" []})", "request: invalid JSON"},
      {R"({resourceLogs:[]})", "request: invalid JSON"},
      {R"({"resourceLogs":[]}})", "request: unexpected content after the JSON object at offset 19"},
      {R"({"resourceLogs":[]} {"resourceLogs":[]})",
       "request: unexpected content after the JSON object at offset 20"},
      {R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityText":"unterminated}]}]}]})",
       "request: invalid JSON"},
      {R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"flags":tru}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].flags: want an unsigned 32-bit integer, got tru"},
      {R"({"x":nul})", "x: invalid literal nul"},
      {R"({"x":[1,2,}})", "x[2]: invalid JSON"},
      {R"({"x":{"a":1,}})", "x: invalid JSON"},
      {R"({"x":-})", "x: invalid number -"},
      {R"({"x":"\q"})", "x: invalid string"},
      {R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityText":"\ud800"}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].severityText: invalid string"},
      {"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"severityText\":\"\xff\"}]}]}]}",
       "request: invalid UTF-8"},
      {"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"stringValue\":\"\xc3\x28\"}}]}]}]}",
       "request: invalid UTF-8"},
      {"{\"x\":\"\xed\xa0\x80\"}", "request: invalid UTF-8"},  // an encoded surrogate
      {"{\"x\xf5\":1}", "request: invalid UTF-8"},
      {"[]", "request: want an object, got an array"},
      {"null", "request: want an object, got null"},
      {"\"text\"", "request: want an object, got \"text\""},
      {"42", "request: want an object, got 42"},
      {"{", "request: invalid JSON"},
      {"}", "request: want an object, got }"},
  };
  for (const Case& c : cases) {
    const std::string error = decode_error(Signal::kLogs, c.json);
    INFO(c.json);
    CHECK_MESSAGE(error.rfind(c.error_starts_with, 0) == 0, error);
  }
  // Where a syntax error is, when simdjson knows.
  CHECK(
      decode_error(Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"x":1,}]}]})") ==
      "resourceLogs[0].scopeLogs[0]: invalid JSON at offset 38: The JSON document has an improper structure: "
      "missing or superfluous commas, braces, missing keys, etc.");
}

TEST_CASE("json decoder: wrong value types name the field and what was there") {
  struct Case {
    Signal signal;
    std::string_view json;
    std::string_view error;
  };
  const Case cases[] = {
      {Signal::kLogs, R"({"resourceLogs":{}})", "resourceLogs: want an array, got an object"},
      {Signal::kLogs, R"({"resourceLogs":[[]]})", "resourceLogs[0]: want an object, got an array"},
      {Signal::kLogs, R"({"resourceLogs":[null]})", "resourceLogs[0]: want an object, got null"},
      {Signal::kLogs, R"({"resourceLogs":[{"resource":"r"}]})",
       "resourceLogs[0].resource: want an object, got \"r\""},
      {Signal::kLogs, R"({"resourceLogs":[{"resource":{"attributes":[{"key":5}]}}]})",
       "resourceLogs[0].resource.attributes[0].key: want a string, got 5"},
      {Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":true}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano: want an unsigned 64-bit integer, got true"},
      {Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"12a"}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano: want an unsigned 64-bit integer, got "
       "\"12a\""},
      {Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":-1}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano: want an unsigned 64-bit integer, got -1"},
      {Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":1.5}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano: want an unsigned 64-bit integer, got 1.5"},
      {Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"LOUD"}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber: unknown enum value \"LOUD\""},
      {Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":{}}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber: want a 32-bit integer, got an object"},
      {Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"boolValue":"true"}}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].body.boolValue: want true or false, got \"true\""},
      {Signal::kLogs,
       R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"arrayValue":{"values":[{},{"doubleValue":"fast"}]}}}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].body.arrayValue.values[1].doubleValue: want a double, got "
       "\"fast\""},
      {Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"doubleValue":"inf"}}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].body.doubleValue: want a double, got \"inf\""},
      {Signal::kLogs,
       R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"kvlistValue":{"values":[{"key":"k","value":{"bytesValue":"a$=="}}]}}}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].body.kvlistValue.values[0].value.bytesValue: invalid "
       "base64 character at offset 1"},
      {Signal::kLogs,
       R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"bytesValue":"abcde"}}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].body.bytesValue: invalid base64 (length)"},
      {Signal::kTraces,
       R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"status":{"code":"STATUS_CODE_MAYBE"}}]}]}]})",
       "resourceSpans[0].scopeSpans[0].spans[0].status.code: unknown enum value \"STATUS_CODE_MAYBE\""},
      {Signal::kTraces, R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"events":[{"name":["n"]}]}]}]}]})",
       "resourceSpans[0].scopeSpans[0].spans[0].events[0].name: want a string, got an array"},
      {Signal::kMetrics,
       R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"isMonotonic":1}}]}]}]})",
       "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.isMonotonic: want true or false, got 1"},
      {Signal::kMetrics,
       R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"bucketCounts":[1,"x"]}]}}]}]}]})",
       "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts[1]: want an "
       "unsigned 64-bit integer, got \"x\""},
      {Signal::kMetrics,
       R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"summary":{"dataPoints":[{"quantileValues":[{"quantile":"half"}]}]}}]}]}]})",
       "resourceMetrics[0].scopeMetrics[0].metrics[0].summary.dataPoints[0].quantileValues[0].quantile: want "
       "a double, got \"half\""},
  };
  for (const Case& c : cases) CHECK(decode_error(c.signal, c.json) == c.error);
}

TEST_CASE("json decoder: numbers out of range") {
  struct Case {
    Signal signal;
    std::string_view json;
    std::string_view error;
  };
  const std::string long_digits(400, '9');
  const std::string very_long =
      R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":)" + long_digits + "}]}]}]}";
  const Case cases[] = {
      {Signal::kLogs,
       R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":18446744073709551616}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano: want an unsigned 64-bit integer, got "
       "18446744073709551616"},
      {Signal::kLogs,
       R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"18446744073709551616"}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano: want an unsigned 64-bit integer, got "
       "\"18446744073709551616\""},
      {Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":1e20}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano: want an unsigned 64-bit integer, got 1e20"},
      {Signal::kLogs, very_long,
       "resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano: want an unsigned 64-bit integer, got "
       "9999999999999999999999999999999999999999..."},
      {Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"flags":4294967296}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].flags: want an unsigned 32-bit integer, got 4294967296"},
      {Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":2147483648}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber: want a 32-bit integer, got 2147483648"},
      {Signal::kLogs,
       R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"intValue":"9223372036854775808"}}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].body.intValue: want a 64-bit integer, got "
       "\"9223372036854775808\""},
      {Signal::kLogs,
       R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"intValue":-9223372036854775809}}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].body.intValue: want a 64-bit integer, got "
       "-9223372036854775809"},
      {Signal::kLogs, R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"doubleValue":1e400}}]}]}]})",
       "resourceLogs[0].scopeLogs[0].logRecords[0].body.doubleValue: want a double, got 1e400"},
      {Signal::kMetrics,
       R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"exponentialHistogram":{"dataPoints":[{"scale":-2147483649}]}}]}]}]})",
       "resourceMetrics[0].scopeMetrics[0].metrics[0].exponentialHistogram.dataPoints[0].scale: want a "
       "32-bit integer, got -2147483649"},
  };
  for (const Case& c : cases) CHECK(decode_error(c.signal, c.json) == c.error);

  // Integers beyond 64 bits are fine where a double is wanted (and in unknown fields).
  model::Batch b = decode_ok(
      Signal::kLogs,
      R"({"unknown":123456789012345678901234567890,"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"doubleValue":27670116110564327424}}]}]}]})");
  CHECK(b.resource_logs()[0].scope_logs[0].log_records[0].body.double_value() == 27670116110564327424.0);
}

// A log body nested `depth` arrays deep, in protobuf and (through the protobuf decoder and Vigil's
// JSON encoder) in JSON.
void nested_body(int depth, std::string& proto, std::string& json) {
  LogsRequest r;
  pbc::AnyValue* v = r.add_resource_logs()->add_scope_logs()->add_log_records()->mutable_body();
  for (int i = 0; i < depth; ++i) v = v->mutable_array_value()->add_values();
  v->set_int_value(7);
  proto = r.SerializeAsString();
  json = R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":)";
  for (int i = 0; i < depth; ++i) json += R"({"arrayValue":{"values":[)";
  json += R"({"intValue":"7"})";
  for (int i = 0; i < depth; ++i) json += "]}}";
  json += "}]}]}]}";
}

TEST_CASE("json decoder: nesting is bounded as in the protobuf decoder") {
  // Around the limit, JSON and protobuf accept and refuse the same requests.
  int accepted = 0;
  for (int depth = 40; depth <= 56; ++depth) {
    std::string proto;
    std::string json;
    nested_body(depth, proto, json);
    model::Batch from_proto(Signal::kLogs);
    model::Batch from_json(Signal::kLogs);
    std::string proto_error;
    std::string json_error;
    const bool proto_ok = decode_export_request(Signal::kLogs, proto, from_proto, proto_error);
    const bool json_ok = decode_json_export_request(Signal::kLogs, json, from_json, json_error);
    INFO("depth " << depth << ": " << json_error);
    CHECK(json_ok == proto_ok);
    if (json_ok) {
      ++accepted;
      CHECK(proto_bytes(from_json) == proto_bytes(from_proto));
    } else {
      CHECK(json_error.find(": nesting deeper than 100 levels") != std::string::npos);
      CHECK(json_error.rfind(
                "resourceLogs[0].scopeLogs[0].logRecords[0].body.arrayValue.values[0].arrayValue", 0) == 0);
      CHECK(json_error.size() < 1000);  // the middle of a long path is cut
    }
  }
  CHECK(accepted > 0);
  CHECK(accepted < 17);

  // Deep nesting anywhere: in an unknown field, arrays only, objects only, 100000 levels.
  for (const std::string& deep : {"{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}",
                                  std::string(50000, '[') + std::string(50000, ']'), "{\"x\":" + [] {
                                    std::string s;
                                    for (int i = 0; i < 100000; ++i) s += "{\"a\":";
                                    return s + "1" + std::string(100000, '}');
                                  }() + "}"}) {
    const std::string error = decode_error(Signal::kLogs, deep);
    CHECK_MESSAGE((error.find("nesting deeper than 100 levels") != std::string::npos ||
                   error == "request: want an object, got an array"),
                  error);
  }
  // The path of an unknown field quotes its keys shortened, and the whole message stays short.
  std::string long_keys = "{";
  for (int i = 0; i < 101; ++i) long_keys += "\"" + std::string(200, 'k') + ": x\":{";
  long_keys += "}" + std::string(101, '}');
  const std::string long_error = decode_error(Signal::kLogs, long_keys);
  CHECK(long_error.size() < 600);
  CHECK(long_error.find(": nesting deeper than 100 levels") != std::string::npos);
  CHECK(long_error.rfind(std::string(40, 'k') + "." + std::string(40, 'k') + ".", 0) == 0);  // keys cut

  // Unknown fields up to the limit are fine.
  std::string ok = "{\"x\":" + std::string(100, '[') + std::string(100, ']') + "}";
  CHECK(decode_ok(Signal::kLogs, ok).empty());
  std::string over = "{\"x\":" + std::string(101, '[') + std::string(101, ']') + "}";
  CHECK(decode_error(Signal::kLogs, over).find("nesting deeper than 100 levels") != std::string::npos);
}

TEST_CASE("json decoder: truncated and mutated documents never crash") {
  model::Batch source = full_metrics_batch();
  std::string json;
  encode_json(source, json);
  for (std::size_t n = 0; n < json.size(); n += (n < 3000 ? 1 : 37)) {
    model::Batch batch(Signal::kMetrics);
    std::string error;
    const bool ok =
        decode_json_export_request(Signal::kMetrics, std::string_view(json).substr(0, n), batch, error);
    if (!ok) CHECK(!error.empty());
    if (n > 0 && n < json.size()) CHECK_FALSE(ok);  // a cut-off object is never complete
  }

  std::mt19937_64 rng(20240501);
  model::Batch logs_source = full_traces_batch();
  std::string valid;
  encode_json(logs_source, valid);
  const char kNasty[] = {'{', '}', '[', ']', '"', '\\', ',',    ':',   '0',
                         '-', 'e', 'n', 't', 'f', ' ',  '\xff', '\xc3'};
  int rejected = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    std::string input = valid.substr(0, 2000 + rng() % (valid.size() - 2000));
    for (int k = 0; k < 3; ++k) input[rng() % input.size()] = kNasty[rng() % sizeof kNasty];
    for (Signal signal : {Signal::kLogs, Signal::kTraces, Signal::kMetrics}) {
      model::Batch batch(signal);
      std::string error;
      if (!decode_json_export_request(signal, input, batch, error)) {
        ++rejected;
        CHECK(!error.empty());
        CHECK(error.size() < 1000);
      }
    }
  }
  CHECK(rejected > 1000);
}

TEST_CASE("json decoder: concurrent use on several threads") {
  std::string logs;
  std::string traces;
  encode_json(full_logs_batch(), logs);  // over the retained-buffer size
  encode_json(model::testing::full_traces(), traces);
  const std::string expected_logs = proto_bytes(full_logs_batch());
  const std::string expected_traces = proto_bytes(model::testing::full_traces());
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < (t % 2 == 0 ? 3 : 200); ++i) {
        const bool big = t % 2 == 0;
        model::Batch batch(big ? Signal::kLogs : Signal::kTraces);
        std::string error;
        if (!decode_json_export_request(batch.signal(), big ? logs : traces, batch, error) ||
            proto_bytes(batch) != (big ? expected_logs : expected_traces)) {
          ++failures[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == std::vector<int>(4, 0));
}

}  // namespace
}  // namespace vigil::otlp::testing
