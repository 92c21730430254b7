// Number and time text for the OTTL subset: what String() and IsMatch() write, what Int(),
// Double() and time arithmetic read. Everything works on caller buffers; nothing allocates.

#include <charconv>
#include <cmath>
#include <cstring>

#include "agent/ottl/internal.hpp"

namespace vigil::ottl::detail {
namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<std::int64_t>(y - era * 400);
  const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const auto day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  const auto month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// `n` digits at s[pos..]; false when any is not a digit.
bool digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return true;
}

void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// Like Go's encoding/json (ES6 number to string): the shortest text that reads back the same
// double, plain digits for 1e-6 <= |d| < 1e21, else exponent form without a leading zero in a
// negative exponent ("1e-7", "1e+21").
std::optional<std::size_t> format_double(double d, char* out, std::size_t cap) {
  if (std::isnan(d) || std::isinf(d)) {
    const char* t = std::isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf";
    const std::size_t n = std::strlen(t);
    if (n > cap) return std::nullopt;
    std::memcpy(out, t, n);
    return n;
  }
  const double a = std::fabs(d);
  const bool exp_form = a != 0 && (a < 1e-6 || a >= 1e21);
  auto r = std::to_chars(out, out + cap, d, exp_form ? std::chars_format::scientific : std::chars_format::fixed);
  if (r.ec != std::errc()) return std::nullopt;
  std::size_t n = static_cast<std::size_t>(r.ptr - out);
  if (exp_form && n >= 4 && out[n - 4] == 'e' && out[n - 3] == '-' && out[n - 2] == '0') {
    out[n - 2] = out[n - 1];
    --n;
  }
  return n;
}

// Go's time.RFC3339Nano in UTC: fraction without trailing zeros, none when zero.
std::optional<std::size_t> format_time(std::int64_t unix_nano, char* out, std::size_t cap) {
  std::int64_t sec = unix_nano / kNanosPerSecond;
  std::int64_t nsec = unix_nano % kNanosPerSecond;
  if (nsec < 0) {
    nsec += kNanosPerSecond;
    --sec;
  }
  std::int64_t days = sec / 86400;
  std::int64_t rem = sec % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const Civil c = civil_from_days(days);
  if (c.year < 0 || c.year > 9999) return std::nullopt;  // not reachable from int64 nanoseconds
  char buf[40];
  char* p = buf;
  const auto y = static_cast<unsigned>(c.year);
  put2(p, y / 100);
  put2(p + 2, y % 100);
  p[4] = '-';
  put2(p + 5, c.month);
  p[7] = '-';
  put2(p + 8, c.day);
  p[10] = 'T';
  put2(p + 11, static_cast<unsigned>(rem / 3600));
  p[13] = ':';
  put2(p + 14, static_cast<unsigned>(rem / 60 % 60));
  p[16] = ':';
  put2(p + 17, static_cast<unsigned>(rem % 60));
  p += 19;
  if (nsec != 0) {
    *p++ = '.';
    char frac[9];
    auto f = static_cast<std::uint64_t>(nsec);
    for (int i = 8; i >= 0; --i) {
      frac[i] = static_cast<char>('0' + f % 10);
      f /= 10;
    }
    int len = 9;
    while (len > 1 && frac[len - 1] == '0') --len;
    std::memcpy(p, frac, static_cast<std::size_t>(len));
    p += len;
  }
  *p++ = 'Z';
  const auto n = static_cast<std::size_t>(p - buf);
  if (n > cap) return std::nullopt;
  std::memcpy(out, buf, n);
  return n;
}

}  // namespace

std::optional<std::size_t> format_scalar(const Value& v, char* out, std::size_t cap) {
  switch (v.type) {
    case Type::kInt: {
      auto r = std::to_chars(out, out + cap, v.i);
      if (r.ec != std::errc()) return std::nullopt;
      return static_cast<std::size_t>(r.ptr - out);
    }
    case Type::kDouble:
      return format_double(v.d, out, cap);
    case Type::kBool: {
      const std::size_t n = v.b ? 4 : 5;
      if (n > cap) return std::nullopt;
      std::memcpy(out, v.b ? "true" : "false", n);
      return n;
    }
    case Type::kTime:
      return format_time(v.i, out, cap);
    default:
      return std::nullopt;
  }
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s[0] == '-') return std::nullopt;
  }
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s[0] == '-') return std::nullopt;
  }
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<Instant> parse_rfc3339(std::string_view s) {
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
      !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, hour) ||
      s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
      second > 59) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t nsec = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    std::int64_t scale = kNanosPerSecond;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      // Digits past nanoseconds are accepted and ignored, as Go's time.Parse does.
      if (scale > 1) {
        scale /= 10;
        nsec += (s[pos] - '0') * scale;
      }
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  std::int64_t offset = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    unsigned oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = (s[pos] == '+' ? 1 : -1) * static_cast<std::int64_t>(oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t sec = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  return Instant{sec, nsec};
}

}  // namespace vigil::ottl::detail
