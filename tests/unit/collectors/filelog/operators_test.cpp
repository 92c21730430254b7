// The filelog operators end to end: chains built from YAML, fed lines as the receiver feeds them.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "collectors/filelog/operators/operator.hpp"
#include "tests/unit/collectors/filelog/operators_test_support.hpp"

namespace fl = vigil::collectors::filelog;
using vigil::model::AnyValue;
using vigil::testing::attr;
using vigil::testing::build_errors;
using vigil::testing::contains;
using vigil::testing::Harness;
using vigil::testing::render;

namespace {

constexpr std::uint64_t kNs = 1'000'000'000ULL;
constexpr const char* kPodLog =
    "/var/log/pods/shop_checkout-7d9f_49cc7c1f-d370-2c40-b268-6ea7486091d6/app/2.log";

// 2023-06-22T10:27:25Z in seconds.
constexpr std::uint64_t kT0 = 1687429645ULL;

}  // namespace

// ---------------------------------------------------------------------------------------------
// json_parser

TEST_CASE("json_parser: fields become attributes, typed and nested") {
  Harness h("- type: json_parser\n");
  h.feed(R"({"msg":"order created","n":12,"f":12.5,"ok":true,"nil":null,"arr":[1,"a",{"x":1}],)"
         R"("obj":{"a":{"b":"c"}},"empty":{},"ea":[]})");
  REQUIRE(h.out.size() == 1);
  const auto& e = h.at(0);
  CHECK(render(e.record.attributes) ==
        R"({"msg":"order created","n":12,"f":12.5d,"ok":true,"nil":null,"arr":[1,"a",{"x":1}],)"
        R"("obj":{"a":{"b":"c"}},"empty":{},"ea":[]})");
  // The body stays the raw line.
  CHECK(h.body(0).rfind("{\"msg\"", 0) == 0);
  CHECK(h.stats.parse_errors == 0);
}

TEST_CASE("json_parser: escapes, unicode, repeated keys, big numbers") {
  Harness h("- type: json_parser\n");
  h.feed(R"({"s":"a\"b\\c\nd\u00e9\ud83d\ude00","k\u0041":1,"dup":1,"dup":2,"utf8":"caf√©"})");
  REQUIRE(h.out.size() == 1);
  CHECK(attr(h.at(0).record.attributes, "s") == "\"a\\\"b\\\\c\\nd\xC3\xA9\xF0\x9F\x98\x80\"");
  CHECK(attr(h.at(0).record.attributes, "kA") == "1");
  CHECK(attr(h.at(0).record.attributes, "dup") == "2");
  CHECK(h.at(0).record.attributes.size() == 4);

  h.feed(R"({"max":9223372036854775807,"min":-9223372036854775808,"u":9223372036854775808,)"
         R"("huge":123456789012345678901234567890,"e":1.5e300,"neg":-0.25})");
  REQUIRE(h.out.size() == 2);
  const auto& a = h.at(1).record.attributes;
  CHECK(attr(a, "max") == "9223372036854775807");
  CHECK(attr(a, "min") == "-9223372036854775808");
  CHECK(attr(a, "u") == "9.2233720368547758e+18d");
  CHECK(attr(a, "huge") == "1.2345678901234568e+29d");
  CHECK(attr(a, "e") == "1.5000000000000001e+300d");
  CHECK(attr(a, "neg") == "-0.25d");
}

TEST_CASE("json_parser: parse_ints false gives doubles as the Collector's default") {
  Harness h("- type: json_parser\n  parse_ints: false\n");
  h.feed(R"({"n":12})");
  CHECK(attr(h.at(0).record.attributes, "n") == "12d");
}

TEST_CASE("json_parser: input that is not a JSON object keeps the raw line and says why") {
  Harness h("- type: json_parser\n");
  const std::vector<std::string> bad = {
      "[1,2]", "42",       R"("str")",     R"({"a":)",     R"({"a":1} {"b":2})",
      "",      "not json", R"({"a":tru})", R"({"a":"\x"})"};
  for (const std::string& line : bad) h.feed(line);
  REQUIRE(h.out.size() == bad.size());
  for (std::size_t i = 0; i < bad.size(); ++i) {
    CAPTURE(bad[i]);
    CHECK(h.body(i) == bad[i]);
    const std::string err = attr(h.at(i).record.attributes, fl::kParseErrorAttribute);
    CHECK(err.rfind("\"json_parser: ", 0) == 0);
    CHECK(h.at(i).record.attributes.size() == 1);
  }
  CHECK(attr(h.at(0).record.attributes, fl::kParseErrorAttribute) == "\"json_parser: not a JSON object\"");
  CHECK(attr(h.at(4).record.attributes, fl::kParseErrorAttribute) ==
        "\"json_parser: unexpected content after the JSON object\"");
  CHECK(h.stats.parse_errors == bad.size());
}

