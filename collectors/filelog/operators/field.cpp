// Field references: parsing (config time) and reads/writes on entries (hot path, arena only).
#include "collectors/filelog/operators/field.hpp"

#include <cstring>

namespace vigil::collectors::filelog::ops {
namespace {

using model::AnyValue;
using model::KeyValue;
using model::ValueType;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int index_of(const KeyValue* items, std::uint32_t n, std::string_view key) {
  for (std::uint32_t i = 0; i < n; ++i) {
    if (items[i].key == key) return static_cast<int>(i);
  }
  return -1;
}

const AnyValue* find_in(const AnyValue& v, std::string_view key) {
  if (v.type() != ValueType::kKvList) return nullptr;
  const int i = index_of(v.kvlist_begin(), v.size(), key);
  return i < 0 ? nullptr : &v.kvlist_begin()[i].value;
}

// `value` written over `current`: maps merge (new keys win), anything else replaces.
AnyValue merged(model::Arena& arena, const AnyValue* current, AnyValue value) {
  if (value.type() != ValueType::kKvList || current == nullptr || current->type() != ValueType::kKvList) {
    return value;
  }
  const std::uint32_t old_n = current->size();
  const std::uint32_t add_n = value.size();
  KeyValue* out = arena.allocate_array<KeyValue>(std::size_t{old_n} + add_n);
  if (out == nullptr) return value;  // both empty
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < old_n; ++i) out[n++] = current->kvlist_begin()[i];
  for (std::uint32_t i = 0; i < add_n; ++i) {
    const KeyValue& kv = value.kvlist_begin()[i];
    const int at = index_of(out, n, kv.key);
    if (at >= 0) {
      out[at].value = kv.value;
    } else {
      out[n++] = kv;
    }
  }
  return AnyValue::kvlist(out, n);
}

// A copy of `current` (a map, or nothing) with keys[0..n) set to `value`.
AnyValue set_in(model::Arena& arena, const AnyValue* current, const std::string* keys, std::size_t n,
                AnyValue value) {
  if (n == 0) return merged(arena, current, value);
  const KeyValue* items = nullptr;
  std::uint32_t count = 0;
  if (current != nullptr && current->type() == ValueType::kKvList) {
    items = current->kvlist_begin();
    count = current->size();
  }
  const int at = index_of(items, count, keys[0]);
  const AnyValue child = set_in(arena, at >= 0 ? &items[at].value : nullptr, keys + 1, n - 1, value);
  const std::uint32_t out_n = count + (at >= 0 ? 0 : 1);
  KeyValue* out = arena.allocate_array<KeyValue>(out_n);
  for (std::uint32_t i = 0; i < count; ++i) out[i] = items[i];
  if (at >= 0) {
    out[at].value = child;
  } else {
    out[count] = KeyValue{arena.copy(keys[0]), child};
  }
  return AnyValue::kvlist(out, out_n);
}

// Removes keys[0..n) from the map `current`: the map without it goes to `rest`, the value to
// `removed`. False when absent.
bool remove_in(model::Arena& arena, const AnyValue& current, const std::string* keys, std::size_t n,
               AnyValue& rest, AnyValue& removed) {
  if (current.type() != ValueType::kKvList) return false;
  const KeyValue* items = current.kvlist_begin();
  const std::uint32_t count = current.size();
  const int at = index_of(items, count, keys[0]);
  if (at < 0) return false;
  if (n == 1) {
    removed = items[at].value;
    KeyValue* out = arena.allocate_array<KeyValue>(count - 1);
    std::uint32_t k = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      if (static_cast<int>(i) != at) out[k++] = items[i];
    }
    rest = AnyValue::kvlist(out, k);
    return true;
  }
  AnyValue child;
  if (!remove_in(arena, items[at].value, keys + 1, n - 1, child, removed)) return false;
  KeyValue* out = arena.allocate_array<KeyValue>(count);
  for (std::uint32_t i = 0; i < count; ++i) out[i] = items[i];
  out[at].value = child;
  rest = AnyValue::kvlist(out, count);
  return true;
}

model::Attributes& group(Entry& entry, Field::Root root) {
  return root == Field::Root::kResource ? entry.resource : entry.record.attributes;
}
const model::Attributes& group(const Entry& entry, Field::Root root) {
  return root == Field::Root::kResource ? entry.resource : entry.record.attributes;
}

AnyValue snapshot(model::Arena& arena, const model::Attributes& attrs) {
  KeyValue* out = arena.allocate_array<KeyValue>(attrs.size());
  for (std::size_t i = 0; i < attrs.size(); ++i) out[i] = attrs[i];
  return AnyValue::kvlist(out, static_cast<std::uint32_t>(attrs.size()));
}

}  // namespace

