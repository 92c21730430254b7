// Shared pieces of the operators: config reading, on_error, embedded blocks, held entries.
#include "collectors/filelog/operators/common.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace vigil::collectors::filelog::ops {
namespace {

// Held entries go into a small arena kept while it stays small (a few KiB per file with state),
// so holding costs about one heap allocation per 60 KiB held, not one per entry.
constexpr std::size_t kHoldChunk = 4 * 1024;
constexpr std::size_t kHoldKeep = 64 * 1024;

// Removes the entry at a dotted path from a map node (for validating without refused keys).
void erase_path(config::Value& node, std::string_view path) {
  config::Value* cur = &node;
  while (cur->is_map()) {
    const std::size_t dot = path.find('.');
    const std::string_view key = path.substr(0, dot);
    auto it =
        std::find_if(cur->entries.begin(), cur->entries.end(), [&](const auto& e) { return e.key == key; });
    if (it == cur->entries.end()) return;
    if (dot == std::string_view::npos) {
      cur->entries.erase(it);
      return;
    }
    cur = &it->value;
    path.remove_prefix(dot + 1);
  }
}

const config::Value::Entry* find_entry(const config::Value& node, std::string_view path) {
  const config::Value* cur = &node;
  const config::Value::Entry* found = nullptr;
  while (cur != nullptr && cur->is_map()) {
    const std::size_t dot = path.find('.');
    const std::string_view key = path.substr(0, dot);
    found = nullptr;
    for (const auto& e : cur->entries) {
      if (e.key == key) {
        found = &e;
        break;
      }
    }
    if (found == nullptr || dot == std::string_view::npos) return found;
    cur = &found->value;
    path.remove_prefix(dot + 1);
  }
  return nullptr;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <std::size_t N>
bool decode_hex(std::string_view s, std::array<std::uint8_t, N>& out) {
  if (s.size() != 2 * N) return false;
  for (std::size_t i = 0; i < N; ++i) {
    const int hi = hex_value(s[2 * i]);
    const int lo = hex_value(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

// ---- OpConfig ----

OpConfig::OpConfig(const config::Value& node, std::size_t position, std::string type, std::string id,
                   BuildContext& bc)
    : node_(node), type_(std::move(type)), id_(std::move(id)), bc_(bc) {
  where_ = "operators[" + std::to_string(position) + "] (" + type_ + (id_ != type_ ? " '" + id_ + "'" : "") +
           "): ";
}

void OpConfig::error(const config::Location& where, const std::string& message) {
  bc_.errors.push_back(config::Error{where, bc_.component, where_ + message});
  ok_ = false;
}

bool OpConfig::validate(config::Schema schema,
                        const std::vector<std::pair<std::string, std::string>>& unsupported) {
  schema.insert(schema.begin(),
                {config::opt_string("type", "", "The operator type."),
                 config::opt_string("id", "", "A unique name for the operator; default: its type."),
                 config::opt_string("on_error", "send", "What a failed entry does.",
                                    {"send", "send_quiet", "drop", "drop_quiet"})});
  std::vector<std::pair<std::string, std::string>> refused = {
      {"if",
       "'if' is not supported: Vigil has no expression language and applies every operator to every entry "
       "(recombine's is_first_entry/is_last_entry take the form <field> matches \"<re2>\")"},
      {"output", "'output' is not supported: Vigil runs the operators in the order they are listed"},
  };
  refused.insert(refused.end(), unsupported.begin(), unsupported.end());
  config::Value filtered = node_;
  for (const auto& [path, why] : refused) {
    if (const config::Value::Entry* e = find_entry(node_, path)) {
      error(e->key_location, why);
      erase_path(filtered, path);
    }
  }
  const std::size_t before = bc_.errors.size();
  config::validate(schema, &filtered, node_.location, bc_.component, bc_.errors);
  for (std::size_t i = before; i < bc_.errors.size(); ++i)
    bc_.errors[i].message = where_ + bc_.errors[i].message;
  if (bc_.errors.size() != before) ok_ = false;
  schema_ = std::move(schema);
  return ok_;
}

const config::Value* OpConfig::raw(std::string_view path) const {
  const config::Value* v = node_.find_path(path);
  return v != nullptr && !v->is_null() ? v : nullptr;
}

bool OpConfig::has(std::string_view path) const {
  return raw(path) != nullptr;
}

std::string OpConfig::get_string(std::string_view path) const {
  return config::Settings(&schema_, &node_, node_.location).get_string(path);
}
bool OpConfig::get_bool(std::string_view path) const {
  return config::Settings(&schema_, &node_, node_.location).get_bool(path);
}
std::int64_t OpConfig::get_int(std::string_view path) const {
  return config::Settings(&schema_, &node_, node_.location).get_int(path);
}
std::chrono::nanoseconds OpConfig::get_duration(std::string_view path) const {
  return config::Settings(&schema_, &node_, node_.location).get_duration(path);
}

config::Location OpConfig::location(std::string_view path) const {
  if (const config::Value::Entry* e = find_entry(node_, path)) return e->key_location;
  return node_.location;
}

std::optional<Field> OpConfig::field(std::string_view path, std::string_view def) {
  const config::Value* v = raw(path);
  std::string text;
  config::Location where = node_.location;
  if (v == nullptr) {
    if (def.empty()) return std::nullopt;
    text = std::string(def);
  } else {
    if (!v->is_scalar()) return std::nullopt;  // validate() reported it
    text = v->scalar;
    where = v->location;
  }
  std::string why;
  auto f = parse_field(text, why);
  if (!f) error(where, "'" + std::string(path) + "': " + why);
  return f;
}

std::uint64_t OpConfig::byte_size(std::string_view path, std::uint64_t def) {
  const config::Value* v = raw(path);
  if (v == nullptr) return def;
  if (!v->is_scalar()) {
    error(v->location, "'" + std::string(path) + "': expected a byte size such as 1048576 or 1MiB");
    return def;
  }
  auto n = parse_byte_size(v->scalar);
  if (!n) {
    error(v->location, "'" + std::string(path) + "': invalid byte size '" + v->scalar +
                           "' (use 1048576, 64KiB, 1MB, ...)");
    return def;
  }
  return *n;
}

OnErrorMode OpConfig::on_error() const {
  const std::string s = get_string("on_error");
  if (s == "send_quiet") return OnErrorMode::kSendQuiet;
  if (s == "drop") return OnErrorMode::kDrop;
  if (s == "drop_quiet") return OnErrorMode::kDropQuiet;
  return OnErrorMode::kSend;
}

std::optional<std::uint64_t> parse_byte_size(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
  if (i == 0) return std::nullopt;
  const std::string number(s.substr(0, i));
  if (number.find('.') != number.rfind('.') || number.front() == '.') return std::nullopt;
  const double value = std::strtod(number.c_str(), nullptr);
  std::string_view unit = s.substr(i);
  while (!unit.empty() && (unit.front() == ' ' || unit.front() == '\t')) unit.remove_prefix(1);
  std::string u;
  for (char c : unit) u += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  double mult = 0;
  if (u.empty())
    mult = 1;
  else if (u == "kb")
    mult = 1e3;
  else if (u == "kib")
    mult = 1024.0;
  else if (u == "mb")
    mult = 1e6;
  else if (u == "mib")
    mult = 1024.0 * 1024;
  else if (u == "gb")
    mult = 1e9;
  else if (u == "gib")
    mult = 1024.0 * 1024 * 1024;
  else if (u == "tb")
    mult = 1e12;
  else if (u == "tib")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else
    return std::nullopt;
  const double bytes = value * mult;
  if (!std::isfinite(bytes) || bytes >= 9.2e18) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

// ---- entries ----

std::string_view copy_padded(model::Arena& arena, std::string_view s) {
  char* p = static_cast<char*>(arena.allocate(s.size() + kInputPadding, 1));
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  std::memset(p + s.size(), 0, kInputPadding);
  return {p, s.size()};
}

void write_parsed(model::Arena& arena, Entry& entry, const Field& to, const model::KeyValue* items,
                  std::size_t n) {
  if (to.root != Field::Root::kBody && to.is_root()) {
    merge_attributes(arena, to.root == Field::Root::kResource ? entry.resource : entry.record.attributes,
                     items, n);
    return;
  }
  model::KeyValue* copy = arena.allocate_array<model::KeyValue>(n);
  for (std::size_t i = 0; i < n; ++i) copy[i] = items[i];
  set_value(arena, entry, to, model::AnyValue::kvlist(copy, static_cast<std::uint32_t>(n)));
}

Entry copy_entry(model::Arena& arena, const Entry& e) {
  Entry out;
  out.offset = e.offset;
  out.record = e.record;
  out.record.body = model::copy_value(arena, e.record.body);
  out.record.attributes = model::copy_attributes(arena, e.record.attributes);
  out.record.severity_text = arena.copy(e.record.severity_text);
  out.record.event_name = arena.copy(e.record.event_name);
  out.resource = model::copy_attributes(arena, e.resource);
  return out;
}

model::Arena& HoldArena::get() {
  if (!arena_) arena_ = std::make_unique<model::Arena>(kHoldChunk);
  return *arena_;
}

void HoldArena::recycle() {
  if (arena_ && arena_->reserved_bytes() > kHoldKeep) arena_.reset();
}

// ---- OperatorBase ----

void OperatorBase::mark(Context& ctx, Entry& entry, std::string_view what, std::string_view detail) const {
  ++ctx.stats.parse_errors;
  if (on_error_ != OnErrorMode::kSend) return;
  const std::size_t n = id_.size() + 2 + what.size() + detail.size();
  char* p = static_cast<char*>(ctx.arena.allocate(n, 1));
  std::memcpy(p, id_.data(), id_.size());
  std::memcpy(p + id_.size(), ": ", 2);
  if (!what.empty()) std::memcpy(p + id_.size() + 2, what.data(), what.size());
  if (!detail.empty()) std::memcpy(p + id_.size() + 2 + what.size(), detail.data(), detail.size());
  model::set_attribute(ctx.arena, entry.record.attributes, kParseErrorAttribute,
                       model::AnyValue::string(std::string_view(p, n)));
}

void OperatorBase::fail(Context& ctx, std::size_t index, Entry& entry, std::string_view what,
                        std::string_view detail) const {
  mark(ctx, entry, what, detail);
  if (drops_on_error()) return;
  ctx.chain.next(ctx, index + 1, entry);
}

// ---- embedded blocks ----

Failure apply_time(const TimeBlock& block, Context& ctx, Entry& entry) {
  const model::AnyValue* v = find_value(entry, block.parse_from);
  if (v == nullptr) return {"timestamp: no field ", block.parse_from.text};
  std::uint64_t t = 0;
  const char* err = nullptr;
  if (!block.layout.parse(*v, ctx.now_unix_nano, t, err)) return {"timestamp: ", err};
  entry.record.time_unix_nano = t;
  return {};
}

Failure apply_severity(const SeverityBlock& block, Context& ctx, Entry& entry) {
  const model::AnyValue* v = find_value(entry, block.parse_from);
  if (v == nullptr) return {"severity: no field ", block.parse_from.text};
  int severity = 0;
  std::string_view text;
  switch (v->type()) {
    case model::ValueType::kString:
    case model::ValueType::kBytes:
      text = v->string_value();
      severity = block.mapping.lookup(text);
      break;
    case model::ValueType::kDouble:
    case model::ValueType::kInt: {
      std::int64_t n = 0;
      if (v->type() == model::ValueType::kDouble) {
        const double d = v->double_value();
        if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > 9e18) {
          return {"severity: ", "a number must be whole to be a severity"};
        }
        n = static_cast<std::int64_t>(d);
      } else {
        n = v->int_value();
      }
      severity = block.mapping.lookup(n);
      char buf[24];
      const int len = std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(n));
      text = ctx.arena.copy(std::string_view(buf, static_cast<std::size_t>(len)));
      break;
    }
    default:
      return {"severity: ", "value cannot be a severity"};
  }
  entry.record.severity_number = severity;
  entry.record.severity_text =
      block.overwrite_text && severity != 0 ? SeverityMapping::short_name(severity) : text;
  return {};
}

Failure apply_trace(const TraceBlock& block, Entry& entry) {
  Failure failure;
  if (const model::AnyValue* v = find_value(entry, block.trace_id)) {
    model::TraceId id{};
    if (!is_text(*v) || !decode_hex(v->string_value(), id)) {
      failure = {"trace: trace_id is not 32 hex digits in ", block.trace_id.text};
    } else {
      entry.record.trace_id = id;
    }
  }
  if (const model::AnyValue* v = find_value(entry, block.span_id)) {
    model::SpanId id{};
    if (!is_text(*v) || !decode_hex(v->string_value(), id)) {
      if (!failure) failure = {"trace: span_id is not 16 hex digits in ", block.span_id.text};
    } else {
      entry.record.span_id = id;
    }
  }
  if (const model::AnyValue* v = find_value(entry, block.trace_flags)) {
    std::array<std::uint8_t, 1> flags{};
    if (!is_text(*v) || !decode_hex(v->string_value(), flags)) {
      if (!failure) failure = {"trace: trace_flags is not 2 hex digits in ", block.trace_flags.text};
    } else {
      entry.record.flags = (entry.record.flags & ~0xFFu) | flags[0];
    }
  }
  return failure;
}

Failure Embedded::apply(Context& ctx, Entry& entry) const {
  if (body) {
    if (const model::AnyValue* v = find_value(entry, *body)) entry.record.body = *v;
  }
  Failure first;
  if (time) first = apply_time(*time, ctx, entry);
  if (severity) {
    const Failure f = apply_severity(*severity, ctx, entry);
    if (!first) first = f;
  }
  if (trace) {
    const Failure f = apply_trace(*trace, entry);
    if (!first) first = f;
  }
  return first;
}

std::vector<config::Option> parser_options() {
  return {
      config::opt_string("parse_from", "body", "The field to parse."),
      config::opt_string("parse_to", "attributes", "Where the parsed fields go."),
      timestamp_option(),
      severity_option(),
      trace_option(),
      config::opt_string("body", "", "A field that becomes the body after parsing."),
  };
}

std::vector<config::Option> timestamp_options(bool parse_from_required) {
  config::Option parse_from = config::opt_string("parse_from", "", "The field holding the timestamp.");
  if (parse_from_required) parse_from = config::required(std::move(parse_from));
  return {
      std::move(parse_from),
      config::opt_string("layout_type", "strptime", "How `layout` is written.",
                         {"strptime", "gotime", "epoch"}),
      config::required(config::opt_string("layout", "", "The layout of the timestamp.")),
      config::opt_string("location", "", "Time zone of timestamps without an offset (default UTC)."),
  };
}

std::vector<config::Option> severity_options(bool parse_from_required) {
  config::Option parse_from = config::opt_string("parse_from", "", "The field holding the severity.");
  if (parse_from_required) parse_from = config::required(std::move(parse_from));
  return {
      std::move(parse_from),
      config::opt_string("preset", "default", "Values mapped before `mapping`.",
                         {"default", "none", "otel", "aliases"}),
      config::opt_any("mapping", "Severity -> value | list | {min, max} | 2xx..5xx."),
      config::opt_bool("overwrite_text", false, "Set severity_text to the severity's short name."),
  };
}

config::Option timestamp_option() {
  return config::opt_object("timestamp", "Parse the record's timestamp after parsing.",
                            timestamp_options(true));
}

config::Option severity_option() {
  return config::opt_object("severity", "Parse the record's severity after parsing.", severity_options(true));
}

config::Option trace_option() {
  auto one = [](const char* name, const char* help) {
    return config::opt_object(name, help, {config::opt_string("parse_from", "", "The field.")});
  };
  return config::opt_object("trace", "Parse trace context after parsing.",
                            {one("trace_id", "32 hex digits."), one("span_id", "16 hex digits."),
                             one("trace_flags", "2 hex digits.")});
}

std::vector<std::pair<std::string, std::string>> parser_unsupported_keys() {
  return {
      {"timestamp.time_zone_locations",
       "'time_zone_locations' is not supported: %Z abbreviations use Vigil's built-in table (see the "
       "README)"},
      {"scope_name", "'scope_name' is not supported by Vigil"},
      {"preserve_to", "'preserve_to' is not supported: parsers keep the parsed field as it was"},
  };
}

std::optional<TimeBlock> read_time_block(OpConfig& cfg, const std::string& prefix) {
  auto from = cfg.field(prefix + "parse_from", "");
  const std::string type = cfg.get_string(prefix + "layout_type");
  const std::string layout = cfg.get_string(prefix + "layout");
  const std::string location = cfg.get_string(prefix + "location");
  if (!from || layout.empty()) return std::nullopt;  // reported by validate()
  TimeBlock block{std::move(*from), {}};
  std::string why;
  if (!block.layout.compile(type, layout, location, why)) {
    const bool zone = why.rfind("location", 0) == 0 || why.find("'location'") != std::string::npos;
    cfg.error(cfg.location(prefix + (zone ? "location" : "layout")), why);
    return std::nullopt;
  }
  return block;
}

std::optional<SeverityBlock> read_severity_block(OpConfig& cfg, const std::string& prefix) {
  auto from = cfg.field(prefix + "parse_from", "");
  if (!from) return std::nullopt;
  SeverityBlock block{std::move(*from), {}, cfg.get_bool(prefix + "overwrite_text")};
  std::vector<std::pair<config::Location, std::string>> problems;
  if (!block.mapping.build(cfg.raw(prefix + "preset"), cfg.raw(prefix + "mapping"), problems)) {
    for (const auto& [where, why] : problems) cfg.error(where, why);
    return std::nullopt;
  }
  return block;
}

std::optional<TraceBlock> read_trace_block(OpConfig& cfg, const std::string& prefix) {
  auto id = cfg.field(prefix + "trace_id.parse_from", "body.trace_id");
  auto span = cfg.field(prefix + "span_id.parse_from", "body.span_id");
  auto flags = cfg.field(prefix + "trace_flags.parse_from", "body.trace_flags");
  if (!id || !span || !flags) return std::nullopt;
  return TraceBlock{std::move(*id), std::move(*span), std::move(*flags)};
}

void Embedded::configure(OpConfig& cfg, bool allow_timestamp) {
  if (allow_timestamp && cfg.has("timestamp")) time = read_time_block(cfg, "timestamp.");
  if (cfg.has("severity")) severity = read_severity_block(cfg, "severity.");
  if (cfg.raw("trace") != nullptr || cfg.node().find("trace") != nullptr)
    trace = read_trace_block(cfg, "trace.");
  if (cfg.has("body")) body = cfg.field("body", "");
}

}  // namespace vigil::collectors::filelog::ops