TEST_CASE("json_parser: strings without escapes are views into the line, no copy") {
  vigil::config::Errors errors;
  const auto cfg = vigil::config::parse_yaml("- type: json_parser\n", "t.yaml", errors);
  auto ops = fl::build_operators(&cfg, "filelog", errors);
  REQUIRE(errors.empty());
  const std::string buffer =
      std::string(R"({"a":"plain","b":"esc\"aped"})") + std::string(fl::kInputPadding, ' ');
  const std::string_view line(buffer.data(), buffer.size() - fl::kInputPadding);
  bool a_in_line = false;
  bool b_in_line = true;
  fl::Chain chain(std::move(ops), [&](fl::Context&, fl::Entry& e) {
    auto inside = [&](std::string_view s) {
      return s.data() >= buffer.data() && s.data() < buffer.data() + buffer.size();
    };
    a_in_line = inside(vigil::model::find_attribute(e.record.attributes, "a")->string_value());
    b_in_line = inside(vigil::model::find_attribute(e.record.attributes, "b")->string_value());
    a_in_line &= inside(e.record.attributes[0].key);
  });
  fl::ChainState state = chain.make_state();
  fl::OperatorStats stats;
  vigil::model::Arena arena;
  fl::Context ctx{arena, state, stats, chain, "", 0};
  fl::Entry e;
  e.record.body = AnyValue::string(line);
  chain.process(ctx, e);
  CHECK(a_in_line);
  CHECK_FALSE(b_in_line);
}

TEST_CASE("parsers take a bytes body (the receiver's body_as_bytes) as text") {
  Harness h(
      "- type: json_parser\n- type: regex_parser\n  parse_from: attributes.m\n  regex: '(?P<w>\\w+)$'\n");
  fl::Entry e;
  e.record.body = AnyValue::bytes(h.line(R"({"m":"last word"})"));
  h.feed_entry(e);
  REQUIRE(h.out.size() == 1);
  CHECK(attr(h.at(0).record.attributes, "w") == "\"word\"");
  CHECK(h.stats.parse_errors == 0);
}

TEST_CASE("json_parser: parse_from, parse_to, body and embedded timestamp, severity and trace") {
  Harness h(R"(
- type: json_parser
  timestamp:
    parse_from: attributes.ts
    layout: '%Y-%m-%dT%H:%M:%S.%LZ'
  severity:
    parse_from: attributes.level
  trace:
    trace_id:
      parse_from: attributes.trace_id
    span_id:
      parse_from: attributes.span_id
)");
  h.feed(
      R"({"ts":"2026-11-22T10:00:00.123Z","level":"warn","msg":"order created",)"
      R"("trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","order_id":"ord-123456",)"
      R"("latency_ms":12.5})");
  REQUIRE(h.out.size() == 1);
  const auto& e = h.at(0);
  CHECK(e.record.time_unix_nano == 1795341600123000000ULL);
  CHECK(e.record.severity_number == 13);
  CHECK(e.record.severity_text == "warn");
  CHECK(e.record.trace_id[0] == 0x4b);
  CHECK(e.record.trace_id[15] == 0x36);
  CHECK(e.record.span_id[7] == 0xb7);
  CHECK(attr(e.record.attributes, fl::kParseErrorAttribute) == "<absent>");

  Harness to_body(R"(
- type: json_parser
  parse_to: body
- type: json_parser
  id: inner
  parse_from: body.inner
  parse_to: attributes.inner
  body: body.msg
)");
  to_body.feed(R"({"msg":"hello","inner":"{\"k\":[1,2],\"s\":\"v\"}"})");
  REQUIRE(to_body.out.size() == 1);
  CHECK(to_body.body(0) == "hello");
  CHECK(attr(to_body.at(0).record.attributes, "inner") == R"({"k":[1,2],"s":"v"})");
}

TEST_CASE("json_parser: a failed timestamp keeps what was parsed and reports it") {
  Harness h(R"(
- type: json_parser
  timestamp:
    parse_from: attributes.ts
    layout_type: epoch
    layout: ms
  severity:
    parse_from: attributes.level
)");
  h.feed(R"({"ts":"yesterday","level":"ERROR","a":1})");
  REQUIRE(h.out.size() == 1);
  const auto& e = h.at(0);
  CHECK(attr(e.record.attributes, "a") == "1");
  CHECK(e.record.severity_number == 17);  // parsed independently of the timestamp
  CHECK(attr(e.record.attributes, fl::kParseErrorAttribute) ==
        "\"json_parser: timestamp: value does not match the epoch layout\"");
  h.feed(R"({"level":"info"})");
  CHECK(attr(h.at(1).record.attributes, fl::kParseErrorAttribute) ==
        "\"json_parser: timestamp: no field attributes.ts\"");
  CHECK(h.stats.parse_errors == 2);
}

