#pragma once
// Field references of the stanza operators (`body`, `body.a.b`, `attributes.x`,
// `attributes["k8s.pod.name"]`, `resource.x`, a bare `x` meaning `body.x`), parsed once when the
// chain is built, and the reads and writes they make on an Entry.
//
// Writes never modify a kvlist or array in place (they are immutable once built, and several
// entries may share one): the path down to the changed key is rebuilt in the arena. Attributes and
// resource attributes are the entry's own ArenaVecs and change in place.
//
// Thread-safety: a Field is immutable after parsing; the functions touch only the entry and arena.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/model/arena.hpp"
#include "agent/model/common.hpp"
#include "collectors/filelog/entry.hpp"

namespace vigil::collectors::filelog::ops {

struct Field {
  enum class Root : std::uint8_t { kBody, kAttributes, kResource };

  Root root = Root::kBody;
  std::vector<std::string> keys;  // below the root; empty: the root itself
  std::string text;               // as written, for messages

  bool is_root() const { return keys.empty(); }
  bool is_body() const { return root == Root::kBody && keys.empty(); }
  // True when writing this field may change the body.
  bool touches_body() const { return root == Root::kBody; }
};

// Parses a field reference; on failure returns std::nullopt and says why in `error`.
std::optional<Field> parse_field(std::string_view text, std::string& error);

// The value at `field`, or nullptr when absent. A root `attributes` or `resource` has no single
// AnyValue: use get_value.
const model::AnyValue* find_value(const Entry& entry, const Field& field);

// The value at `field`, or std::nullopt. A root `attributes`/`resource` is returned as a kvlist
// snapshot copied into `arena`, so later changes to the attributes do not show through it.
std::optional<model::AnyValue> get_value(model::Arena& arena, const Entry& entry, const Field& field);

// Sets `field` to `value` (whose strings already live in `arena` or longer). A kvlist written
// where a kvlist already is merges into it, new keys winning, as stanza does; missing or
// non-map levels on the way are replaced by maps. Returns false only when a non-map is written to
// a root `attributes`/`resource`.
bool set_value(model::Arena& arena, Entry& entry, const Field& field, model::AnyValue value);

// Removes `field`; returns the removed value, or std::nullopt when it was absent. Removing a
// root `attributes`/`resource` clears it (the value returned is a snapshot kvlist).
std::optional<model::AnyValue> remove_value(model::Arena& arena, Entry& entry, const Field& field);

// Merges key/values into attributes, replacing keys that exist. Keys and values must already
// live in the arena (or longer).
void merge_attributes(model::Arena& arena, model::Attributes& attrs, const model::KeyValue* items,
                      std::size_t n);

}  // namespace vigil::collectors::filelog::ops
