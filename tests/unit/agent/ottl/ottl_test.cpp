// Tests of the OTTL subset: paths in both contexts, literals, comparison rules, boolean and
// arithmetic precedence, time arithmetic, functions, error messages and locations, nesting
// limits, concurrent evaluation and the no-allocation promise of evaluate().

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "agent/model/arena.hpp"
#include "agent/model/common.hpp"
#include "agent/ottl/ottl.hpp"

#include "tests/support/counting_new.hpp"

namespace ottl_test {

using vigil::config::Errors;
using vigil::config::Location;
using vigil::model::AnyValue;
using vigil::model::Arena;
using vigil::model::KeyValue;
using vigil::ottl::Context;
using vigil::ottl::EvalState;
using vigil::ottl::Expression;
using vigil::ottl::Record;
using vigil::ottl::Type;
using vigil::ottl::Value;

constexpr std::int64_t kT0 = 1704067200;  // 2024-01-01T00:00:00Z
constexpr std::uint64_t kTime = static_cast<std::uint64_t>(kT0) * 1'000'000'000 + 500'000'000;

Location where() { return Location{"vigil.yaml", 10, 12}; }

// One log record and one span with a resource and scope, attributes of every value type.
struct Fixture {
  Arena arena;
  vigil::model::Resource resource;
  vigil::model::InstrumentationScope scope;
  vigil::model::LogRecord log;
  vigil::model::Span span;

  Fixture() {
    set(resource.attributes, "service.name", str("shop"));
    scope.name = arena.copy("vigil.test");
    scope.version = arena.copy("1.2.3");
    set(scope.attributes, "lib", str("sdk"));
    for (auto* attrs : {&log.attributes, &span.attributes}) {
      set(*attrs, "event", str("order.created"));
      set(*attrs, "region", str("eu-west-1"));
      set(*attrs, "count", AnyValue::integer(42));
      set(*attrs, "ratio", AnyValue::floating(1.5));
      set(*attrs, "ok", AnyValue::boolean(true));
      set(*attrs, "raw", AnyValue::bytes(arena.copy(std::string("\x01\x02", 2))));
      set(*attrs, "empty", AnyValue());
      set(*attrs, "code", AnyValue::integer(503));
      set(*attrs, "num_text", str("17"));
      auto* inner = arena.allocate_array<KeyValue>(2);
      inner[0] = {arena.copy("b"), str("deep")};
      inner[1] = {arena.copy("n"), AnyValue::integer(7)};
      set(*attrs, "map", AnyValue::kvlist(inner, 2));
      auto* items = arena.allocate_array<AnyValue>(3);
      items[0] = str("x");
      items[1] = AnyValue::integer(2);
      items[2] = AnyValue::floating(2.5);
      set(*attrs, "list", AnyValue::array(items, 3));
    }
    log.time_unix_nano = kTime;
    log.observed_time_unix_nano = kTime + 2'000'000'000;
    log.severity_number = 17;
    log.severity_text = arena.copy("ERROR");
    auto* body = arena.allocate_array<KeyValue>(1);
    body[0] = {arena.copy("msg"), str("hello")};
    log.body = AnyValue::kvlist(body, 1);
    log.flags = 1;
    log.event_name = arena.copy("checkout");
    for (std::size_t i = 0; i < 16; ++i) log.trace_id[i] = static_cast<std::uint8_t>(i + 1);
    for (std::size_t i = 0; i < 8; ++i) log.span_id[i] = static_cast<std::uint8_t>(0xa0 + i);
    span.trace_id = log.trace_id;
    span.span_id = log.span_id;
    span.parent_span_id = {0xff, 0, 0, 0, 0, 0, 0, 0x01};
    span.name = arena.copy("GET /orders");
    span.kind = vigil::model::SpanKind::kServer;
    span.status.code = vigil::model::StatusCode::kError;
    span.status.message = arena.copy("boom");
    span.start_time_unix_nano = kTime;
    span.end_time_unix_nano = kTime + 250'000'000;
    span.trace_state = arena.copy("k=v");
  }

