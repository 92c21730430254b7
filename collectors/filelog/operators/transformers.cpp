// The field transformers: move, copy, add, remove, retain.
#include <charconv>
#include <cmath>
#include <memory>

#include "collectors/filelog/operators/internal.hpp"

namespace vigil::collectors::filelog::ops {
namespace {

// move and copy: the same but for whether the source stays.
class Relocate final : public OperatorBase {
 public:
  Relocate(const OpConfig& cfg, Field from, Field to, bool keep_source)
      : OperatorBase(cfg), from_(std::move(from)), to_(std::move(to)), keep_source_(keep_source) {}
  void process(Context& ctx, std::size_t index, Entry& entry) const override {
    // Values are immutable once built, so a copy may share them.
    const std::optional<model::AnyValue> v =
        keep_source_ ? get_value(ctx.arena, entry, from_) : remove_value(ctx.arena, entry, from_);
    if (!v) return fail(ctx, index, entry, "no field ", from_.text);
    if (!set_value(ctx.arena, entry, to_, *v))
      return fail(ctx, index, entry, "only a map can be written to ", to_.text);
    ctx.chain.next(ctx, index + 1, entry);
  }

 private:
  Field from_;
  Field to_;
  bool keep_source_;
};

class Add final : public OperatorBase {
 public:
  Add(const OpConfig& cfg, Field field, std::unique_ptr<model::Arena> arena, model::AnyValue value)
      : OperatorBase(cfg), field_(std::move(field)), arena_(std::move(arena)), value_(value) {}
  void process(Context& ctx, std::size_t index, Entry& entry) const override {
    // A deep copy: the batch may outlive the operator (a reload).
    const model::AnyValue v = model::copy_value(ctx.arena, value_);
    if (!set_value(ctx.arena, entry, field_, v)) {
      return fail(ctx, index, entry, "only a map can be written to ", field_.text);
    }
    ctx.chain.next(ctx, index + 1, entry);
  }

 private:
  Field field_;
  std::unique_ptr<model::Arena> arena_;  // holds value_
  model::AnyValue value_;
};

class Remove final : public OperatorBase {
 public:
  Remove(const OpConfig& cfg, Field field) : OperatorBase(cfg), field_(std::move(field)) {}
  void process(Context& ctx, std::size_t index, Entry& entry) const override {
    if (!remove_value(ctx.arena, entry, field_)) return fail(ctx, index, entry, "no field ", field_.text);
    ctx.chain.next(ctx, index + 1, entry);
  }

 private:
  Field field_;
};

class Retain final : public OperatorBase {
 public:
  Retain(const OpConfig& cfg, std::vector<Field> fields) : OperatorBase(cfg), fields_(std::move(fields)) {
    for (const Field& f : fields_) {
      body_ |= f.root == Field::Root::kBody;
      attributes_ |= f.root == Field::Root::kAttributes;
      resource_ |= f.root == Field::Root::kResource;
    }
  }
  void process(Context& ctx, std::size_t index, Entry& entry) const override {
    // Groups named by no field are kept whole, as in the Collector.
    Entry kept;
    for (const Field& f : fields_) {
      if (auto v = get_value(ctx.arena, entry, f)) set_value(ctx.arena, kept, f, *v);
    }
    if (body_) entry.record.body = kept.record.body;
    if (attributes_) entry.record.attributes = kept.record.attributes;
    if (resource_) entry.resource = kept.resource;
    ctx.chain.next(ctx, index + 1, entry);
  }