TEST_CASE("on_error: send, send_quiet, drop, drop_quiet") {
  for (const char* mode : {"send", "send_quiet", "drop", "drop_quiet"}) {
    CAPTURE(mode);
    Harness h(std::string("- type: json_parser\n  on_error: ") + mode + "\n");
    h.feed("not json");
    h.feed(R"({"ok":1})");
    CHECK(h.stats.parse_errors == 1);
    const std::string m = mode;
    if (m == "send" || m == "send_quiet") {
      REQUIRE(h.out.size() == 2);
      CHECK(h.body(0) == "not json");
      CHECK(attr(h.at(0).record.attributes, fl::kParseErrorAttribute) ==
            (m == "send" ? "\"json_parser: not a JSON object\"" : "<absent>"));
    } else {
      REQUIRE(h.out.size() == 1);
      CHECK(attr(h.at(0).record.attributes, "ok") == "1");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// regex_parser, time_parser, severity_parser, trace_parser

TEST_CASE("regex_parser: named groups, unmatched optional groups, no match") {
  Harness h(R"(
- type: regex_parser
  regex: '^(?P<time>\S+) (?P<level>[A-Z]+)(?: \[(?P<thread>[^\]]+)\])? (?P<msg>.*)$'
  timestamp:
    parse_from: attributes.time
    layout_type: gotime
    layout: 2006-01-02T15:04:05Z07:00
  severity:
    parse_from: attributes.level
    overwrite_text: true
)");
  h.feed("2024-01-01T00:00:00Z WARNING [main] disk almost full");
  h.feed("2024-01-01T00:00:01+01:00 INFO started");
  h.feed("garbage");
  REQUIRE(h.out.size() == 3);
  CHECK(render(h.at(0).record.attributes) ==
        R"({"time":"2024-01-01T00:00:00Z","level":"WARNING","thread":"main","msg":"disk almost full"})");
  CHECK(h.at(0).record.severity_number == 13);
  CHECK(h.at(0).record.severity_text == "WARN");
  CHECK(h.at(0).record.time_unix_nano == 1704067200ULL * kNs);
  CHECK(attr(h.at(1).record.attributes, "thread") == "\"\"");
  CHECK(h.at(1).record.time_unix_nano == (1704067201ULL - 3600) * kNs);
  CHECK(h.body(2) == "garbage");
  CHECK(attr(h.at(2).record.attributes, fl::kParseErrorAttribute) ==
        "\"regex_parser: regex pattern does not match\"");
}

TEST_CASE("time_parser, severity_parser and trace_parser standalone") {
  Harness h(R"(
- type: regex_parser
  regex: '^(?P<ts>\d+) (?P<code>\d+) (?P<tid>\S+)'
- type: time_parser
  parse_from: attributes.ts
  layout_type: epoch
  layout: s
- type: severity_parser
  parse_from: attributes.code
  mapping:
    error: 5xx
    warn: 4xx
    info: [{min: 200, max: 399}]
- type: trace_parser
  trace_id:
    parse_from: attributes.tid
)");
  h.feed("1136214245 503 4bf92f3577b34da6a3ce929d0e0e4736");
  h.feed("1136214246 404 nothex");
  h.feed("1136214247 200 4bf92f3577b34da6a3ce929d0e0e4736");
  REQUIRE(h.out.size() == 3);
  CHECK(h.at(0).record.time_unix_nano == 1136214245ULL * kNs);
  CHECK(h.at(0).record.severity_number == 17);
  CHECK(h.at(0).record.severity_text == "503");
  CHECK(h.at(0).record.trace_id[0] == 0x4b);
  CHECK(h.at(1).record.severity_number == 13);
  CHECK(attr(h.at(1).record.attributes, fl::kParseErrorAttribute) ==
        "\"trace_parser: trace: trace_id is not 32 hex digits in attributes.tid\"");
  CHECK(h.at(2).record.severity_number == 9);
}

TEST_CASE("severity_parser: integers and unknown values") {
  Harness h(R"(
- type: json_parser
- type: severity_parser
  parse_from: attributes.level
)");
  h.feed(R"({"level":17})");
  h.feed(R"({"level":"Notice"})");
  h.feed(R"({"level":2.5})");
  h.feed(R"({"level":true})");
  REQUIRE(h.out.size() == 4);
  CHECK(h.at(0).record.severity_number == 17);
  CHECK(h.at(0).record.severity_text == "17");
  CHECK(h.at(1).record.severity_number == 0);
  CHECK(h.at(1).record.severity_text == "Notice");
  CHECK(attr(h.at(2).record.attributes, fl::kParseErrorAttribute) ==
        "\"severity_parser: severity: a number must be whole to be a severity\"");
  CHECK(attr(h.at(3).record.attributes, fl::kParseErrorAttribute) ==
        "\"severity_parser: severity: value cannot be a severity\"");
}

// ---------------------------------------------------------------------------------------------
// container

TEST_CASE("container: a CRI line with k8s metadata from the pod log path") {
  Harness h("- type: container\n");
  h.file_path = kPodLog;
  h.feed("2023-06-22T10:27:25.813799277Z stdout F standalone containerd line");
  h.feed("2024-04-13T07:59:37.505201169-05:00 stderr F crio line");
  h.feed("2023-06-22T10:27:25Z stdout F ");
  REQUIRE(h.out.size() == 3);
  const auto& e = h.at(0);
  CHECK(h.body(0) == "standalone containerd line");
  CHECK(e.record.time_unix_nano == kT0 * kNs + 813799277ULL);
  CHECK(render(e.record.attributes) == R"({"logtag":"F","log.iostream":"stdout"})");
  CHECK(render(e.resource) ==
        R"({"k8s.namespace.name":"shop","k8s.pod.name":"checkout-7d9f",)"
        R"("k8s.pod.uid":"49cc7c1f-d370-2c40-b268-6ea7486091d6","k8s.container.name":"app",)"
        R"("k8s.container.restart_count":"2"})");
  CHECK(h.body(1) == "crio line");
  CHECK(h.at(1).record.time_unix_nano == 1713013177ULL * kNs + 505201169ULL);
  CHECK(attr(h.at(1).record.attributes, "log.iostream") == "\"stderr\"");
  CHECK(h.body(2) == "");
  CHECK(h.stats.parse_errors == 0);
}

TEST_CASE("container: CRI partial lines of stdout and stderr interleaved") {
  Harness h("- type: container\n- type: json_parser\n  on_error: send_quiet\n");
  h.file_path = kPodLog;
  h.feed("2023-06-22T10:27:25.000000001Z stdout P {\"msg\":\"part 1 of out, ", 100);
  h.feed("2023-06-22T10:27:25.000000002Z stderr P part 1 of err, ", 200);
  CHECK(h.out.empty());
  CHECK(h.state.held_since() == 100u);
  h.feed("2023-06-22T10:27:25.000000003Z stdout P part 2 of out, ", 300);
  h.new_batch();  // the held fragments must not live in the batch arena
  h.feed("2023-06-22T10:27:25.000000004Z stderr F end of err", 400);
  REQUIRE(h.out.size() == 1);
  CHECK(h.body(0) == "part 1 of err, end of err");
  CHECK(attr(h.at(0).record.attributes, "log.iostream") == "\"stderr\"");
  CHECK(attr(h.at(0).record.attributes, "logtag") == "\"F\"");
  CHECK(h.at(0).record.time_unix_nano == kT0 * kNs + 2);
  CHECK(h.at(0).offset == 200u);
  CHECK(h.at(0).resource.size() == 5);
  CHECK(h.state.held_since() == 100u);
  h.feed("2023-06-22T10:27:25.000000005Z stdout F end of out\"}", 500);
  REQUIRE(h.out.size() == 2);
  CHECK(attr(h.at(1).record.attributes, "msg") == "\"part 1 of out, part 2 of out, end of out\"");
  CHECK(h.at(1).offset == 100u);
  CHECK(h.at(1).record.time_unix_nano == kT0 * kNs + 1);
  CHECK_FALSE(h.state.held_since().has_value());
}

TEST_CASE("container: docker json-file lines and 16 KiB splits") {
  Harness h("- type: container\n  format: docker\n");
  h.file_path = kPodLog;
  h.feed(R"({"log":"INFO: log line here\n","stream":"stdout","time":"2024-03-30T08:31:20.545192187Z"})");
  REQUIRE(h.out.size() == 1);
  CHECK(h.body(0) == "INFO: log line here");
  CHECK(h.at(0).record.time_unix_nano == 1711787480ULL * kNs + 545192187ULL);
  CHECK(render(h.at(0).record.attributes) == R"({"log.iostream":"stdout"})");
  CHECK(h.at(0).resource.size() == 5);

  // A 40000-byte line split by the runtime at 16 KiB, a stderr line in between.
  std::string message;
  for (int i = 0; message.size() < 40000; ++i) message += "chunk" + std::to_string(i) + " ";
  message.resize(40000);
  const std::size_t k16 = 16384;
  auto docker = [](std::string_view log, const char* stream, bool end) {
    return std::string(R"({"log":")") + std::string(log) + (end ? "\\n" : "") + R"(","stream":")" + stream +
           R"(","time":"2024-03-30T08:31:21Z"})";
  };
  h.feed(docker(std::string_view(message).substr(0, k16), "stdout", false), 1000);
  h.feed(docker(std::string_view(message).substr(k16, k16), "stdout", false), 2000);
  h.feed(docker("an error", "stderr", true), 3000);
  REQUIRE(h.out.size() == 2);
  CHECK(h.body(1) == "an error");
  CHECK(h.state.held_since() == 1000u);
  h.feed(docker(std::string_view(message).substr(2 * k16), "stdout", true), 4000);
  REQUIRE(h.out.size() == 3);
  CHECK(h.body(2) == message);
  CHECK(h.at(2).offset == 1000u);
  CHECK(attr(h.at(2).record.attributes, "log.iostream") == "\"stdout\"");

  // Other keys of the docker line stay as attributes.
  h.feed(R"({"log":"x\r\n","stream":"stderr","attrs":{"tag":"t"},"time":"2024-03-30T08:31:20Z"})");
  REQUIRE(h.out.size() == 4);
  CHECK(h.body(3) == "x");
  CHECK(attr(h.at(3).record.attributes, "attrs") == R"({"tag":"t"})");
}

TEST_CASE("container: auto format, bad lines, metadata that is not there") {
  Harness h("- type: container\n");
  h.file_path = kPodLog;
  h.feed(R"({"log":"docker\n","stream":"stdout","time":"2024-03-30T08:31:20Z"})");
  h.feed("2023-06-22T10:27:25Z stdout F cri");
  h.feed("plain text line");
  h.feed("2023-06-22T10:27:25Z stdweird F x");
  h.feed(R"({"log":"no time\n","stream":"stdout"})");
  REQUIRE(h.out.size() == 5);
  CHECK(h.body(0) == "docker");
  CHECK(h.body(1) == "cri");
  CHECK(h.body(2) == "plain text line");
  CHECK(attr(h.at(2).record.attributes, fl::kParseErrorAttribute) ==
        "\"container: not a CRI or docker log line\"");
  CHECK(attr(h.at(3).record.attributes, fl::kParseErrorAttribute) == "\"container: CRI: unknown stream\"");
  CHECK(attr(h.at(4).record.attributes, fl::kParseErrorAttribute) ==
        "\"container: docker: log, stream or time missing\"");
  CHECK(h.stats.parse_errors == 3);

  Harness plain("- type: container\n");
  plain.file_path = "/var/log/app.log";
  plain.feed("2023-06-22T10:27:25Z stdout F x");
  REQUIRE(plain.out.size() == 1);
  CHECK(plain.body(0) == "x");
  CHECK(attr(plain.at(0).record.attributes, fl::kParseErrorAttribute).find("no k8s metadata") !=
        std::string::npos);
  CHECK(plain.at(0).resource.empty());

  Harness off("- type: container\n  add_metadata_from_filepath: false\n");
  off.file_path = "/var/log/app.log";
  off.feed("2023-06-22T10:27:25Z stdout F x");
  CHECK(off.stats.parse_errors == 0);
  CHECK(off.at(0).resource.empty());
}

TEST_CASE("container: max_log_size cuts a recombined line and counts it") {
  Harness h("- type: container\n  max_log_size: 10\n  add_metadata_from_filepath: false\n");
  h.feed("2023-06-22T10:27:25Z stdout P 0123", 10);
  h.feed("2023-06-22T10:27:25Z stdout P 456789ABC", 20);
  REQUIRE(h.out.size() == 1);
  CHECK(h.body(0) == "0123456789");
  CHECK(attr(h.at(0).record.attributes, fl::kTruncatedAttribute) == "true");
  CHECK(h.stats.truncated == 1);
  h.feed("2023-06-22T10:27:25Z stdout F end", 30);
  REQUIRE(h.out.size() == 2);
  CHECK(h.body(1) == "end");
}

TEST_CASE("container: flush and flush_expired emit held partial lines") {
  Harness h("- type: container\n  add_metadata_from_filepath: false\n");
  h.now = 1 * kNs;
  h.feed("2023-06-22T10:27:25Z stdout P held out", 50);
  h.now = 2 * kNs;
  h.feed("2023-06-22T10:27:25Z stderr P held err", 40);
  h.flush_expired(5 * kNs);
  CHECK(h.out.empty());
  h.flush_expired(6 * kNs + 1);
  REQUIRE(h.out.size() == 1);
  CHECK(h.body(0) == "held out");
  CHECK(h.state.held_since() == 40u);
  h.flush();
  REQUIRE(h.out.size() == 2);
  CHECK(h.body(1) == "held err");
  CHECK_FALSE(h.state.held_since().has_value());
}

// ---------------------------------------------------------------------------------------------
// recombine

TEST_CASE("recombine: a Java stack trace with is_first_entry") {
  Harness h(R"(
- type: recombine
  combine_field: body
  is_first_entry: body matches "^[^\\s]"
)");
  h.feed("Log message 1", 0);
  h.feed("Error: java.lang.Exception: Stack trace", 14);
  h.feed("\tat java.lang.Thread.dumpStack(Thread.java:1336)", 54);
  h.new_batch();
  h.feed("        at Main.demo3(Main.java:15)", 104);
  h.feed("        at Main.main(Main.java:3)", 140);
  REQUIRE(h.out.size() == 1);
  CHECK(h.body(0) == "Log message 1");
  CHECK(h.state.held_since() == 14u);
  h.feed("Another log message", 174);
  REQUIRE(h.out.size() == 2);
  CHECK(h.body(1) ==
        "Error: java.lang.Exception: Stack trace\n\tat java.lang.Thread.dumpStack(Thread.java:1336)\n"
        "        at Main.demo3(Main.java:15)\n        at Main.main(Main.java:3)");
  CHECK(h.at(1).offset == 14u);
  CHECK(h.state.held_since() == 174u);
  h.flush();
  REQUIRE(h.out.size() == 3);
  CHECK(h.body(2) == "Another log message");
  CHECK_FALSE(h.state.held_since().has_value());
}

TEST_CASE("recombine: is_last_entry, combine_with, the oldest entry's fields") {
  Harness h(R"(
- type: regex_parser
  regex: '^(?P<n>\d) (?P<text>.*)$'
- type: recombine
  combine_field: attributes.text
  combine_with: ""
  is_last_entry: attributes.text matches ";$"
)");
  h.feed("1 SELECT *");
  h.feed("2  FROM t");
  h.feed("3  WHERE x;");
  h.feed("4 COMMIT;");
  REQUIRE(h.out.size() == 2);
  CHECK(attr(h.at(0).record.attributes, "text") == "\"SELECT * FROM t WHERE x;\"");
  CHECK(attr(h.at(0).record.attributes, "n") == "\"1\"");
  CHECK(h.body(0) == "1 SELECT *");
  CHECK(attr(h.at(1).record.attributes, "text") == "\"COMMIT;\"");

  Harness newest(R"(
- type: regex_parser
  regex: '^(?P<n>\d) (?P<text>.*)$'
- type: recombine
  combine_field: attributes.text
  is_last_entry: attributes.text matches ";$"
  overwrite_with: newest
)");
  newest.feed("1 a");
  newest.feed("2 b;");
  REQUIRE(newest.out.size() == 1);
  CHECK(attr(newest.at(0).record.attributes, "n") == "\"2\"");
  CHECK(attr(newest.at(0).record.attributes, "text") == "\"a\\nb;\"");
}

TEST_CASE("recombine: max_log_size truncates and counts, max_batch_size emits") {
  Harness h(R"(
- type: recombine
  combine_field: body
  is_first_entry: body matches "^\\S"
  max_log_size: 20
)");
  h.feed("first line");
  h.feed("  second line");
  REQUIRE(h.out.size() == 1);
  CHECK(h.body(0) == "first line\n  second ");
  CHECK(h.body(0).size() == 20);
  CHECK(attr(h.at(0).record.attributes, fl::kTruncatedAttribute) == "true");
  CHECK(h.stats.truncated == 1);

  Harness b(R"(
- type: recombine
  combine_field: body
  is_first_entry: body matches "^\\S"
  max_batch_size: 2
)");
  for (const char* l : {"a", " 1", " 2"}) b.feed(l);
  REQUIRE(b.out.size() == 1);
  CHECK(b.body(0) == "a\n 1");
  b.flush();
  REQUIRE(b.out.size() == 2);
  CHECK(b.body(1) == " 2");
}

TEST_CASE("recombine: force_flush_period and held_since") {
  Harness h(R"(
- type: recombine
  combine_field: body
  is_first_entry: body matches "^\\S"
  force_flush_period: 1s
)");
  h.now = 10 * kNs;
  h.feed("start", 500);
  h.feed(" more", 506);
  CHECK(h.state.held_since() == 500u);
  h.flush_expired(10 * kNs + kNs / 2);
  CHECK(h.out.empty());
  h.flush_expired(11 * kNs);
  REQUIRE(h.out.size() == 1);
  CHECK(h.body(0) == "start\n more");
  CHECK_FALSE(h.state.held_since().has_value());
}

TEST_CASE("recombine: one batch per source_identifier value") {
  Harness h(R"(
- type: regex_parser
  regex: '^(?P<src>\w+): (?P<text>.*)$'
- type: recombine
  combine_field: attributes.text
  is_first_entry: attributes.text matches "^BEGIN"
  source_identifier: attributes.src
)");
  h.feed("a: BEGIN a", 0);
  h.feed("b: BEGIN b", 10);
  h.feed("a: a1", 20);
  h.feed("b: b1", 30);
  h.feed("a: BEGIN a2", 40);
  REQUIRE(h.out.size() == 1);
  CHECK(attr(h.at(0).record.attributes, "text") == "\"BEGIN a\\na1\"");
  h.flush();
  REQUIRE(h.out.size() == 3);
  CHECK(attr(h.at(1).record.attributes, "text") == "\"BEGIN b\\nb1\"");
  CHECK(attr(h.at(2).record.attributes, "text") == "\"BEGIN a2\"");
}

TEST_CASE("recombine: an entry without the matched field is a parse error") {
  Harness h(R"(
- type: recombine
  combine_field: body
  is_first_entry: attributes.x matches "^a"
)");
  h.feed("line");
  REQUIRE(h.out.size() == 1);
  CHECK(attr(h.at(0).record.attributes, fl::kParseErrorAttribute) == "\"recombine: no field attributes.x\"");
}

// ---------------------------------------------------------------------------------------------
// move, copy, add, remove, retain

TEST_CASE("move, copy, add, remove, retain") {
  Harness h(R"(
- type: json_parser
  parse_to: body
- type: move
  from: body.user
  to: attributes["user.name"]
- type: copy
  from: body.level
  to: resource.level
- type: add
  field: attributes.env
  value: prod
- type: add
  id: add_n
  field: attributes.n
  value: 3
- type: add
  id: add_quoted
  field: attributes.quoted
  value: "3"
- type: add
  id: add_tags
  field: body.tags
  value: [a, {b: true}]
- type: remove
  field: body.secret
- type: retain
  fields: [body.level, body.tags, 'attributes["user.name"]', attributes.env, attributes.n, attributes.quoted]
- type: move
  id: unwrap
  from: body.level
  to: body
)");
  h.feed(R"({"user":"ada","level":"info","secret":"x","other":1})");
  REQUIRE(h.out.size() == 1);
  const auto& e = h.at(0);
  CHECK(render(e.record.attributes) == R"({"user.name":"ada","env":"prod","n":3,"quoted":"3"})");
  CHECK(render(e.resource) == R"({"level":"info"})");
  CHECK(h.body(0) == "info");
  CHECK(h.stats.parse_errors == 0);

  h.feed(R"({"level":"info"})");  // no user, no secret
  REQUIRE(h.out.size() == 2);
  // move and remove failed (counted, marked); retain then kept only the listed attributes.
  CHECK(attr(h.at(1).record.attributes, fl::kParseErrorAttribute) == "<absent>");
  CHECK(h.stats.parse_errors == 2);
}

TEST_CASE("move a nested object to the body, then parse text moved into the body") {
  Harness h(R"(
- type: json_parser
  parse_to: body
- type: move
  from: body.payload
  to: body
- type: json_parser
  id: again
)");
  h.feed(R"({"payload":"{\"a\":1,\"b\":\"two\"}"})");
  REQUIRE(h.out.size() == 1);
  CHECK(attr(h.at(0).record.attributes, "a") == "1");
  CHECK(attr(h.at(0).record.attributes, "b") == "\"two\"");
}

// ---------------------------------------------------------------------------------------------
// config errors

TEST_CASE("config: an unknown operator type is named, with the types Vigil has") {
  auto errors = build_errors("- type: json_parser\n- type: router\n  routes: []\n- type: frobnicate\n");
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].rfind("2:9: ", 0) == 0);
  CHECK(contains(errors, "unknown operator type 'router' (a Collector operator Vigil does not have)"));
  CHECK(contains(errors,
                 "unknown operator type 'frobnicate'; Vigil has: add, container, copy, json_parser, move, "
                 "recombine, regex_parser, remove, retain, severity_parser, time_parser, trace_parser"));
  CHECK(fl::operator_types().size() == 12);
}

