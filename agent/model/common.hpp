#pragma once
// OTLP-shaped common types: AnyValue, KeyValue, Resource, InstrumentationScope.
// Mirrors opentelemetry/proto/common/v1/common.proto and resource/v1/resource.proto.
//
// All types are trivially copyable views: strings and arrays point into a batch's Arena (or into
// buffers the arena adopted). Ownership stays with the Batch that holds the Arena.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "agent/model/arena.hpp"

namespace vigil::model {

struct KeyValue;

enum class ValueType : std::uint8_t { kEmpty, kString, kBool, kInt, kDouble, kBytes, kArray, kKvList };

// One OTLP AnyValue in 16 bytes. Arrays and kvlists are immutable once built.
class AnyValue {
 public:
  AnyValue() : i_(0) {}
  static AnyValue string(std::string_view s) { return AnyValue(ValueType::kString, s); }
  static AnyValue bytes(std::string_view s) { return AnyValue(ValueType::kBytes, s); }
  static AnyValue boolean(bool b) { AnyValue v; v.type_ = ValueType::kBool; v.b_ = b; return v; }
  static AnyValue integer(std::int64_t i) { AnyValue v; v.type_ = ValueType::kInt; v.i_ = i; return v; }
  static AnyValue floating(double d) { AnyValue v; v.type_ = ValueType::kDouble; v.d_ = d; return v; }
  static AnyValue array(const AnyValue* items, std::uint32_t n) {
    AnyValue v; v.type_ = ValueType::kArray; v.array_ = items; v.size_ = n; return v;
  }
  static AnyValue kvlist(const KeyValue* items, std::uint32_t n) {
    AnyValue v; v.type_ = ValueType::kKvList; v.kvlist_ = items; v.size_ = n; return v;
  }

  ValueType type() const { return type_; }
  bool empty() const { return type_ == ValueType::kEmpty; }
  // kString and kBytes.
  std::string_view string_value() const { return {str_, size_}; }
  bool bool_value() const { return b_; }
  std::int64_t int_value() const { return i_; }
  double double_value() const { return d_; }
  const AnyValue* array_begin() const { return array_; }
  const KeyValue* kvlist_begin() const { return kvlist_; }
  // Elements of kArray / kKvList, bytes of kString / kBytes.
  std::uint32_t size() const { return size_; }

 private:
  AnyValue(ValueType t, std::string_view s) : str_(s.data()), size_(static_cast<std::uint32_t>(s.size())), type_(t) {}

  union {
    bool b_;
    std::int64_t i_;
    double d_;
    const char* str_;
    const AnyValue* array_;
    const KeyValue* kvlist_;
  };
  std::uint32_t size_ = 0;
  ValueType type_ = ValueType::kEmpty;
};

struct KeyValue {
  std::string_view key;
  AnyValue value;
};

using Attributes = ArenaVec<KeyValue>;

// Returns the attribute's value, or nullptr.
inline const AnyValue* find_attribute(const Attributes& attrs, std::string_view key) {
  for (const KeyValue& kv : attrs) {
    // Length and first byte before memcmp: keys of one length ("event", "level") mostly differ
    // in their first byte, and this runs several times per record on the processors' hot paths.
    if (kv.key.size() == key.size() && (key.empty() || kv.key[0] == key[0]) && kv.key == key) return &kv.value;
  }
  return nullptr;
}

// Sets (replacing) an attribute; key and value must already live in the arena.
inline void set_attribute(Arena& arena, Attributes& attrs, std::string_view key, AnyValue value) {
  for (KeyValue& kv : attrs) {
    if (kv.key == key) {
      kv.value = value;
      return;
    }
  }
  attrs.push_back(arena, KeyValue{key, value});
}

// Deep copies into `arena` (strings, arrays and kvlists included), for values that must outlive
// the arena they were built in. Defined in batch.cpp.
AnyValue copy_value(Arena& arena, const AnyValue& value);
Attributes copy_attributes(Arena& arena, const Attributes& attributes);

using TraceId = std::array<std::uint8_t, 16>;
using SpanId = std::array<std::uint8_t, 8>;

inline bool is_zero(const TraceId& id) {
  for (auto b : id) if (b != 0) return false;
  return true;
}
inline bool is_zero(const SpanId& id) {
  for (auto b : id) if (b != 0) return false;
  return true;
}

struct Resource {
  Attributes attributes;
  std::uint32_t dropped_attributes_count = 0;
};

struct InstrumentationScope {
  std::string_view name;
  std::string_view version;
  Attributes attributes;
  std::uint32_t dropped_attributes_count = 0;
};

}  // namespace vigil::model