  AnyValue str(std::string_view s) { return AnyValue::string(arena.copy(s)); }
  void set(vigil::model::Attributes& attrs, std::string_view k, AnyValue v) {
    vigil::model::set_attribute(arena, attrs, arena.copy(k), v);
  }
  void set_log(std::string_view k, AnyValue v) { set(log.attributes, k, v); }
  Record log_record() const { return Record{&resource, &scope, &log, nullptr}; }
  Record span_record() const { return Record{&resource, &scope, nullptr, &span}; }
};

std::unique_ptr<Expression> compile(std::string_view text, Context context = Context::kLog) {
  Errors errors;
  auto e = Expression::compile(text, context, where(), "kpi/orders", errors);
  INFO(text, " -> ", errors.empty() ? std::string("(no error)") : errors[0].message);
  REQUIRE(e != nullptr);
  CHECK(errors.empty());
  return e;
}

Errors errors_of(std::string_view text, Context context = Context::kLog) {
  Errors errors;
  auto e = Expression::compile(text, context, where(), "kpi/orders", errors);
  INFO(text);
  CHECK(e == nullptr);
  CHECK_FALSE(errors.empty());
  return errors;
}

std::string first_error(std::string_view text, Context context = Context::kLog) {
  Errors errors = errors_of(text, context);
  return errors.empty() ? std::string() : errors[0].message;
}

// Evaluates with a fresh state; `failed` reports the state's flag.
// A string value's text is copied, since it may live in the evaluation's scratch buffer.
struct Result {
  Value value;
  bool failed = false;
  std::string text;
};

Result eval(const Fixture& f, std::string_view text, Context context = Context::kLog, EvalState* state = nullptr) {
  auto e = compile(text, context);
  EvalState local;
  EvalState& st = state ? *state : local;
  Result r;
  r.value = e->evaluate(context == Context::kLog ? f.log_record() : f.span_record(), st);
  r.failed = st.failed;
  if (r.value.type == Type::kString) r.text = std::string(r.value.s);
  return r;
}

bool condition(const Fixture& f, std::string_view text, Context context = Context::kLog) {
  auto e = compile(text, context);
  EvalState st;
  return e->test(context == Context::kLog ? f.log_record() : f.span_record(), st);
}

std::string text_of(const Result& r) {
  REQUIRE(r.value.type == Type::kString);
  return r.text;
}

TEST_CASE("log context paths") {
  Fixture f;
  CHECK(text_of(eval(f, R"(attributes["event"])")) == "order.created");
  CHECK(text_of(eval(f, R"(attributes["map"]["b"])")) == "deep");
  CHECK(eval(f, R"(attributes["map"]["n"])").value.i == 7);
  CHECK(text_of(eval(f, R"(attributes["list"][0])")) == "x");
  CHECK(eval(f, R"(attributes["list"][2])").value.d == 2.5);
  CHECK(text_of(eval(f, "body[\"msg\"]")) == "hello");
  CHECK(eval(f, "body").value.type == Type::kMap);
  CHECK(eval(f, "body").value.any == &f.log.body);
  CHECK(text_of(eval(f, R"(resource.attributes["service.name"])")) == "shop");
  CHECK(text_of(eval(f, R"(instrumentation_scope.attributes["lib"])")) == "sdk");
  CHECK(text_of(eval(f, "instrumentation_scope.name")) == "vigil.test");
  CHECK(text_of(eval(f, "instrumentation_scope.version")) == "1.2.3");
  CHECK(text_of(eval(f, "scope.name")) == "vigil.test");
  Result sev = eval(f, "severity_number");
  CHECK(sev.value.type == Type::kInt);
  CHECK(sev.value.i == 17);
  CHECK(text_of(eval(f, "severity_text")) == "ERROR");
  Result t = eval(f, "time");
  CHECK(t.value.type == Type::kTime);
  CHECK(t.value.i == static_cast<std::int64_t>(kTime));
  Result ot = eval(f, "observed_time");
  CHECK(ot.value.type == Type::kTime);
  CHECK(ot.value.i == static_cast<std::int64_t>(kTime) + 2'000'000'000);
  CHECK(eval(f, "time_unix_nano").value.type == Type::kInt);
  CHECK(eval(f, "time_unix_nano").value.i == static_cast<std::int64_t>(kTime));
  CHECK(eval(f, "observed_time_unix_nano").value.i == static_cast<std::int64_t>(kTime) + 2'000'000'000);
  CHECK(text_of(eval(f, "event_name")) == "checkout");
  CHECK(eval(f, "flags").value.i == 1);
  CHECK(text_of(eval(f, "trace_id.string")) == "0102030405060708090a0b0c0d0e0f10");
  CHECK(text_of(eval(f, "span_id.string")) == "a0a1a2a3a4a5a6a7");
  // OTTL's context-qualified spelling.
  CHECK(text_of(eval(f, "log.body[\"msg\"]")) == "hello");
  CHECK(eval(f, "log.severity_number").value.i == 17);
}

TEST_CASE("log time falls back to observed time; unset timestamps and ids are nil") {
  Fixture f;
  f.log.time_unix_nano = 0;
  CHECK(eval(f, "time").value.i == static_cast<std::int64_t>(kTime) + 2'000'000'000);
  CHECK(eval(f, "time_unix_nano").value.i == 0);
  f.log.observed_time_unix_nano = 0;
  CHECK(eval(f, "time").value.is_nil());
  CHECK(eval(f, "observed_time").value.is_nil());
  f.log.trace_id = {};
  f.log.span_id = {};
  Result id = eval(f, "trace_id.string");
  CHECK(id.value.is_nil());
  CHECK_FALSE(id.failed);
  CHECK(eval(f, "span_id.string").value.is_nil());
  f.log.body = AnyValue::string(f.arena.copy("plain"));
  CHECK(text_of(eval(f, "body")) == "plain");
  Result keyed = eval(f, "body[\"msg\"]");  // a string body has no keys: that is an error
  CHECK(keyed.value.is_nil());
  CHECK(keyed.failed);
}

TEST_CASE("span context paths") {
  Fixture f;
  const Context s = Context::kSpan;
  CHECK(text_of(eval(f, R"(attributes["event"])", s)) == "order.created");
  CHECK(text_of(eval(f, R"(resource.attributes["service.name"])", s)) == "shop");
  CHECK(text_of(eval(f, "instrumentation_scope.name", s)) == "vigil.test");
  CHECK(text_of(eval(f, "instrumentation_scope.version", s)) == "1.2.3");
  CHECK(text_of(eval(f, "name", s)) == "GET /orders");
  CHECK(eval(f, "kind", s).value.i == 2);
  CHECK(eval(f, "status.code", s).value.i == 2);
  CHECK(text_of(eval(f, "status.message", s)) == "boom");
  CHECK(eval(f, "start_time", s).value.type == Type::kTime);
  CHECK(eval(f, "start_time", s).value.i == static_cast<std::int64_t>(kTime));
  CHECK(eval(f, "end_time", s).value.i == static_cast<std::int64_t>(kTime) + 250'000'000);
  CHECK(eval(f, "start_time_unix_nano", s).value.type == Type::kInt);
  CHECK(eval(f, "end_time_unix_nano", s).value.i == static_cast<std::int64_t>(kTime) + 250'000'000);
  Result d = eval(f, "duration", s);
  CHECK(d.value.type == Type::kDouble);
  CHECK(d.value.d == doctest::Approx(0.25));
  CHECK(text_of(eval(f, "trace_id.string", s)) == "0102030405060708090a0b0c0d0e0f10");
  CHECK(text_of(eval(f, "span_id.string", s)) == "a0a1a2a3a4a5a6a7");
  CHECK(text_of(eval(f, "parent_span_id.string", s)) == "ff00000000000001");
  CHECK(text_of(eval(f, "trace_state", s)) == "k=v");
  CHECK(eval(f, "span.kind", s).value.i == 2);
  CHECK(condition(f, "kind == SPAN_KIND_SERVER and status.code == STATUS_CODE_ERROR", s));
  CHECK(condition(f, "duration > 0.2 and duration < 0.3", s));
  f.span.parent_span_id = {};
  CHECK(eval(f, "parent_span_id.string", s).value.is_nil());
  f.span.end_time_unix_nano = 0;
  CHECK(eval(f, "duration", s).value.is_nil());
}

TEST_CASE("a path of the other context is an error naming it") {
  CHECK(first_error("kind == 1").find("path kind is not valid in the log context") != std::string::npos);
  CHECK(first_error("body == \"x\"", Context::kSpan).find("path body is not valid in the span context") !=
        std::string::npos);
  CHECK(first_error("span.name == \"x\"").find("span.name") != std::string::npos);
  CHECK(first_error("duration > 1").find("duration") != std::string::npos);
  CHECK(first_error("severity_number > 1", Context::kSpan).find("severity_number") != std::string::npos);
  const std::string unknown = first_error("attributez[\"a\"] == 1");
  CHECK(unknown.find("unknown path attributez") != std::string::npos);
  CHECK(unknown.find("log context paths: attributes[...]") != std::string::npos);
  CHECK(first_error("attributes == 1").find("needs a string key") != std::string::npos);
  CHECK(first_error("attributes[0] == 1").find("needs a string key") != std::string::npos);
  CHECK(first_error("name[\"x\"] == 1", Context::kSpan).find("takes no key") != std::string::npos);
}

TEST_CASE("attribute values convert to OTTL types") {
  Fixture f;
  CHECK(eval(f, R"(attributes["event"])").value.type == Type::kString);
  Result raw = eval(f, R"(attributes["raw"])");
  CHECK(raw.value.type == Type::kString);
  CHECK(raw.value.s == std::string_view("\x01\x02", 2));
  CHECK(eval(f, R"(attributes["count"])").value.type == Type::kInt);
  CHECK(eval(f, R"(attributes["ratio"])").value.type == Type::kDouble);
  CHECK(eval(f, R"(attributes["ok"])").value.type == Type::kBool);
  CHECK(eval(f, R"(attributes["map"])").value.type == Type::kMap);
  CHECK(eval(f, R"(attributes["list"])").value.type == Type::kList);
  CHECK(eval(f, R"(attributes["empty"])").value.type == Type::kNil);
  Result missing = eval(f, R"(attributes["missing"])");
  CHECK(missing.value.type == Type::kNil);
  CHECK_FALSE(missing.failed);
  Result missing_nested = eval(f, R"(attributes["missing"]["x"])");
  CHECK(missing_nested.value.is_nil());
  CHECK_FALSE(missing_nested.failed);
  CHECK(eval(f, R"(attributes["map"]["nope"])").value.is_nil());
  Result out_of_range = eval(f, R"(attributes["list"][3])");
  CHECK(out_of_range.value.is_nil());
  CHECK_FALSE(out_of_range.failed);
  Result into_string = eval(f, R"(attributes["event"]["x"])");
  CHECK(into_string.value.is_nil());
  CHECK(into_string.failed);
  Result index_map = eval(f, R"(attributes["map"][0])");
  CHECK(index_map.value.is_nil());
  CHECK(index_map.failed);
  // The text points into the record, not a copy.
  const vigil::model::AnyValue* event = vigil::model::find_attribute(f.log.attributes, "event");
  CHECK(eval(f, R"(attributes["event"])").value.s.data() == event->string_value().data());
}

TEST_CASE("literals, escapes and enums") {
  Fixture f;
  CHECK(text_of(eval(f, R"("a\"b\\c\nd\te\rf")")) == "a\"b\\c\nd\te\rf");
  CHECK(text_of(eval(f, R"("")")).empty());
  CHECK(eval(f, "42").value.i == 42);
  CHECK(eval(f, "-42").value.i == -42);
  CHECK(eval(f, "+42").value.i == 42);
  CHECK(eval(f, "9223372036854775807").value.i == INT64_MAX);
  CHECK(eval(f, "-9223372036854775808").value.i == INT64_MIN);
  Result fl = eval(f, "1.5");
  CHECK(fl.value.type == Type::kDouble);
  CHECK(fl.value.d == 1.5);
  CHECK(eval(f, "1e3").value.type == Type::kDouble);
  CHECK(eval(f, "1e3").value.d == 1000.0);
  CHECK(eval(f, "-2.5").value.d == -2.5);
  CHECK(eval(f, ".5").value.d == 0.5);
  CHECK(eval(f, "2.5E-1").value.d == 0.25);
  CHECK(eval(f, "true").value.type == Type::kBool);
  CHECK(eval(f, "true").value.b);
  CHECK_FALSE(eval(f, "false").value.b);
  CHECK(eval(f, "nil").value.type == Type::kNil);
  CHECK(eval(f, "SPAN_KIND_UNSPECIFIED").value.i == 0);
  CHECK(eval(f, "SPAN_KIND_CONSUMER").value.i == 5);
  CHECK(eval(f, "STATUS_CODE_OK").value.i == 1);
  CHECK(eval(f, "SEVERITY_NUMBER_UNSPECIFIED").value.i == 0);
  CHECK(eval(f, "SEVERITY_NUMBER_TRACE").value.i == 1);
  CHECK(eval(f, "SEVERITY_NUMBER_DEBUG3").value.i == 7);
  CHECK(eval(f, "SEVERITY_NUMBER_INFO").value.i == 9);
  CHECK(eval(f, "SEVERITY_NUMBER_WARN").value.i == 13);
  CHECK(eval(f, "SEVERITY_NUMBER_ERROR").value.i == 17);
  CHECK(eval(f, "SEVERITY_NUMBER_FATAL4").value.i == 24);
  CHECK(condition(f, "severity_number >= SEVERITY_NUMBER_ERROR and severity_number < SEVERITY_NUMBER_FATAL"));
  CHECK(first_error("SPAN_KIND_NOPE == 1").find("unknown enum SPAN_KIND_NOPE") != std::string::npos);
  CHECK(first_error(R"("a\x")").find("unsupported escape") != std::string::npos);
  CHECK(first_error("9223372036854775808").find("out of range") != std::string::npos);
  CHECK(first_error("12abc").find("malformed number") != std::string::npos);
}

TEST_CASE("comparison rules follow OTTL") {
  Fixture f;
  struct Case {
    const char* text;
    bool expected;
  };
  const Case cases[] = {
      {"1 == 1", true},
      {"1 == 1.0", true},
      {"2 > 1.5", true},
      {"1.5 >= 2", false},
      {"-1 < 0", true},
      {"attributes[\"count\"] == 42", true},
      {"attributes[\"count\"] <= 42.0", true},
      {"attributes[\"ratio\"] > 1", true},
      {"\"a\" < \"b\"", true},
      {"\"b\" < \"a\"", false},
      {"\"abc\" < \"abd\"", true},
      {"\"ab\" < \"abc\"", true},
      {"\"B\" < \"a\"", true},  // bytewise
      {"attributes[\"event\"] == \"order.created\"", true},
      {"attributes[\"event\"] != \"order.created\"", false},
      {"true == true", true},
      {"true != false", true},
      {"false < true", true},  // OTTL orders bools: false < true
      {"true <= false", false},
      {"nil == nil", true},
      {"nil != nil", false},
      {"nil <= nil", true},
      {"nil < nil", false},
      {"attributes[\"missing\"] == nil", true},
      {"attributes[\"empty\"] == nil", true},
      {"attributes[\"event\"] == nil", false},
      {"attributes[\"event\"] != nil", true},
      {"nil == 1", false},
      {"nil != 1", true},
      {"1 != nil", true},
      {"nil < 1", false},
      {"nil >= 1", false},
      {"1 == \"1\"", false},
      {"1 != \"1\"", true},
      {"1 < \"2\"", false},
      {"\"1\" > 0", false},
      {"true == 1", false},
      {"true != 1", true},
      {"attributes[\"num_text\"] == 17", false},
      {"time == time", true},
      {"time < observed_time", true},
      {"time >= observed_time", false},
      {"time == time_unix_nano", false},  // kTime against an int: different types
      {"time != time_unix_nano", true},
      {"time > 0", false},
      {"attributes[\"map\"] == attributes[\"map\"]", true},
      {"attributes[\"map\"] != attributes[\"map\"]", false},
      {"attributes[\"map\"] <= attributes[\"map\"]", false},
      {"attributes[\"map\"] == attributes[\"list\"]", false},
      {"attributes[\"map\"] != attributes[\"list\"]", true},
      {"attributes[\"list\"] == attributes[\"list\"]", true},
      {"attributes[\"map\"] == \"x\"", false},
      {"Double(\"nan\") == Double(\"nan\")", false},
      {"Double(\"nan\") != Double(\"nan\")", true},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    Result r = eval(f, c.text);
    REQUIRE(r.value.type == Type::kBool);
    CHECK(r.value.b == c.expected);
  }
}

TEST_CASE("boolean operators: precedence, not, parentheses, short-circuit") {
  Fixture f;
  CHECK(condition(f, "true or false and false"));           // and binds tighter than or
  CHECK_FALSE(condition(f, "(true or false) and false"));
  CHECK_FALSE(condition(f, "false and false or false"));
  CHECK(condition(f, "false and true or true"));
  CHECK_FALSE(condition(f, "not false and false"));         // (not false) and false
  CHECK(condition(f, "not (false and false)"));
  CHECK(condition(f, "not 1 == 2"));                         // not (1 == 2), as in OTTL
  CHECK(condition(f, "not not true"));
  CHECK(condition(f, "true and true and true or false"));
  CHECK_FALSE(condition(f, "true and (false or false) and true"));
  CHECK(condition(f, R"(attributes["event"] == "order.created" and (attributes["count"] > 100 or attributes["ok"] == true))"));
  // Operands that are not booleans make the result false.
  CHECK_FALSE(condition(f, R"(attributes["event"] and true)"));
  CHECK_FALSE(condition(f, R"(true and attributes["event"])"));
  CHECK_FALSE(condition(f, R"(attributes["missing"] or true)"));
  CHECK_FALSE(condition(f, "not 1"));
  CHECK_FALSE(condition(f, "not nil"));
  CHECK_FALSE(condition(f, "1"));
  CHECK(condition(f, "true or 1"));  // short-circuit: the right side is never evaluated
  // Short-circuit is observable through `failed`.
  CHECK_FALSE(eval(f, "false and Int(\"x\") == 1").failed);
  CHECK_FALSE(eval(f, "true or Int(\"x\") == 1").failed);
  CHECK(eval(f, "true and Int(\"x\") == 1").failed);
  CHECK(eval(f, "false or Int(\"x\") == 1").failed);
}

TEST_CASE("arithmetic: precedence, int and double rules, failures") {
  Fixture f;
  auto integer = [&](const char* text) {
    Result r = eval(f, text);
    INFO(text);
    REQUIRE(r.value.type == Type::kInt);
    CHECK_FALSE(r.failed);
    return r.value.i;
  };
  auto floating = [&](const char* text) {
    Result r = eval(f, text);
    INFO(text);
    REQUIRE(r.value.type == Type::kDouble);
    CHECK_FALSE(r.failed);
    return r.value.d;
  };
  CHECK(integer("1 + 2 * 3") == 7);
  CHECK(integer("(1 + 2) * 3") == 9);
  CHECK(integer("10 - 2 - 3") == 5);
  CHECK(integer("100 / 10 / 5") == 2);
  CHECK(integer("7 / 2") == 3);
  CHECK(integer("-7 / 2") == -3);
  CHECK(integer("2 * -3") == -6);
  CHECK(integer("-(2 + 3)") == -5);
  CHECK(integer("- attributes[\"count\"]") == -42);
  CHECK(integer("1-1") == 0);
  CHECK(integer("attributes[\"count\"] * 2 + attributes[\"list\"][1]") == 86);
  CHECK(integer("9223372036854775807 + 1") == INT64_MIN);  // wraps like Go
  CHECK(integer("-9223372036854775808 / -1") == INT64_MIN);
  CHECK(floating("7 / 2.0") == 3.5);
  CHECK(floating("1 + 1.5") == 2.5);
  CHECK(floating("attributes[\"ratio\"] * 2") == 3.0);
  CHECK(floating("-attributes[\"ratio\"]") == -1.5);
  CHECK(floating("1.5 * (2 - 0.5)") == 2.25);
  CHECK(condition(f, "1 + 2 * 3 == 7 and 2 * 3 > 5"));

  for (const char* text : {"1 / 0", "1.0 / 0", "1 / 0.0", "\"a\" + 1", "1 - \"a\"", "true + 1", "-\"a\"",
                           "attributes[\"map\"] * 2", "time + 1", "time * 2", "1 - time"}) {
    INFO(text);
    Result r = eval(f, text);
    CHECK(r.value.is_nil());
    CHECK(r.failed);
  }
  for (const char* text : {"attributes[\"missing\"] + 1", "1 * nil", "-attributes[\"missing\"]", "nil / 0",
                           "time - attributes[\"missing\"]"}) {
    INFO(text);
    Result r = eval(f, text);
    CHECK(r.value.is_nil());
    CHECK_FALSE(r.failed);
  }
}

TEST_CASE("time arithmetic: RFC 3339 and epoch milliseconds") {
  Fixture f;  // time is 2024-01-01T00:00:00.5Z
  auto seconds = [&](const std::string& text) {
    Result r = eval(f, text);
    INFO(text);
    REQUIRE(r.value.type == Type::kDouble);
    CHECK_FALSE(r.failed);
    return r.value.d;
  };
  CHECK(seconds(R"(time - "2024-01-01T00:00:00Z")") == doctest::Approx(0.5));
  CHECK(seconds(R"(time - "2024-01-01T00:00:00.25Z")") == doctest::Approx(0.25));
  CHECK(seconds(R"(time - "2024-01-01T00:00:00.123456789Z")") == doctest::Approx(0.376543211).epsilon(1e-12));
  CHECK(seconds(R"(time - "2024-01-01T01:00:00+01:00")") == doctest::Approx(0.5));
  CHECK(seconds(R"(time - "2023-12-31T23:00:00-01:00")") == doctest::Approx(0.5));
  CHECK(seconds(R"(time - "2023-12-31T18:29:59.5+05:30")") == doctest::Approx(39601.0));
  CHECK(seconds(R"(time - "2023-12-31t23:59:00z")") == doctest::Approx(60.5));
  CHECK(seconds(R"(time - "2024-01-02T00:00:00Z")") == doctest::Approx(-86399.5));
  CHECK(seconds(R"(time - "2000-02-29T00:00:00Z")") == doctest::Approx(752284800.5));
  CHECK(seconds("time - 1704067200000") == doctest::Approx(0.5));
  CHECK(seconds("time - 1704067199000") == 1.5);  // exact for integer milliseconds
  CHECK(seconds("time - 1704067199000.5") == doctest::Approx(1.4995));
  CHECK(seconds(R"(time - "1704067199000")") == 1.5);  // epoch milliseconds written as text
  CHECK(seconds("time - time") == 0.0);
  CHECK(seconds("observed_time - time") == 2.0);

  f.set_log("enqueued_at", f.str("2024-01-01T00:00:00.1Z"));
  CHECK(seconds(R"(time - attributes["enqueued_at"])") == doctest::Approx(0.4));
  f.set_log("enqueued_at", AnyValue::integer(1704067190500));
  CHECK(seconds(R"(time - attributes["enqueued_at"])") == doctest::Approx(10.0));
  f.set_log("enqueued_at", AnyValue::floating(1704067190500.0));
  CHECK(seconds(R"(time - attributes["enqueued_at"])") == doctest::Approx(10.0));

  EvalState st;
  st.now_unix_nano = static_cast<std::int64_t>(kTime) + 3'000'000'000;
  Result now = eval(f, "now() - time", Context::kLog, &st);
  CHECK(now.value.d == 3.0);
  Result now2 = eval(f, "Now()", Context::kLog, &st);
  CHECK(now2.value.type == Type::kTime);
  CHECK(now2.value.i == st.now_unix_nano);

  for (const char* bad : {"2024-01-01", "garbage", "2024-02-30T00:00:00Z", "2024-01-01T24:00:00Z",
                          "2024-01-01T00:00:00", "2024-01-01T00:00:00+0100", "2024-01-01T00:00:00.Z",
                          "2024-01-01T00:00:00Zx", "1704067199000.", ""}) {
    INFO(bad);
    f.set_log("enqueued_at", f.str(bad));
    Result r = eval(f, R"(time - attributes["enqueued_at"])");
    CHECK(r.value.is_nil());
    CHECK(r.failed);
  }
}

TEST_CASE("IsMatch: partial match, non-string targets, bad patterns") {
  Fixture f;
  CHECK(condition(f, R"(IsMatch(attributes["region"], "^eu-"))"));
  CHECK(condition(f, R"(IsMatch(attributes["region"], "west"))"));  // partial, like Go's MatchString
  CHECK_FALSE(condition(f, R"(IsMatch(attributes["region"], "^west"))"));
  CHECK(condition(f, R"(IsMatch(attributes["code"], "^5[0-9]{2}$"))"));
  CHECK(condition(f, R"(IsMatch(attributes["code"], "^5\\d\\d$"))"));
  CHECK(condition(f, R"(IsMatch(attributes["ratio"], "^1\\.5$"))"));
  CHECK(condition(f, R"(IsMatch(attributes["ok"], "^true$"))"));
  CHECK(condition(f, R"(IsMatch(name, "^GET "))", Context::kSpan));
  Result missing = eval(f, R"(IsMatch(attributes["missing"], ".*"))");
  CHECK(missing.value.type == Type::kBool);
  CHECK_FALSE(missing.value.b);
  CHECK_FALSE(missing.failed);
  Result map = eval(f, R"(IsMatch(attributes["map"], ".*"))");
  CHECK_FALSE(map.value.b);
  CHECK(map.failed);
  const std::string bad = first_error(R"(IsMatch(attributes["region"], "(eu"))");
  CHECK(bad.find("invalid IsMatch pattern \"(eu\"") != std::string::npos);
  CHECK(bad.find("missing )") != std::string::npos);  // RE2's message
  CHECK(first_error(R"(IsMatch(attributes["region"], attributes["p"]))").find("must be a string literal") !=
        std::string::npos);
  CHECK(first_error(R"(IsMatch(attributes["region"]))").find("IsMatch takes 2 arguments, got 1") !=
        std::string::npos);
}

TEST_CASE("Int, Double, String and the Is* functions") {
  Fixture f;
  auto int_of = [&](const char* text) {
    Result r = eval(f, text);
    INFO(text);
    REQUIRE(r.value.type == Type::kInt);
    CHECK_FALSE(r.failed);
    return r.value.i;
  };
  CHECK(int_of(R"(Int("42"))") == 42);
  CHECK(int_of(R"(Int("-7"))") == -7);
  CHECK(int_of(R"(Int("+7"))") == 7);
  CHECK(int_of(R"(Int(attributes["num_text"]))") == 17);
  CHECK(int_of("Int(4.9)") == 4);
  CHECK(int_of("Int(-4.9)") == -4);
  CHECK(int_of("Int(true)") == 1);
  CHECK(int_of("Int(false)") == 0);
  CHECK(int_of("Int(12)") == 12);
  CHECK(int_of(R"(Int(attributes["count"]) + 1)") == 43);
  for (const char* text : {R"(Int("4.2"))", R"(Int("abc"))", R"(Int(""))", R"(Int(" 1"))", "Int(1e30)",
                           R"(Int(Double("nan")))", R"(Int(attributes["map"]))", "Int(time)",
                           R"(Int("99999999999999999999"))"}) {
    INFO(text);
    Result r = eval(f, text);
    CHECK(r.value.is_nil());
    CHECK(r.failed);
  }
  Result int_nil = eval(f, R"(Int(attributes["missing"]))");
  CHECK(int_nil.value.is_nil());
  CHECK_FALSE(int_nil.failed);

  auto double_of = [&](const char* text) {
    Result r = eval(f, text);
    INFO(text);
    REQUIRE(r.value.type == Type::kDouble);
    CHECK_FALSE(r.failed);
    return r.value.d;
  };
  CHECK(double_of(R"(Double("1.5"))") == 1.5);
  CHECK(double_of(R"(Double("1e3"))") == 1000.0);
  CHECK(double_of(R"(Double("-2"))") == -2.0);
  CHECK(double_of("Double(2)") == 2.0);
  CHECK(double_of("Double(false)") == 0.0);
  CHECK(double_of("Double(2.5)") == 2.5);
  for (const char* text : {R"(Double("x"))", R"(Double("1.5.1"))", R"(Double(""))", R"(Double(attributes["list"]))"}) {
    INFO(text);
    Result r = eval(f, text);
    CHECK(r.value.is_nil());
    CHECK(r.failed);
  }

  EvalState st;
  Result s42 = eval(f, "String(42)", Context::kLog, &st);
  CHECK(s42.text == "42");
  CHECK(s42.value.s.data() >= st.scratch.data());
  CHECK(s42.value.s.data() < st.scratch.data() + st.scratch.size());
  CHECK(st.scratch_used == 2);
  CHECK(text_of(eval(f, "String(1.5)")) == "1.5");
  CHECK(text_of(eval(f, "String(3.0)")) == "3");
  CHECK(text_of(eval(f, "String(1e21)")) == "1e+21");
  CHECK(text_of(eval(f, "String(1e20)")) == "100000000000000000000");
  CHECK(text_of(eval(f, "String(0.0000001)")) == "1e-7");
  CHECK(text_of(eval(f, "String(0.1)")) == "0.1");
  CHECK(text_of(eval(f, "String(-7)")) == "-7");
  CHECK(text_of(eval(f, "String(true)")) == "true");
  CHECK(text_of(eval(f, "String(time)")) == "2024-01-01T00:00:00.5Z");
  CHECK(text_of(eval(f, R"(String(attributes["event"]))")) == "order.created");
  CHECK(condition(f, R"(String(attributes["count"]) == "42")"));
  CHECK(eval(f, "String(nil)").value.is_nil());
  CHECK_FALSE(eval(f, "String(nil)").failed);
  CHECK(eval(f, R"(String(attributes["map"]))").failed);

  // A full scratch buffer makes text results nil and failed.
  EvalState full;
  full.scratch_used = full.scratch.size() - 3;
  Result too_long = eval(f, "String(12345)", Context::kLog, &full);
  CHECK(too_long.value.is_nil());
  CHECK(too_long.failed);
  full.reset_record();
  full.scratch_used = full.scratch.size() - 10;
  Result id = eval(f, "trace_id.string", Context::kLog, &full);
  CHECK(id.value.is_nil());
  CHECK(id.failed);
  full.reset_record();
  CHECK(text_of(eval(f, "String(12345)", Context::kLog, &full)) == "12345");

  CHECK(condition(f, R"(IsString(attributes["event"]))"));
  CHECK_FALSE(condition(f, R"(IsString(attributes["count"]))"));
  CHECK(condition(f, R"(IsInt(attributes["count"]))"));
  CHECK_FALSE(condition(f, R"(IsInt(attributes["ratio"]))"));
  CHECK(condition(f, R"(IsDouble(attributes["ratio"]))"));
  CHECK(condition(f, R"(IsBool(attributes["ok"]))"));
  CHECK(condition(f, R"(IsMap(attributes["map"]))"));
  CHECK(condition(f, "IsMap(body)"));
  CHECK(condition(f, R"(IsList(attributes["list"]))"));
  CHECK_FALSE(condition(f, R"(IsList(attributes["missing"]))"));
  CHECK_FALSE(condition(f, R"(IsMap(attributes["event"]))"));
}

TEST_CASE("errors carry the location, the column and the text") {
  Errors errors;
  const std::string text = R"(attributes["a"] == == 1)";
  CHECK(Expression::compile(text, Context::kLog, where(), "kpi/orders", errors) == nullptr);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "OTTL: unexpected \"==\" at column 20 in 'attributes[\"a\"] == == 1'");
  CHECK(errors[0].location.file == "vigil.yaml");
  CHECK(errors[0].location.line == 10);
  CHECK(errors[0].location.column == 12 + 19);
  CHECK(errors[0].component == "kpi/orders");

  errors.clear();
  CHECK(Expression::compile("true and Foo(1) == 1", Context::kLog, where(), "kpi/orders", errors) == nullptr);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.rfind("OTTL: unsupported function Foo (supported: IsMatch, Int, Double, String", 0) == 0);
  CHECK(errors[0].message.find("at column 10") != std::string::npos);
  CHECK(errors[0].location.column == 12 + 9);

  // Every name error is reported, each at its own column.
  errors.clear();
  CHECK(Expression::compile("Foo(1) and ismatch(name, \"x\") and kind == 1", Context::kLog, where(), "c", errors) ==
        nullptr);
  REQUIRE(errors.size() == 4);
  CHECK(errors[0].message.find("unsupported function Foo") != std::string::npos);
  CHECK(errors[1].message.find("path name is not valid in the log context") != std::string::npos);
  CHECK(errors[1].location.column == 12 + 19);
  CHECK(errors[2].message.find("unsupported function ismatch") != std::string::npos);  // case-sensitive
  CHECK(errors[2].location.column == 12 + 11);
  CHECK(errors[3].message.find("path kind is not valid in the log context") != std::string::npos);

  // A multi-line text keeps the scalar's location and names line and column in the message.
  errors.clear();
  CHECK(Expression::compile("true and\n  Foo()", Context::kLog, where(), "c", errors) == nullptr);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].location.column == 12);
  CHECK(errors[0].message.find("at line 2, column 3") != std::string::npos);

  // An unknown location (column 0) stays unknown.
  errors.clear();
  CHECK(Expression::compile("1 ==", Context::kLog, Location{}, "c", errors) == nullptr);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].location.column == 0);
}