TEST_CASE("config: unknown and missing options, bad values") {
  auto errors = build_errors("- type: json_parser\n  parse_form: body\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind(
            "2:3: operators[0] (json_parser): unknown key 'parse_form', did you mean 'parse_from'?", 0) == 0);

  errors = build_errors("- type: regex_parser\n  id: r1\n");
  REQUIRE(errors.size() == 1);
  CHECK(contains(errors, "operators[0] (regex_parser 'r1'): missing required option 'regex'"));

  errors = build_errors("- type: json_parser\n  timestamp:\n    parse_from: attributes.t\n");
  CHECK(contains(errors, "missing required option 'timestamp.layout'"));

  errors =
      build_errors("- type: json_parser\n  timestamp:\n    parse_from: attributes.t\n    layout: '%Y-%Q'\n");
  REQUIRE(errors.size() == 1);
  CHECK(contains(errors, "4:5: "));
  CHECK(contains(errors, "unsupported strptime directive '%Q'"));

  errors = build_errors(
      "- type: json_parser\n  timestamp:\n    parse_from: attributes.t\n    layout: '%Y'\n"
      "    location: Nowhere/Atlantis\n");
  CHECK(contains(errors, "unknown time zone 'Nowhere/Atlantis'"));

  errors = build_errors("- type: json_parser\n  on_error: ignore\n");
  CHECK(contains(errors, "'ignore' is not one of send, send_quiet, drop, drop_quiet"));

  errors = build_errors("- type: json_parser\n  parse_from: body..x\n");
  CHECK(contains(errors, "2:15: operators[0] (json_parser): 'parse_from': empty key in field 'body..x'"));

  errors = build_errors("- type: container\n  max_log_size: huge\n");
  CHECK(contains(errors, "invalid byte size 'huge'"));

  errors = build_errors("- type: severity_parser\n  parse_from: attributes.l\n  mapping:\n    loud: x\n");
  CHECK(contains(errors, "unknown severity 'loud'"));

  errors = build_errors("- type: add\n  field: attributes.x\n  value: EXPR(body.a)\n");
  CHECK(contains(errors, "expressions (EXPR(...)) are not supported"));

  errors = build_errors("- type: json_parser\n- type: json_parser\n");
  CHECK(contains(errors, "duplicate operator id 'json_parser'"));

  errors = build_errors("type: json_parser\n");
  CHECK(contains(errors, "'operators' must be a list"));
  errors = build_errors("- json_parser\n");
  CHECK(contains(errors, "expected a map with a 'type'"));
  errors = build_errors("- id: x\n");
  CHECK(contains(errors, "missing 'type'"));
}

