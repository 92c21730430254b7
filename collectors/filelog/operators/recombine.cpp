// The recombine operator: joins consecutive entries of one source into one (stack traces,
// multiline records). Entries are held in the file's RecombineState, one batch per value of
// source_identifier, copied out of the batch arena they came in (they outlive it) and copied into
// the current arena when the combined entry is emitted.
//
// is_first_entry / is_last_entry take only the Collector's `<field> matches "<re2>"` form.
#include <re2/re2.h>

#include <memory>

#include "collectors/filelog/operators/internal.hpp"

namespace vigil::collectors::filelog::ops {
namespace {

constexpr std::size_t kKeepTextCapacity = 16 * 1024;
constexpr std::string_view kDefaultSource = "DefaultSourceIdentifier";

// One source's entries being combined.
struct Batch {
  std::string source;
  bool active = false;
  std::string text;  // the combined field so far
  HoldArena arena;
  Entry base;                // the entry whose other fields the result keeps, in `arena`
  std::uint64_t offset = 0;  // of the first entry
  std::uint64_t since = 0;   // ctx.now_unix_nano of the first entry
  std::size_t entries = 0;
  bool matched = false;  // an entry matched the expression
};

class RecombineState final : public OperatorState {
 public:
  std::optional<std::uint64_t> held_since() const override {
    std::optional<std::uint64_t> min;
    for (const auto& b : batches) {
      if (b->active && (!min || b->offset < *min)) min = b->offset;
    }
    return min;
  }
  std::size_t active() const {
    std::size_t n = 0;
    for (const auto& b : batches) n += b->active ? 1 : 0;
    return n;
  }

  std::vector<std::unique_ptr<Batch>> batches;  // reused once emitted
};

// Undoes the escapes of an expression string literal ("..." or '...'; `...` is raw).
bool unquote(std::string_view s, std::string& out, std::string& error) {
  if (s.size() < 2 || s.front() != s.back() || (s.front() != '"' && s.front() != '\'' && s.front() != '`')) {
    error = "expected a quoted pattern";
    return false;
  }
  const char q = s.front();
  s = s.substr(1, s.size() - 2);
  out.clear();
  if (q == '`') {
    out.assign(s);
    return true;
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == q) {
      error = "unescaped quote inside the pattern";
      return false;
    }
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i == s.size()) {
      error = "pattern ends with a backslash";
      return false;
    }
    switch (s[i]) {
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      case '\'':
        out += '\'';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case 'b':
        out += '\b';
        break;
      case 'a':
        out += '\a';
        break;
      default:
        error = std::string("unknown escape \\") + s[i] + " in the pattern (write \\\\ for a backslash)";
        return false;
    }
  }
  return true;
}

class Recombine final : public OperatorBase {
 public:
  struct Options {
    Field field;              // the expression's field
    std::unique_ptr<RE2> re;  // what it must match
    bool first = true;        // is_first_entry (else is_last_entry)
    Field combine_field;
    std::string combine_with;
    std::size_t max_batch_size = 1000;
    std::size_t max_unmatched_batch_size = 100;
    std::uint64_t max_log_size = 0;
    std::optional<Field> source;
    std::uint64_t force_flush_period = 5'000'000'000ULL;
    bool newest = false;
    std::size_t max_sources = 1000;
  };

  Recombine(const OpConfig& cfg, Options o) : OperatorBase(cfg), o_(std::move(o)) {}

  std::unique_ptr<OperatorState> make_state() const override { return std::make_unique<RecombineState>(); }

  void process(Context& ctx, std::size_t index, Entry& entry) const override {
    RecombineState* state = state_of(ctx, index);
    if (state == nullptr) return ctx.chain.next(ctx, index + 1, entry);  // no per-file state: pass on
    const model::AnyValue* v = find_value(entry, o_.field);
    if (v == nullptr) return fail(ctx, index, entry, "no field ", o_.field.text);
    if (!is_text(*v)) return fail(ctx, index, entry, "value is not a string: ", o_.field.text);
    const std::string_view text = v->string_value();
    const bool matches = RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *o_.re);

    // The state is per file already, so without source_identifier one source is enough (the
    // Collector's default, attributes["log.file.path"], is the file).
    std::string_view source = kDefaultSource;
    if (o_.source) {
      if (const model::AnyValue* s = find_value(entry, *o_.source);
          s != nullptr && is_text(*s) && s->size() != 0) {
        source = s->string_value();
      }
    }

