// Timestamp layouts: strptime and Go layouts compiled to one token list, parsed as Go's
// time.Parse does; epoch layouts; a fast RFC 3339 parser for container runtimes.
#include "collectors/filelog/operators/timestamp.hpp"

#include <array>
#include <chrono>
#include <cmath>

namespace vigil::collectors::filelog::ops {

enum class TimeLayout::Tok : std::uint8_t {
  kLiteral,
  kSpaces,  // a run of spaces: matches one or more spaces (or the end of the value)
  kYear4,
  kYear2,
  kMonth,       // 1 or 2 digits
  kMonth2,      // 2 digits
  kMonthSpace,  // space-padded
  kMonthAbbr,
  kMonthName,
  kDay,
  kDay2,
  kDaySpace,
  kYearDay3,
  kYearDaySpace,
  kWeekdayAbbr,
  kWeekdayName,
  kHour,      // 24-hour, 1 or 2 digits
  kHour12,    // 1 or 2 digits
  kHour12_2,  // 2 digits
  kMinute,
  kMinute2,
  kSecond,
  kSecond2,
  kAmPm,
  kFracExact,  // exactly `width` digits
  kFracAny,    // any number of digits, may be absent
  kZoneAbbr,   // MST, UTC, GMT+3
  kOffset,     // numeric offset; `width` is the form, `separator` whether "Z" is accepted
};

namespace {

constexpr std::uint64_t kNanos = 1'000'000'000ULL;
constexpr std::int64_t kMaxSeconds = 18'446'744'072LL;  // keeps seconds * 1e9 + fraction in uint64

// Offset forms of kOffset tokens.
enum OffsetForm : std::uint8_t { kAnyOffset, kHHMM, kHH_MM, kHH, kHHMMSS, kHH_MM_SS };

constexpr std::array<std::string_view, 12> kMonthNames = {"January",   "February", "March",    "April",
                                                          "May",       "June",     "July",     "August",
                                                          "September", "October",  "November", "December"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                           "Thursday", "Friday", "Saturday"};

// Zone abbreviations accepted by %Z / MST, with their offsets. Ambiguous ones (IST) are left out;
// CST is US Central.
struct ZoneAbbr {
  std::string_view name;
  std::int32_t offset;
};
constexpr std::array<ZoneAbbr, 40> kZoneAbbrs = {{
    {"UTC", 0},          {"GMT", 0},          {"UCT", 0},          {"WET", 0},          {"WEST", 3600},
    {"BST", 3600},       {"CET", 3600},       {"CEST", 7200},      {"MET", 3600},       {"MEST", 7200},
    {"EET", 7200},       {"EEST", 10800},     {"MSK", 10800},      {"EST", -5 * 3600},  {"EDT", -4 * 3600},
    {"CST", -6 * 3600},  {"CDT", -5 * 3600},  {"MST", -7 * 3600},  {"MDT", -6 * 3600},  {"PST", -8 * 3600},
    {"PDT", -7 * 3600},  {"AKST", -9 * 3600}, {"AKDT", -8 * 3600}, {"HST", -10 * 3600}, {"AST", -4 * 3600},
    {"ADT", -3 * 3600},  {"NST", -12600},     {"NDT", -9000},      {"JST", 9 * 3600},   {"KST", 9 * 3600},
    {"HKT", 8 * 3600},   {"SGT", 8 * 3600},   {"AWST", 8 * 3600},  {"ACST", 34200},     {"ACDT", 37800},
    {"AEST", 10 * 3600}, {"AEDT", 11 * 3600}, {"NZST", 12 * 3600}, {"NZDT", 13 * 3600}, {"SAST", 2 * 3600},
}};

bool digit(char c) {
  return c >= '0' && c <= '9';
}
char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iprefix(std::string_view value, std::string_view name) {
  if (value.size() < name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (lower(value[i]) != lower(name[i])) return false;
  }
  return true;
}

// Go's getnum: one or two digits (two required when `fixed`).
bool getnum(std::string_view& v, bool fixed, int& out) {
  if (v.empty() || !digit(v[0])) return false;
  if (v.size() < 2 || !digit(v[1])) {
    if (fixed) return false;
    out = v[0] - '0';
    v.remove_prefix(1);
    return true;
  }
  out = (v[0] - '0') * 10 + (v[1] - '0');
  v.remove_prefix(2);
  return true;
}

bool getnum3(std::string_view& v, bool fixed, int& out) {
  int n = 0;
  int i = 0;
  while (i < 3 && i < static_cast<int>(v.size()) && digit(v[i])) n = n * 10 + (v[i++] - '0');
  if (i == 0 || (fixed && i != 3)) return false;
  out = n;
  v.remove_prefix(static_cast<std::size_t>(i));
  return true;
}

// Digits of a fraction into nanoseconds (beyond 9 digits ignored).
std::int64_t fraction(std::string_view digits) {
  std::int64_t ns = 0;
  std::size_t i = 0;
  for (; i < digits.size() && i < 9; ++i) ns = ns * 10 + (digits[i] - '0');
  for (; i < 9; ++i) ns *= 10;
  return ns;
}

std::size_t digit_run(std::string_view v, std::size_t from) {
  std::size_t i = from;
  while (i < v.size() && digit(v[i])) ++i;
  return i - from;
}

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}
int days_in(int month, std::int64_t year) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

// ±hh[mm[ss]] in one of the forms; advances v.
bool parse_offset(std::string_view& v, std::uint8_t form, bool z_ok, std::int32_t& out) {
  if (v.empty()) return false;
  if (z_ok && v[0] == 'Z') {
    v.remove_prefix(1);
    out = 0;
    return true;
  }
  if (v[0] != '+' && v[0] != '-') return false;
  const int sign = v[0] == '-' ? -1 : 1;
  std::string_view s = v.substr(1);
  auto two = [&](int& x) {
    if (s.size() < 2 || !digit(s[0]) || !digit(s[1])) return false;
    x = (s[0] - '0') * 10 + (s[1] - '0');
    s.remove_prefix(2);
    return true;
  };
  auto colon = [&]() {
    if (s.empty() || s[0] != ':') return false;
    s.remove_prefix(1);
    return true;
  };
  int hh = 0;
  int mm = 0;
  int ss = 0;
  if (!two(hh)) return false;
  switch (form) {
    case kHH:
      break;
    case kHHMM:
      if (!two(mm)) return false;
      break;
    case kHH_MM:
      if (!colon() || !two(mm)) return false;
      break;
    case kHHMMSS:
      if (!two(mm) || !two(ss)) return false;
      break;
    case kHH_MM_SS:
      if (!colon() || !two(mm) || !colon() || !two(ss)) return false;
      break;
    default: {  // strptime %z: hh, hhmm or hh:mm
      std::string_view save = s;
      if (!s.empty() && s[0] == ':') s.remove_prefix(1);
      if (!two(mm)) {
        s = save;
        mm = 0;
      }
      break;
    }
  }
  if (hh > 24 || mm > 60 || ss > 60) return false;
  out = sign * (hh * 3600 + mm * 60 + ss);
  v = s;
  return true;
}

bool parse_zone_abbr(std::string_view& v, std::int32_t& out) {
  if (v.size() >= 3 && v.substr(0, 3) == "UTC") {
    v.remove_prefix(3);
    out = 0;
    return true;
  }
  if (v.size() >= 3 && v.substr(0, 3) == "GMT") {
    // GMT, GMT+3, GMT-10 (whole hours, as Go accepts).
    v.remove_prefix(3);
    out = 0;
    if (!v.empty() && (v[0] == '+' || v[0] == '-') && v.size() > 1 && digit(v[1])) {
      const int sign = v[0] == '-' ? -1 : 1;
      std::size_t n = 1;
      int h = 0;
      while (n < v.size() && digit(v[n]) && n < 3) h = h * 10 + (v[n++] - '0');
      if (h > 14) return false;
      out = sign * h * 3600;
      v.remove_prefix(n);
    }
    return true;
  }
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
    const int sign = v[0] == '-' ? -1 : 1;
    std::size_t n = 1;
    int h = 0;
    while (n < v.size() && digit(v[n]) && n < 3) h = h * 10 + (v[n++] - '0');
    if (n == 1 || h > 14) return false;
    out = sign * h * 3600;
    v.remove_prefix(n);
    return true;
  }
  std::size_t n = 0;
  while (n < v.size() && n < 6 && v[n] >= 'A' && v[n] <= 'Z') ++n;
  if (n < 3 || n > 5) return false;
  for (const ZoneAbbr& z : kZoneAbbrs) {
    if (z.name == v.substr(0, n)) {
      out = z.offset;
      v.remove_prefix(n);
      return true;
    }
  }
  return false;
}