TEST_CASE("config: bad regexes") {
  auto errors = build_errors("- type: regex_parser\n  regex: '^(?P<a>[a-z'\n");
  REQUIRE(errors.size() == 1);
  CHECK(contains(errors, "2:10: operators[0] (regex_parser): invalid regex: missing ]"));
  errors = build_errors("- type: regex_parser\n  regex: '^[a-z]+$'\n");
  CHECK(contains(errors, "no named capture group"));
  errors = build_errors("- type: recombine\n  combine_field: body\n  is_first_entry: body matches \"(\"\n");
  CHECK(contains(errors, "invalid regex in 'body matches \"(\"'"));
}

TEST_CASE("config: if, output and other Collector keys Vigil refuses, clearly") {
  auto errors = build_errors("- type: json_parser\n  if: 'body matches \"^{\"'\n  output: next\n");
  REQUIRE(errors.size() == 2);
  CHECK(contains(errors,
                 "2:3: operators[0] (json_parser): 'if' is not supported: Vigil has no expression language"));
  CHECK(contains(errors, "3:3: operators[0] (json_parser): 'output' is not supported"));
  errors = build_errors("- type: regex_parser\n  regex: '(?P<a>.)'\n  cache:\n    size: 100\n");
  CHECK(contains(errors, "'cache' is not supported"));
  errors = build_errors(
      "- type: json_parser\n  timestamp:\n    parse_from: attributes.t\n    layout: '%Y'\n"
      "    time_zone_locations:\n      PDT: America/Los_Angeles\n");
  REQUIRE(errors.size() == 1);
  CHECK(contains(errors, "'time_zone_locations' is not supported"));
}

