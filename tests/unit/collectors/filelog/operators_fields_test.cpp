// Building blocks of the filelog operators: field references, timestamp layouts, time zones and
// the severity mapping.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <ctime>
#include <optional>
#include <string>

#include "collectors/filelog/operators/field.hpp"
#include "collectors/filelog/operators/severity.hpp"
#include "collectors/filelog/operators/timestamp.hpp"
#include "collectors/filelog/operators/timezone.hpp"
#include "tests/unit/collectors/filelog/operators_test_support.hpp"

namespace ops = vigil::collectors::filelog::ops;
using vigil::model::AnyValue;
using vigil::testing::render;

namespace {

constexpr std::uint64_t kNs = 1'000'000'000ULL;

// The oracle: libc's timegm.
std::uint64_t utc(int y, int mo, int d, int h, int mi, int s, std::uint64_t ns = 0, int offset_seconds = 0) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<std::uint64_t>(timegm(&tm) - offset_seconds) * kNs + ns;
}

std::optional<std::uint64_t> parse_time(const char* type, const char* layout, std::string_view value,
                                        const char* location = "", std::uint64_t now = 0) {
  ops::TimeLayout l;
  std::string error;
  REQUIRE_MESSAGE(l.compile(type, layout, location, error), error);
  std::uint64_t out = 0;
  const char* why = nullptr;
  if (!l.parse(value, now, out, why)) return std::nullopt;
  return out;
}

std::optional<std::uint64_t> parse_value(const char* layout, const AnyValue& v) {
  ops::TimeLayout l;
  std::string error;
  REQUIRE_MESSAGE(l.compile("epoch", layout, "", error), error);
  std::uint64_t out = 0;
  const char* why = nullptr;
  if (!l.parse(v, 0, out, why)) return std::nullopt;
  return out;
}

std::string compile_error(const char* type, const char* layout, const char* location = "") {
  ops::TimeLayout l;
  std::string error;
  CHECK_FALSE(l.compile(type, layout, location, error));
  return error;
}

ops::Field field(std::string_view text) {
  std::string error;
  auto f = ops::parse_field(text, error);
  REQUIRE_MESSAGE(f.has_value(), error);
  return *f;
}

