// The OTLP retry rules shared by the otlp and otlphttp exporters, and Retry-After parsing.
#include "exporters/otlp/export_status.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <ctime>
#include <string>

using namespace std::chrono_literals;
using vigil::component::Status;
namespace ex = vigil::exporters;

namespace {

// 2015-10-21T07:28:00Z, the example date of RFC 9110.
std::chrono::system_clock::time_point at(int year, int mon, int day, int h, int m, int s) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = s;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

const auto kNow = at(2015, 10, 21, 7, 28, 0);

}  // namespace

TEST_CASE("export status: HTTP 2xx is ok") {
  for (long code : {200L, 201L, 202L, 204L, 299L}) {
    CAPTURE(code);
    CHECK(ex::status_from_http(code, std::nullopt, "").is_ok());
  }
}

TEST_CASE("export status: HTTP 429, 502, 503, 504 are retryable and carry Retry-After") {
  for (long code : {429L, 502L, 503L, 504L}) {
    CAPTURE(code);
    CHECK(ex::http_status_retryable(code));
    Status s = ex::status_from_http(code, 7s, "busy");
    CHECK(s.is_retryable());
    CHECK(s.retry_after() == 7000ms);
    CHECK(s.message().find("HTTP " + std::to_string(code)) != std::string::npos);
    CHECK(s.message().find("busy") != std::string::npos);
    // Without Retry-After the helper's own backoff decides: no hint.
    Status bare = ex::status_from_http(code, std::nullopt, "");
    CHECK(bare.is_retryable());
    CHECK(bare.retry_after() == 0ms);
  }
}

TEST_CASE("export status: every other HTTP status is permanent, Retry-After or not") {
  for (long code : {100L, 301L, 304L, 400L, 401L, 403L, 404L, 405L, 408L, 409L, 413L, 415L, 422L, 500L, 501L,
                    505L, 599L}) {
    CAPTURE(code);
    CHECK_FALSE(ex::http_status_retryable(code));
    Status s = ex::status_from_http(code, 3s, "nope");
    CHECK(s.is_permanent());
    CHECK(s.retry_after() == 0ms);
    CHECK(s.message() == "HTTP " + std::to_string(code) + ": nope");
  }
}

TEST_CASE("export status: the server's message is cut to 512 bytes") {
  const std::string long_message(5000, 'x');
  Status s = ex::status_from_http(400, std::nullopt, long_message);
  CHECK(s.message() == "HTTP 400: " + std::string(512, 'x'));
  CHECK(ex::status_from_http(400, std::nullopt, "").message() == "HTTP 400");
}

TEST_CASE("export status: gRPC codes follow the OTLP retry table") {
  struct Row {
    int code;
    const char* name;
    bool retryable;
  };
  const Row rows[] = {
      {1, "CANCELLED", true},          {2, "UNKNOWN", false},
      {3, "INVALID_ARGUMENT", false},  {4, "DEADLINE_EXCEEDED", true},
      {5, "NOT_FOUND", false},         {6, "ALREADY_EXISTS", false},
      {7, "PERMISSION_DENIED", false}, {9, "FAILED_PRECONDITION", false},
      {10, "ABORTED", true},           {11, "OUT_OF_RANGE", true},
      {12, "UNIMPLEMENTED", false},    {13, "INTERNAL", false},
      {14, "UNAVAILABLE", true},       {15, "DATA_LOSS", true},
      {16, "UNAUTHENTICATED", false},
  };
  for (const Row& r : rows) {
    CAPTURE(r.name);
    CHECK(ex::grpc_code_name(r.code) == r.name);
    CHECK(ex::grpc_code_retryable(r.code, false) == r.retryable);
    CHECK(ex::grpc_code_retryable(r.code, true) == r.retryable);  // RetryInfo changes nothing here
    Status plain = ex::status_from_grpc(r.code, "why", std::nullopt);
    CHECK(plain.is_retryable() == r.retryable);
    CHECK(plain.is_permanent() == !r.retryable);
    CHECK(plain.message() == std::string("gRPC ") + r.name + ": why");
    Status hinted = ex::status_from_grpc(r.code, "why", 2500ms);
    CHECK(hinted.is_retryable() == r.retryable);
    CHECK(hinted.retry_after() == (r.retryable ? 2500ms : 0ms));
  }
  CHECK(ex::status_from_grpc(0, "", std::nullopt).is_ok());
  CHECK(ex::status_from_grpc(0, "", 5s).is_ok());
  CHECK(ex::grpc_code_name(0) == "OK");
}

TEST_CASE("export status: gRPC RESOURCE_EXHAUSTED is retried only with RetryInfo") {
  CHECK(ex::grpc_code_name(8) == "RESOURCE_EXHAUSTED");
  CHECK_FALSE(ex::grpc_code_retryable(8, false));
  CHECK(ex::grpc_code_retryable(8, true));
  Status without = ex::status_from_grpc(8, "message too large", std::nullopt);
  CHECK(without.is_permanent());
  CHECK(without.message() == "gRPC RESOURCE_EXHAUSTED: message too large");
  Status with = ex::status_from_grpc(8, "slow down", 4s);
  CHECK(with.is_retryable());
  CHECK(with.retry_after() == 4000ms);
  // A RetryInfo of zero still says "retry".
  Status zero = ex::status_from_grpc(8, "slow down", 0ms);
  CHECK(zero.is_retryable());
  CHECK(zero.retry_after() == 0ms);
}

