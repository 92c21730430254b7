// json_parser, regex_parser, and the simple parsers time_parser, severity_parser, trace_parser.
#include <re2/re2.h>

#include <algorithm>
#include <map>
#include <memory>

#include "collectors/filelog/operators/internal.hpp"
#include "collectors/filelog/operators/json_reader.hpp"

namespace vigil::collectors::filelog::ops {
namespace {

// ---- json_parser ----

class JsonParser final : public OperatorBase {
 public:
  JsonParser(const OpConfig& cfg, Field from, Field to, Embedded embedded, bool in_place, bool parse_ints)
      : OperatorBase(cfg),
        from_(std::move(from)),
        to_(std::move(to)),
        embedded_(std::move(embedded)),
        in_place_(in_place),
        reader_(JsonReader::Options{parse_ints, false}) {}

  void process(Context& ctx, std::size_t index, Entry& entry) const override {
    const model::AnyValue* v = find_value(entry, from_);
    if (v == nullptr) return fail(ctx, index, entry, "no field ", from_.text);
    if (!is_text(*v)) return fail(ctx, index, entry, "value is not a string");
    const char* error = nullptr;
    if (!reader_.parse_object(ctx.arena, v->string_value(), in_place_, error)) {
      return fail(ctx, index, entry, error);
    }
    write_parsed(ctx.arena, entry, to_, reader_.members(), reader_.size());
    if (const Failure f = embedded_.apply(ctx, entry)) return fail(ctx, index, entry, f.what, f.detail);
    ctx.chain.next(ctx, index + 1, entry);
  }

 private:
  Field from_;
  Field to_;
  Embedded embedded_;
  bool in_place_;  // the input is the padded raw line: parse it where it is
  mutable JsonReader reader_;
};

// ---- regex_parser ----

class RegexParser final : public OperatorBase {
 public:
  RegexParser(const OpConfig& cfg, Field from, Field to, Embedded embedded, std::unique_ptr<RE2> re)
      : OperatorBase(cfg),
        from_(std::move(from)),
        to_(std::move(to)),
        embedded_(std::move(embedded)),
        re_(std::move(re)),
        groups_(re_->NamedCapturingGroups().begin(), re_->NamedCapturingGroups().end()),
        match_(static_cast<std::size_t>(re_->NumberOfCapturingGroups()) + 1) {
    std::sort(groups_.begin(), groups_.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
  }

  void process(Context& ctx, std::size_t index, Entry& entry) const override {
    const model::AnyValue* v = find_value(entry, from_);
    if (v == nullptr) return fail(ctx, index, entry, "no field ", from_.text);
    if (!is_text(*v)) return fail(ctx, index, entry, "value is not a string");
    const std::string_view text = v->string_value();
    if (!re_->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::UNANCHORED,
                    match_.data(), static_cast<int>(match_.size()))) {
      return fail(ctx, index, entry, "regex pattern does not match");
    }
    // Keys are the operator's strings: copied, since the batch may outlive the operator (a reload).
    model::KeyValue* kvs = ctx.arena.allocate_array<model::KeyValue>(groups_.size());
    for (std::size_t i = 0; i < groups_.size(); ++i) {
      const re2::StringPiece& m = match_[static_cast<std::size_t>(groups_[i].second)];
      kvs[i] = model::KeyValue{
          ctx.arena.copy(groups_[i].first),
          model::AnyValue::string(m.data() == nullptr ? std::string_view()
                                                      : std::string_view(m.data(), m.size()))};
    }
    write_parsed(ctx.arena, entry, to_, kvs, groups_.size());
    if (const Failure f = embedded_.apply(ctx, entry)) return fail(ctx, index, entry, f.what, f.detail);
    ctx.chain.next(ctx, index + 1, entry);
  }

 private:
  Field from_;
  Field to_;
  Embedded embedded_;
  std::unique_ptr<RE2> re_;
  std::vector<std::pair<std::string, int>> groups_;  // named groups, by group number
  mutable std::vector<re2::StringPiece> match_;
};

// ---- time_parser, severity_parser, trace_parser ----

class TimeParser final : public OperatorBase {
 public:
  TimeParser(const OpConfig& cfg, TimeBlock block) : OperatorBase(cfg), block_(std::move(block)) {}
  void process(Context& ctx, std::size_t index, Entry& entry) const override {
    if (const Failure f = apply_time(block_, ctx, entry)) return fail(ctx, index, entry, f.what, f.detail);
    ctx.chain.next(ctx, index + 1, entry);
  }

