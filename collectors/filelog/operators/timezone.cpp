// Time zones: fixed offsets, TZif files (RFC 8536) and their POSIX TZ footer rules.
#include "collectors/filelog/operators/timezone.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>

namespace vigil::collectors::filelog::ops {
namespace {

constexpr std::int64_t kMinTime = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMaxTime = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kMaxZoneFileBytes = 1 << 20;
constexpr std::uint32_t kMaxTransitions = 100'000;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// [+-]hh[[:]mm[[:]ss]] into seconds (sign as written). Advances `s`.
bool parse_hms(std::string_view& s, std::int32_t& out, int max_hours) {
  int sign = 1;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  int parts[3] = {0, 0, 0};
  for (int p = 0; p < 3; ++p) {
    if (p > 0) {
      if (s.empty() || s[0] != ':') break;
      s.remove_prefix(1);
    }
    if (s.empty() || !is_digit(s[0])) return false;
    int v = 0;
    int digits = 0;
    while (!s.empty() && is_digit(s[0]) && digits < 3) {
      v = v * 10 + (s[0] - '0');
      s.remove_prefix(1);
      ++digits;
    }
    parts[p] = v;
  }
  if (parts[0] > max_hours || parts[1] > 59 || parts[2] > 59) return false;
  out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return true;
}

// "+05:30", "-0800", "+05": seconds east of UTC.
std::optional<std::int32_t> parse_fixed_offset(std::string_view s) {
  if (s.size() < 2 || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  const int sign = s[0] == '-' ? -1 : 1;
  s.remove_prefix(1);
  std::string digits;
  for (char c : s) {
    if (c == ':') continue;
    if (!is_digit(c)) return std::nullopt;
    digits += c;
  }
  if (s.find(':') != std::string_view::npos && (s.size() != 5 || s[2] != ':')) return std::nullopt;
  int h = 0;
  int m = 0;
  if (digits.size() == 1 || digits.size() == 2) {
    h = std::atoi(digits.c_str());
  } else if (digits.size() == 4) {
    h = std::atoi(digits.substr(0, 2).c_str());
    m = std::atoi(digits.substr(2).c_str());
  } else {
    return std::nullopt;
  }
  if (h > 23 || m > 59) return std::nullopt;
  return sign * (h * 3600 + m * 60);
}

bool is_utc_name(std::string_view n) {
  static constexpr std::array<std::string_view, 14> kNames = {
      "UTC",           "Etc/UTC", "GMT",      "Etc/GMT", "UCT",       "Etc/UCT",   "Universal",
      "Etc/Universal", "Zulu",    "Etc/Zulu", "Z",       "Etc/GMT+0", "Etc/GMT-0", "Etc/GMT0"};
  return std::find(kNames.begin(), kNames.end(), n) != kNames.end();
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad() && out.size() <= kMaxZoneFileBytes;
}

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(std::int64_t y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

struct ByteReader {
  std::string_view data;
  std::size_t pos = 0;
  bool ok = true;

  bool need(std::size_t n) {
    if (!ok || data.size() - pos < n) ok = false;
    return ok;
  }
  std::uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<std::uint8_t>(data[pos++]);
  }
  std::uint32_t be32() {
    if (!need(4)) return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(data[pos++]);
    return v;
  }
  std::uint64_t be64() {
    if (!need(8)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(data[pos++]);
    return v;
  }
  void skip(std::uint64_t n) {
    if (!ok || data.size() - pos < n) {
      ok = false;
      return;
    }
    pos += static_cast<std::size_t>(n);
  }
};

}  // namespace

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& year, unsigned& month, unsigned& day) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
}

TimeZone TimeZone::fixed(std::int32_t offset_seconds) {
  TimeZone z;
  z.fixed_ = offset_seconds;
  return z;
}

bool TimeZone::parse_rule(std::string_view s, RuleData& out) {
  auto name = [&]() {
    if (!s.empty() && s[0] == '<') {
      const std::size_t close = s.find('>');
      if (close == std::string_view::npos) return false;
      s.remove_prefix(close + 1);
      return true;
    }
    std::size_t n = 0;
    while (n < s.size() && ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z'))) ++n;
    if (n < 3) return false;
    s.remove_prefix(n);
    return true;
  };
  auto date = [&](char& kind, int& m, int& w, int& d, std::int32_t& time) {
    auto number = [&](int& v) {
      if (s.empty() || !is_digit(s[0])) return false;
      v = 0;
      while (!s.empty() && is_digit(s[0]) && v < 1000) {
        v = v * 10 + (s[0] - '0');
        s.remove_prefix(1);
      }
      return true;
    };
    if (!s.empty() && s[0] == 'M') {
      s.remove_prefix(1);
      kind = 'M';
      if (!number(m) || s.empty() || s[0] != '.') return false;
      s.remove_prefix(1);
      if (!number(w) || s.empty() || s[0] != '.') return false;
      s.remove_prefix(1);
      if (!number(d)) return false;
      if (m < 1 || m > 12 || w < 1 || w > 5 || d > 6) return false;
    } else if (!s.empty() && s[0] == 'J') {
      s.remove_prefix(1);
      kind = 'J';
      if (!number(d) || d < 1 || d > 365) return false;
    } else {
      kind = 'N';
      if (!number(d) || d > 365) return false;
    }
    time = 7200;
    if (!s.empty() && s[0] == '/') {
      s.remove_prefix(1);
      if (!parse_hms(s, time, 167)) return false;
    }
    return true;
  };

  if (!name()) return false;
  std::int32_t posix = 0;
  if (!parse_hms(s, posix, 24)) return false;
  out.std_offset = -posix;
  if (s.empty()) return true;
  if (!name()) return false;
  out.has_dst = true;
  out.dst_offset = out.std_offset + 3600;
  if (!s.empty() && s[0] != ',') {
    if (!parse_hms(s, posix, 24)) return false;
    out.dst_offset = -posix;
  }
  if (s.empty()) {
    // No dates: the US rules, as Go and glibc assume.
    s = ",M3.2.0,M11.1.0";
  }
  if (s[0] != ',') return false;
  s.remove_prefix(1);
  if (!date(out.start_kind, out.start_m, out.start_w, out.start_d, out.start_time)) return false;
  if (s.empty() || s[0] != ',') return false;
  s.remove_prefix(1);
  if (!date(out.end_kind, out.end_m, out.end_w, out.end_d, out.end_time)) return false;
  return s.empty();
}

std::optional<TimeZone> TimeZone::from_tzif(std::string_view data, std::string& error) {
  ByteReader r{data};
  if (data.size() < 44 || data.substr(0, 4) != "TZif") {
    error = "not a TZif file";
    return std::nullopt;
  }
  r.skip(4);
  const char version = static_cast<char>(r.u8());
  r.skip(15);
  std::uint32_t counts[6];
  for (std::uint32_t& c : counts) c = r.be32();
  bool wide = false;
  if (version >= '2') {
    // Skip the 32-bit block; the 64-bit one follows with its own header.
    const std::uint64_t v1 = std::uint64_t{counts[3]} * 5 + std::uint64_t{counts[4]} * 6 + counts[5] +
                             std::uint64_t{counts[2]} * 8 + counts[1] + counts[0];
    r.skip(v1);
    if (!r.need(44) || data.substr(r.pos, 4) != "TZif") {
      error = "truncated TZif file";
      return std::nullopt;
    }
    r.skip(20);
    for (std::uint32_t& c : counts) c = r.be32();
    wide = true;
  }
  const std::uint32_t isutcnt = counts[0], isstdcnt = counts[1], leapcnt = counts[2], timecnt = counts[3],
                      typecnt = counts[4], charcnt = counts[5];
  if (typecnt == 0 || typecnt > 256 || timecnt > kMaxTransitions) {
    error = "unsupported TZif counts";
    return std::nullopt;
  }
  TimeZone z;
  std::vector<std::int64_t> times(timecnt);
  for (auto& t : times) t = wide ? static_cast<std::int64_t>(r.be64()) : static_cast<std::int32_t>(r.be32());
  std::vector<std::uint8_t> idx(timecnt);
  for (auto& i : idx) i = r.u8();
  std::vector<std::int32_t> utoff(typecnt);
  for (auto& o : utoff) {
    o = static_cast<std::int32_t>(r.be32());
    r.skip(2);  // isdst, abbreviation index
  }
  r.skip(std::uint64_t{charcnt} + std::uint64_t{leapcnt} * (wide ? 12 : 8) + isstdcnt + isutcnt);
  if (!r.ok) {
    error = "truncated TZif file";
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < timecnt; ++i) {
    if (idx[i] >= typecnt || (i > 0 && times[i] <= times[i - 1])) {
      error = "corrupt TZif transitions";
      return std::nullopt;
    }
  }
  z.transitions_ = std::move(times);
  z.offsets_.reserve(timecnt);
  for (std::uint32_t i = 0; i < timecnt; ++i) z.offsets_.push_back(utoff[idx[i]]);
  z.first_offset_ = utoff[0];
  z.fixed_ = timecnt == 0 ? utoff[0] : utoff[idx[timecnt - 1]];
  if (wide && r.pos < data.size() && data[r.pos] == '\n') {
    const std::size_t end = data.find('\n', r.pos + 1);
    if (end != std::string_view::npos && end > r.pos + 1) {
      RuleData rule;
      if (parse_rule(data.substr(r.pos + 1, end - r.pos - 1), rule)) {
        if (rule.has_dst) {
          z.rule_ = rule;
        } else if (timecnt == 0) {
          z.fixed_ = rule.std_offset;
        }
      }
    }
  }
  return z;
}

std::optional<TimeZone> TimeZone::load(std::string_view name, std::string& error) {
  if (name.empty() || is_utc_name(name)) return TimeZone();
  if (auto off = parse_fixed_offset(name)) return fixed(*off);
  if (name.substr(0, 7) == "Etc/GMT" && name.size() > 7) {
    // POSIX sign: Etc/GMT+5 is five hours west of UTC.
    std::string_view rest = name.substr(7);
    std::int32_t posix = 0;
    if (parse_hms(rest, posix, 14) && rest.empty() && (name[7] == '+' || name[7] == '-'))
      return fixed(-posix);
  }
  std::string path;
  if (name == "Local") {
    const char* tz = std::getenv("TZ");
    if (tz != nullptr && *tz != '\0') {
      std::string_view t(tz);
      if (t[0] == ':') t.remove_prefix(1);
      if (!t.empty() && t[0] != '/' && t != "Local") return load(t, error);
      path = std::string(t);
    } else {
      path = "/etc/localtime";
    }
  } else {
    for (char c : name) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' ||
                      c == '-' || c == '+' || c == '/';
      if (!ok) {
        error = "invalid time zone name '" + std::string(name) + "'";
        return std::nullopt;
      }
    }
    if (name[0] == '/' || name.find("..") != std::string_view::npos) {
      error = "invalid time zone name '" + std::string(name) + "'";
      return std::nullopt;
    }
    const char* dir = std::getenv("ZONEINFO");
    path =
        std::string(dir != nullptr && *dir != '\0' ? dir : "/usr/share/zoneinfo") + "/" + std::string(name);
  }
  std::string data;
  if (!read_file(path, data)) {
    error = "unknown time zone '" + std::string(name) + "' (no readable " + path +
            "; use UTC, a fixed offset such as +02:00, or install the tz database)";
    return std::nullopt;
  }
  std::string why;
  auto z = from_tzif(data, why);
  if (!z) error = "time zone '" + std::string(name) + "': " + path + ": " + why;
  return z;
}

TimeZone::Period TimeZone::lookup_rule(std::int64_t t) const {
  const RuleData& r = *rule_;
  if (!r.has_dst) return {r.std_offset, kMinTime, kMaxTime};
  std::int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  civil_from_days(floor_div(t, 86400), year, month, day);
  auto switch_day = [&](std::int64_t y, char kind, int m, int w, int d) -> std::int64_t {
    const std::int64_t jan1 = days_from_civil(y, 1, 1);
    if (kind == 'J') return jan1 + d - 1 + (is_leap(y) && d >= 60 ? 1 : 0);
    if (kind == 'N') return jan1 + d;
    const std::int64_t first = days_from_civil(y, static_cast<unsigned>(m), 1);
    const int wd = static_cast<int>(((first + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
    std::int64_t dd = first + (d - wd + 7) % 7 + std::int64_t{w - 1} * 7;
    while (dd - first >= days_in_month(y, m)) dd -= 7;
    return dd;
  };
  // Switches of the year before, this year and the next, in order: (instant, offset after it).
  std::array<std::pair<std::int64_t, std::int32_t>, 6> sw{};
  int n = 0;
  for (std::int64_t y = year - 1; y <= year + 1; ++y) {
    const std::int64_t on =
        switch_day(y, r.start_kind, r.start_m, r.start_w, r.start_d) * 86400 + r.start_time - r.std_offset;
    const std::int64_t off =
        switch_day(y, r.end_kind, r.end_m, r.end_w, r.end_d) * 86400 + r.end_time - r.dst_offset;
    sw[n++] = {on, r.dst_offset};
    sw[n++] = {off, r.std_offset};
  }
  std::sort(sw.begin(), sw.begin() + n);
  for (int i = n - 1; i >= 0; --i) {
    if (sw[i].first <= t) return {sw[i].second, sw[i].first, i + 1 < n ? sw[i + 1].first : kMaxTime};
  }
  // Before the first switch of last year: the opposite of what that switch sets.
  return {sw[0].second == r.dst_offset ? r.std_offset : r.dst_offset, kMinTime, sw[0].first};
}

TimeZone::Period TimeZone::lookup(std::int64_t t) const {
  if (transitions_.empty()) {
    if (rule_) return lookup_rule(t);
    return {fixed_, kMinTime, kMaxTime};
  }
  if (t < transitions_.front()) return {first_offset_, kMinTime, transitions_.front()};
  const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  const auto i = static_cast<std::size_t>(it - transitions_.begin()) - 1;
  if (i + 1 < transitions_.size()) return {offsets_[i], transitions_[i], transitions_[i + 1]};
  if (rule_) {
    Period p = lookup_rule(t);
    p.start = std::max(p.start, transitions_[i]);
    return p;
  }
  return {offsets_[i], transitions_[i], kMaxTime};
}

std::int32_t TimeZone::offset_at(std::int64_t unix_seconds) const {
  if (is_fixed()) return fixed_;
  return lookup(unix_seconds).offset;
}

std::int32_t TimeZone::offset_for_local(std::int64_t local) const {
  if (is_fixed()) return fixed_;
  // As Go's time.Date: the offset in effect at `local` read as UTC, corrected once if the
  // resulting instant falls outside that offset's period.
  const Period p = lookup(local);
  std::int32_t offset = p.offset;
  if (offset != 0) {
    const std::int64_t utc = local - offset;
    if (utc < p.start || utc >= p.end) offset = lookup(utc).offset;
  }
  return offset;
}

}  // namespace vigil::collectors::filelog::ops