std::int64_t now_seconds(std::uint64_t now_unix_nano) {
  if (now_unix_nano != 0) return static_cast<std::int64_t>(now_unix_nano / kNanos);
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool to_nanos(std::int64_t seconds, std::int64_t nanos, std::uint64_t& out, const char*& error) {
  if (seconds < 0) {
    error = "timestamp before 1970";
    return false;
  }
  if (seconds > kMaxSeconds) {
    error = "timestamp out of range";
    return false;
  }
  out = static_cast<std::uint64_t>(seconds) * kNanos + static_cast<std::uint64_t>(nanos);
  return true;
}

// Unsigned decimal integer (an optional leading '+'), all of `s`.
bool parse_uint(std::string_view s, std::uint64_t& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty() || s.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!digit(c)) return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

}  // namespace

void TimeLayout::add_literal(char c) {
  if (c == ' ') {
    if (tokens_.empty() || tokens_.back().kind != Tok::kSpaces)
      tokens_.push_back(Token{Tok::kSpaces, 0, false, {}});
    return;
  }
  if (tokens_.empty() || tokens_.back().kind != Tok::kLiteral)
    tokens_.push_back(Token{Tok::kLiteral, 0, false, {}});
  tokens_.back().literal += c;
}

bool TimeLayout::compile_strptime(std::string_view layout, std::string& error) {
  auto add = [&](Tok t, std::uint8_t width = 0, bool sep = false) {
    tokens_.push_back(Token{t, width, sep, {}});
  };
  auto frac = [&](bool exact, std::uint8_t width) {
    // "%S.%L": the '.' before the fraction belongs to it, as in Go's ".000", so "," also matches.
    bool sep = false;
    if (!tokens_.empty() && tokens_.back().kind == Tok::kLiteral) {
      std::string& lit = tokens_.back().literal;
      if (lit.back() == '.' || lit.back() == ',') {
        lit.pop_back();
        if (lit.empty()) tokens_.pop_back();
        sep = true;
      }
    }
    add(exact ? Tok::kFracExact : Tok::kFracAny, width, sep);
  };
  for (std::size_t i = 0; i < layout.size(); ++i) {
    if (layout[i] != '%') {
      add_literal(layout[i]);
      continue;
    }
    if (++i == layout.size()) {
      error = "layout ends with a lone '%'";
      return false;
    }
    switch (layout[i]) {
      case 'Y':
        add(Tok::kYear4);
        break;
      case 'y':
        add(Tok::kYear2);
        break;
      case 'm':
        add(Tok::kMonth2);
        break;
      case 'o':
        add(Tok::kMonthSpace);
        break;
      case 'q':
        add(Tok::kMonth);
        break;
      case 'b':
      case 'h':
        add(Tok::kMonthAbbr);
        break;
      case 'B':
        add(Tok::kMonthName);
        break;
      case 'd':
        add(Tok::kDay2);
        break;
      case 'e':
        add(Tok::kDaySpace);
        break;
      case 'g':
        add(Tok::kDay);
        break;
      case 'a':
        add(Tok::kWeekdayAbbr);
        break;
      case 'A':
        add(Tok::kWeekdayName);
        break;
      case 'H':
        add(Tok::kHour);
        break;
      case 'I':
        add(Tok::kHour12_2);
        break;
      case 'l':
        add(Tok::kHour12);
        break;
      case 'p':
      case 'P':
        add(Tok::kAmPm);
        break;
      case 'M':
        add(Tok::kMinute2);
        break;
      case 'S':
        add(Tok::kSecond2);
        break;
      case 'L':
        frac(true, 3);
        break;
      case 'f':
        frac(false, 0);
        break;
      case 's':
        frac(false, 0);
        break;
      case 'z':
        add(Tok::kOffset, kAnyOffset, true);
        break;
      case 'Z':
        add(Tok::kZoneAbbr);
        break;
      case 'i':
        add(Tok::kOffset, kHH, false);
        break;
      case 'j':
        add(Tok::kOffset, kHH_MM, false);
        break;
      case 'k':
        add(Tok::kOffset, kHH_MM_SS, false);
        break;
      case 'D':
      case 'x':
        if (!compile_strptime("%m/%d/%y", error)) return false;
        break;
      case 'F':
        if (!compile_strptime("%Y-%m-%d", error)) return false;
        break;
      case 'T':
      case 'X':
        if (!compile_strptime("%H:%M:%S", error)) return false;
        break;
      case 'r':
        if (!compile_strptime("%I:%M:%S %p", error)) return false;
        break;
      case 'R':
        if (!compile_strptime("%H:%M", error)) return false;
        break;
      case 'c':
        if (!compile_strptime("%a %b %d %H:%M:%S %Y", error)) return false;
        break;
      case 'n':
        add_literal('\n');
        break;
      case 't':
        add_literal('\t');
        break;
      case '%':
        add_literal('%');
        break;
      default:
        error = "unsupported strptime directive '%" + std::string(1, layout[i]) + "'";
        return false;
    }
  }
  return true;
}

