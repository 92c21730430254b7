#pragma once
// The compiled form of an OTTL expression, shared by the parser (parser.cpp), the evaluator
// (eval.cpp) and the text helpers (text.cpp). Private to agent/ottl.
//
// Ownership: Expression::Impl owns every node, literal text and RE2 program. Thread-safety:
// immutable once compile() returns; RE2 matching is safe from many threads.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <re2/re2.h>

#include "agent/ottl/ottl.hpp"

namespace vigil::ottl::detail {

// Nesting limit for the parser's recursion and the compiled tree's depth, so evaluation (which
// recurses over the tree) uses a bounded stack.
inline constexpr int kMaxDepth = 64;

enum class NodeKind : std::uint8_t { kLiteral, kPath, kCompare, kAnd, kOr, kNot, kArith, kNeg, kCall };
enum class CmpOp : std::uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
enum class ArithOp : std::uint8_t { kAdd, kSub, kMul, kDiv };
enum class Fn : std::uint8_t {
  kIsMatch, kInt, kDouble, kString, kNow, kIsString, kIsInt, kIsDouble, kIsBool, kIsMap, kIsList
};

// What a path reads, before its keys.
enum class Field : std::uint8_t {
  // Both contexts.
  kAttributes, kResourceAttributes, kScopeAttributes, kScopeName, kScopeVersion, kTraceIdString,
  kSpanIdString,
  // Log context.
  kBody, kSeverityNumber, kSeverityText, kTime, kObservedTime, kTimeUnixNano, kObservedTimeUnixNano,
  kEventName, kFlags,
  // Span context.
  kName, kKind, kStatusCode, kStatusMessage, kStartTime, kEndTime, kStartTimeUnixNano,
  kEndTimeUnixNano, kDuration, kParentSpanIdString, kTraceState,
};

// One `["k"]` or `[0]` after a path.
struct Key {
  bool is_index = false;
  std::string name;
  std::int64_t index = 0;
};

struct Node {
  NodeKind kind = NodeKind::kLiteral;
  CmpOp cmp = CmpOp::kEq;
  ArithOp arith = ArithOp::kAdd;
  Fn fn = Fn::kNow;
  Field field = Field::kAttributes;
  Value literal;     // kLiteral; a string literal's text is `text` (views are made at evaluation)
  std::string text;  // kLiteral string
  std::vector<Key> keys;              // kPath
  std::vector<std::uint32_t> children;  // operands / arguments, indices into Impl::nodes
  std::unique_ptr<re2::RE2> re;       // kCall IsMatch
  std::uint32_t offset = 0;           // where it starts in the text (for errors)
};

// Formatting and parsing helpers (text.cpp). None allocates.

// Writes `v` as OTTL converts it to a string (ints in decimal, doubles like JSON/ES6, bools as
// true/false, times as RFC 3339 with nanoseconds in UTC). Returns the length, or nullopt when the
// value has no text form here (nil, map, list) or `cap` is too small.
std::optional<std::size_t> format_scalar(const Value& v, char* out, std::size_t cap);

// Parses a base-10 int64 with an optional sign (Go's strconv.ParseInt(s, 10, 64)).
std::optional<std::int64_t> parse_int(std::string_view s);
// Parses a decimal float with an optional sign, exponent, inf or nan (strconv.ParseFloat, less
// hexadecimal floats and underscores).
std::optional<double> parse_double(std::string_view s);

// An instant split into whole Unix seconds and nanoseconds [0, 1e9), wide enough for any year
// RFC 3339 can write.
struct Instant {
  std::int64_t sec = 0;
  std::int64_t nsec = 0;
};
// RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm); 't' and ' ' also separate date and
// time, 'z' is also UTC.
std::optional<Instant> parse_rfc3339(std::string_view s);

}  // namespace vigil::ottl::detail

namespace vigil::ottl {

struct Expression::Impl {
  Context context = Context::kLog;
  std::vector<detail::Node> nodes;  // children always precede their parent
  std::uint32_t root = 0;
};

}  // namespace vigil::ottl