TEST_CASE("syntax errors") {
  CHECK(first_error(R"(attributes["a] == 1)") ==
        "OTTL: unterminated string at column 12 in 'attributes[\"a] == 1'");
  CHECK(first_error("1 == 1 2").find("unexpected \"2\" at column 8") != std::string::npos);
  CHECK(first_error("1 == 1 \"x\"").find("unexpected string literal") != std::string::npos);
  CHECK(first_error("").find("empty expression") != std::string::npos);
  CHECK(first_error("   ").find("empty expression") != std::string::npos);
  CHECK(first_error("1 ==").find("unexpected end of expression at column 5") != std::string::npos);
  CHECK(first_error("(1 == 1").find("unexpected end of expression") != std::string::npos);
  CHECK(first_error("1 == 1)").find("unexpected \")\"") != std::string::npos);
  CHECK(first_error("1 = 1").find("comparison is ==") != std::string::npos);
  CHECK(first_error("!true").find("negation is not") != std::string::npos);
  CHECK(first_error("1 == 1 == 1").find("unexpected \"==\"") != std::string::npos);
  CHECK(first_error("1 # 2").find("unexpected character \"#\"") != std::string::npos);
  CHECK(first_error("and").find("unexpected \"and\"") != std::string::npos);
  CHECK(first_error("Foo == 1").find("unexpected \"Foo\"") != std::string::npos);
  CHECK(first_error("attributes[\"a\"].b == 1").find("unexpected \".\"") != std::string::npos);
  CHECK(first_error("attributes[x] == 1").find("unexpected \"x\"") != std::string::npos);
  CHECK(first_error("Int(1,)").find("unexpected \")\"") != std::string::npos);
  CHECK(first_error("Int(1, 2)").find("Int takes 1 argument, got 2") != std::string::npos);
  CHECK(first_error("now(1)").find("now takes 0 arguments, got 1") != std::string::npos);
  // Only the first syntax error is reported, and name errors before it are dropped with it.
  Errors errors = errors_of("Foo() == == Bar()");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("unexpected \"==\"") != std::string::npos);
}