bool TimeLayout::compile_gotime(std::string_view l, std::string& error) {
  auto add = [&](Tok t, std::uint8_t width = 0, bool sep = false) {
    tokens_.push_back(Token{t, width, sep, {}});
  };
  auto at = [&](std::size_t i, std::string_view s) { return l.substr(i, s.size()) == s; };
  std::size_t i = 0;
  while (i < l.size()) {
    const char c = l[i];
    std::size_t n = 0;  // length of a reference element at i, 0 for a literal character
    switch (c) {
      case 'J':
        if (at(i, "January")) {
          add(Tok::kMonthName);
          n = 7;
        } else if (at(i, "Jan")) {
          add(Tok::kMonthAbbr);
          n = 3;
        }
        break;
      case 'M':
        if (at(i, "Monday")) {
          add(Tok::kWeekdayName);
          n = 6;
        } else if (at(i, "Mon")) {
          add(Tok::kWeekdayAbbr);
          n = 3;
        } else if (at(i, "MST")) {
          add(Tok::kZoneAbbr);
          n = 3;
        }
        break;
      case '0':
        if (at(i, "002")) {
          add(Tok::kYearDay3);
          n = 3;
        } else if (i + 1 < l.size() && l[i + 1] >= '1' && l[i + 1] <= '6') {
          static constexpr Tok kZero[6] = {Tok::kMonth2,  Tok::kDay2,    Tok::kHour12_2,
                                           Tok::kMinute2, Tok::kSecond2, Tok::kYear2};
          add(kZero[l[i + 1] - '1']);
          n = 2;
        }
        break;
      case '1':
        if (at(i, "15")) {
          add(Tok::kHour);
          n = 2;
        } else {
          add(Tok::kMonth);
          n = 1;
        }
        break;
      case '2':
        if (at(i, "2006")) {
          add(Tok::kYear4);
          n = 4;
        } else {
          add(Tok::kDay);
          n = 1;
        }
        break;
      case '_':
        if (at(i, "__2")) {
          add(Tok::kYearDaySpace);
          n = 3;
        } else if (at(i, "_2") && !at(i, "_2006")) {
          add(Tok::kDaySpace);
          n = 2;
        }
        break;
      case '3':
        add(Tok::kHour12);
        n = 1;
        break;
      case '4':
        add(Tok::kMinute);
        n = 1;
        break;
      case '5':
        add(Tok::kSecond);
        n = 1;
        break;
      case 'P':
        if (at(i, "PM")) {
          add(Tok::kAmPm);
          n = 2;
        }
        break;
      case 'p':
        if (at(i, "pm")) {
          add(Tok::kAmPm);
          n = 2;
        }
        break;
      case '-':
      case 'Z': {
        const bool z = c == 'Z';
        const std::string_view p = z ? "Z" : "-";
        if (at(i, std::string(p) + "070000")) {
          add(Tok::kOffset, kHHMMSS, z);
          n = 7;
        } else if (at(i, std::string(p) + "07:00:00")) {
          add(Tok::kOffset, kHH_MM_SS, z);
          n = 9;
        } else if (at(i, std::string(p) + "0700")) {
          add(Tok::kOffset, kHHMM, z);
          n = 5;
        } else if (at(i, std::string(p) + "07:00")) {
          add(Tok::kOffset, kHH_MM, z);
          n = 6;
        } else if (at(i, std::string(p) + "07")) {
          add(Tok::kOffset, kHH, z);
          n = 3;
        }
        break;
      }
      case '.':
      case ',':
        if (i + 1 < l.size() && (l[i + 1] == '0' || l[i + 1] == '9')) {
          const char d = l[i + 1];
          std::size_t j = i + 1;
          while (j < l.size() && l[j] == d) ++j;
          if (j == l.size() || !digit(l[j])) {
            if (j - i - 1 > 9) {
              error = "fractional seconds beyond 9 digits in layout";
              return false;
            }
            add(d == '0' ? Tok::kFracExact : Tok::kFracAny, static_cast<std::uint8_t>(j - i - 1), true);
            n = j - i;
          }
        }
        break;
      default:
        break;
    }
    if (n == 0) {
      add_literal(c);
      n = 1;
    }
    i += n;
  }
  return true;
}

