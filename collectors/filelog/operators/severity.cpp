// Severity mapping: the Collector's presets and mapping syntax, exact keys in a sorted vector and
// numeric ranges kept as ranges (the Collector expands them into one key per number).
#include "collectors/filelog/operators/severity.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>

namespace vigil::collectors::filelog::ops {
namespace {

constexpr std::array<std::string_view, 25> kShortNames = {
    "",       "TRACE",  "TRACE2", "TRACE3", "TRACE4", "DEBUG",  "DEBUG2", "DEBUG3", "DEBUG4",
    "INFO",   "INFO2",  "INFO3",  "INFO4",  "WARN",   "WARN2",  "WARN3",  "WARN4",  "ERROR",
    "ERROR2", "ERROR3", "ERROR4", "FATAL",  "FATAL2", "FATAL3", "FATAL4"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  const char* begin = s.data();
  if (s[0] == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// "error", "Error2", "17" -> 17; "default" -> 0.
std::optional<int> severity_of_alias(std::string_view alias) {
  const std::string a = lower(alias);
  if (a == "default") return 0;
  for (std::size_t i = 1; i < kShortNames.size(); ++i) {
    if (lower(kShortNames[i]) == a) return static_cast<int>(i);
  }
  if (auto n = parse_int(a); n && *n >= 0 && *n <= 24) return static_cast<int>(*n);
  return std::nullopt;
}

}  // namespace

std::string_view SeverityMapping::short_name(int severity) {
  if (severity < 1 || severity > 24) return "DEFAULT";
  return kShortNames[static_cast<std::size_t>(severity)];
}

void SeverityMapping::add_exact(std::string key, int severity) {
  for (auto& [k, s] : exact_) {
    if (k == key) {
      s = severity;
      return;
    }
  }
  longest_ = std::max(longest_, key.size());
  exact_.emplace_back(std::move(key), severity);
}

void SeverityMapping::add_range(std::int64_t min, std::int64_t max, int severity) {
  if (min > max) std::swap(min, max);
  // A range added later wins over numeric keys added before it, as when the Collector expands it.
  exact_.erase(std::remove_if(exact_.begin(), exact_.end(),
                              [&](const auto& kv) {
                                auto n = parse_int(kv.first);
                                return n && *n >= min && *n <= max;
                              }),
               exact_.end());
  ranges_.push_back(Range{min, max, severity});
}

bool SeverityMapping::add_values(const config::Value& v, int severity,
                                 std::vector<std::pair<config::Location, std::string>>& problems) {
  if (v.is_scalar()) {
    const std::string key = lower(v.scalar);
    if (!v.quoted && key.size() == 3 && key[0] >= '2' && key[0] <= '5' && key[1] == 'x' && key[2] == 'x') {
      const std::int64_t base = (key[0] - '0') * 100;
      add_range(base, base + 99, severity);
    } else if (auto n = parse_int(v.scalar); n && !v.quoted) {
      add_exact(std::to_string(*n), severity);
    } else {
      add_exact(key, severity);
    }
    return true;
  }
  if (v.is_map()) {
    const config::Value* min = v.find("min");
    const config::Value* max = v.find("max");
    std::optional<std::int64_t> lo;
    std::optional<std::int64_t> hi;
    if (min != nullptr && min->is_scalar()) lo = parse_int(min->scalar);
    if (max != nullptr && max->is_scalar()) hi = parse_int(max->scalar);
    if (!lo || !hi || v.entries.size() != 2) {
      problems.emplace_back(v.location, "a severity range is a map with integer 'min' and 'max' only");
      return false;
    }
    if (*hi - *lo > 1'000'000 || *lo - *hi > 1'000'000) {
      problems.emplace_back(v.location, "severity range wider than 1000000");
      return false;
    }
    add_range(*lo, *hi, severity);
    return true;
  }
  if (v.is_seq()) {
    bool ok = true;
    for (const config::Value& item : v.items) {
      if (item.is_seq()) {
        problems.emplace_back(item.location, "a severity value is a string, a number or a {min, max} map");
        ok = false;
        continue;
      }
      ok &= add_values(item, severity, problems);
    }
    return ok;
  }
  problems.emplace_back(v.location, "a severity value is a string, a number, a list or a {min, max} map");
  return false;
}

bool SeverityMapping::build(const config::Value* preset, const config::Value* mapping,
                            std::vector<std::pair<config::Location, std::string>>& problems) {
  exact_.clear();
  ranges_.clear();
  longest_ = 0;
  std::string name = "default";
  if (preset != nullptr && !preset->is_null()) {
    if (!preset->is_scalar()) {
      problems.emplace_back(preset->location, "'preset' must be a string");
      return false;
    }
    name = preset->scalar;
  }
  if (name != "none") {
    if (name != "default" && name != "otel" && name != "aliases") {
      problems.emplace_back(preset->location,
                            "unknown severity preset '" + name + "' (known: default, none, otel, aliases)");
      return false;
    }
    for (int s = 1; s <= 24; ++s) {
      add_exact(lower(kShortNames[static_cast<std::size_t>(s)]), s);
      add_exact(std::to_string(s), s);
    }
    if (name == "default") {
      add_exact("warning", 13);
      add_exact("warning2", 14);
      add_exact("warning3", 15);
      add_exact("warning4", 16);
      add_exact("err", 17);
      add_exact("err2", 18);
      add_exact("err3", 19);
      add_exact("err4", 20);
    }
  }
  bool ok = true;
  if (mapping != nullptr && !mapping->is_null()) {
    if (!mapping->is_map()) {
      problems.emplace_back(mapping->location, "'mapping' must be a map of severity to values");
      return false;
    }
    for (const config::Value::Entry& e : mapping->entries) {
      const std::optional<int> sev = severity_of_alias(e.key);
      if (!sev) {
        problems.emplace_back(e.key_location, "unknown severity '" + e.key +
                                                  "' (use trace, debug, info, warn, error, fatal, optionally "
                                                  "with 2..4, or default)");
        ok = false;
        continue;
      }
      if (e.value.is_null()) continue;
      ok &= add_values(e.value, *sev, problems);
    }
  }
  std::sort(exact_.begin(), exact_.end());
  return ok;
}

int SeverityMapping::lookup(std::string_view text) const {
  if (text.size() <= longest_) {
    char buf[256];
    const std::size_t n = std::min(text.size(), sizeof(buf));
    for (std::size_t i = 0; i < n; ++i) {
      const char c = text[i];
      buf[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    }
    if (n == text.size()) {
      const std::string_view key(buf, n);
      auto it = std::lower_bound(exact_.begin(), exact_.end(), key, [](const auto& kv, std::string_view k) {
        return std::string_view(kv.first) < k;
      });
      if (it != exact_.end() && it->first == key) return it->second;
    }
  }
  if (ranges_.empty()) return 0;
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size()) return 0;
  for (auto it = ranges_.rbegin(); it != ranges_.rend(); ++it) {
    if (n >= it->min && n <= it->max) return it->severity;
  }
  return 0;
}

int SeverityMapping::lookup(std::int64_t number) const {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), number);
  (void)ec;
  return lookup(std::string_view(buf, static_cast<std::size_t>(ptr - buf)));
}

}  // namespace vigil::collectors::filelog::ops
