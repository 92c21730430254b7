#include "agent/otlp/json_encoder.hpp"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <string>
#include <string_view>

#include "tests/support/test_batches.hpp"

using namespace vigil::model;
using vigil::otlp::encode_json;

namespace {

simdjson::dom::element parse(simdjson::dom::parser& parser, const std::string& json) {
  simdjson::dom::element root;
  auto err = parser.parse(json).get(root);
  INFO(json);
  REQUIRE(err == simdjson::SUCCESS);
  return root;
}

std::string_view str(simdjson::dom::element e, std::string_view path) {
  std::string_view out;
  auto err = e.at_pointer(path).get(out);
  INFO(path);
  REQUIRE(err == simdjson::SUCCESS);
  return out;
}
std::int64_t num(simdjson::dom::element e, std::string_view path) {
  std::int64_t out = 0;
  auto err = e.at_pointer(path).get(out);
  INFO(path);
  REQUIRE(err == simdjson::SUCCESS);
  return out;
}
double dbl(simdjson::dom::element e, std::string_view path) {
  double out = 0;
  auto err = e.at_pointer(path).get(out);
  INFO(path);
  REQUIRE(err == simdjson::SUCCESS);
  return out;
}
bool boolean(simdjson::dom::element e, std::string_view path) {
  bool out = false;
  auto err = e.at_pointer(path).get(out);
  INFO(path);
  REQUIRE(err == simdjson::SUCCESS);
  return out;
}
bool has(simdjson::dom::element e, std::string_view path) {
  return e.at_pointer(path).error() == simdjson::SUCCESS;
}
std::size_t size(simdjson::dom::element e, std::string_view path) {
  simdjson::dom::element x;
  if (e.at_pointer(path).get(x) != simdjson::SUCCESS) return 0;
  if (x.is_array()) return simdjson::dom::array(x).size();
  if (x.is_object()) return simdjson::dom::object(x).size();
  return 0;
}

// Checks the attributes written by testing::fill_attributes at `p` (a JSON pointer to the array).
void check_attributes(simdjson::dom::element root, const std::string& p) {
  REQUIRE(size(root, p) == 7);
  CHECK(str(root, p + "/0/key") == "str");
  CHECK(str(root, p + "/0/value/stringValue") == "text \"quoted\"\n");
  CHECK(boolean(root, p + "/1/value/boolValue") == true);
  CHECK(str(root, p + "/2/value/intValue") == "-9007199254740993");
  CHECK(dbl(root, p + "/3/value/doubleValue") == 2.5);
  CHECK(str(root, p + "/4/value/bytesValue") == "AAH+/w==");
  CHECK(str(root, p + "/5/value/arrayValue/values/0/stringValue") == "a0");
  CHECK(str(root, p + "/5/value/arrayValue/values/1/kvlistValue/values/0/key") == "k1");
  CHECK(str(root, p + "/5/value/arrayValue/values/1/kvlistValue/values/0/value/stringValue") == "v1");
  CHECK(str(root, p + "/5/value/arrayValue/values/1/kvlistValue/values/1/value/intValue") == "7");
  CHECK(size(root, p + "/5/value/arrayValue/values/2") == 0);  // empty AnyValue: {}
  CHECK(str(root, p + "/6/key") == "empty");
  CHECK(size(root, p + "/6/value") == 0);
}

void check_resource_and_scope(simdjson::dom::element root, const std::string& rp, const std::string& sp) {
  check_attributes(root, rp + "/resource/attributes");
  CHECK(num(root, rp + "/resource/droppedAttributesCount") == 1);
  CHECK(str(root, sp + "/scope/name") == "my.scope");
  CHECK(str(root, sp + "/scope/version") == "1.2.3");
  CHECK(str(root, sp + "/scope/attributes/0/key") == "scope.attr");
  CHECK(num(root, sp + "/scope/droppedAttributesCount") == 2);
}

}  // namespace