bool TimeLayout::compile(std::string_view layout_type, std::string_view layout, std::string_view location,
                         std::string& error) {
  tokens_.clear();
  if (layout_type.empty() || layout_type == "strptime") {
    type_ = Type::kStrptime;
  } else if (layout_type == "gotime") {
    type_ = Type::kGotime;
  } else if (layout_type == "epoch") {
    type_ = Type::kEpoch;
  } else {
    error = "unsupported layout_type '" + std::string(layout_type) + "' (use strptime, gotime or epoch)";
    return false;
  }
  if (layout.empty()) {
    error = "missing layout";
    return false;
  }
  if (type_ == Type::kEpoch) {
    static constexpr std::array<std::pair<std::string_view, Epoch>, 7> kEpochs = {{{"s", Epoch::kS},
                                                                                   {"ms", Epoch::kMs},
                                                                                   {"us", Epoch::kUs},
                                                                                   {"ns", Epoch::kNs},
                                                                                   {"s.ms", Epoch::kSMs},
                                                                                   {"s.us", Epoch::kSUs},
                                                                                   {"s.ns", Epoch::kSNs}}};
    for (const auto& [name, e] : kEpochs) {
      if (name == layout) {
        epoch_ = e;
        if (!location.empty()) {
          error = "'location' has no meaning for layout_type epoch";
          return false;
        }
        return true;
      }
    }
    error = "invalid epoch layout '" + std::string(layout) + "' (use s, ms, us, ns, s.ms, s.us or s.ns)";
    return false;
  }
  const bool ok = type_ == Type::kStrptime ? compile_strptime(layout, error) : compile_gotime(layout, error);
  if (!ok) return false;
  bool has_element = false;
  for (const Token& t : tokens_) has_element |= t.kind != Tok::kLiteral && t.kind != Tok::kSpaces;
  if (!has_element) {
    error = "layout '" + std::string(layout) + "' has no date or time element";
    return false;
  }
  std::string why;
  auto zone = TimeZone::load(location, why);
  if (!zone) {
    error = "location: " + why;
    return false;
  }
  zone_ = std::move(*zone);
  return true;
}