TEST_CASE("nesting is bounded at compile time") {
  Fixture f;
  auto parens = [](int n) { return std::string(static_cast<std::size_t>(n), '(') + "1" + std::string(static_cast<std::size_t>(n), ')'); };
  CHECK(eval(f, parens(60)).value.i == 1);
  CHECK(first_error(parens(70)).find("nested too deeply") != std::string::npos);
  CHECK(first_error(parens(100000)).find("nested too deeply") != std::string::npos);  // no stack overflow
  std::string nots;
  for (int i = 0; i < 70; ++i) nots += "not ";
  CHECK(first_error(nots + "true").find("nested too deeply") != std::string::npos);
  std::string minus(100000, '-');
  CHECK(first_error(minus + "x").find("nested too deeply") != std::string::npos);
  std::string calls;
  for (int i = 0; i < 70; ++i) calls += "Int(";
  calls += "1" + std::string(70, ')');
  CHECK(first_error(calls).find("nested too deeply") != std::string::npos);
  // A left-leaning chain is as deep as it is long.
  std::string sum = "1";
  for (int i = 0; i < 100; ++i) sum += " + 1";
  CHECK(first_error(sum).find("nested too deeply") != std::string::npos);
  std::string short_sum = "1";
  for (int i = 0; i < 50; ++i) short_sum += " + 1";
  CHECK(eval(f, short_sum).value.i == 51);
  // and/or chains stay shallow however long they are.
  std::string chain = "true";
  for (int i = 0; i < 500; ++i) chain += " and true";
  CHECK(condition(f, chain));
  std::string ors = "false";
  for (int i = 0; i < 500; ++i) ors += " or false";
  CHECK_FALSE(condition(f, ors + " or false"));
  CHECK(condition(f, ors + " or true"));
}