TEST_CASE("json: logs, every field") {
  Batch b = testing::full_logs();
  std::string out;
  encode_json(b, out);
  CHECK(out.find('\n') == std::string::npos);
  simdjson::dom::parser parser;
  auto root = parse(parser, out);
  CHECK(size(root, "") == 1);
  check_resource_and_scope(root, "/resourceLogs/0", "/resourceLogs/0/scopeLogs/0");
  CHECK(str(root, "/resourceLogs/0/schemaUrl") == "https://opentelemetry.io/schemas/1.21.0");
  CHECK(str(root, "/resourceLogs/0/scopeLogs/0/schemaUrl") == "scope-schema");
  const std::string r = "/resourceLogs/0/scopeLogs/0/logRecords/0";
  CHECK(str(root, r + "/timeUnixNano") == "1700000000123456789");
  CHECK(str(root, r + "/observedTimeUnixNano") == "1700000000987654321");
  CHECK(num(root, r + "/severityNumber") == 17);
  CHECK(str(root, r + "/severityText") == "ERROR");
  CHECK(str(root, r + "/body/stringValue") == "payment failed: \"card\" \\ declined\t\x01");
  check_attributes(root, r + "/attributes");
  CHECK(num(root, r + "/droppedAttributesCount") == 3);
  CHECK(num(root, r + "/flags") == 1);
  CHECK(str(root, r + "/traceId") == "0112233445566778899aabbccddeef00");
  CHECK(str(root, r + "/spanId") == "0221405f7e9dbcdb");
  CHECK(str(root, r + "/eventName") == "payment.failed");
  CHECK(size(root, r) == 11);

  // Defaults are omitted; the body is an empty message.
  const std::string e = "/resourceLogs/0/scopeLogs/0/logRecords/1";
  CHECK(size(root, e) == 1);
  CHECK(has(root, e + "/body"));
  CHECK(size(root, e + "/body") == 0);

  // Exact text of the escapes and of the id/int encodings.
  CHECK(out.find(R"("body":{"stringValue":"payment failed: \"card\" \\ declined\t\u0001"})") !=
        std::string::npos);
  CHECK(out.find(R"("timeUnixNano":"1700000000123456789")") != std::string::npos);
  CHECK(out.find(R"("severityNumber":17,)") != std::string::npos);
  CHECK(out.find(R"({"resourceLogs":[{"resource":{"attributes":[{"key":"str",)") == 0);
}

TEST_CASE("json: traces, every field") {
  Batch b = testing::full_traces();
  std::string out;
  encode_json(b, out);
  simdjson::dom::parser parser;
  auto root = parse(parser, out);
  check_resource_and_scope(root, "/resourceSpans/0", "/resourceSpans/0/scopeSpans/0");
  CHECK(str(root, "/resourceSpans/0/schemaUrl") == "res-schema");
  const std::string s = "/resourceSpans/0/scopeSpans/0/spans/0";
  CHECK(str(root, s + "/traceId") == "a0b1c2d3e4f5061728394a5b6c7d8e9f");
  CHECK(str(root, s + "/spanId") == "0b2a496887a6c5e4");
  CHECK(str(root, s + "/traceState") == "vendor=1");
  CHECK(str(root, s + "/parentSpanId").size() == 16);
  CHECK(num(root, s + "/flags") == 0x101);
  CHECK(str(root, s + "/name") == "GET /orders");
  CHECK(num(root, s + "/kind") == 2);
  CHECK(str(root, s + "/startTimeUnixNano") == "1000");
  CHECK(str(root, s + "/endTimeUnixNano") == "18446744073709551615");
  check_attributes(root, s + "/attributes");
  CHECK(num(root, s + "/droppedAttributesCount") == 4);
  CHECK(str(root, s + "/events/0/timeUnixNano") == "1500");
  CHECK(str(root, s + "/events/0/name") == "exception");
  CHECK(str(root, s + "/events/0/attributes/0/value/stringValue") == "IOError");
  CHECK(num(root, s + "/events/0/droppedAttributesCount") == 1);
  CHECK(num(root, s + "/droppedEventsCount") == 5);
  CHECK(str(root, s + "/links/0/traceId") == "102132435465768798a9bacbdcedfe0f");
  CHECK(str(root, s + "/links/0/spanId") == "203f5e7d9cbbdaf9");
  CHECK(str(root, s + "/links/0/traceState") == "ts=2");
  CHECK(str(root, s + "/links/0/attributes/0/value/intValue") == "3");
  CHECK(num(root, s + "/links/0/droppedAttributesCount") == 2);
  CHECK(num(root, s + "/links/0/flags") == 1);
  CHECK(num(root, s + "/droppedLinksCount") == 6);
  CHECK(str(root, s + "/status/message") == "boom");
  CHECK(num(root, s + "/status/code") == 2);
  CHECK(size(root, s) == 16);

  const std::string e = "/resourceSpans/0/scopeSpans/0/spans/1";
  CHECK(size(root, e) == 1);  // only the (empty) status
  CHECK(size(root, e + "/status") == 0);
}

