#pragma once
// Parsers for the trace context and request ID sources of the correlation processor: W3C
// traceparent, AWS X-Amzn-Trace-Id, plain trace/span ID fields, and the top-level fields of a
// JSON log body.
//
// Ownership: plain functions over views; nothing is kept. Thread-safety: all functions may run
// concurrently; scan_json_object keeps a per-thread parser and padded buffer.

#include <cstdint>
#include <string_view>

#include "agent/model/common.hpp"

namespace vigil::processors::correlation {

struct TraceContext {
  model::TraceId trace_id{};
  model::SpanId span_id{};   // all zero: none
  bool has_flags = false;    // the source said whether the trace is sampled
  bool sampled = false;
};

// W3C Trace Context level 1 `traceparent`, validated exactly as the specification says: version
// 2 lowercase hex digits, not "ff"; version 00 exactly 55 characters; a later version at least 55
// and, when longer, a '-' after the flags; trace-id 32 and parent-id 16 lowercase hex digits, not
// all zero; flags 2 lowercase hex digits. False (and `out` untouched) when invalid.
bool parse_traceparent(std::string_view header, TraceContext& out);

// AWS X-Ray `X-Amzn-Trace-Id`: `Root=1-<8 hex>-<24 hex>` (required), `Parent=<16 hex>`,
// `Sampled=0|1|?`, separated by ';' in any order with optional spaces; other keys (Self, Lineage,
// ...) are ignored. Lowercase hex only. False (and `out` untouched) when invalid.
bool parse_xray_header(std::string_view header, TraceContext& out);

// A plain log field: 32 (trace) / 16 (span) hex digits in either case, or a 16 / 8 byte bytes
// value. All-zero IDs are invalid.
bool parse_trace_id_value(const model::AnyValue& value, model::TraceId& out);
bool parse_span_id_value(const model::AnyValue& value, model::SpanId& out);

// Hex text of `n` bytes into `out`; `lowercase_only` refuses 'A'-'F'.
bool decode_hex(std::string_view hex, std::uint8_t* out, std::size_t n, bool lowercase_only);

// One top-level JSON value the correlation processor can use: a string or an integer.
struct JsonScalar {
  enum class Kind : std::uint8_t { kString, kInt };
  Kind kind = Kind::kString;
  std::string_view text;  // kString: unescaped; valid only during the visit call
  std::int64_t integer = 0;
};

// Calls `visit(ctx, key, value)` for every top-level field of the JSON object `body` whose value
// is a string or an integer that fits int64 (other values are skipped unread). Returns false when
// `body` is not a JSON object or iteration met an error; the caller must then discard whatever
// `visit` saw. Nested values are skipped, not validated beyond simdjson's structural pass. Keys
// and strings are views valid only during that visit call.
// No heap allocation after warm-up for bodies up to kJsonRetainedBytes; a larger body gets a
// parser and buffer of its own for that call.
inline constexpr std::size_t kJsonRetainedBytes = 64 * 1024;
using JsonVisitFn = void (*)(void* ctx, std::string_view key, const JsonScalar& value);
bool scan_json_object(std::string_view body, JsonVisitFn visit, void* ctx);

// The same with any callable `f(key, value)`.
template <class F>
bool scan_json_object(std::string_view body, F& f) {
  return scan_json_object(
      body, [](void* ctx, std::string_view key, const JsonScalar& value) { (*static_cast<F*>(ctx))(key, value); },
      &f);
}

// True when the first non-whitespace character of `s` is '{'.
bool looks_like_json_object(std::string_view s);

}  // namespace vigil::processors::correlation