TEST_CASE("is_path, text and context") {
  auto e = compile(R"(attributes["queue"])");
  CHECK(e->is_path());
  CHECK(e->text() == R"(attributes["queue"])");
  CHECK(e->context() == Context::kLog);
  CHECK(compile("(name)", Context::kSpan)->is_path());
  CHECK(compile("name", Context::kSpan)->context() == Context::kSpan);
  CHECK_FALSE(compile(R"(attributes["queue"] == "a")")->is_path());
  CHECK_FALSE(compile("1")->is_path());
  CHECK_FALSE(compile("String(severity_number)")->is_path());
}

TEST_CASE("attribute_guard: the attribute equality a condition needs") {
  using Values = std::vector<std::string>;
  auto g = compile(R"(attributes["event"] == "order.created")")->attribute_guard();
  REQUIRE(g.has_value());
  CHECK(g->key == "event");
  CHECK(g->values == Values{"order.created"});
  CHECK(g->exact);
  g = compile(R"("x" == attributes["k"] and IsMatch(attributes["r"], "^eu"))")->attribute_guard();
  REQUIRE(g.has_value());
  CHECK(g->key == "k");
  CHECK(g->values == Values{"x"});
  CHECK_FALSE(g->exact);
  g = compile(R"(attributes["e"] == "a" or attributes["e"] == "b")")->attribute_guard();
  REQUIRE(g.has_value());
  CHECK(g->values == Values{"a", "b"});
  CHECK(g->exact);
  // A later conjunct is a guard too; an or of guards on one key unites them.
  g = compile(R"(severity_number > 9 and (attributes["e"] == "a" or attributes["e"] == "b"))")->attribute_guard();
  REQUIRE(g.has_value());
  CHECK(g->key == "e");
  CHECK(g->values == Values{"a", "b"});
  CHECK_FALSE(g->exact);
  // Nothing a record must have: no guard.
  for (const char* text : {R"(attributes["e"] == "a" or attributes["f"] == "b")", R"(attributes["e"] != "a")",
                           R"(not attributes["e"] == "a")", R"(attributes["e"] == 1)", R"(attributes["e"]["x"] == "a")",
                           R"(resource.attributes["e"] == "a")", R"(attributes["e"] == "a" or true)", "true",
                           R"((attributes["e"] == "a" and 1 == 2) or attributes["e"] == "b")"}) {
    INFO(text);
    CHECK_FALSE(compile(text)->attribute_guard().has_value());
  }
}