bool TimeLayout::parse(const model::AnyValue& value, std::uint64_t now_unix_nano, std::uint64_t& out,
                       const char*& error) const {
  switch (value.type()) {
    case model::ValueType::kString:
    case model::ValueType::kBytes:
      return parse(value.string_value(), now_unix_nano, out, error);
    case model::ValueType::kInt: {
      if (type_ != Type::kEpoch) break;
      const std::int64_t v = value.int_value();
      if (v < 0) {
        error = "timestamp before 1970";
        return false;
      }
      switch (epoch_) {
        case Epoch::kMs:
          return to_nanos(v / 1000, (v % 1000) * 1'000'000, out, error);
        case Epoch::kUs:
          return to_nanos(v / 1'000'000, (v % 1'000'000) * 1000, out, error);
        case Epoch::kNs:
          out = static_cast<std::uint64_t>(v);
          return true;
        default:
          return to_nanos(v, 0, out, error);  // s, and s.* read as whole seconds
      }
    }
    case model::ValueType::kDouble: {
      if (type_ != Type::kEpoch) break;
      const double v = value.double_value();
      if (!std::isfinite(v) || v < 0) {
        error = "timestamp before 1970 or not a number";
        return false;
      }
      if (v >= 1.8e19) {
        error = "timestamp out of range";
        return false;
      }
      switch (epoch_) {
        case Epoch::kS:
          return to_nanos(static_cast<std::int64_t>(v), 0, out, error);
        case Epoch::kMs: {
          const auto ms = static_cast<std::int64_t>(v);
          return to_nanos(ms / 1000, (ms % 1000) * 1'000'000, out, error);
        }
        case Epoch::kUs: {
          const auto us = static_cast<std::int64_t>(v);
          return to_nanos(us / 1'000'000, (us % 1'000'000) * 1000, out, error);
        }
        case Epoch::kNs:
          out = static_cast<std::uint64_t>(v);
          return true;
        default: {
          // Seconds with a fraction, rounded to the layout's precision (doubles near 1.7e9 hold
          // about 0.2 µs).
          const std::int64_t unit = epoch_ == Epoch::kSMs ? 1'000'000 : epoch_ == Epoch::kSUs ? 1000 : 1;
          auto secs = static_cast<std::int64_t>(std::floor(v));
          auto sub = static_cast<std::int64_t>(
              std::llround((v - static_cast<double>(secs)) * 1e9 / static_cast<double>(unit)));
          std::int64_t nanos = sub * unit;
          if (nanos >= 1'000'000'000) {
            ++secs;
            nanos -= 1'000'000'000;
          }
          return to_nanos(secs, nanos, out, error);
        }
      }
    }
    default:
      break;
  }
  error = type_ == Type::kEpoch ? "value is not a string or number" : "value is not a string";
  return false;
}