TEST_CASE("json: metrics, every type and field") {
  Batch b = testing::full_metrics();
  std::string out;
  encode_json(b, out);
  simdjson::dom::parser parser;
  auto root = parse(parser, out);
  check_resource_and_scope(root, "/resourceMetrics/0", "/resourceMetrics/0/scopeMetrics/0");
  const std::string m = "/resourceMetrics/0/scopeMetrics/0/metrics";
  REQUIRE(size(root, m) == 6);

  // gauge
  CHECK(str(root, m + "/0/name") == "queue.depth");
  CHECK(str(root, m + "/0/description") == "items waiting");
  CHECK(str(root, m + "/0/unit") == "{item}");
  const std::string g = m + "/0/gauge/dataPoints/0";
  CHECK(str(root, g + "/attributes/0/value/stringValue") == "q1");
  CHECK(str(root, g + "/startTimeUnixNano") == "10");
  CHECK(str(root, g + "/timeUnixNano") == "20");
  CHECK(dbl(root, g + "/asDouble") == 0.0);  // oneof: written although zero
  CHECK(num(root, g + "/flags") == 1);
  CHECK(str(root, g + "/exemplars/0/filteredAttributes/0/key") == "user");
  CHECK(str(root, g + "/exemplars/0/timeUnixNano") == "15");
  CHECK(str(root, g + "/exemplars/0/asInt") == "-5");
  CHECK(str(root, g + "/exemplars/0/spanId").size() == 16);
  CHECK(str(root, g + "/exemplars/0/traceId").size() == 32);
  CHECK(str(root, m + "/0/gauge/dataPoints/1/asDouble") == "NaN");

  // sum
  CHECK(str(root, m + "/1/sum/dataPoints/0/asInt") == "9223372036854775807");
  CHECK(num(root, m + "/1/sum/aggregationTemporality") == 2);
  CHECK(boolean(root, m + "/1/sum/isMonotonic") == true);

  // histogram
  const std::string h = m + "/2/histogram";
  CHECK(num(root, h + "/aggregationTemporality") == 1);
  CHECK(str(root, h + "/dataPoints/0/count") == "6");
  CHECK(dbl(root, h + "/dataPoints/0/sum") == 0.0);  // optional, set
  CHECK(str(root, h + "/dataPoints/0/bucketCounts/0") == "1");
  CHECK(str(root, h + "/dataPoints/0/bucketCounts/2") == "3");
  CHECK(dbl(root, h + "/dataPoints/0/explicitBounds/0") == 0.5);
  CHECK(str(root, h + "/dataPoints/0/explicitBounds/1") == "Infinity");
  CHECK(str(root, h + "/dataPoints/0/min") == "-Infinity");
  CHECK(dbl(root, h + "/dataPoints/0/max") == 12.75);
  CHECK_FALSE(has(root, h + "/dataPoints/1/sum"));
  CHECK_FALSE(has(root, h + "/dataPoints/1/min"));
  CHECK_FALSE(has(root, h + "/dataPoints/1/count"));

  // exponential histogram
  const std::string e = m + "/3/exponentialHistogram";
  CHECK(num(root, e + "/aggregationTemporality") == 2);
  const std::string ep = e + "/dataPoints/0";
  CHECK(str(root, ep + "/count") == "5");
  CHECK(dbl(root, ep + "/sum") == 1e300);
  CHECK(num(root, ep + "/scale") == -2);
  CHECK(str(root, ep + "/zeroCount") == "1");
  CHECK(num(root, ep + "/positive/offset") == -3);
  CHECK(str(root, ep + "/positive/bucketCounts/1") == "18446744073709551615");
  CHECK(size(root, ep + "/negative") == 0);
  CHECK(has(root, ep + "/negative"));
  CHECK(num(root, ep + "/flags") == 1);
  CHECK(dbl(root, ep + "/min") == 0.001);
  CHECK_FALSE(has(root, ep + "/max"));
  CHECK(dbl(root, ep + "/zeroThreshold") == 1e-9);

  // summary
  const std::string q = m + "/4/summary/dataPoints/0";
  CHECK(str(root, q + "/count") == "3");
  CHECK(dbl(root, q + "/sum") == 7.5);
  CHECK_FALSE(has(root, q + "/quantileValues/0/quantile"));  // 0.0 omitted
  CHECK(dbl(root, q + "/quantileValues/0/value") == 1.0);
  CHECK(dbl(root, q + "/quantileValues/1/quantile") == 0.99);
  CHECK(dbl(root, q + "/quantileValues/1/value") == 4.25);
  CHECK(str(root, m + "/4/metadata/0/key") == "meta");

  // a metric without data
  CHECK(size(root, m + "/5") == 1);
  CHECK(str(root, m + "/5/name") == "no.data");
}

