#pragma once
// Time zones for the `location` of timestamp layouts: UTC, fixed offsets ("+05:30", "Etc/GMT-2")
// and IANA names read from the system's tz database (TZif files under $ZONEINFO or
// /usr/share/zoneinfo, including the POSIX rule at their end for dates past the last listed
// transition). Loaded once at config time; lookups allocate nothing.
//
// Thread-safety: immutable after load; lookups from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::collectors::filelog::ops {

class TimeZone {
 public:
  TimeZone() = default;  // UTC
  static TimeZone fixed(std::int32_t offset_seconds);

  // Resolves a location name. "" and "UTC" are UTC; "Local" is the host's zone (/etc/localtime,
  // or $TZ when it names a zone). On failure returns std::nullopt and says why in `error`.
  static std::optional<TimeZone> load(std::string_view name, std::string& error);
  // Parses a TZif file's bytes (exposed for tests).
  static std::optional<TimeZone> from_tzif(std::string_view data, std::string& error);

  // Seconds east of UTC in effect at a UTC instant.
  std::int32_t offset_at(std::int64_t unix_seconds) const;
  // Seconds east of UTC for a local wall-clock time (seconds since 1970-01-01 00:00 local). In a
  // gap or an overlap one of the two candidate offsets is chosen, as Go's time.Date does.
  std::int32_t offset_for_local(std::int64_t local_seconds) const;

  bool is_fixed() const { return transitions_.empty() && !rule_; }

 private:
  struct Period {
    std::int32_t offset;
    std::int64_t start;  // validity [start, end) in UTC seconds
    std::int64_t end;
  };
  Period lookup(std::int64_t unix_seconds) const;
  Period lookup_rule(std::int64_t unix_seconds) const;

  std::int32_t fixed_ = 0;
  std::vector<std::int64_t> transitions_;  // UTC seconds, ascending
  std::vector<std::int32_t> offsets_;      // offset from transitions_[i] on
  std::int32_t first_offset_ = 0;          // before the first transition
  // A POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"): offsets and the dates of the switches.
  struct RuleData {
    std::int32_t std_offset = 0;  // seconds east of UTC
    std::int32_t dst_offset = 0;
    bool has_dst = false;
    // Date of each switch: kind 'J' (Julian 1..365, no Feb 29), 'N' (0..365), 'M' (month/week/day).
    char start_kind = 0, end_kind = 0;
    int start_m = 0, start_w = 0, start_d = 0, end_m = 0, end_w = 0, end_d = 0;
    std::int32_t start_time = 7200, end_time = 7200;  // local time of day of the switch
  };
  std::optional<RuleData> rule_;

  static bool parse_rule(std::string_view text, RuleData& out);
};

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day may run past the month).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day);
// The inverse (year, month 1..12, day 1..31) of a day count.
void civil_from_days(std::int64_t days, std::int64_t& year, unsigned& month, unsigned& day);

}  // namespace vigil::collectors::filelog::ops