bool TimeLayout::parse_epoch_text(std::string_view s, std::uint64_t& out, const char*& error) const {
  error = "value does not match the epoch layout";
  if (!s.empty() && s[0] == '-') {
    error = "timestamp before 1970";
    return false;
  }
  if (epoch_ == Epoch::kS || epoch_ == Epoch::kMs || epoch_ == Epoch::kUs || epoch_ == Epoch::kNs) {
    std::uint64_t v = 0;
    if (!parse_uint(s, v) || v > static_cast<std::uint64_t>(INT64_MAX)) return false;
    const auto i = static_cast<std::int64_t>(v);
    switch (epoch_) {
      case Epoch::kS:
        return to_nanos(i, 0, out, error);
      case Epoch::kMs:
        return to_nanos(i / 1000, (i % 1000) * 1'000'000, out, error);
      case Epoch::kUs:
        return to_nanos(i / 1'000'000, (i % 1'000'000) * 1000, out, error);
      default:
        out = v;
        return true;
    }
  }
  // s.ms, s.us, s.ns: seconds, optionally '.' and a decimal fraction.
  const std::size_t dot = s.find('.');
  std::uint64_t secs = 0;
  if (!parse_uint(s.substr(0, dot), secs) || secs > static_cast<std::uint64_t>(INT64_MAX)) return false;
  std::int64_t nanos = 0;
  if (dot != std::string_view::npos) {
    const std::string_view frac = s.substr(dot + 1);
    if (frac.empty() || digit_run(frac, 0) != frac.size()) return false;
    nanos = fraction(frac);
    const std::int64_t unit = epoch_ == Epoch::kSMs ? 1'000'000 : epoch_ == Epoch::kSUs ? 1000 : 1;
    nanos -= nanos % unit;
  }
  return to_nanos(static_cast<std::int64_t>(secs), nanos, out, error);
}