TEST_CASE("a record without log, span, resource or scope reads nil") {
  auto e = compile(R"(resource.attributes["a"] == nil and instrumentation_scope.name == nil and attributes["x"] == nil and body == nil)");
  EvalState st;
  CHECK(e->test(Record{}, st));
  CHECK_FALSE(st.failed);
}

TEST_CASE("one compiled expression evaluated on two threads at once") {
  Fixture f;
  auto cond = compile(R"(attributes["event"] == "order.created" and IsMatch(attributes["region"], "^eu-") and String(attributes["count"]) == "42" and trace_id.string == "0102030405060708090a0b0c0d0e0f10")");
  auto lag = compile(R"(time - attributes["enqueued_at"])");
  f.set_log("enqueued_at", f.str("2024-01-01T00:00:00Z"));
  std::atomic<int> wrong{0};
  auto work = [&] {
    EvalState st;
    for (int i = 0; i < 20000; ++i) {
      st.reset_record();
      if (!cond->test(f.log_record(), st) || st.failed) wrong.fetch_add(1);
      const Value v = lag->evaluate(f.log_record(), st);
      if (v.type != Type::kDouble || v.d != 0.5) wrong.fetch_add(1);
    }
  };
  std::thread a(work);
  std::thread b(work);
  a.join();
  b.join();
  CHECK(wrong.load() == 0);
}

