#include "agent/config/schema.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace vigil::config {
namespace {

// ---- scalar parsers, shared by validate() and Settings so defaults and user values agree ----

std::optional<bool> parse_bool(std::string_view s) {
  // YAML 1.2 core schema; yes/no/on/off are YAML 1.1 and strings here (as in the Collector).
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty() || s[0] == '+' || s[0] == '-') return std::nullopt;
  std::uint64_t magnitude = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (negative) {
    if (magnitude > kMax + 1) return std::nullopt;
    return magnitude == kMax + 1 ? std::numeric_limits<std::int64_t>::min()
                                 : -static_cast<std::int64_t>(magnitude);
  }
  if (magnitude > kMax) return std::nullopt;
  return static_cast<std::int64_t>(magnitude);
}

std::optional<double> parse_double(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty() || s[0] == '+') return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string format_number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<std::int64_t>(v));
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, ptr) : std::to_string(v);
}

std::string range_text(const std::optional<double>& min, const std::optional<double>& max,
                       std::string_view unit) {
  if (min && max) {
    return "[" + format_number(*min) + std::string(unit) + ", " + format_number(*max) + std::string(unit) + "]";
  }
  if (min) return "(minimum " + format_number(*min) + std::string(unit) + ")";
  return "(maximum " + format_number(*max) + std::string(unit) + ")";
}