bool TimeLayout::parse(std::string_view v, std::uint64_t now_unix_nano, std::uint64_t& out,
                       const char*& error) const {
  if (type_ == Type::kEpoch) return parse_epoch_text(v, out, error);

  std::int64_t year = 0;
  bool year_set = false;
  int month = -1;
  int day = -1;
  int yday = -1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  std::int64_t nanos = 0;
  bool pm = false;
  bool am = false;
  bool offset_set = false;
  std::int32_t offset = 0;

  error = "value does not match the layout";
  for (std::size_t t = 0; t < tokens_.size(); ++t) {
    const Token& tok = tokens_[t];
    int n = 0;
    switch (tok.kind) {
      case Tok::kLiteral: {
        // Mostly one separator character: compared inline rather than through memcmp.
        const std::size_t n = tok.literal.size();
        if (v.size() < n) return false;
        for (std::size_t k = 0; k < n; ++k) {
          if (v[k] != tok.literal[k]) return false;
        }
        v.remove_prefix(n);
        break;
      }
      case Tok::kSpaces:
        if (!v.empty() && v[0] != ' ') return false;
        while (!v.empty() && v[0] == ' ') v.remove_prefix(1);
        break;
      case Tok::kYear4:
        if (v.size() < 4 || digit_run(v, 0) < 4) return false;
        year = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
        year_set = true;
        v.remove_prefix(4);
        break;
      case Tok::kYear2:
        if (v.size() < 2 || digit_run(v, 0) < 2) return false;
        n = (v[0] - '0') * 10 + (v[1] - '0');
        year = n >= 69 ? 1900 + n : 2000 + n;
        year_set = true;
        v.remove_prefix(2);
        break;
      case Tok::kMonthSpace:
        if (!v.empty() && v[0] == ' ') v.remove_prefix(1);
        [[fallthrough]];
      case Tok::kMonth:
      case Tok::kMonth2:
        if (!getnum(v, tok.kind == Tok::kMonth2, month)) return false;
        if (month < 1 || month > 12) {
          error = "month out of range";
          return false;
        }
        break;
      case Tok::kMonthAbbr:
      case Tok::kMonthName: {
        bool found = false;
        for (int m = 0; m < 12 && !found; ++m) {
          const std::string_view name = tok.kind == Tok::kMonthAbbr
                                            ? kMonthNames[static_cast<std::size_t>(m)].substr(0, 3)
                                            : kMonthNames[static_cast<std::size_t>(m)];
          if (iprefix(v, name)) {
            month = m + 1;
            v.remove_prefix(name.size());
            found = true;
          }
        }
        if (!found) return false;
        break;
      }
      case Tok::kDaySpace:
        if (!v.empty() && v[0] == ' ') v.remove_prefix(1);
        [[fallthrough]];
      case Tok::kDay:
      case Tok::kDay2:
        if (!getnum(v, tok.kind == Tok::kDay2, day)) return false;
        break;
      case Tok::kYearDaySpace:
        for (int k = 0; k < 2 && !v.empty() && v[0] == ' '; ++k) v.remove_prefix(1);
        [[fallthrough]];
      case Tok::kYearDay3:
        if (!getnum3(v, tok.kind == Tok::kYearDay3, yday)) return false;
        if (yday < 1 || yday > 366) {
          error = "day of year out of range";
          return false;
        }
        break;
      case Tok::kWeekdayAbbr:
      case Tok::kWeekdayName: {
        bool found = false;
        for (std::string_view name : kWeekdayNames) {
          if (tok.kind == Tok::kWeekdayAbbr) name = name.substr(0, 3);
          if (iprefix(v, name)) {
            v.remove_prefix(name.size());
            found = true;
            break;
          }
        }
        if (!found) return false;
        break;
      }
      case Tok::kHour:
        if (!getnum(v, false, hour)) return false;
        if (hour > 23) {
          error = "hour out of range";
          return false;
        }
        break;
      case Tok::kHour12:
      case Tok::kHour12_2:
        if (!getnum(v, tok.kind == Tok::kHour12_2, hour)) return false;
        if (hour > 12) {
          error = "hour out of range";
          return false;
        }
        break;
      case Tok::kMinute:
      case Tok::kMinute2:
        if (!getnum(v, tok.kind == Tok::kMinute2, minute)) return false;
        if (minute > 59) {
          error = "minute out of range";
          return false;
        }
        break;
      case Tok::kSecond:
      case Tok::kSecond2: {
        if (!getnum(v, tok.kind == Tok::kSecond2, second)) return false;
        if (second > 59) {
          error = "second out of range";
          return false;
        }
        // As Go: a fraction right after the seconds is accepted even if the layout has none.
        const bool frac_next = t + 1 < tokens_.size() && (tokens_[t + 1].kind == Tok::kFracExact ||
                                                          tokens_[t + 1].kind == Tok::kFracAny);
        if (!frac_next && v.size() >= 2 && (v[0] == '.' || v[0] == ',') && digit(v[1])) {
          const std::size_t d = digit_run(v, 1);
          nanos = fraction(v.substr(1, d));
          v.remove_prefix(1 + d);
        }
        break;
      }
      case Tok::kAmPm:
        if (v.size() < 2) return false;
        if (iprefix(v, "PM")) {
          pm = true;
        } else if (iprefix(v, "AM")) {
          am = true;
        } else {
          return false;
        }
        v.remove_prefix(2);
        break;
      case Tok::kFracExact: {
        std::size_t skip = 0;
        if (tok.separator) {
          if (v.empty() || (v[0] != '.' && v[0] != ',')) return false;
          skip = 1;
        }
        if (digit_run(v, skip) < tok.width) return false;
        nanos = fraction(v.substr(skip, tok.width));
        v.remove_prefix(skip + tok.width);
        break;
      }
      case Tok::kFracAny: {
        if (tok.separator) {
          if (v.size() < 2 || (v[0] != '.' && v[0] != ',') || !digit(v[1])) break;  // omitted
          const std::size_t d = digit_run(v, 1);
          nanos = fraction(v.substr(1, d));
          v.remove_prefix(1 + d);
        } else {
          const std::size_t d = digit_run(v, 0);
          nanos = fraction(v.substr(0, d));
          v.remove_prefix(d);
        }
        break;
      }
      case Tok::kZoneAbbr:
        if (!parse_zone_abbr(v, offset)) {
          error = "unknown time zone abbreviation";
          return false;
        }
        offset_set = true;
        break;
      case Tok::kOffset:
        if (!parse_offset(v, tok.width, tok.separator, offset)) return false;
        offset_set = true;
        break;
    }
  }
  if (!v.empty()) {
    error = "extra text after the timestamp";
    return false;
  }
  if (pm && hour < 12) hour += 12;
  if (am && hour == 12) hour = 0;

  auto local_seconds = [&](std::int64_t y, int& m, int& d, const char*& err) -> std::optional<std::int64_t> {
    if (yday >= 0) {
      if (yday > (is_leap(y) ? 366 : 365)) {
        err = "day of year out of range";
        return std::nullopt;
      }
      int rest = yday;
      int mm = 1;
      while (rest > days_in(mm, y)) rest -= days_in(mm++, y);
      if ((m >= 0 && m != mm) || (d >= 0 && d != rest)) {
        err = "day of year does not match the date";
        return std::nullopt;
      }
      m = mm;
      d = rest;
    }
    if (m < 0) m = 1;
    if (d < 0) d = 1;
    // Without a year the date is checked against a leap year, as Go checks year 0.
    if (d < 1 || d > days_in(m, year_set ? y : 2000)) {
      err = "day out of range";
      return std::nullopt;
    }
    return days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)) * 86400 + hour * 3600 +
           minute * 60 + second;
  };
  auto instant = [&](std::int64_t local) {
    return local - (offset_set ? offset : zone_.offset_for_local(local));
  };

  std::int64_t utc = 0;
  if (year_set) {
    auto local = local_seconds(year, month, day, error);
    if (!local) return false;
    utc = instant(*local);
  } else {
    // As the Collector: this year, or last year when that would be more than 7 days ahead.
    const std::int64_t now = now_seconds(now_unix_nano);
    std::int64_t y = 0;
    unsigned mo = 0;
    unsigned da = 0;
    civil_from_days(now / 86400, y, mo, da);
    int m = month;
    int d = day;
    auto local = local_seconds(y, m, d, error);
    if (!local) return false;
    utc = instant(*local);
    if (utc > now + 7 * 86400) {
      m = month;
      d = day;
      local = local_seconds(y - 1, m, d, error);
      if (!local) return false;
      utc = instant(*local);
    }
  }
  return to_nanos(utc, nanos, out, error);
}