TEST_CASE("evaluation does not allocate") {
  Fixture f;
  f.set_log("enqueued_at", f.str("2023-12-31T23:59:59.25+00:00"));
  auto cond = compile(R"(attributes["event"] == "order.created" and IsMatch(attributes["region"], "^eu-"))");
  auto lag = compile(R"(time - attributes["enqueued_at"])");
  auto wide = compile(R"(not (String(attributes["ratio"]) == "x") and IsMatch(attributes["code"], "^5") and Int(attributes["num_text"]) + 1 > 10 and span_id.string != nil and Double("2.5") * 2 == 5)");
  const Record rec = f.log_record();
  EvalState st;
  // Warm-up: RE2 builds its DFA lazily on the first matches.
  for (int i = 0; i < 10; ++i) {
    st.reset_record();
    (void)cond->test(rec, st);
    (void)lag->evaluate(rec, st);
    (void)wide->test(rec, st);
  }
  int matched = 0, wide_matched = 0;
  double lag_sum = 0;
  long allocations = 0;
  {
    vigil::testing::alloc::Scope counter;
    for (int i = 0; i < 10000; ++i) {
      st.reset_record();
      matched += cond->test(rec, st) ? 1 : 0;
      lag_sum += lag->evaluate(rec, st).d;
      wide_matched += wide->test(rec, st) ? 1 : 0;
    }
    allocations = counter.value();
  }
  CHECK(allocations == 0);
  CHECK(matched == 10000);
  CHECK(wide_matched == 10000);
  CHECK(lag_sum == doctest::Approx(10000 * 1.25));
  CHECK_FALSE(st.failed);
  // The counter does count: compiling allocates.
  vigil::testing::alloc::Scope counter;
  auto again = compile("1 == 1");
  CHECK(counter.value() > 0);
}

}  // namespace ottl_test
