#pragma once
// The config tree: YAML parsed into nodes that remember where they came from (file, line,
// column), so that every error can point at its source even after several files are merged.
// Scalars stay text until a schema gives them a type.
//
// Ownership: plain values. Thread-safety: immutable after loading; read from any thread.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::config {

struct Location {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  std::string str() const;  // "file:line:column"
};

struct Error {
  Location location;
  std::string component;  // component ID or section ("service"), may be empty
  std::string message;
  std::string str() const;  // "file:line:column: component: message"
};

using Errors = std::vector<Error>;

class Value {
 public:
  enum class Kind { kNull, kScalar, kMap, kSeq };

  struct Entry;

  Kind kind = Kind::kNull;
  std::string scalar;           // kScalar
  bool quoted = false;          // the scalar was quoted in YAML (so "null"/"true" are strings)
  std::vector<Entry> entries;   // kMap, in file order
  std::vector<Value> items;     // kSeq
  Location location;

  bool is_null() const { return kind == Kind::kNull; }
  bool is_scalar() const { return kind == Kind::kScalar; }
  bool is_map() const { return kind == Kind::kMap; }
  bool is_seq() const { return kind == Kind::kSeq; }
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  // Follows a dotted path ("sending_queue.queue_size") through maps.
  const Value* find_path(std::string_view path) const;
  const char* kind_name() const;  // "null", "scalar", "map", "sequence"
};

struct Value::Entry {
  std::string key;
  Location key_location;
  Value value;
};

}  // namespace vigil::config
