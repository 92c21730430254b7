#pragma once
// JSON object -> model values with simdjson's On-Demand API, for json_parser and the docker
// format of the container parser. One parser and scratch stacks reused across entries: after the
// first few lines nothing is allocated on the heap. Strings without escapes stay views into the
// input (zero copy), strings with escapes are unescaped and copied into the arena; objects become
// kvlists (a repeated key keeps its last value), arrays arrays, integers int (or double when
// parse_ints is off or they exceed int64), other numbers double, null an empty value.
//
// Thread-safety: none; one per operator, used by the chain's one thread.

#include <simdjson.h>

#include <cstddef>
#include <string_view>
#include <vector>

#include "agent/model/arena.hpp"
#include "agent/model/common.hpp"

namespace vigil::collectors::filelog::ops {

class JsonReader {
 public:
  struct Options {
    bool parse_ints = true;
    // Unescaped strings are copied with kInputPadding bytes after them (the docker `log` field
    // becomes a body a later json_parser parses in place).
    bool pad_copies = false;
  };

  JsonReader() = default;
  explicit JsonReader(Options options) : options_(options) {}

  // Parses `text`, which must hold one JSON object. `padded`: `text` is followed by at least
  // SIMDJSON_PADDING readable bytes and lives as long as `arena`; otherwise it is first copied into
  // the arena (views then point into the copy). On success the root's members are members() until
  // the next call; on failure `error` is a static message.
  bool parse_object(model::Arena& arena, std::string_view text, bool padded, const char*& error);

  const model::KeyValue* members() const { return kvs_.data(); }
  std::size_t size() const { return kvs_.size(); }

 private:
  bool value(simdjson::ondemand::value v, model::AnyValue& out, int depth);
  bool object(simdjson::ondemand::object obj, std::size_t start, int depth);
  bool key_of(simdjson::ondemand::field& field, std::string_view& key);
  bool fail(simdjson::error_code e);

  Options options_;
  simdjson::ondemand::parser parser_;
  std::vector<model::KeyValue> kvs_;    // members of the objects being built, a stack
  std::vector<model::AnyValue> items_;  // elements of the arrays being built, a stack
  model::Arena* arena_ = nullptr;
  const char* end_ = nullptr;
  const char* error_ = nullptr;
};

}  // namespace vigil::collectors::filelog::ops