 private:
  TimeBlock block_;
};

class SeverityParser final : public OperatorBase {
 public:
  SeverityParser(const OpConfig& cfg, SeverityBlock block) : OperatorBase(cfg), block_(std::move(block)) {}
  void process(Context& ctx, std::size_t index, Entry& entry) const override {
    if (const Failure f = apply_severity(block_, ctx, entry))
      return fail(ctx, index, entry, f.what, f.detail);
    ctx.chain.next(ctx, index + 1, entry);
  }

 private:
  SeverityBlock block_;
};

class TraceParser final : public OperatorBase {
 public:
  TraceParser(const OpConfig& cfg, TraceBlock block) : OperatorBase(cfg), block_(std::move(block)) {}
  void process(Context& ctx, std::size_t index, Entry& entry) const override {
    if (const Failure f = apply_trace(block_, entry)) return fail(ctx, index, entry, f.what, f.detail);
    ctx.chain.next(ctx, index + 1, entry);
  }

 private:
  TraceBlock block_;
};

// Reads parse_from, parse_to and the embedded blocks; updates the padding knowledge.
bool read_parser(OpConfig& cfg, std::optional<Field>& from, std::optional<Field>& to, Embedded& embedded) {
  from = cfg.field("parse_from", "body");
  to = cfg.field("parse_to", "attributes");
  embedded.configure(cfg);
  return cfg.ok() && from && to;
}

}  // namespace

std::unique_ptr<Operator> build_json_parser(OpConfig& cfg) {
  config::Schema schema = parser_options();
  schema.push_back(
      config::opt_bool("parse_ints", true,
                       "Integers become ints (false: every number is a double, the Collector's default)."));
  cfg.validate(std::move(schema), parser_unsupported_keys());
  std::optional<Field> from;
  std::optional<Field> to;
  Embedded embedded;
  if (!read_parser(cfg, from, to, embedded)) return nullptr;
  const bool in_place = cfg.build().body_padded && from->is_body();
  if (to->touches_body() || embedded.writes_body()) cfg.build().body_padded = false;
  return std::make_unique<JsonParser>(cfg, std::move(*from), std::move(*to), std::move(embedded), in_place,
                                      cfg.get_bool("parse_ints"));
}

std::unique_ptr<Operator> build_regex_parser(OpConfig& cfg) {
  config::Schema schema = parser_options();
  schema.push_back(config::required(config::opt_string("regex", "", "An RE2 pattern with named groups.")));
  auto unsupported = parser_unsupported_keys();
  unsupported.emplace_back("cache",
                           "'cache' is not supported: RE2 matching needs no result cache (remove it)");
  cfg.validate(std::move(schema), unsupported);
  std::optional<Field> from;
  std::optional<Field> to;
  Embedded embedded;
  const bool parsed = read_parser(cfg, from, to, embedded);
  std::unique_ptr<RE2> re;
  if (const config::Value* pattern = cfg.raw("regex"); pattern != nullptr && pattern->is_scalar()) {
    RE2::Options options;
    options.set_log_errors(false);
    re = std::make_unique<RE2>(pattern->scalar, options);
    if (!re->ok()) {
      cfg.error(pattern->location, "invalid regex: " + re->error());
      return nullptr;
    }
    if (re->NamedCapturingGroups().empty()) {
      cfg.error(pattern->location, "the regex has no named capture group (?P<name>...)");
      return nullptr;
    }
  }
  if (!parsed || !re) return nullptr;
  if (to->touches_body() || embedded.writes_body()) cfg.build().body_padded = false;
  return std::make_unique<RegexParser>(cfg, std::move(*from), std::move(*to), std::move(embedded),
                                       std::move(re));
}

std::unique_ptr<Operator> build_time_parser(OpConfig& cfg) {
  cfg.validate(
      timestamp_options(true),
      {{"time_zone_locations",
        "'time_zone_locations' is not supported: %Z abbreviations use Vigil's built-in table (see the "
        "README)"}});
  auto block = read_time_block(cfg, "");
  if (!cfg.ok() || !block) return nullptr;
  return std::make_unique<TimeParser>(cfg, std::move(*block));
}

std::unique_ptr<Operator> build_severity_parser(OpConfig& cfg) {
  cfg.validate(severity_options(true),
               {{"preserve_to", "'preserve_to' is not supported: the parsed field is kept as it was"}});
  auto block = read_severity_block(cfg, "");
  if (!cfg.ok() || !block) return nullptr;
  return std::make_unique<SeverityParser>(cfg, std::move(*block));
}

std::unique_ptr<Operator> build_trace_parser(OpConfig& cfg) {
  config::Schema schema = trace_option().children;
  cfg.validate(std::move(schema));
  auto block = read_trace_block(cfg, "");
  if (!cfg.ok() || !block) return nullptr;
  return std::make_unique<TraceParser>(cfg, std::move(*block));
}

}  // namespace vigil::collectors::filelog::ops
