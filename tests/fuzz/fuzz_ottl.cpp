// libFuzzer target: the OTTL subset (agent/ottl) on arbitrary expression text, as a KPI
// connector's `where` or `value` may hold.
//
// Input: the whole input is the expression text. It is compiled in the log and in the span
// context; when it compiles it is evaluated against a fixed log record and span (attributes of
// every value type, a kvlist body, trace and span IDs, timestamps). Properties: no crash, hang,
// leak or sanitizer report; a failed compile reports at least one error, each "OTTL: ..." with
// the component set; a successful one reports none; evaluating twice gives the same result;
// test() agrees with evaluate(); a text result is readable and the scratch buffer never overflows.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agent/model/arena.hpp"
#include "agent/model/common.hpp"
#include "agent/ottl/ottl.hpp"

namespace {

namespace model = vigil::model;
namespace ottl = vigil::ottl;

struct Records {
  model::Arena arena;
  model::Resource resource;
  model::InstrumentationScope scope;
  model::LogRecord log;
  model::Span span;

  model::AnyValue str(std::string_view s) { return model::AnyValue::string(arena.copy(s)); }
  void set(model::Attributes& attrs, std::string_view k, model::AnyValue v) {
    model::set_attribute(arena, attrs, arena.copy(k), v);
  }

  Records() {
    set(resource.attributes, "service.name", str("shop"));
    scope.name = arena.copy("fuzz");
    scope.version = arena.copy("1.0");
    auto* inner = arena.allocate_array<model::KeyValue>(2);
    inner[0] = {arena.copy("b"), str("deep")};
    inner[1] = {arena.copy("n"), model::AnyValue::integer(7)};
    auto* items = arena.allocate_array<model::AnyValue>(3);
    items[0] = str("x");
    items[1] = model::AnyValue::integer(-2);
    items[2] = model::AnyValue::floating(2.5);
    for (model::Attributes* attrs : {&log.attributes, &span.attributes}) {
      set(*attrs, "event", str("order.created"));
      set(*attrs, "region", str("eu-west-1"));
      set(*attrs, "count", model::AnyValue::integer(42));
      set(*attrs, "ratio", model::AnyValue::floating(1.5));
      set(*attrs, "ok", model::AnyValue::boolean(true));
      set(*attrs, "raw", model::AnyValue::bytes(arena.copy(std::string("\x00\xff", 2))));
      set(*attrs, "empty", model::AnyValue());
      set(*attrs, "enqueued_at", str("2024-01-01T00:00:00.25+01:00"));
      set(*attrs, "enqueued_ms", model::AnyValue::integer(1704067199000));
      set(*attrs, "map", model::AnyValue::kvlist(inner, 2));
      set(*attrs, "list", model::AnyValue::array(items, 3));
    }
    log.time_unix_nano = 1704067200500000000ull;
    log.observed_time_unix_nano = 1704067201000000000ull;
    log.severity_number = 9;
    log.severity_text = arena.copy("INFO");
    auto* body = arena.allocate_array<model::KeyValue>(1);
    body[0] = {arena.copy("msg"), str("hello")};
    log.body = model::AnyValue::kvlist(body, 1);
    log.event_name = arena.copy("checkout");
    for (std::size_t i = 0; i < 16; ++i) log.trace_id[i] = static_cast<std::uint8_t>(i * 17);
    for (std::size_t i = 0; i < 8; ++i) log.span_id[i] = static_cast<std::uint8_t>(0xf0 - i);
    span.trace_id = log.trace_id;
    span.span_id = log.span_id;
    span.name = arena.copy("GET /orders");
    span.kind = model::SpanKind::kServer;
    span.status.code = model::StatusCode::kError;
    span.status.message = arena.copy("boom");
    span.start_time_unix_nano = log.time_unix_nano;
    span.end_time_unix_nano = log.time_unix_nano + 1500;
    span.trace_state = arena.copy("k=v");
  }
};

const Records& records() {
  static const Records r;
  return r;
}

bool same(const ottl::Value& a, const ottl::Value& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case ottl::Type::kNil: return true;
    case ottl::Type::kBool: return a.b == b.b;
    case ottl::Type::kInt:
    case ottl::Type::kTime: return a.i == b.i;
    case ottl::Type::kDouble: return a.d == b.d || (a.d != a.d && b.d != b.d);
    case ottl::Type::kString: return a.s == b.s;
    case ottl::Type::kMap:
    case ottl::Type::kList: return a.any == b.any;
  }
  return false;
}

void run(std::string_view text, ottl::Context context) {
  const Records& r = records();
  vigil::config::Errors errors;
  const vigil::config::Location where{"fuzz.yaml", 3, 10};
  auto expr = ottl::Expression::compile(text, context, where, "kpi/fuzz", errors);
  if (!expr) {
    if (errors.empty()) __builtin_trap();
    for (const auto& e : errors) {
      if (e.message.rfind("OTTL: ", 0) != 0 || e.component != "kpi/fuzz" || e.location.line != 3) __builtin_trap();
    }
    return;
  }
  if (!errors.empty() || expr->text() != text || expr->context() != context) __builtin_trap();
  const ottl::Record rec = context == ottl::Context::kLog ? ottl::Record{&r.resource, &r.scope, &r.log, nullptr}
                                                          : ottl::Record{&r.resource, &r.scope, nullptr, &r.span};
  ottl::EvalState state;
  state.now_unix_nano = 1704067260000000000;
  const ottl::Value first = expr->evaluate(rec, state);
  if (state.scratch_used > state.scratch.size()) __builtin_trap();
  if (first.type == ottl::Type::kString) {
    volatile char sink = 0;
    for (char c : first.s) sink = static_cast<char>(sink ^ c);
  }
  const bool first_failed = state.failed;
  const std::string first_text = first.type == ottl::Type::kString ? std::string(first.s) : std::string();

  state.reset_record();
  const ottl::Value second = expr->evaluate(rec, state);
  if (state.failed != first_failed) __builtin_trap();
  if (first.type == ottl::Type::kString) {
    if (second.type != ottl::Type::kString || second.s != first_text) __builtin_trap();
  } else if (!same(first, second)) {
    __builtin_trap();
  }
  state.reset_record();
  if (expr->test(rec, state) != (first.type == ottl::Type::kBool && first.b)) __builtin_trap();
  (void)expr->is_path();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  run(text, ottl::Context::kLog);
  run(text, ottl::Context::kSpan);
  return 0;
}