bool out_of_range(double v, const Option& o) { return (o.min && v < *o.min) || (o.max && v > *o.max); }

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (same ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

const Option* find_option(const std::vector<Option>& options, std::string_view name) {
  for (const Option& o : options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

// ---- validation ----

class Validator {
 public:
  Validator(const std::string& component, Errors& errors) : component_(component), errors_(errors) {}

  // `node` may be null (absent or `key:` with nothing): then it is an empty map.
  void check_map(const std::vector<Option>& options, const Value* node, const Location& where,
                 const std::string& prefix) {
    if (node != nullptr && !node->is_null() && !node->is_map()) {
      error(node->location, prefix_text(prefix) + "expected a map, got a " + node->kind_name());
      return;
    }
    const bool has_entries = node != nullptr && node->is_map();
    if (has_entries) {
      for (const Value::Entry& e : node->entries) {
        const Option* o = find_option(options, e.key);
        if (o == nullptr) {
          unknown_key(options, e, prefix);
          continue;
        }
        check_option(*o, e.value, prefix + o->name);
      }
    }
    const Location& here = node != nullptr && node->location.line > 0 ? node->location : where;
    for (const Option& o : options) {
      if (!o.required) continue;
      const Value* v = has_entries ? node->find(o.name) : nullptr;
      if (v == nullptr) {
        error(here, "missing required option '" + prefix + o.name + "'");
      } else if (v->is_null() && o.type != OptionType::kObject && o.type != OptionType::kAny) {
        error(v->location, "required option '" + prefix + o.name + "' has no value");
      }
    }
  }

 private:
  static std::string prefix_text(const std::string& prefix) {
    if (prefix.empty()) return {};
    return "'" + prefix.substr(0, prefix.size() - 1) + "': ";
  }

  void unknown_key(const std::vector<Option>& options, const Value::Entry& e, const std::string& prefix) {
    std::vector<std::string> names;
    names.reserve(options.size());
    const Option* best = nullptr;
    std::size_t best_distance = std::numeric_limits<std::size_t>::max();
    for (const Option& o : options) {
      names.push_back(o.name);
      const std::size_t d = edit_distance(e.key, o.name);
      if (d < best_distance) {
        best_distance = d;
        best = &o;
      }
    }
    std::sort(names.begin(), names.end());
    // Close enough to be a typo: one edit for short names, up to three for long ones.
    const std::size_t limit = e.key.size() <= 4 ? 1 : e.key.size() <= 8 ? 2 : 3;
    std::string msg = "unknown key '" + e.key + "'";
    if (!prefix.empty()) msg += " in '" + prefix.substr(0, prefix.size() - 1) + "'";
    if (best != nullptr && best_distance <= limit) msg += ", did you mean '" + best->name + "'?";
    msg += names.empty() ? " (no keys are allowed here)" : " (known keys: " + join(names) + ")";
    error(e.key_location, std::move(msg));
  }

  void check_option(const Option& o, const Value& v, const std::string& path) {
    if (v.is_null() && o.type != OptionType::kObject) return;  // null: the default applies
    const std::string name = "'" + path + "': ";
    switch (o.type) {
      case OptionType::kAny:
        return;
      case OptionType::kObject:
        check_map(o.children, &v, v.location, path + ".");
        return;
      case OptionType::kBool: {
        if (!expect_plain_scalar(v, name, "true or false")) return;
        if (!parse_bool(v.scalar)) error(v.location, name + "expected true or false, got '" + v.scalar + "'");
        return;
      }
      case OptionType::kInt: {
        if (!expect_plain_scalar(v, name, "an integer")) return;
        const std::optional<std::int64_t> n = parse_int(v.scalar);
        if (!n) {
          error(v.location, name + "expected an integer, got '" + v.scalar + "'");
        } else if (out_of_range(static_cast<double>(*n), o)) {
          error(v.location, name + "value " + std::to_string(*n) + " is out of range " + range_text(o.min, o.max, ""));
        }
        return;
      }
      case OptionType::kDouble: {
        if (!expect_plain_scalar(v, name, "a number")) return;
        const std::optional<double> n = parse_double(v.scalar);
        if (!n) {
          error(v.location, name + "expected a number, got '" + v.scalar + "'");
        } else if (out_of_range(*n, o)) {
          error(v.location, name + "value " + v.scalar + " is out of range " + range_text(o.min, o.max, ""));
        }
        return;
      }
      case OptionType::kString: {
        if (!v.is_scalar()) {
          error(v.location, name + "expected a string, got a " + v.kind_name());
        } else if (!o.allowed.empty() &&
                   std::find(o.allowed.begin(), o.allowed.end(), v.scalar) == o.allowed.end()) {
          error(v.location, name + "'" + v.scalar + "' is not one of " + join(o.allowed));
        }
        return;
      }
      case OptionType::kDuration: {
        if (!v.is_scalar()) {
          error(v.location, name + "expected a duration such as 200ms, 5s or 1m30s, got a " + v.kind_name());
          return;
        }
        const std::optional<std::chrono::nanoseconds> d = parse_duration(v.scalar);
        if (!d) {
          error(v.location, name + "expected a duration such as 200ms, 5s or 1m30s, got '" + v.scalar + "'");
        } else if (out_of_range(std::chrono::duration<double>(*d).count(), o)) {
          error(v.location, name + "value " + v.scalar + " is out of range " + range_text(o.min, o.max, "s"));
        }
        return;
      }
      case OptionType::kStringList: {
        if (!v.is_seq()) {
          error(v.location, name + "expected a list of strings, got a " + std::string(v.kind_name()));
          return;
        }
        for (std::size_t i = 0; i < v.items.size(); ++i) {
          const Value& item = v.items[i];
          if (!item.is_scalar()) {
            error(item.location, "'" + path + "[" + std::to_string(i) + "]': expected a string, got a " +
                                     item.kind_name());
          }
        }
        return;
      }
      case OptionType::kStringMap: {
        if (!v.is_map()) {
          error(v.location, name + "expected a map of strings, got a " + std::string(v.kind_name()));
          return;
        }
        for (const Value::Entry& e : v.entries) {
          if (!e.value.is_scalar() && !e.value.is_null()) {
            error(e.value.location, "'" + path + "." + e.key + "': expected a string, got a " +
                                        e.value.kind_name());
          }
        }
        return;
      }
    }
  }

  // Bools and numbers must be plain scalars: quoting makes the text a string, as in YAML.
  bool expect_plain_scalar(const Value& v, const std::string& name, const char* what) {
    if (!v.is_scalar()) {
      error(v.location, name + "expected " + what + ", got a " + v.kind_name());
      return false;
    }
    if (v.quoted) {
      error(v.location, name + "expected " + what + ", got the quoted string \"" + v.scalar +
                            "\" (remove the quotes)");
      return false;
    }
    return true;
  }

  void error(const Location& loc, std::string message) {
    errors_.push_back(Error{loc, component_, std::move(message)});
  }

  const std::string& component_;
  Errors& errors_;
};

// Walks maps along a dotted path and returns the entry of the last segment.
const Value::Entry* find_entry(const Value* node, std::string_view path) {
  const Value::Entry* found = nullptr;
  while (node != nullptr && node->is_map()) {
    const std::size_t dot = path.find('.');
    const std::string_view key = path.substr(0, dot);
    found = nullptr;
    for (const Value::Entry& e : node->entries) {
      if (e.key == key) {
        found = &e;
        break;
      }
    }
    if (found == nullptr || dot == std::string_view::npos) return found;
    node = &found->value;
    path.remove_prefix(dot + 1);
  }
  return nullptr;
}

}  // namespace

// ---- builders ----

namespace {

Option make_option(std::string name, OptionType type, std::string def, std::string help,
                   std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt) {
  Option o;
  o.name = std::move(name);
  o.type = type;
  o.default_value = std::move(def);
  o.help = std::move(help);
  o.min = min;
  o.max = max;
  return o;
}

}  // namespace

Option opt_bool(std::string name, bool def, std::string help) {
  return make_option(std::move(name), OptionType::kBool, def ? "true" : "false", std::move(help));
}

Option opt_int(std::string name, std::int64_t def, std::string help, std::optional<double> min,
               std::optional<double> max) {
  return make_option(std::move(name), OptionType::kInt, std::to_string(def), std::move(help), min, max);
}

Option opt_double(std::string name, double def, std::string help, std::optional<double> min,
                  std::optional<double> max) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), def);  // shortest text that round-trips
  return make_option(std::move(name), OptionType::kDouble,
                     ec == std::errc() ? std::string(buf, ptr) : std::to_string(def), std::move(help), min, max);
}