    if (matches && o_.first) {
      if (Batch* b = find(*state, source); b != nullptr && b->active) emit(ctx, index, *b, false);
      add(ctx, index, *state, source, entry, matches);
    } else if (matches) {
      Batch* b = add(ctx, index, *state, source, entry, matches);
      if (b != nullptr && b->active) emit(ctx, index, *b, false);
    } else {
      add(ctx, index, *state, source, entry, matches);
    }
  }

  void flush(Context& ctx, std::size_t index) const override {
    RecombineState* state = state_of(ctx, index);
    if (state == nullptr) return;
    while (Batch* b = oldest(*state, UINT64_MAX)) emit(ctx, index, *b, false);
  }

  void flush_expired(Context& ctx, std::size_t index, std::uint64_t now_unix_nano) const override {
    RecombineState* state = state_of(ctx, index);
    if (state == nullptr) return;
    const std::uint64_t cutoff =
        now_unix_nano >= o_.force_flush_period ? now_unix_nano - o_.force_flush_period : 0;
    while (Batch* b = oldest(*state, cutoff)) emit(ctx, index, *b, false);
  }

 private:
  static RecombineState* state_of(Context& ctx, std::size_t index) {
    if (index >= ctx.state.slots.size()) return nullptr;
    return static_cast<RecombineState*>(ctx.state.slots[index].get());
  }

  static Batch* find(RecombineState& state, std::string_view source) {
    for (auto& b : state.batches) {
      if (b->source == source) return b.get();
    }
    return nullptr;
  }

  // The active batch with the smallest offset among those held since `cutoff` or earlier.
  static Batch* oldest(RecombineState& state, std::uint64_t cutoff) {
    Batch* best = nullptr;
    for (auto& b : state.batches) {
      if (b->active && b->since <= cutoff && (best == nullptr || b->offset < best->offset)) best = b.get();
    }
    return best;
  }

  Batch* add(Context& ctx, std::size_t index, RecombineState& state, std::string_view source,
             const Entry& entry, bool matches) const {
    Batch* b = find(state, source);
    if (b == nullptr || !b->active) {
      if (state.active() >= o_.max_sources) {
        // As the Collector: too many sources at once, emit everything held.
        while (Batch* old = oldest(state, UINT64_MAX)) emit(ctx, index, *old, false);
      }
      if (b == nullptr) {
        // Reuse an idle batch when there are as many as max_sources.
        if (state.batches.size() >= o_.max_sources) {
          for (auto& idle : state.batches) {
            if (!idle->active) {
              b = idle.get();
              break;
            }
          }
        }
        if (b == nullptr) {
          state.batches.push_back(std::make_unique<Batch>());
          b = state.batches.back().get();
        }
        b->source.assign(source);
      }
      b->active = true;
      b->base = copy_entry(b->arena.get(), entry);
      b->text.clear();
      b->offset = entry.offset;
      b->since = ctx.now_unix_nano;
      b->entries = 1;
      b->matched = false;
    } else {
      ++b->entries;
      if (o_.newest) b->base = copy_entry(b->arena.get(), entry);
    }
    b->matched |= matches;

    if (const model::AnyValue* part = find_value(entry, o_.combine_field);
        part != nullptr && is_text(*part)) {
      const std::size_t sep = b->text.empty() ? 0 : o_.combine_with.size();
      const std::string_view s = part->string_value();
      if (o_.max_log_size != 0 && b->text.size() + sep + s.size() > o_.max_log_size) {
        // Cut at the limit: what fits is kept, the rest of this entry is lost and counted.
        std::string joined;
        if (sep != 0) joined.append(o_.combine_with);
        joined.append(s);
        const std::size_t room = b->text.size() < o_.max_log_size ? o_.max_log_size - b->text.size() : 0;
        b->text.append(joined, 0, room);
        ++ctx.stats.truncated;
        emit(ctx, index, *b, true);
        return b;
      }
      if (sep != 0) b->text.append(o_.combine_with);
      b->text.append(s);
    }
    if ((o_.max_batch_size != 0 && b->entries >= o_.max_batch_size) ||
        (!b->matched && o_.max_unmatched_batch_size != 0 && b->entries >= o_.max_unmatched_batch_size)) {
      emit(ctx, index, *b, false);
    }
    return b;
  }

  void emit(Context& ctx, std::size_t index, Batch& b, bool truncated) const {
    Entry out = copy_entry(ctx.arena, b.base);
    out.offset = b.offset;
    const std::string_view text = copy_padded(ctx.arena, b.text);
    b.active = false;
    b.base = Entry();
    b.text.clear();
    if (b.text.capacity() > kKeepTextCapacity) std::string().swap(b.text);
    b.arena.recycle();
    if (!set_value(ctx.arena, out, o_.combine_field, model::AnyValue::string(text))) {
      return fail(ctx, index, out, "cannot write the combined text to ", o_.combine_field.text);
    }
    if (truncated) {
      model::set_attribute(ctx.arena, out.record.attributes, kTruncatedAttribute,
                           model::AnyValue::boolean(true));
    }
    ctx.chain.next(ctx, index + 1, out);
  }

  Options o_;
};

