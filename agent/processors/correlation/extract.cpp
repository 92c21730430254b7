#include "agent/processors/correlation/extract.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

namespace vigil::processors::correlation {
namespace {

namespace od = simdjson::ondemand;

// Digit values by byte: kHexAny accepts upper and lower case, kHexLower lower case only; -1 for
// anything else. Tables, because trace IDs are decoded for most log records.
struct HexTable {
  std::int8_t v[256];
  explicit constexpr HexTable(bool upper) : v() {
    for (int i = 0; i < 256; ++i) v[i] = -1;
    for (int i = 0; i < 10; ++i) v['0' + i] = static_cast<std::int8_t>(i);
    for (int i = 0; i < 6; ++i) {
      v['a' + i] = static_cast<std::int8_t>(10 + i);
      if (upper) v['A' + i] = static_cast<std::int8_t>(10 + i);
    }
  }
};
constexpr HexTable kHexAny(true);
constexpr HexTable kHexLower(false);


template <std::size_t N>
bool all_zero(const std::uint8_t (&bytes)[N]) {
  for (std::uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}

bool all_zero(const std::uint8_t* bytes, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (bytes[i] != 0) return false;
  return true;
}

inline bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A parser and a padded copy of the body (simdjson reads up to SIMDJSON_PADDING bytes past the
// end of its input).
struct JsonScratch {
  od::parser parser;
  std::unique_ptr<char[]> buffer;
  std::size_t capacity = 0;

  simdjson::padded_string_view load(std::string_view json) {
    const std::size_t need = json.size() + simdjson::SIMDJSON_PADDING;
    if (capacity < need) {
      capacity = std::max(need, std::min(capacity * 2, kJsonRetainedBytes + simdjson::SIMDJSON_PADDING));
      buffer.reset(new char[capacity]);
    }
    std::memcpy(buffer.get(), json.data(), json.size());
    std::memset(buffer.get() + json.size(), 0, simdjson::SIMDJSON_PADDING);
    return simdjson::padded_string_view(buffer.get(), json.size(), capacity);
  }
};

bool scan(JsonScratch& scratch, std::string_view body, JsonVisitFn visit, void* ctx) {
  simdjson::padded_string_view input = scratch.load(body);
  od::document doc;
  if (scratch.parser.iterate(input).get(doc) != simdjson::SUCCESS) return false;
  od::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) return false;
  for (auto item : object) {
    od::field field;
    if (std::move(item).get(field) != simdjson::SUCCESS) return false;
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    od::value& value = field.value();
    od::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS) return false;
    JsonScalar scalar;
    if (type == od::json_type::string) {
      if (value.get_string().get(scalar.text) != simdjson::SUCCESS) return false;
      scalar.kind = JsonScalar::Kind::kString;
      visit(ctx, key, scalar);
    } else if (type == od::json_type::number) {
      od::number_type number_type;
      if (value.get_number_type().get(number_type) != simdjson::SUCCESS) return false;
      if (number_type == od::number_type::signed_integer ||
          (number_type == od::number_type::unsigned_integer)) {
        std::int64_t n = 0;
        // An unsigned integer beyond int64 is not an error in the body, just not usable.
        if (value.get_int64().get(n) == simdjson::SUCCESS) {
          scalar.kind = JsonScalar::Kind::kInt;
          scalar.integer = n;
          visit(ctx, key, scalar);
        }
      }
    }
    // Other values are skipped by the iteration.
  }
  // On-Demand stops at the end of the root object; anything after it makes the body invalid.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) return false;
  return true;
}

}  // namespace

bool decode_hex(std::string_view hex, std::uint8_t* out, std::size_t n, bool lowercase_only) {
  if (hex.size() != n * 2) return false;
  const std::int8_t* table = (lowercase_only ? kHexLower : kHexAny).v;
  int bad = 0;  // one check at the end: a valid ID (the common case) takes no branch per digit
  for (std::size_t i = 0; i < n; ++i) {
    const int hi = table[static_cast<unsigned char>(hex[2 * i])];
    const int lo = table[static_cast<unsigned char>(hex[2 * i + 1])];
    bad |= hi | lo;
    out[i] = static_cast<std::uint8_t>((hi << 4) | (lo & 0xf));
  }
  return bad >= 0;
}

bool parse_traceparent(std::string_view h, TraceContext& out) {
  // version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55.
  constexpr std::size_t kLength = 55;
  if (h.size() < kLength) return false;
  std::uint8_t version = 0;
  if (!decode_hex(h.substr(0, 2), &version, 1, true) || version == 0xff) return false;
  if (version == 0 && h.size() != kLength) return false;
  if (h.size() > kLength && h[kLength] != '-') return false;
  if (h[2] != '-' || h[35] != '-' || h[52] != '-') return false;
  std::uint8_t trace[16];
  std::uint8_t parent[8];
  std::uint8_t flags = 0;
  if (!decode_hex(h.substr(3, 32), trace, 16, true) || all_zero(trace)) return false;
  if (!decode_hex(h.substr(36, 16), parent, 8, true) || all_zero(parent)) return false;
  if (!decode_hex(h.substr(53, 2), &flags, 1, true)) return false;
  std::memcpy(out.trace_id.data(), trace, 16);
  std::memcpy(out.span_id.data(), parent, 8);
  out.has_flags = true;
  out.sampled = (flags & 0x01) != 0;
  return true;
}

bool parse_xray_header(std::string_view h, TraceContext& out) {
  bool have_root = false;
  bool have_parent = false;
  bool have_sampled = false;  // a decision: Sampled=0 or 1
  bool seen_sampled = false;
  std::uint8_t trace[16];
  std::uint8_t parent[8] = {};
  bool sampled = false;
  while (!h.empty()) {
    const std::size_t semi = h.find(';');
    const std::string_view part = trim(h.substr(0, semi));
    h = semi == std::string_view::npos ? std::string_view() : h.substr(semi + 1);
    if (part.empty()) continue;  // "Root=...;" and ";;" are tolerated
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;  // a bare word carries nothing we use
    const std::string_view key = trim(part.substr(0, eq));
    const std::string_view value = trim(part.substr(eq + 1));
    if (key == "Root") {
      // 1-<8 hex epoch seconds>-<24 hex random>: 1 + 1 + 8 + 1 + 24 = 35.
      if (have_root || value.size() != 35 || value[0] != '1' || value[1] != '-' || value[10] != '-') return false;
      if (!decode_hex(value.substr(2, 8), trace, 4, true)) return false;
      if (!decode_hex(value.substr(11, 24), trace + 4, 12, true)) return false;
      if (all_zero(trace)) return false;
      have_root = true;
    } else if (key == "Parent") {
      if (have_parent || !decode_hex(value, parent, 8, true) || all_zero(parent)) return false;
      have_parent = true;
    } else if (key == "Sampled") {
      if (seen_sampled) return false;
      seen_sampled = true;
      if (value == "1" || value == "0") {
        sampled = value == "1";
        have_sampled = true;
      } else if (value != "?") {  // "?": the caller asks the receiver to decide; no decision
        return false;
      }
    }
  }
  if (!have_root) return false;
  std::memcpy(out.trace_id.data(), trace, 16);
  out.span_id = {};
  if (have_parent) std::memcpy(out.span_id.data(), parent, 8);
  out.has_flags = have_sampled;
  out.sampled = sampled;
  return true;
}

bool parse_trace_id_value(const model::AnyValue& v, model::TraceId& out) {
  std::uint8_t id[16];
  if (v.type() == model::ValueType::kString) {
    if (!decode_hex(v.string_value(), id, 16, false)) return false;
  } else if (v.type() == model::ValueType::kBytes && v.size() == 16) {
    std::memcpy(id, v.string_value().data(), 16);
  } else {
    return false;
  }
  if (all_zero(id, 16)) return false;
  std::memcpy(out.data(), id, 16);
  return true;
}

bool parse_span_id_value(const model::AnyValue& v, model::SpanId& out) {
  std::uint8_t id[8];
  if (v.type() == model::ValueType::kString) {
    if (!decode_hex(v.string_value(), id, 8, false)) return false;
  } else if (v.type() == model::ValueType::kBytes && v.size() == 8) {
    std::memcpy(id, v.string_value().data(), 8);
  } else {
    return false;
  }
  if (all_zero(id, 8)) return false;
  std::memcpy(out.data(), id, 8);
  return true;
}

bool looks_like_json_object(std::string_view s) {
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{';
  }
  return false;
}

bool scan_json_object(std::string_view body, JsonVisitFn visit, void* ctx) {
  if (body.size() > simdjson::SIMDJSON_MAXSIZE_BYTES - simdjson::SIMDJSON_PADDING) return false;
  if (body.size() <= kJsonRetainedBytes) {
    thread_local JsonScratch scratch;
    return scan(scratch, body, visit, ctx);
  }
  // Rare: a body larger than what a thread keeps; its parser and buffer go with the call.
  auto scratch = std::make_unique<JsonScratch>();
  return scan(*scratch, body, visit, ctx);
}

}  // namespace vigil::processors::correlation