Option opt_string(std::string name, std::string def, std::string help, std::vector<std::string> allowed) {
  Option o = make_option(std::move(name), OptionType::kString, std::move(def), std::move(help));
  o.allowed = std::move(allowed);
  return o;
}

Option opt_duration(std::string name, std::string def, std::string help, std::optional<double> min_seconds,
                    std::optional<double> max_seconds) {
  return make_option(std::move(name), OptionType::kDuration, std::move(def), std::move(help), min_seconds,
                     max_seconds);
}

Option opt_string_list(std::string name, std::string help) {
  return make_option(std::move(name), OptionType::kStringList, "", std::move(help));
}

Option opt_string_map(std::string name, std::string help) {
  return make_option(std::move(name), OptionType::kStringMap, "", std::move(help));
}

Option opt_object(std::string name, std::string help, std::vector<Option> children) {
  Option o = make_option(std::move(name), OptionType::kObject, "", std::move(help));
  o.children = std::move(children);
  return o;
}

Option opt_any(std::string name, std::string help) {
  return make_option(std::move(name), OptionType::kAny, "", std::move(help));
}

Option required(Option o) {
  o.required = true;
  return o;
}

// ---- durations ----

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s) {
  // Go's time.ParseDuration, minus negative values (no Vigil option takes one).
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  if (s == "0") return std::chrono::nanoseconds(0);
  constexpr std::uint64_t kLimit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t total = 0;
  while (!s.empty()) {
    // Whole part.
    std::uint64_t whole = 0;
    std::size_t i = 0;
    bool overflow = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      const std::uint64_t digit = static_cast<std::uint64_t>(s[i] - '0');
      if (whole > (kLimit - digit) / 10) overflow = true;
      else whole = whole * 10 + digit;
      ++i;
    }
    const bool had_whole = i > 0;
    // Fraction: keep up to 18 digits, which is more precision than a nanosecond needs.
    std::uint64_t frac = 0;
    std::uint64_t scale = 1;
    bool had_frac = false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (scale < 1'000'000'000'000'000'000ULL) {
          frac = frac * 10 + static_cast<std::uint64_t>(s[i] - '0');
          scale *= 10;
        }
        had_frac = true;
        ++i;
      }
    }
    if (!had_whole && !had_frac) return std::nullopt;
    if (overflow) return std::nullopt;
    // Unit: everything up to the next number.
    std::size_t j = i;
    while (j < s.size() && s[j] != '.' && !(s[j] >= '0' && s[j] <= '9')) ++j;
    const std::string_view unit = s.substr(i, j - i);
    std::uint64_t mult = 0;
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") mult = 1'000;  // µ (micro sign, mu)
    else if (unit == "ms") mult = 1'000'000;
    else if (unit == "s") mult = 1'000'000'000;
    else if (unit == "m") mult = 60'000'000'000ULL;
    else if (unit == "h") mult = 3'600'000'000'000ULL;
    else return std::nullopt;  // missing or unknown unit
    if (whole > kLimit / mult) return std::nullopt;
    std::uint64_t part = whole * mult;
    if (frac > 0) {
      __extension__ using u128 = unsigned __int128;
      const u128 f = static_cast<u128>(frac) * mult / scale;
      if (f > kLimit - part) return std::nullopt;
      part += static_cast<std::uint64_t>(f);
    }
    if (part > kLimit - total) return std::nullopt;
    total += part;
    s.remove_prefix(j);
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(total));
}

// ---- validate ----

void validate(const Schema& schema, const Value* node, const Location& fallback, const std::string& component,
              Errors& errors) {
  Validator(component, errors).check_map(schema, node, fallback, "");
}

