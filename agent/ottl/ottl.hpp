#pragma once
// A documented subset of OTTL, the OpenTelemetry Collector's transformation language, for
// conditions and values over one log record or span (the KPI connector's `where` and `value`).
// Collector users can read it; README.md in this folder lists exactly what is supported.
//
// An expression is compiled once, at startup, into a flat tree; evaluating it never allocates,
// never throws and never blocks. A function or path Vigil does not support is a config error
// naming it, with the location of the text in the config file.
//
// Ownership: an Expression owns its compiled form (and RE2 programs); a Value is a view into the
// record, the expression or the caller's EvalState, valid until either changes.
// Thread-safety: a compiled Expression is immutable; evaluate() may run on many threads at once,
// each with its own EvalState.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/value.hpp"
#include "agent/model/logs.hpp"
#include "agent/model/traces.hpp"

namespace vigil::ottl {

// Which record an expression reads (OTTL's log and span contexts).
enum class Context : std::uint8_t { kLog, kSpan };

// One record and what it belongs to. `log` is set in the log context, `span` in the span context.
struct Record {
  const model::Resource* resource = nullptr;
  const model::InstrumentationScope* scope = nullptr;
  const model::LogRecord* log = nullptr;
  const model::Span* span = nullptr;
};

enum class Type : std::uint8_t {
  kNil,     // absent attribute, `nil`, a failed conversion
  kBool,
  kInt,
  kDouble,
  kString,  // also what bytes values become
  kTime,    // a point in time: `i` is Unix nanoseconds (now(), time, start_time, end_time)
  kMap,     // a kvlist value of the record: `any` points at it
  kList,    // an array value of the record: `any` points at it
};

struct Value {
  Type type = Type::kNil;
  bool b = false;
  std::int64_t i = 0;
  double d = 0;
  std::string_view s;
  const model::AnyValue* any = nullptr;

  static Value nil() { return {}; }
  static Value boolean(bool v) { Value x; x.type = Type::kBool; x.b = v; return x; }
  static Value integer(std::int64_t v) { Value x; x.type = Type::kInt; x.i = v; return x; }
  static Value floating(double v) { Value x; x.type = Type::kDouble; x.d = v; return x; }
  static Value string(std::string_view v) { Value x; x.type = Type::kString; x.s = v; return x; }
  static Value time(std::int64_t unix_nano) { Value x; x.type = Type::kTime; x.i = unix_nano; return x; }
  bool is_nil() const { return type == Type::kNil; }
  bool is_number() const { return type == Type::kInt || type == Type::kDouble; }
  // kInt and kDouble as a double; 0 otherwise.
  double as_double() const { return type == Type::kInt ? static_cast<double>(i) : type == Type::kDouble ? d : 0; }
};

// The caller's per-thread evaluation state, reused from record to record.
struct EvalState {
  // What now() returns; the caller sets it (once per batch is enough).
  std::int64_t now_unix_nano = 0;
  // Set when evaluation met an error rather than an absent value: a conversion that failed
  // (Int("abc")), arithmetic on a non-number, division by zero, an unparsable time. The caller
  // clears it before each evaluation it wants to judge (the KPI connector counts such records as
  // failed). A missing attribute is nil, not a failure.
  bool failed = false;
  // Text made during evaluation (String() of a number, trace_id.string) lives here; reset by
  // the caller before each record. When it is full, such results are nil and `failed` is set.
  std::array<char, 512> scratch{};
  std::size_t scratch_used = 0;

  void reset_record() { failed = false; scratch_used = 0; }
};

// A necessary condition of a condition expression: it can only be true when the record's
// attribute `key` (attributes["key"], no further index) is a string equal to one of `values`.
// Components use it to skip whole expressions with one lookup per record (the KPI connector
// checks `attributes["event"]` once for all its rules).
struct AttributeGuard {
  std::string key;
  std::vector<std::string> values;
  // The expression is the guard and nothing more (an equality, or an `or` of equalities on the
  // key): when the guard holds, so does the expression.
  bool exact = false;
};

class Expression {
 public:
  ~Expression();
  Expression(const Expression&) = delete;
  Expression& operator=(const Expression&) = delete;

  // Compiles `text` for `context`. On failure returns nullptr and appends every error found to
  // `errors`: `where` is the location of the config scalar that holds the text (the column of an
  // error inside the text is added to it when the text is on one line); `component` is the
  // component ID written into each error.
  static std::unique_ptr<Expression> compile(std::string_view text, Context context, const config::Location& where,
                                             const std::string& component, config::Errors& errors);

  // The expression's value for `record`.
  Value evaluate(const Record& record, EvalState& state) const;
  // For conditions: true only when the value is the boolean true (OTTL: a condition whose value
  // is not a boolean does not match).
  bool test(const Record& record, EvalState& state) const {
    Value v = evaluate(record, state);
    return v.type == Type::kBool && v.b;
  }

  const std::string& text() const { return text_; }
  Context context() const { return context_; }
  // True when the whole expression is a path (`attributes["queue"]`): label values use this.
  bool is_path() const;
  // The guard the expression implies, when it has one: the expression is `attributes["k"] ==
  // "lit"` (either way round), an `and` with such a conjunct, or an `or` whose every operand has
  // a guard on the same key (the values are then united). Otherwise nullopt.
  std::optional<AttributeGuard> attribute_guard() const;

  struct Impl;

 private:
  Expression(std::string text, Context context, std::unique_ptr<Impl> impl);
  std::string text_;
  Context context_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::ottl