 private:
  std::vector<Field> fields_;
  bool body_ = false;
  bool attributes_ = false;
  bool resource_ = false;
};

// A YAML value as a model value, typed as YAML would type it (quoted scalars are strings).
bool from_config(model::Arena& arena, const config::Value& v, model::AnyValue& out, OpConfig& cfg) {
  switch (v.kind) {
    case config::Value::Kind::kNull:
      out = model::AnyValue();
      return true;
    case config::Value::Kind::kScalar: {
      const std::string& s = v.scalar;
      if (!v.quoted) {
        if (s.rfind("EXPR(", 0) == 0) {
          cfg.error(v.location, "expressions (EXPR(...)) are not supported: give a literal value");
          return false;
        }
        if (s == "true" || s == "True" || s == "TRUE") {
          out = model::AnyValue::boolean(true);
          return true;
        }
        if (s == "false" || s == "False" || s == "FALSE") {
          out = model::AnyValue::boolean(false);
          return true;
        }
        std::int64_t i = 0;
        auto [ip, iec] = std::from_chars(s.data(), s.data() + s.size(), i);
        if (iec == std::errc() && ip == s.data() + s.size()) {
          out = model::AnyValue::integer(i);
          return true;
        }
        double d = 0;
        auto [dp, dec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (dec == std::errc() && dp == s.data() + s.size() && std::isfinite(d)) {
          out = model::AnyValue::floating(d);
          return true;
        }
      }
      out = model::AnyValue::string(arena.copy(s));
      return true;
    }
    case config::Value::Kind::kSeq: {
      model::AnyValue* items = arena.allocate_array<model::AnyValue>(v.items.size());
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (!from_config(arena, v.items[i], items[i], cfg)) return false;
      }
      out = model::AnyValue::array(items, static_cast<std::uint32_t>(v.items.size()));
      return true;
    }
    case config::Value::Kind::kMap: {
      model::KeyValue* items = arena.allocate_array<model::KeyValue>(v.entries.size());
      for (std::size_t i = 0; i < v.entries.size(); ++i) {
        items[i].key = arena.copy(v.entries[i].key);
        if (!from_config(arena, v.entries[i].value, items[i].value, cfg)) return false;
      }
      out = model::AnyValue::kvlist(items, static_cast<std::uint32_t>(v.entries.size()));
      return true;
    }
  }
  return false;
}

bool from_to(OpConfig& cfg, std::optional<Field>& from, std::optional<Field>& to) {
  cfg.validate({config::required(config::opt_string("from", "", "The field to read.")),
                config::required(config::opt_string("to", "", "The field to write."))});
  from = cfg.field("from", "");
  to = cfg.field("to", "");
  return cfg.ok() && from && to;
}

}  // namespace

std::unique_ptr<Operator> build_move(OpConfig& cfg) {
  std::optional<Field> from;
  std::optional<Field> to;
  if (!from_to(cfg, from, to)) return nullptr;
  if (from->touches_body() || to->touches_body()) cfg.build().body_padded = false;
  return std::make_unique<Relocate>(cfg, std::move(*from), std::move(*to), false);
}

std::unique_ptr<Operator> build_copy(OpConfig& cfg) {
  std::optional<Field> from;
  std::optional<Field> to;
  if (!from_to(cfg, from, to)) return nullptr;
  if (to->touches_body()) cfg.build().body_padded = false;
  return std::make_unique<Relocate>(cfg, std::move(*from), std::move(*to), true);
}

std::unique_ptr<Operator> build_add(OpConfig& cfg) {
  cfg.validate({config::required(config::opt_string("field", "", "The field to set.")),
                config::required(config::opt_any("value", "A string, number, bool, map or list."))});
  auto field = cfg.field("field", "");
  const config::Value* value = cfg.node().find("value");
  if (!cfg.ok() || !field || value == nullptr) return nullptr;
  auto arena = std::make_unique<model::Arena>(1024);
  model::AnyValue v;
  if (!from_config(*arena, *value, v, cfg)) return nullptr;
  if (field->touches_body()) cfg.build().body_padded = false;
  return std::make_unique<Add>(cfg, std::move(*field), std::move(arena), v);
}

std::unique_ptr<Operator> build_remove(OpConfig& cfg) {
  cfg.validate({config::required(config::opt_string("field", "", "The field to remove."))});
  auto field = cfg.field("field", "");
  if (!cfg.ok() || !field) return nullptr;
  if (field->touches_body()) cfg.build().body_padded = false;
  return std::make_unique<Remove>(cfg, std::move(*field));
}

std::unique_ptr<Operator> build_retain(OpConfig& cfg) {
  cfg.validate({config::required(config::opt_string_list("fields", "The fields to keep."))});
  std::vector<Field> fields;
  if (const config::Value* list = cfg.raw("fields"); list != nullptr && list->is_seq()) {
    if (list->items.empty()) cfg.error(list->location, "'fields' is empty");
    for (const config::Value& item : list->items) {
      if (!item.is_scalar()) continue;
      std::string why;
      if (auto f = parse_field(item.scalar, why)) {
        fields.push_back(std::move(*f));
      } else {
        cfg.error(item.location, "'fields': " + why);
      }
    }
  }
  if (!cfg.ok()) return nullptr;
  for (const Field& f : fields) {
    if (f.touches_body()) cfg.build().body_padded = false;
  }
  return std::make_unique<Retain>(cfg, std::move(fields));
}

}  // namespace vigil::collectors::filelog::ops