TEST_CASE("config: recombine expressions") {
  auto errors = build_errors("- type: recombine\n  combine_field: body\n  is_first_entry: body == 'x'\n");
  REQUIRE(errors.size() == 1);
  CHECK(
      contains(errors, "unsupported expression 'body == 'x'' (Vigil supports only the form <field> matches"));
  errors = build_errors("- type: recombine\n  combine_field: body\n");
  CHECK(contains(errors, "exactly one of is_first_entry and is_last_entry must be set"));
  errors = build_errors(
      "- type: recombine\n  combine_field: body\n  is_first_entry: body matches \"a\"\n  is_last_entry: body "
      "matches \"b\"\n");
  CHECK(contains(errors, "exactly one of is_first_entry and is_last_entry must be set"));
  errors = build_errors("- type: recombine\n  is_first_entry: body matches \"a\"\n");
  CHECK(contains(errors, "missing required option 'combine_field'"));
  errors = build_errors("- type: recombine\n  combine_field: body\n  is_first_entry: body matches \"\\q\"\n");
  CHECK(contains(errors, "unknown escape \\q"));
  // Single quotes and raw strings are expression strings too.
  CHECK(build_errors("- type: recombine\n  combine_field: body\n  is_first_entry: body matches '^\\\\d'\n")
            .empty());
  CHECK(build_errors("- type: recombine\n  combine_field: body\n  is_first_entry: 'body matches `^\\d`'\n")
            .empty());
}