TEST_CASE("json: empty batch, several resources") {
  std::string out = "garbage";
  encode_json(Batch(Signal::kTraces), out);
  CHECK(out == "{}");

  Batch b = testing::make_logs({{1}, {2}});
  encode_json(b, out);
  simdjson::dom::parser parser;
  auto root = parse(parser, out);
  CHECK(size(root, "/resourceLogs") == 2);
  CHECK(str(root, "/resourceLogs/1/resource/attributes/0/value/stringValue") == "r1");
  CHECK(str(root, "/resourceLogs/1/scopeLogs/0/logRecords/1/body/stringValue") == "rec-2");

  // append_json adds to what is there.
  std::string two;
  vigil::otlp::append_json(b, two);
  two.push_back('\n');
  vigil::otlp::append_json(b, two);
  CHECK(two == out + "\n" + out);
}

TEST_CASE("json: strings are escaped and invalid UTF-8 is replaced") {
  Batch b(Signal::kLogs);
  Arena& a = b.arena();
  LogRecord& r = b.resource_logs().emplace_back(a).scope_logs.emplace_back(a).log_records.emplace_back(a);
  // control chars, quote, backslash, valid 2/3/4-byte UTF-8, then invalid sequences:
  // lone continuation, truncated 3-byte, overlong '/', surrogate, above U+10FFFF, truncated at end.
  const std::string body = std::string("a\x00\x1f\x7f\"\\/\b\f\r\n", 11) + "é€😀" + "\x80" + "\xE2\x82" + "x" +
                           "\xC0\xAF" + "\xED\xA0\x80" + "\xF4\x90\x80\x80" + "\xF0\x9F";
  r.body = AnyValue::string(a.copy(body));
  r.attributes.push_back(a, {a.copy("k\"\xff"), AnyValue::string(a.copy("v"))});
  std::string out;
  encode_json(b, out);
  CHECK(out.find(R"(a\u0000\u001f)"
                 "\x7f"
                 R"(\"\\/\b\f\r\n)") != std::string::npos);
  simdjson::dom::parser parser;
  auto root = parse(parser, out);  // simdjson validates UTF-8 too
  std::string_view got = str(root, "/resourceLogs/0/scopeLogs/0/logRecords/0/body/stringValue");
  const std::string fffd = "\xEF\xBF\xBD";
  const std::string expected = std::string("a\x00\x1f\x7f\"\\/\b\f\r\n", 11) + "é€😀" + fffd + fffd + fffd +
                               "x" + fffd + fffd + fffd + fffd + fffd + fffd + fffd + fffd + fffd + fffd +
                               fffd;
  CHECK(got == expected);
  CHECK(str(root, "/resourceLogs/0/scopeLogs/0/logRecords/0/attributes/0/key") == "k\"" + fffd);
}

