// Evaluation of a compiled OTTL expression over one record. The data path: no allocation, no
// exception, recursion bounded by the tree height (kMaxDepth, checked at compile time).

#include <cmath>
#include <limits>

#include "agent/ottl/internal.hpp"

namespace vigil::ottl {
namespace {

using detail::ArithOp;
using detail::CmpOp;
using detail::Field;
using detail::Fn;
using detail::Key;
using detail::Node;
using detail::NodeKind;
using model::AnyValue;
using model::ValueType;

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
constexpr std::int64_t kNanosPerMilli = 1'000'000;

Value failure(EvalState& st) {
  st.failed = true;
  return Value::nil();
}

Value from_any(const AnyValue& v) {
  switch (v.type()) {
    case ValueType::kString:
    case ValueType::kBytes: return Value::string(v.string_value());
    case ValueType::kBool: return Value::boolean(v.bool_value());
    case ValueType::kInt: return Value::integer(v.int_value());
    case ValueType::kDouble: return Value::floating(v.double_value());
    case ValueType::kArray: {
      Value x;
      x.type = Type::kList;
      x.any = &v;
      return x;
    }
    case ValueType::kKvList: {
      Value x;
      x.type = Type::kMap;
      x.any = &v;
      return x;
    }
    case ValueType::kEmpty: break;
  }
  return Value::nil();
}

// Follows keys[from..] into kvlists and arrays. A missing key or an index out of range is nil;
// indexing something that is neither a kvlist nor an array is a failure.
Value walk(const AnyValue* v, const std::vector<Key>& keys, std::size_t from, EvalState& st) {
  for (std::size_t k = from; k < keys.size(); ++k) {
    if (v == nullptr || v->empty()) return Value::nil();
    const Key& key = keys[k];
    if (!key.is_index) {
      if (v->type() != ValueType::kKvList) return failure(st);
      const model::KeyValue* items = v->kvlist_begin();
      const AnyValue* found = nullptr;
      for (std::uint32_t i = 0; i < v->size(); ++i) {
        if (items[i].key == key.name) {
          found = &items[i].value;
          break;
        }
      }
      v = found;
    } else {
      if (v->type() != ValueType::kArray) return failure(st);
      if (key.index < 0 || key.index >= static_cast<std::int64_t>(v->size())) return Value::nil();
      v = v->array_begin() + key.index;
    }
  }
  return v == nullptr ? Value::nil() : from_any(*v);
}

Value attribute(const model::Attributes* attrs, const std::vector<Key>& keys, EvalState& st) {
  if (attrs == nullptr) return Value::nil();
  return walk(model::find_attribute(*attrs, keys[0].name), keys, 1, st);
}

// Text written into the caller's scratch buffer; nil and failed when it does not fit.
Value scratch_text(const Value& v, EvalState& st) {
  const std::size_t used = st.scratch_used < st.scratch.size() ? st.scratch_used : st.scratch.size();
  auto n = detail::format_scalar(v, st.scratch.data() + used, st.scratch.size() - used);
  if (!n) return failure(st);
  st.scratch_used = used + *n;
  return Value::string(std::string_view(st.scratch.data() + used, *n));
}

template <std::size_t N>
Value hex_id(const std::array<std::uint8_t, N>& id, EvalState& st) {
  bool zero = true;
  for (std::uint8_t b : id) zero = zero && b == 0;
  if (zero) return Value::nil();
  const std::size_t used = st.scratch_used < st.scratch.size() ? st.scratch_used : st.scratch.size();
  if (st.scratch.size() - used < 2 * N) return failure(st);
  char* out = st.scratch.data() + used;
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < N; ++i) {
    out[2 * i] = kHex[id[i] >> 4];
    out[2 * i + 1] = kHex[id[i] & 0xf];
  }
  st.scratch_used = used + 2 * N;
  return Value::string(std::string_view(out, 2 * N));
}

// A timestamp of 0 means "not set" in OTLP.
Value timestamp(std::uint64_t unix_nano) {
  return unix_nano == 0 ? Value::nil() : Value::time(static_cast<std::int64_t>(unix_nano));
}

Value u64(std::uint64_t v) { return Value::integer(static_cast<std::int64_t>(v)); }

Value path(const Node& n, Context context, const Record& r, EvalState& st) {
  const model::LogRecord* log = context == Context::kLog ? r.log : nullptr;
  const model::Span* span = context == Context::kSpan ? r.span : nullptr;
  switch (n.field) {
    case Field::kAttributes:
      return attribute(log ? &log->attributes : span ? &span->attributes : nullptr, n.keys, st);
    case Field::kResourceAttributes:
      return attribute(r.resource ? &r.resource->attributes : nullptr, n.keys, st);
    case Field::kScopeAttributes:
      return attribute(r.scope ? &r.scope->attributes : nullptr, n.keys, st);
    case Field::kScopeName: return r.scope ? Value::string(r.scope->name) : Value::nil();
    case Field::kScopeVersion: return r.scope ? Value::string(r.scope->version) : Value::nil();
    case Field::kTraceIdString:
      return log ? hex_id(log->trace_id, st) : span ? hex_id(span->trace_id, st) : Value::nil();
    case Field::kSpanIdString:
      return log ? hex_id(log->span_id, st) : span ? hex_id(span->span_id, st) : Value::nil();
    default: break;
  }
  if (log != nullptr) {
    switch (n.field) {
      case Field::kBody: return walk(&log->body, n.keys, 0, st);
      case Field::kSeverityNumber: return Value::integer(log->severity_number);
      case Field::kSeverityText: return Value::string(log->severity_text);
      case Field::kTime:
        return timestamp(log->time_unix_nano != 0 ? log->time_unix_nano : log->observed_time_unix_nano);
      case Field::kObservedTime: return timestamp(log->observed_time_unix_nano);
      case Field::kTimeUnixNano: return u64(log->time_unix_nano);
      case Field::kObservedTimeUnixNano: return u64(log->observed_time_unix_nano);
      case Field::kEventName: return Value::string(log->event_name);
      case Field::kFlags: return Value::integer(log->flags);
      default: return Value::nil();
    }
  }
  if (span != nullptr) {
    switch (n.field) {
      case Field::kName: return Value::string(span->name);
      case Field::kKind: return Value::integer(static_cast<std::int64_t>(span->kind));
      case Field::kStatusCode: return Value::integer(static_cast<std::int64_t>(span->status.code));
      case Field::kStatusMessage: return Value::string(span->status.message);
      case Field::kStartTime: return timestamp(span->start_time_unix_nano);
      case Field::kEndTime: return timestamp(span->end_time_unix_nano);
      case Field::kStartTimeUnixNano: return u64(span->start_time_unix_nano);
      case Field::kEndTimeUnixNano: return u64(span->end_time_unix_nano);
      case Field::kDuration: {
        if (span->start_time_unix_nano == 0 || span->end_time_unix_nano == 0) return Value::nil();
        // Unsigned difference reinterpreted as signed: exact for any realistic span.
        const auto ns = static_cast<std::int64_t>(span->end_time_unix_nano - span->start_time_unix_nano);
        return Value::floating(static_cast<double>(ns) / 1e9);
      }
      case Field::kParentSpanIdString: return hex_id(span->parent_span_id, st);
      case Field::kTraceState: return Value::string(span->trace_state);
      default: return Value::nil();
    }
  }
  return Value::nil();
}

// ---- comparison (OTTL's compare.go) ----------------------------------------------------------

template <class T>
bool ordered(const T& a, const T& b, CmpOp op) {
  switch (op) {
    case CmpOp::kEq: return a == b;
    case CmpOp::kNe: return a != b;
    case CmpOp::kLt: return a < b;
    case CmpOp::kLe: return a <= b;
    case CmpOp::kGt: return a > b;
    case CmpOp::kGe: return a >= b;
  }
  return false;
}

bool compare(const Value& a, const Value& b, CmpOp op) {
  if (a.is_nil() && b.is_nil()) return op == CmpOp::kEq || op == CmpOp::kLe || op == CmpOp::kGe;
  if (a.is_number() && b.is_number()) {
    if (a.type == Type::kInt && b.type == Type::kInt) return ordered(a.i, b.i, op);
    return ordered(a.as_double(), b.as_double(), op);
  }
  if (a.type == b.type) {
    switch (a.type) {
      case Type::kString: return ordered(a.s, b.s, op);
      case Type::kBool: return ordered(a.b, b.b, op);  // false < true
      case Type::kTime: return ordered(a.i, b.i, op);
      case Type::kMap:
      case Type::kList:
        if (op == CmpOp::kEq) return a.any == b.any;
        if (op == CmpOp::kNe) return a.any != b.any;
        return false;
      default: break;
    }
  }
  // Different types (nil against a value included) are never equal and have no order.
  return op == CmpOp::kNe;
}

// ---- arithmetic -----------------------------------------------------------------------------

// Go's int64 arithmetic wraps on overflow; doing it in uint64 gives the same bits without UB.
std::int64_t wrap(std::uint64_t v) { return static_cast<std::int64_t>(v); }

Value int_arith(std::int64_t a, std::int64_t b, ArithOp op, EvalState& st) {
  const auto ua = static_cast<std::uint64_t>(a), ub = static_cast<std::uint64_t>(b);
  switch (op) {
    case ArithOp::kAdd: return Value::integer(wrap(ua + ub));
    case ArithOp::kSub: return Value::integer(wrap(ua - ub));
    case ArithOp::kMul: return Value::integer(wrap(ua * ub));
    case ArithOp::kDiv:
      if (b == 0) return failure(st);
      if (a == std::numeric_limits<std::int64_t>::min() && b == -1) return Value::integer(a);
      return Value::integer(a / b);
  }
  return failure(st);
}

Value double_arith(double a, double b, ArithOp op, EvalState& st) {
  switch (op) {
    case ArithOp::kAdd: return Value::floating(a + b);
    case ArithOp::kSub: return Value::floating(a - b);
    case ArithOp::kMul: return Value::floating(a * b);
    case ArithOp::kDiv:
      if (b == 0) return failure(st);
      return Value::floating(a / b);
  }
  return failure(st);
}

std::int64_t floor_div(std::int64_t a, std::int64_t b, std::int64_t& rem) {
  std::int64_t q = a / b;
  rem = a % b;
  if (rem < 0) {
    rem += b;
    --q;
  }
  return q;
}

// `t - ms` in seconds, `ms` being Unix epoch milliseconds.
Value minus_epoch_millis_int(std::int64_t t, std::int64_t ms) {
  std::int64_t rem_ns = 0;
  const std::int64_t t_ms = floor_div(t, kNanosPerMilli, rem_ns);
  std::int64_t diff = 0;
  if (__builtin_sub_overflow(t_ms, ms, &diff)) {
    return Value::floating((static_cast<double>(t_ms) - static_cast<double>(ms)) / 1e3);
  }
  return Value::floating(static_cast<double>(diff) / 1e3 + static_cast<double>(rem_ns) / 1e9);
}

Value minus_epoch_millis_double(std::int64_t t, double ms, EvalState& st) {
  if (!std::isfinite(ms)) return failure(st);
  return Value::floating((static_cast<double>(t) / 1e6 - ms) / 1e3);
}

// Digits with an optional fraction: epoch milliseconds written as text.
bool millis_text(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == 0) return false;
  if (i == s.size()) return true;
  if (s[i] != '.' || i + 1 == s.size()) return false;
  for (++i; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// **Vigil**: kTime - kTime, kTime - RFC 3339 text, kTime - epoch milliseconds; seconds as a double.
Value time_minus(std::int64_t t, const Value& b, EvalState& st) {
  switch (b.type) {
    case Type::kTime: {
      std::int64_t diff = 0;
      if (__builtin_sub_overflow(t, b.i, &diff)) {
        return Value::floating((static_cast<double>(t) - static_cast<double>(b.i)) / 1e9);
      }
      return Value::floating(static_cast<double>(diff) / 1e9);
    }
    case Type::kInt: return minus_epoch_millis_int(t, b.i);
    case Type::kDouble: return minus_epoch_millis_double(t, b.d, st);
    case Type::kString: {
      if (millis_text(b.s)) {
        if (auto i = detail::parse_int(b.s)) return minus_epoch_millis_int(t, *i);
        if (auto d = detail::parse_double(b.s)) return minus_epoch_millis_double(t, *d, st);
        return failure(st);
      }
      auto instant = detail::parse_rfc3339(b.s);
      if (!instant) return failure(st);
      std::int64_t t_ns = 0;
      const std::int64_t t_sec = floor_div(t, kNanosPerSecond, t_ns);
      return Value::floating(static_cast<double>(t_sec - instant->sec) +
                             static_cast<double>(t_ns - instant->nsec) / 1e9);
    }
    default: return failure(st);
  }
}

Value arith(const Value& a, const Value& b, ArithOp op, EvalState& st) {
  // An absent operand makes an absent result, not a failure.
  if (a.is_nil() || b.is_nil()) return Value::nil();
  if (a.type == Type::kTime) {
    if (op != ArithOp::kSub) return failure(st);
    return time_minus(a.i, b, st);
  }
  if (!a.is_number() || !b.is_number()) return failure(st);
  if (a.type == Type::kInt && b.type == Type::kInt) return int_arith(a.i, b.i, op, st);
  return double_arith(a.as_double(), b.as_double(), op, st);
}

// ---- functions ------------------------------------------------------------------------------

Value to_int(const Value& v, EvalState& st) {
  switch (v.type) {
    case Type::kNil: return v;
    case Type::kInt: return v;
    case Type::kBool: return Value::integer(v.b ? 1 : 0);
    case Type::kDouble: {
      // Go truncates; values outside int64 (and NaN) have no int form.
      if (!(v.d >= -9223372036854775808.0 && v.d < 9223372036854775808.0)) return failure(st);
      return Value::integer(static_cast<std::int64_t>(v.d));
    }
    case Type::kString: {
      auto i = detail::parse_int(v.s);
      return i ? Value::integer(*i) : failure(st);
    }
    default: return failure(st);
  }
}

Value to_double(const Value& v, EvalState& st) {
  switch (v.type) {
    case Type::kNil: return v;
    case Type::kDouble: return v;
    case Type::kInt: return Value::floating(static_cast<double>(v.i));
    case Type::kBool: return Value::floating(v.b ? 1.0 : 0.0);
    case Type::kString: {
      auto d = detail::parse_double(v.s);
      return d ? Value::floating(*d) : failure(st);
    }
    default: return failure(st);
  }
}

Value to_string(const Value& v, EvalState& st) {
  switch (v.type) {
    case Type::kNil:
    case Type::kString: return v;
    case Type::kMap:
    case Type::kList: return failure(st);
    default: return scratch_text(v, st);
  }
}

class Evaluator {
 public:
  Evaluator(const Expression::Impl& impl, const Record& record, EvalState& state)
      : nodes_(impl.nodes), context_(impl.context), record_(record), st_(state) {}

  Value eval(std::uint32_t index) {
    const Node& n = nodes_[index];
    switch (n.kind) {
      case NodeKind::kLiteral:
        return n.literal.type == Type::kString ? Value::string(n.text) : n.literal;
      case NodeKind::kPath:
        return path(n, context_, record_, st_);
      case NodeKind::kCompare:
        return Value::boolean(compare(eval(n.children[0]), eval(n.children[1]), n.cmp));
      case NodeKind::kAnd:
        for (std::uint32_t c : n.children) {
          const Value v = eval(c);
          if (v.type != Type::kBool || !v.b) return Value::boolean(false);
        }
        return Value::boolean(true);
      case NodeKind::kOr:
        for (std::uint32_t c : n.children) {
          const Value v = eval(c);
          if (v.type != Type::kBool) return Value::boolean(false);
          if (v.b) return Value::boolean(true);
        }
        return Value::boolean(false);
      case NodeKind::kNot: {
        const Value v = eval(n.children[0]);
        return Value::boolean(v.type == Type::kBool && !v.b);
      }
      case NodeKind::kArith:
        return arith(eval(n.children[0]), eval(n.children[1]), n.arith, st_);
      case NodeKind::kNeg: {
        const Value v = eval(n.children[0]);
        if (v.type == Type::kInt) return Value::integer(wrap(0 - static_cast<std::uint64_t>(v.i)));
        if (v.type == Type::kDouble) return Value::floating(-v.d);
        return v.is_nil() ? v : failure(st_);
      }
      case NodeKind::kCall:
        return call(n);
    }
    return Value::nil();
  }

 private:
  Value call(const Node& n) {
    switch (n.fn) {
      case Fn::kNow: return Value::time(st_.now_unix_nano);
      case Fn::kIsMatch: return Value::boolean(is_match(n));
      case Fn::kInt: return to_int(eval(n.children[0]), st_);
      case Fn::kDouble: return to_double(eval(n.children[0]), st_);
      case Fn::kString: return to_string(eval(n.children[0]), st_);
      case Fn::kIsString: return Value::boolean(eval(n.children[0]).type == Type::kString);
      case Fn::kIsInt: return Value::boolean(eval(n.children[0]).type == Type::kInt);
      case Fn::kIsDouble: return Value::boolean(eval(n.children[0]).type == Type::kDouble);
      case Fn::kIsBool: return Value::boolean(eval(n.children[0]).type == Type::kBool);
      case Fn::kIsMap: return Value::boolean(eval(n.children[0]).type == Type::kMap);
      case Fn::kIsList: return Value::boolean(eval(n.children[0]).type == Type::kList);
    }
    return Value::nil();
  }

  bool is_match(const Node& n) {
    const Value target = eval(n.children[0]);
    if (target.is_nil()) return false;
    if (target.type == Type::kString) return RE2::PartialMatch(target.s, *n.re);
    // Numbers, bools and times match against their text; the buffer is local because the text
    // does not outlive the match.
    char buf[64];
    auto len = detail::format_scalar(target, buf, sizeof buf);
    if (!len) {
      st_.failed = true;  // a map or a list: OTTL would match its JSON, Vigil does not
      return false;
    }
    return RE2::PartialMatch(std::string_view(buf, *len), *n.re);
  }

  const std::vector<Node>& nodes_;
  Context context_;
  const Record& record_;
  EvalState& st_;
};

}  // namespace

Value Expression::evaluate(const Record& record, EvalState& state) const {
  Evaluator e(*impl_, record, state);
  return e.eval(impl_->root);
}

}  // namespace vigil::ottl