TEST_CASE("the README's example chain: CRI lines, a stack trace, JSON") {
  Harness h(R"(
- type: container
- type: recombine
  combine_field: body
  is_first_entry: body matches "^[^\\s]"
- type: json_parser
  on_error: send_quiet
  timestamp:
    parse_from: attributes.ts
    layout: '%Y-%m-%dT%H:%M:%S.%LZ'
  severity:
    parse_from: attributes.level
  trace:
    trace_id: {parse_from: attributes.trace_id}
    span_id: {parse_from: attributes.span_id}
- type: move
  from: attributes.msg
  to: body
  on_error: send_quiet
)");
  h.file_path = kPodLog;
  h.feed(R"(2023-06-22T10:27:25Z stdout F {"ts":"2026-11-22T10:00:00.123Z","level":"error","msg":"boom",)"
         R"("trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"})",
         0);
  h.feed("2023-06-22T10:27:26Z stderr F java.lang.IllegalStateException: boom", 100);
  h.feed("2023-06-22T10:27:26Z stderr F \tat Main.main(Main.java:3)", 200);
  h.flush();
  REQUIRE(h.out.size() == 2);
  CHECK(h.body(0) == "boom");
  CHECK(h.at(0).record.severity_number == 17);
  CHECK(h.at(0).record.time_unix_nano == 1795341600123000000ULL);
  CHECK(h.at(0).record.trace_id[0] == 0x4b);
  CHECK(h.at(0).resource.size() == 5);
  CHECK(h.body(1) == "java.lang.IllegalStateException: boom\n\tat Main.main(Main.java:3)");
  CHECK(attr(h.at(1).record.attributes, "log.iostream") == "\"stderr\"");
  CHECK(h.stats.parse_errors == 2);  // the stack trace is not JSON and has no msg (send_quiet)
}

TEST_CASE("config: no operators is an empty chain") {
  vigil::config::Errors errors;
  CHECK(fl::build_operators(nullptr, "filelog", errors).empty());
  const vigil::config::Value empty = vigil::config::parse_yaml("[]", "t.yaml", errors);
  CHECK(fl::build_operators(&empty, "filelog", errors).empty());
  CHECK(errors.empty());
}