TEST_CASE("json: doubles and 64-bit integers") {
  Batch b(Signal::kLogs);
  Arena& a = b.arena();
  LogRecord& r = b.resource_logs().emplace_back(a).scope_logs.emplace_back(a).log_records.emplace_back(a);
  r.attributes.push_back(a, {a.copy("min"), AnyValue::integer(std::numeric_limits<std::int64_t>::min())});
  r.attributes.push_back(a, {a.copy("zero"), AnyValue::integer(0)});
  r.attributes.push_back(a, {a.copy("tiny"), AnyValue::floating(5e-324)});
  r.attributes.push_back(a, {a.copy("third"), AnyValue::floating(1.0 / 3)});
  r.attributes.push_back(a, {a.copy("inf"), AnyValue::floating(-std::numeric_limits<double>::infinity())});
  r.attributes.push_back(a, {a.copy("f"), AnyValue::boolean(false)});
  r.attributes.push_back(a, {a.copy("nobytes"), AnyValue::bytes({})});
  r.attributes.push_back(a, {a.copy("b1"), AnyValue::bytes(a.copy("f"))});
  r.attributes.push_back(a, {a.copy("b2"), AnyValue::bytes(a.copy("fo"))});
  r.attributes.push_back(a, {a.copy("b3"), AnyValue::bytes(a.copy("foo"))});
  r.attributes.push_back(a, {a.copy("emptystr"), AnyValue::string({})});
  std::string out;
  encode_json(b, out);
  simdjson::dom::parser parser;
  auto root = parse(parser, out);
  const std::string p = "/resourceLogs/0/scopeLogs/0/logRecords/0/attributes";
  CHECK(str(root, p + "/0/value/intValue") == "-9223372036854775808");
  CHECK(str(root, p + "/1/value/intValue") == "0");  // oneof: always written
  CHECK(dbl(root, p + "/2/value/doubleValue") == 5e-324);
  CHECK(dbl(root, p + "/3/value/doubleValue") == 1.0 / 3);  // round-trips exactly
  CHECK(str(root, p + "/4/value/doubleValue") == "-Infinity");
  CHECK(boolean(root, p + "/5/value/boolValue") == false);
  CHECK(str(root, p + "/6/value/bytesValue") == "");
  CHECK(str(root, p + "/7/value/bytesValue") == "Zg==");
  CHECK(str(root, p + "/8/value/bytesValue") == "Zm8=");
  CHECK(str(root, p + "/9/value/bytesValue") == "Zm9v");
  CHECK(str(root, p + "/10/value/stringValue") == "");
}

TEST_CASE("OTLP/JSON writes large whole doubles with an exponent, readable by 64-bit integer parsers") {
  using namespace vigil;
  model::Batch b(model::Signal::kMetrics);
  auto& arena = b.arena();
  auto& m = b.resource_metrics().emplace_back(arena).scope_metrics.emplace_back(arena).metrics.emplace_back(arena);
  m.name = "big";
  m.type = model::MetricType::kGauge;
  for (double v : {-2.7670116110564327e19, 1e300, 123.0, 0.5}) {
    auto& p = m.number_points.emplace_back(arena);
    p.as_double = v;
  }
  std::string out;
  otlp::encode_json(b, out);
  INFO(out);
  CHECK(out.find("-2.7670116110564327e+19") != std::string::npos);
  CHECK(out.find("1e+300") != std::string::npos);
  CHECK(out.find("\"asDouble\":123") != std::string::npos);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE_FALSE(parser.parse(out).get(doc));
  double first = 0;
  REQUIRE_FALSE(doc["resourceMetrics"].at(0)["scopeMetrics"].at(0)["metrics"].at(0)["gauge"]["dataPoints"].at(0)["asDouble"].get(first));
  CHECK(first == -2.7670116110564327e19);
}