bool parse_rfc3339(std::string_view s, std::uint64_t& out) {
  // YYYY-MM-DDTHH:MM:SS[.f+](Z|±hh:mm)
  if (s.size() < 20) return false;
  auto num = [&](std::size_t at, std::size_t len, int& x) {
    x = 0;
    for (std::size_t i = at; i < at + len; ++i) {
      if (!digit(s[i])) return false;
      x = x * 10 + (s[i] - '0');
    }
    return true;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!num(0, 4, y) || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' || !num(8, 2, d) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !num(11, 2, h) || s[13] != ':' || !num(14, 2, mi) ||
      s[16] != ':' || !num(17, 2, se)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > days_in(mo, y) || h > 23 || mi > 59 || se > 60) return false;
  std::size_t i = 19;
  std::int64_t nanos = 0;
  if (s[i] == '.' || s[i] == ',') {
    const std::size_t n = digit_run(s, i + 1);
    if (n == 0) return false;
    nanos = fraction(s.substr(i + 1, n));
    i += 1 + n;
  }
  std::int32_t offset = 0;
  std::string_view rest = s.substr(i);
  if (rest == "Z" || rest == "z") {
    offset = 0;
  } else if (!parse_offset(rest, kHH_MM, false, offset) || !rest.empty()) {
    return false;
  }
  const std::int64_t secs = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
                            h * 3600 + mi * 60 + (se == 60 ? 59 : se) - offset;
  const char* error = nullptr;
  return to_nanos(secs, nanos, out, error);
}

}  // namespace vigil::collectors::filelog::ops