// ---- Settings ----

const Option* Settings::option(std::string_view path) const {
  if (schema_ == nullptr || path.empty()) return nullptr;
  const std::vector<Option>* options = schema_;
  for (;;) {
    const std::size_t dot = path.find('.');
    const Option* o = find_option(*options, path.substr(0, dot));
    if (o == nullptr || dot == std::string_view::npos) return o;
    if (o->type != OptionType::kObject) return nullptr;
    options = &o->children;
    path.remove_prefix(dot + 1);
  }
}

const Value* Settings::value(std::string_view path) const {
  if (node_ == nullptr || path.empty()) return nullptr;
  return node_->find_path(path);
}

bool Settings::has(std::string_view path) const { return value(path) != nullptr; }

// Each getter: the user's scalar if present and well-formed (validate() has already reported a
// malformed one), else the schema default parsed by the same parser.
bool Settings::get_bool(std::string_view path) const {
  const Option* o = option(path);
  if (o == nullptr || o->type != OptionType::kBool) return false;
  if (const Value* v = value(path); v != nullptr && v->is_scalar()) {
    if (auto b = parse_bool(v->scalar)) return *b;
  }
  return parse_bool(o->default_value).value_or(false);
}

std::int64_t Settings::get_int(std::string_view path) const {
  const Option* o = option(path);
  if (o == nullptr || o->type != OptionType::kInt) return 0;
  if (const Value* v = value(path); v != nullptr && v->is_scalar()) {
    if (auto n = parse_int(v->scalar)) return *n;
  }
  return parse_int(o->default_value).value_or(0);
}

double Settings::get_double(std::string_view path) const {
  const Option* o = option(path);
  if (o == nullptr || (o->type != OptionType::kDouble && o->type != OptionType::kInt)) return 0;
  if (const Value* v = value(path); v != nullptr && v->is_scalar()) {
    if (auto n = parse_double(v->scalar)) return *n;
    if (auto n = parse_int(v->scalar)) return static_cast<double>(*n);
  }
  if (auto n = parse_double(o->default_value)) return *n;
  return static_cast<double>(parse_int(o->default_value).value_or(0));
}

std::string Settings::get_string(std::string_view path) const {
  const Option* o = option(path);
  if (o == nullptr || (o->type != OptionType::kString && o->type != OptionType::kAny &&
                       o->type != OptionType::kDuration)) {
    return {};
  }
  if (const Value* v = value(path); v != nullptr && v->is_scalar()) return v->scalar;
  return o->default_value;
}

std::chrono::nanoseconds Settings::get_duration(std::string_view path) const {
  const Option* o = option(path);
  if (o == nullptr || o->type != OptionType::kDuration) return std::chrono::nanoseconds(0);
  if (const Value* v = value(path); v != nullptr && v->is_scalar()) {
    if (auto d = parse_duration(v->scalar)) return *d;
  }
  return parse_duration(o->default_value).value_or(std::chrono::nanoseconds(0));
}

std::vector<std::string> Settings::get_string_list(std::string_view path) const {
  std::vector<std::string> out;
  const Option* o = option(path);
  if (o == nullptr || o->type != OptionType::kStringList) return out;
  if (const Value* v = value(path); v != nullptr && v->is_seq()) {
    for (const Value& item : v->items) {
      if (item.is_scalar()) out.push_back(item.scalar);
    }
    return out;
  }
  // A list default, if an author sets one by hand, is written comma-separated.
  std::string_view def = o->default_value;
  while (!def.empty()) {
    const std::size_t comma = def.find(',');
    out.emplace_back(def.substr(0, comma));
    if (comma == std::string_view::npos) break;
    def.remove_prefix(comma + 1);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Settings::get_string_map(std::string_view path) const {
  std::vector<std::pair<std::string, std::string>> out;
  const Option* o = option(path);
  if (o == nullptr || o->type != OptionType::kStringMap) return out;
  if (const Value* v = value(path); v != nullptr && v->is_map()) {
    for (const Value::Entry& e : v->entries) {
      if (e.value.is_scalar()) out.emplace_back(e.key, e.value.scalar);
      else if (e.value.is_null()) out.emplace_back(e.key, std::string());
    }
  }
  return out;
}

const Value* Settings::raw(std::string_view path) const { return value(path); }

Location Settings::location(std::string_view path) const {
  if (path.empty() || node_ == nullptr) return location_;
  if (const Value::Entry* e = find_entry(node_, path)) return e->key_location;
  return location_;
}

}  // namespace vigil::config