std::optional<Field> parse_field(std::string_view text, std::string& error) {
  if (text.empty()) {
    error = "empty field";
    return std::nullopt;
  }
  Field f;
  f.text = std::string(text);
  std::vector<std::string> segments;
  bool first_bracketed = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == '[') {
      // ["key"] or ['key']: a key that may contain dots.
      if (pos + 1 >= text.size() || (text[pos + 1] != '"' && text[pos + 1] != '\'')) {
        error = "expected a quoted key after '[' in field '" + f.text + "'";
        return std::nullopt;
      }
      const char quote = text[pos + 1];
      const std::size_t close = text.find(quote, pos + 2);
      if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ']') {
        error = "unterminated [\"...\"] in field '" + f.text + "'";
        return std::nullopt;
      }
      if (segments.empty()) first_bracketed = true;
      segments.emplace_back(text.substr(pos + 2, close - pos - 2));
      pos = close + 2;
    } else {
      std::size_t end = pos;
      while (end < text.size() && text[end] != '.' && text[end] != '[') {
        if (is_space(text[end])) {
          error = "whitespace in field '" + f.text + "' (use [\"...\"] for keys with spaces)";
          return std::nullopt;
        }
        ++end;
      }
      if (end == pos) {
        error = "empty key in field '" + f.text + "'";
        return std::nullopt;
      }
      segments.emplace_back(text.substr(pos, end - pos));
      pos = end;
    }
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      if (pos == text.size()) {
        error = "field '" + f.text + "' ends with '.'";
        return std::nullopt;
      }
    } else if (pos < text.size() && text[pos] != '[') {
      error = "unexpected '" + std::string(1, text[pos]) + "' in field '" + f.text + "'";
      return std::nullopt;
    }
  }
  std::size_t skip = 0;
  if (!first_bracketed) {
    if (segments[0] == "body") {
      f.root = Field::Root::kBody;
      skip = 1;
    } else if (segments[0] == "attributes") {
      f.root = Field::Root::kAttributes;
      skip = 1;
    } else if (segments[0] == "resource") {
      f.root = Field::Root::kResource;
      skip = 1;
    }
    // Anything else is a key of the body, as in stanza.
  }
  f.keys.assign(segments.begin() + static_cast<std::ptrdiff_t>(skip), segments.end());
  return f;
}

const AnyValue* find_value(const Entry& entry, const Field& field) {
  const AnyValue* cur = nullptr;
  std::size_t i = 0;
  if (field.root == Field::Root::kBody) {
    cur = &entry.record.body;
    if (cur->empty()) return nullptr;
  } else {
    if (field.keys.empty()) return nullptr;
    const model::Attributes& attrs = group(entry, field.root);
    cur = model::find_attribute(attrs, field.keys[0]);
    i = 1;
  }
  for (; cur != nullptr && i < field.keys.size(); ++i) cur = find_in(*cur, field.keys[i]);
  return cur;
}

std::optional<AnyValue> get_value(model::Arena& arena, const Entry& entry, const Field& field) {
  if (field.root != Field::Root::kBody && field.keys.empty())
    return snapshot(arena, group(entry, field.root));
  const AnyValue* v = find_value(entry, field);
  if (v == nullptr) return std::nullopt;
  return *v;
}

bool set_value(model::Arena& arena, Entry& entry, const Field& field, AnyValue value) {
  if (field.root == Field::Root::kBody) {
    entry.record.body = set_in(arena, &entry.record.body, field.keys.data(), field.keys.size(), value);
    return true;
  }
  model::Attributes& attrs = group(entry, field.root);
  if (field.keys.empty()) {
    if (value.type() != ValueType::kKvList) return false;
    merge_attributes(arena, attrs, value.kvlist_begin(), value.size());
    return true;
  }
  for (KeyValue& kv : attrs) {
    if (kv.key == field.keys[0]) {
      kv.value = set_in(arena, &kv.value, field.keys.data() + 1, field.keys.size() - 1, value);
      return true;
    }
  }
  const AnyValue child = set_in(arena, nullptr, field.keys.data() + 1, field.keys.size() - 1, value);
  attrs.push_back(arena, KeyValue{arena.copy(field.keys[0]), child});
  return true;
}

std::optional<AnyValue> remove_value(model::Arena& arena, Entry& entry, const Field& field) {
  if (field.root == Field::Root::kBody) {
    AnyValue& body = entry.record.body;
    if (body.empty()) return std::nullopt;
    if (field.keys.empty()) {
      const AnyValue removed = body;
      body = AnyValue();
      return removed;
    }
    AnyValue rest;
    AnyValue removed;
    if (!remove_in(arena, body, field.keys.data(), field.keys.size(), rest, removed)) return std::nullopt;
    body = rest;
    return removed;
  }
  model::Attributes& attrs = group(entry, field.root);
  if (field.keys.empty()) {
    if (attrs.empty()) return std::nullopt;
    const AnyValue removed = snapshot(arena, attrs);
    attrs = model::Attributes();  // fresh storage: the snapshot keeps the old one
    return removed;
  }
  for (std::size_t i = 0; i < attrs.size(); ++i) {
    if (attrs[i].key != field.keys[0]) continue;
    if (field.keys.size() == 1) {
      const AnyValue removed = attrs[i].value;
      attrs.erase_if([&](const KeyValue& kv) { return kv.key == field.keys[0]; });
      return removed;
    }
    AnyValue rest;
    AnyValue removed;
    if (!remove_in(arena, attrs[i].value, field.keys.data() + 1, field.keys.size() - 1, rest, removed)) {
      return std::nullopt;
    }
    attrs[i].value = rest;
    return removed;
  }
  return std::nullopt;
}

void merge_attributes(model::Arena& arena, model::Attributes& attrs, const KeyValue* items, std::size_t n) {
  if (n == 0) return;
  if (attrs.empty()) {
    attrs.assign(arena, items, n);
    return;
  }
  // Parsed keys replace existing attributes of the same name. They are compared only with the
  // attributes that were there before, which keeps this linear in practice (this was 17% of the
  // filelog benchmark's CPU when every key was compared with every other). RE2 group names are
  // distinct; a JSON object that repeats a key keeps both (the Collector's map keeps the last).
  const std::size_t before = attrs.size();
  attrs.reserve(arena, before + n);
  for (std::size_t i = 0; i < n; ++i) {
    bool replaced = false;
    for (std::size_t j = 0; j < before; ++j) {
      if (attrs[j].key == items[i].key) {
        attrs[j].value = items[i].value;
        replaced = true;
        break;
      }
    }
    if (!replaced) attrs.push_back(arena, items[i]);
  }
}

}  // namespace vigil::collectors::filelog::ops