bool has_zone(const char* name) {
  struct stat st {};
  return ::stat((std::string("/usr/share/zoneinfo/") + name).c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("field references parse the stanza forms") {
  auto f = field("body");
  CHECK(f.root == ops::Field::Root::kBody);
  CHECK(f.keys.empty());
  f = field("body.a.b");
  CHECK(f.keys == std::vector<std::string>{"a", "b"});
  f = field("attributes.x");
  CHECK(f.root == ops::Field::Root::kAttributes);
  CHECK(f.keys == std::vector<std::string>{"x"});
  f = field("attributes[\"log.file.path\"]");
  CHECK(f.keys == std::vector<std::string>{"log.file.path"});
  f = field("resource['k8s.pod.name']");
  CHECK(f.root == ops::Field::Root::kResource);
  CHECK(f.keys == std::vector<std::string>{"k8s.pod.name"});
  f = field("attributes.http.request[\"x.y\"].z");
  CHECK(f.keys == std::vector<std::string>{"http", "request", "x.y", "z"});
  f = field("message");  // no root: the body's key
  CHECK(f.root == ops::Field::Root::kBody);
  CHECK(f.keys == std::vector<std::string>{"message"});
  f = field("attributes");
  CHECK(f.root == ops::Field::Root::kAttributes);
  CHECK(f.is_root());

  for (const char* bad :
       {"", "body.", "body..a", "attributes[x]", "attributes[\"x\"", "body a", "a.[\"b\"]x"}) {
    std::string error;
    CHECK_MESSAGE(!ops::parse_field(bad, error).has_value(), bad);
    CHECK(!error.empty());
  }
}

TEST_CASE("fields read, write and remove values on an entry") {
  vigil::model::Arena arena;
  vigil::collectors::filelog::Entry e;
  REQUIRE(ops::set_value(arena, e, field("body.a.b"), AnyValue::integer(1)));
  REQUIRE(ops::set_value(arena, e, field("body.a.c"), AnyValue::string("x")));
  CHECK(render(e.record.body) == R"({"a":{"b":1,"c":"x"}})");
  // A kvlist written over a kvlist merges into it.
  vigil::model::KeyValue kv[2] = {{"c", AnyValue::string("y")}, {"d", AnyValue::boolean(true)}};
  REQUIRE(ops::set_value(arena, e, field("body.a"), AnyValue::kvlist(kv, 2)));
  CHECK(render(e.record.body) == R"({"a":{"b":1,"c":"y","d":true}})");
  // The old value is not changed in place: a copy taken before stays as it was.
  const AnyValue before = e.record.body;
  REQUIRE(ops::set_value(arena, e, field("body.a.b"), AnyValue::integer(2)));
  CHECK(render(before) == R"({"a":{"b":1,"c":"y","d":true}})");

  REQUIRE(ops::set_value(arena, e, field("attributes[\"k.x\"]"), AnyValue::string("v")));
  REQUIRE(ops::set_value(arena, e, field("attributes.http.status"), AnyValue::integer(200)));
  CHECK(vigil::testing::render(e.record.attributes) == R"({"k.x":"v","http":{"status":200}})");
  REQUIRE(ops::set_value(arena, e, field("resource[\"k8s.pod.name\"]"), AnyValue::string("p")));
  CHECK(vigil::testing::render(e.resource) == R"({"k8s.pod.name":"p"})");
  // A root attributes takes maps only.
  CHECK_FALSE(ops::set_value(arena, e, field("attributes"), AnyValue::string("no")));

  const AnyValue* v = ops::find_value(e, field("attributes.http.status"));
  REQUIRE(v != nullptr);
  CHECK(v->int_value() == 200);
  CHECK(ops::find_value(e, field("attributes.http.nope")) == nullptr);
  CHECK(ops::find_value(e, field("body.a.b.c")) == nullptr);

  auto removed = ops::remove_value(arena, e, field("body.a.c"));
  REQUIRE(removed);
  CHECK(render(*removed) == R"("y")");
  CHECK(render(e.record.body) == R"({"a":{"b":2,"d":true}})");
  CHECK_FALSE(ops::remove_value(arena, e, field("body.a.c")));
  removed = ops::remove_value(arena, e, field("attributes.http.status"));
  REQUIRE(removed);
  CHECK(vigil::testing::render(e.record.attributes) == R"({"k.x":"v","http":{}})");
  auto all = ops::remove_value(arena, e, field("attributes"));
  REQUIRE(all);
  CHECK(render(*all) == R"({"k.x":"v","http":{}})");
  CHECK(e.record.attributes.empty());
  // The snapshot survives later writes to the attributes.
  REQUIRE(ops::set_value(arena, e, field("attributes.z"), AnyValue::integer(1)));
  CHECK(render(*all) == R"({"k.x":"v","http":{}})");
  // Setting below a string body replaces it with a map.
  e.record.body = AnyValue::string("plain");
  REQUIRE(ops::set_value(arena, e, field("body.k"), AnyValue::integer(1)));
  CHECK(render(e.record.body) == R"({"k":1})");
}

TEST_CASE("strptime layouts with fractions and offsets") {
  CHECK(parse_time("strptime", "%Y-%m-%dT%H:%M:%S.%LZ", "2026-11-22T10:00:00.123Z") ==
        utc(2026, 11, 22, 10, 0, 0, 123'000'000));
  CHECK(parse_time("strptime", "%Y-%m-%d %H:%M:%S,%L %z", "2022-01-02 07:24:56,123 -0700") ==
        utc(2022, 1, 2, 7, 24, 56, 123'000'000, -7 * 3600));
  // %L after '.' accepts ',' too, as Go's ".000".
  CHECK(parse_time("strptime", "%Y-%m-%d %H:%M:%S.%L", "2022-01-02 07:24:56,123") ==
        utc(2022, 1, 2, 7, 24, 56, 123'000'000));
  CHECK(parse_time("strptime", "%Y-%m-%d %H:%M:%S.%f %z", "2022-01-02 07:24:56.123456 +0530") ==
        utc(2022, 1, 2, 7, 24, 56, 123'456'000, 5 * 3600 + 1800));
  CHECK(parse_time("strptime", "%Y-%m-%d %H:%M:%S.%f", "2022-01-02 07:24:56.5") ==
        utc(2022, 1, 2, 7, 24, 56, 500'000'000));
  CHECK(parse_time("strptime", "%Y-%m-%d %H:%M:%S.%s", "2022-01-02 07:24:56.123456789") ==
        utc(2022, 1, 2, 7, 24, 56, 123'456'789));
  CHECK(parse_time("strptime", "%d/%b/%Y:%H:%M:%S %z", "10/Oct/2000:13:55:36 -0700") ==
        utc(2000, 10, 10, 13, 55, 36, 0, -7 * 3600));
  CHECK(parse_time("strptime", "%a %b %e %H:%M:%S %Z %Y", "Fri Jun  5 13:50:27 EST 2020") ==
        utc(2020, 6, 5, 13, 50, 27, 0, -5 * 3600));
  CHECK(parse_time("strptime", "%a %b %e %H:%M:%S %Z %Y", "Fri Jun 5 13:50:27 UTC 2020") ==
        utc(2020, 6, 5, 13, 50, 27));
  CHECK(parse_time("strptime", "%A, %d %B %Y %H:%M", "Saturday, 01 february 2025 09:05") ==
        utc(2025, 2, 1, 9, 5, 0));
  CHECK(parse_time("strptime", "%m/%d/%y %I:%M:%S %p", "01/02/06 03:04:05 PM") == utc(2006, 1, 2, 15, 4, 5));
  CHECK(parse_time("strptime", "%m/%d/%y %I:%M:%S %p", "01/02/06 12:04:05 AM") == utc(2006, 1, 2, 0, 4, 5));
  CHECK(parse_time("strptime", "%Y-%m-%dT%H:%M:%S%j", "2024-03-01T10:00:00+02:00") ==
        utc(2024, 3, 1, 10, 0, 0, 0, 2 * 3600));
  CHECK(parse_time("strptime", "%Y-%m-%dT%H:%M:%S%z", "2024-03-01T10:00:00Z") == utc(2024, 3, 1, 10, 0, 0));
  CHECK(parse_time("strptime", "%Y-%m-%dT%H:%M:%S%z", "2024-03-01T10:00:00-03:30") ==
        utc(2024, 3, 1, 10, 0, 0, 0, -(3 * 3600 + 1800)));
  CHECK(parse_time("strptime", "%F %T", "2024-02-29 23:59:59") == utc(2024, 2, 29, 23, 59, 59));
  // As Go: a fraction after the seconds is taken even when the layout has none.
  CHECK(parse_time("strptime", "%Y-%m-%d %H:%M:%S", "2024-03-01 10:00:00.25") ==
        utc(2024, 3, 1, 10, 0, 0, 250'000'000));

  CHECK_FALSE(parse_time("strptime", "%Y-%m-%d", "2024-13-01"));
  CHECK_FALSE(parse_time("strptime", "%Y-%m-%d", "2023-02-29"));
  CHECK_FALSE(parse_time("strptime", "%Y-%m-%d", "2024-03-01 trailing"));
  CHECK_FALSE(parse_time("strptime", "%Y-%m-%d %H:%M", "2024-03-01 24:00"));
  CHECK_FALSE(parse_time("strptime", "%Y-%m-%d %H:%M:%S.%L", "2024-03-01 10:00:00.12"));  // %L is 3 digits
  CHECK_FALSE(parse_time("strptime", "%Y-%m-%d", "1969-12-31"));                          // before the epoch
  CHECK_FALSE(parse_time("strptime", "%Z %Y", "XYZ 2024"));
}

TEST_CASE("a layout without a year takes the current one") {
  const std::uint64_t now = utc(2026, 1, 3, 12, 0, 0);
  CHECK(parse_time("strptime", "%b %d %H:%M:%S", "Jan 02 10:00:00", "", now) == utc(2026, 1, 2, 10, 0, 0));
  // More than 7 days ahead this year: last year's.
  CHECK(parse_time("strptime", "%b %d %H:%M:%S", "Dec 31 23:59:59", "", now) ==
        utc(2025, 12, 31, 23, 59, 59));
  CHECK(parse_time("gotime", "Jan _2 15:04:05", "Jan  9 08:00:00", "", now) == utc(2026, 1, 9, 8, 0, 0));
}

TEST_CASE("gotime layouts") {
  const char* nano = "2006-01-02T15:04:05.999999999Z07:00";
  CHECK(parse_time("gotime", nano, "2024-03-01T10:00:00.123456789+01:00") ==
        utc(2024, 3, 1, 10, 0, 0, 123'456'789, 3600));
  CHECK(parse_time("gotime", nano, "2024-03-01T10:00:00Z") == utc(2024, 3, 1, 10, 0, 0));
  CHECK(parse_time("gotime", nano, "2024-03-01T10:00:00.5Z") == utc(2024, 3, 1, 10, 0, 0, 500'000'000));
  CHECK_FALSE(parse_time("gotime", nano, "2024-03-01T10:00:00"));
  CHECK(parse_time("gotime", "02/Jan/2006:15:04:05 -0700", "10/Oct/2000:13:55:36 +0200") ==
        utc(2000, 10, 10, 13, 55, 36, 0, 7200));
  CHECK(parse_time("gotime", "2006-01-02 15:04:05.000", "2024-03-01 10:00:00.042") ==
        utc(2024, 3, 1, 10, 0, 0, 42'000'000));
  CHECK_FALSE(parse_time("gotime", "2006-01-02 15:04:05.000", "2024-03-01 10:00:00.42"));
  CHECK(parse_time("gotime", "Monday, 02-Jan-06 15:04:05 MST", "Friday, 01-Mar-24 10:00:00 PST") ==
        utc(2024, 3, 1, 10, 0, 0, 0, -8 * 3600));
  CHECK(parse_time("gotime", "Jan 2 15:04:05 MST 2006", "Jun 5 13:50:27 EST 2020") ==
        utc(2020, 6, 5, 13, 50, 27, 0, -5 * 3600));
  CHECK(parse_time("gotime", "2006-002 3:04PM", "2024-061 1:30PM") == utc(2024, 3, 1, 13, 30, 0));
  CHECK(parse_time("gotime", "20060102T150405Z0700", "20240301T100000+0100") ==
        utc(2024, 3, 1, 10, 0, 0, 0, 3600));
}

TEST_CASE("epoch layouts from strings, integers and doubles") {
  CHECK(parse_time("epoch", "s", "1136214245") == 1136214245ULL * kNs);
  CHECK(parse_time("epoch", "ms", "1136214245123") == 1136214245123ULL * 1'000'000);
  CHECK(parse_time("epoch", "us", "1136214245123456") == 1136214245123456ULL * 1000);
  CHECK(parse_time("epoch", "ns", "1136214245123456789") == 1136214245123456789ULL);
  CHECK(parse_time("epoch", "s.ms", "1136214245.123") == 1136214245123ULL * 1'000'000);
  CHECK(parse_time("epoch", "s.us", "1136214245.123456") == 1136214245123456ULL * 1000);
  CHECK(parse_time("epoch", "s.ns", "1136214245.123456789") == 1136214245123456789ULL);
  CHECK_FALSE(parse_time("epoch", "s", "113621424x"));
  CHECK_FALSE(parse_time("epoch", "s", "-5"));
  CHECK(parse_value("s", AnyValue::integer(1136214245)) == 1136214245ULL * kNs);
  CHECK(parse_value("ms", AnyValue::integer(1136214245123)) == 1136214245123ULL * 1'000'000);
  CHECK(parse_value("s.ms", AnyValue::floating(1136214245.123)) == 1136214245123ULL * 1'000'000);
  CHECK(parse_value("s", AnyValue::floating(1136214245.9)) == 1136214245ULL * kNs);
  CHECK_FALSE(parse_value("s", AnyValue::boolean(true)));
}

TEST_CASE("layout and location errors are reported at config time") {
  CHECK(compile_error("strptime", "%Y-%Q").find("%Q") != std::string::npos);
  CHECK(compile_error("epoch", "minutes").find("invalid epoch layout") != std::string::npos);
  CHECK(compile_error("unix", "s").find("layout_type") != std::string::npos);
  CHECK(compile_error("gotime", "hello").find("no date or time") != std::string::npos);
  CHECK(compile_error("strptime", "%Y", "Mars/Olympus_Mons").find("unknown time zone") != std::string::npos);
  CHECK(compile_error("strptime", "%Y", "../etc/passwd").find("invalid time zone") != std::string::npos);
}

TEST_CASE("locations: fixed offsets and the tz database") {
  CHECK(parse_time("strptime", "%Y-%m-%d %H:%M:%S", "2024-03-01 10:00:00", "+02:00") ==
        utc(2024, 3, 1, 10, 0, 0, 0, 7200));
  CHECK(parse_time("strptime", "%Y-%m-%d %H:%M:%S", "2024-03-01 10:00:00", "Etc/GMT+5") ==
        utc(2024, 3, 1, 10, 0, 0, 0, -5 * 3600));
  // An offset in the value wins over the location.
  CHECK(parse_time("strptime", "%Y-%m-%d %H:%M:%S %z", "2024-03-01 10:00:00 +0000", "+02:00") ==
        utc(2024, 3, 1, 10, 0, 0));
  if (!has_zone("America/New_York") || !has_zone("Australia/Sydney")) {
    MESSAGE("no tz database here; named zones not tested");
    return;
  }
  const char* l = "%Y-%m-%d %H:%M:%S";
  CHECK(parse_time("strptime", l, "2024-07-01 12:00:00", "America/New_York") == utc(2024, 7, 1, 16, 0, 0));
  CHECK(parse_time("strptime", l, "2024-01-15 12:00:00", "America/New_York") == utc(2024, 1, 15, 17, 0, 0));
  // Past the file's last transition the POSIX rule at its end decides.
  CHECK(parse_time("strptime", l, "2060-07-01 12:00:00", "America/New_York") == utc(2060, 7, 1, 16, 0, 0));
  CHECK(parse_time("strptime", l, "2060-01-15 12:00:00", "America/New_York") == utc(2060, 1, 15, 17, 0, 0));
  // Southern hemisphere: daylight time in January.
  CHECK(parse_time("strptime", l, "2060-01-15 12:00:00", "Australia/Sydney") == utc(2060, 1, 15, 1, 0, 0));
  CHECK(parse_time("strptime", l, "2060-07-15 12:00:00", "Australia/Sydney") == utc(2060, 7, 15, 2, 0, 0));
}

TEST_CASE("POSIX TZ rules in a TZif footer") {
  // A version 2 TZif file with no transitions and only a footer rule.
  std::string tzif = "TZif2" + std::string(15, '\0');
  auto counts = [&](std::uint32_t typecnt, std::uint32_t charcnt) {
    for (std::uint32_t c : {0u, 0u, 0u, 0u, typecnt, charcnt}) {
      for (int i = 3; i >= 0; --i) tzif += static_cast<char>((c >> (8 * i)) & 0xFF);
    }
  };
  counts(1, 4);
  tzif += std::string("\0\0\0\0\0\0", 6) + std::string("UTC\0", 4);  // v1 block: one ttinfo, "UTC"
  tzif += "TZif2" + std::string(15, '\0');
  counts(1, 4);
  tzif += std::string("\0\0\0\0\0\0", 6) + std::string("CET\0", 4);
  tzif += "\nCET-1CEST,M3.5.0,M10.5.0/3\n";
  std::string error;
  auto z = ops::TimeZone::from_tzif(tzif, error);
  REQUIRE_MESSAGE(z.has_value(), error);
  const auto t = [](int y, int mo, int d, int h) {
    return static_cast<std::int64_t>(utc(y, mo, d, h, 0, 0) / kNs);
  };
  CHECK(z->offset_at(t(2030, 1, 15, 12)) == 3600);
  CHECK(z->offset_at(t(2030, 7, 15, 12)) == 7200);
  // 2030-03-31 is the last Sunday of March: the switch is at 01:00 UTC.
  CHECK(z->offset_at(t(2030, 3, 31, 0)) == 3600);
  CHECK(z->offset_at(t(2030, 3, 31, 1)) == 7200);
  CHECK(z->offset_for_local(t(2030, 7, 15, 12)) == 7200);
  CHECK_FALSE(ops::TimeZone::from_tzif("TZif2 short", error));
}

TEST_CASE("severity mapping: the Collector's default preset") {
  ops::SeverityMapping m;
  std::vector<std::pair<vigil::config::Location, std::string>> problems;
  REQUIRE(m.build(nullptr, nullptr, problems));
  CHECK(m.lookup("trace") == 1);
  CHECK(m.lookup("DEBUG") == 5);
  CHECK(m.lookup("Info") == 9);
  CHECK(m.lookup("info3") == 11);
  CHECK(m.lookup("WARN") == 13);
  CHECK(m.lookup("warning") == 13);
  CHECK(m.lookup("err") == 17);
  CHECK(m.lookup("ERROR2") == 18);
  CHECK(m.lookup("fatal") == 21);
  CHECK(m.lookup("17") == 17);
  CHECK(m.lookup(std::int64_t{21}) == 21);
  CHECK(m.lookup("notice") == 0);
  CHECK(m.lookup("") == 0);
  CHECK(ops::SeverityMapping::short_name(18) == "ERROR2");
}

TEST_CASE("severity mapping: custom values, ranges and presets") {
  vigil::config::Errors errors;
  const auto v = vigil::config::parse_yaml(R"(
mapping:
  error: oops
  warn: [hey!, YSK]
  info:
    - min: 300
      max: 399
  debug: 2xx
  fatal:
    - really serious
    - min: 9001
      max: 9050
    - 5xx
  info3: 17
preset: default
)",
                                           "t.yaml", errors);
  REQUIRE(errors.empty());
  ops::SeverityMapping m;
  std::vector<std::pair<vigil::config::Location, std::string>> problems;
  REQUIRE(m.build(v.find("preset"), v.find("mapping"), problems));
  CHECK(m.lookup("OOPS") == 17);
  CHECK(m.lookup("ysk") == 13);
  CHECK(m.lookup(std::int64_t{302}) == 9);
  CHECK(m.lookup("302") == 9);
  CHECK(m.lookup(std::int64_t{250}) == 5);
  CHECK(m.lookup(std::int64_t{503}) == 21);
  CHECK(m.lookup(std::int64_t{9010}) == 21);
  CHECK(m.lookup("Really Serious") == 21);
  CHECK(m.lookup("17") == 11);  // the user's value wins over the preset's "17"
  CHECK(m.lookup("error") == 17);

  const auto none = vigil::config::parse_yaml("preset: none\nmapping:\n  error: nooo!\n", "t.yaml", errors);
  ops::SeverityMapping n;
  REQUIRE(n.build(none.find("preset"), none.find("mapping"), problems));
  CHECK(n.lookup("nooo!") == 17);
  CHECK(n.lookup("error") == 0);

  const auto bad = vigil::config::parse_yaml("mapping:\n  eror: x\n  info: {min: 1}\n", "t.yaml", errors);
  ops::SeverityMapping b;
  CHECK_FALSE(b.build(nullptr, bad.find("mapping"), problems));
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].second.find("unknown severity 'eror'") != std::string::npos);
  CHECK(problems[1].second.find("min") != std::string::npos);
}

TEST_CASE("byte sizes as the Collector writes them") {
  CHECK(ops::parse_byte_size("1024") == 1024u);
  CHECK(ops::parse_byte_size("64KiB") == 65536u);
  CHECK(ops::parse_byte_size("1MiB") == 1048576u);
  CHECK(ops::parse_byte_size("1mb") == 1000000u);
  CHECK(ops::parse_byte_size("1.5 KiB") == 1536u);
  CHECK_FALSE(ops::parse_byte_size("lots"));
  CHECK_FALSE(ops::parse_byte_size("12 parsecs"));
  CHECK_FALSE(ops::parse_byte_size(""));
  CHECK_FALSE(ops::parse_byte_size("KiB"));
  CHECK_FALSE(ops::parse_byte_size(" 2 gb "));
  CHECK_FALSE(ops::parse_byte_size("99999999999999999999"));
}