// `<field> matches "<re2>"`: the only expression form recombine takes.
bool parse_matcher(OpConfig& cfg, const config::Value& v, Recombine::Options& o) {
  const std::string form =
      " (Vigil supports only the form <field> matches \"<re2>\", e.g. body matches \"^\\\\S\")";
  std::string_view s = v.scalar;
  auto trim = [](std::string_view x) {
    while (!x.empty() && (x.front() == ' ' || x.front() == '\t')) x.remove_prefix(1);
    while (!x.empty() && (x.back() == ' ' || x.back() == '\t')) x.remove_suffix(1);
    return x;
  };
  s = trim(s);
  const std::size_t at = s.find(" matches ");
  if (at == std::string_view::npos) {
    cfg.error(v.location, "unsupported expression '" + v.scalar + "'" + form);
    return false;
  }
  std::string why;
  auto field = parse_field(trim(s.substr(0, at)), why);
  if (!field) {
    cfg.error(v.location, "expression '" + v.scalar + "': " + why + form);
    return false;
  }
  std::string pattern;
  if (!unquote(trim(s.substr(at + 9)), pattern, why)) {
    cfg.error(v.location, "expression '" + v.scalar + "': " + why + form);
    return false;
  }
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, options);
  if (!re->ok()) {
    cfg.error(v.location, "invalid regex in '" + v.scalar + "': " + re->error());
    return false;
  }
  o.field = std::move(*field);
  o.re = std::move(re);
  return true;
}

}  // namespace

std::unique_ptr<Operator> build_recombine(OpConfig& cfg) {
  cfg.validate({
      config::opt_string("is_first_entry", "", "<field> matches \"<re2>\": the entry starts a record."),
      config::opt_string("is_last_entry", "", "<field> matches \"<re2>\": the entry ends a record."),
      config::required(config::opt_string("combine_field", "", "The field joined across entries.")),
      config::opt_string("combine_with", "\n", "Put between the joined parts."),
      config::opt_int("max_batch_size", 1000, "Most entries in one record (0: no limit).", 0),
      config::opt_int("max_unmatched_batch_size", 100,
                      "Most entries joined before the expression first matches (0: no limit).", 0),
      config::opt_any("max_log_size", "Largest combined field (bytes, or 1MiB...); 0: no limit."),
      config::opt_string("source_identifier", "attributes[\"log.file.path\"]",
                         "Entries are joined per value of this field."),
      config::opt_duration("force_flush_period", "5s", "A record waiting longer than this is emitted.", 0),
      config::opt_string("overwrite_with", "oldest", "Whose other fields the record keeps.",
                         {"oldest", "newest"}),
      config::opt_int("max_sources", 1000, "Most sources joined at once.", 1),
  });
  Recombine::Options o;
  const config::Value* first = cfg.raw("is_first_entry");
  const config::Value* last = cfg.raw("is_last_entry");
  if ((first == nullptr) == (last == nullptr)) {
    cfg.error(first != nullptr ? cfg.location("is_last_entry") : cfg.node().location,
              "exactly one of is_first_entry and is_last_entry must be set");
  } else {
    const config::Value& expr = first != nullptr ? *first : *last;
    o.first = first != nullptr;
    if (expr.is_scalar()) parse_matcher(cfg, expr, o);
  }
  auto combine = cfg.field("combine_field", "");
  if (cfg.has("source_identifier")) {
    o.source = cfg.field("source_identifier", "");
  }
  o.max_log_size = cfg.byte_size("max_log_size", 0);
  if (!cfg.ok() || !combine || !o.re) return nullptr;
  o.combine_field = std::move(*combine);
  o.combine_with = cfg.get_string("combine_with");
  o.max_batch_size = static_cast<std::size_t>(cfg.get_int("max_batch_size"));
  o.max_unmatched_batch_size = static_cast<std::size_t>(cfg.get_int("max_unmatched_batch_size"));
  o.force_flush_period = static_cast<std::uint64_t>(cfg.get_duration("force_flush_period").count());
  o.newest = cfg.get_string("overwrite_with") == "newest";
  o.max_sources = static_cast<std::size_t>(cfg.get_int("max_sources"));
  if (!o.combine_field.is_body()) cfg.build().body_padded = false;
  return std::make_unique<Recombine>(cfg, std::move(o));
}

}  // namespace vigil::collectors::filelog::ops