TEST_CASE("export status: unknown gRPC codes are permanent") {
  for (int code : {-1, 17, 99, 1000}) {
    CAPTURE(code);
    CHECK(ex::grpc_code_name(code) == "UNKNOWN_CODE");
    CHECK_FALSE(ex::grpc_code_retryable(code, true));
    CHECK(ex::status_from_grpc(code, "", 1s).is_permanent());
  }
}

TEST_CASE("export status: Retry-After in seconds") {
  CHECK(ex::parse_retry_after("120", kNow) == std::chrono::milliseconds(120'000));
  CHECK(ex::parse_retry_after("0", kNow) == 0ms);
  CHECK(ex::parse_retry_after("  7 \t", kNow) == 7000ms);
  CHECK(ex::parse_retry_after("007", kNow) == 7000ms);
  // Absurd values are capped at a year, also beyond what 64 bits hold.
  CHECK(ex::parse_retry_after("999999999999", kNow) == std::chrono::hours(24 * 365));
  CHECK(ex::parse_retry_after("99999999999999999999999999", kNow) == std::chrono::hours(24 * 365));
  CHECK(ex::parse_retry_after("31536000", kNow) == std::chrono::hours(24 * 365));
  CHECK(ex::parse_retry_after("31535999", kNow) == std::chrono::seconds(31535999));
}

TEST_CASE("export status: Retry-After as an IMF-fixdate") {
  CHECK(ex::parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", kNow) == 30'000ms);
  CHECK(ex::parse_retry_after("Thu, 22 Oct 2015 07:28:00 GMT", kNow) == std::chrono::hours(24));
  CHECK(ex::parse_retry_after(" Wed, 21 Oct 2015 07:29:00 GMT ", kNow) == 60'000ms);
  // Sub-second "now": the delay is measured from it exactly.
  CHECK(ex::parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", kNow + 250ms) == 9750ms);
}

TEST_CASE("export status: Retry-After in the obsolete RFC 850 form") {
  CHECK(ex::parse_retry_after("Wednesday, 21-Oct-15 07:28:45 GMT", kNow) == 45'000ms);
  // Two-digit years more than 50 years ahead belong to the previous century (RFC 9110): past.
  CHECK(ex::parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", kNow) == 0ms);
  CHECK(ex::parse_retry_after("Thursday, 21-Oct-66 07:28:00 GMT", kNow) == 0ms);  // 1966, not 2066
  // ...and a year at most 50 years ahead is in this century (2016 and 2065 seen from 2015).
  CHECK(ex::parse_retry_after("Thursday, 21-Jan-16 07:28:00 GMT", kNow) == std::chrono::hours(24 * 92));
  CHECK(ex::parse_retry_after("Wednesday, 21-Oct-65 07:28:00 GMT", kNow) == std::chrono::hours(24 * 365));
}

TEST_CASE("export status: Retry-After in the asctime form") {
  CHECK(ex::parse_retry_after("Wed Oct 21 07:28:05 2015", kNow) == 5000ms);
  // Single-digit days are space-padded in asctime.
  const auto nov_first = at(2015, 11, 1, 0, 0, 0);
  CHECK(ex::parse_retry_after("Sun Nov  1 00:00:20 2015", nov_first) == 20'000ms);
}

TEST_CASE("export status: Retry-After dates in the past mean now") {
  CHECK(ex::parse_retry_after("Wed, 21 Oct 2015 07:27:59 GMT", kNow) == 0ms);
  CHECK(ex::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", kNow) == 0ms);
  CHECK(ex::parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", kNow) == 0ms);
  CHECK(ex::parse_retry_after("Wed, 31 Dec 1969 23:59:59 GMT", kNow) == 0ms);
  CHECK(ex::parse_retry_after("Sun Nov  6 08:49:37 1994", kNow) == 0ms);
  CHECK(ex::parse_retry_after("Mon, 01 Jan 0001 00:00:00 GMT", kNow) == 0ms);
}

TEST_CASE("export status: Retry-After dates far ahead are capped, not overflowed") {
  CHECK(ex::parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", kNow) == std::chrono::hours(24 * 365));
  CHECK(ex::parse_retry_after("Sat, 21 Oct 2017 07:28:00 GMT", kNow) == std::chrono::hours(24 * 365));
}

TEST_CASE("export status: Retry-After garbage is not a hint") {
  for (const char* text :
       {"", "   ", "soon", "-1", "+5", "1.5", "5s", "120 seconds", "0x10", "1e3", "Wed, 21 Oct 2015 07:28:00",
        "Wed, 21 Oct 2015 07:28:00 UTC", "Wed, 21 Oct 2015 07:28:00 GMT trailing",
        "Wed, 32 Oct 2015 07:28:00 GMT", "Wed, 21 Foo 2015 07:28:00 GMT", "21 Oct 2015 07:28:00 GMT",
        "2015-10-21T07:28:00Z", "Wed, 21 Oct 2015 25:28:00 GMT"}) {
    CAPTURE(text);
    CHECK_FALSE(ex::parse_retry_after(text, kNow).has_value());
  }
}

TEST_CASE("export status: Retry-After dates are measured from the real clock by default") {
  const std::time_t later = std::time(nullptr) + 3600;
  std::tm tm{};
  gmtime_r(&later, &tm);
  char text[64];
  REQUIRE(std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0);
  auto delay = ex::parse_retry_after(text);
  REQUIRE(delay.has_value());
  CHECK(*delay > std::chrono::minutes(58));
  CHECK(*delay <= std::chrono::minutes(60));
}
