#include "exporters/otlp/export_status.hpp"

#include <ctime>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace vigil::exporters {

namespace {

constexpr const char* kGrpcNames[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

// The longest Retry-After honoured; anything later is clamped to it.
constexpr std::chrono::milliseconds kMaxRetryAfter = std::chrono::hours(24 * 365);

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string describe(std::string_view prefix, std::string_view message) {
  std::string out(prefix);
  if (!message.empty()) {
    out += ": ";
    out += message.substr(0, 512);
  }
  return out;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long long seconds = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range) return kMaxRetryAfter;  // absurdly far: cap
    if (ec != std::errc() || p != value.data() + value.size()) return std::nullopt;
    if (seconds > std::chrono::duration_cast<std::chrono::seconds>(kMaxRetryAfter).count())
      return kMaxRetryAfter;
    return std::chrono::seconds(seconds);
  }
  // HTTP-date (RFC 9110 5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime forms.
  // strptime's %a/%b read English names in the C locale, which the agent runs in.
  const std::string text(value);
  static constexpr const char* kFormats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                             "%a %b %e %H:%M:%S %Y"};
  for (std::size_t i = 0; i < std::size(kFormats); ++i) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), kFormats[i], &tm);
    if (end == nullptr || *end != '\0') continue;
    std::time_t t = timegm(&tm);
    if (i == 1) {
      // RFC 850's two-digit year: a date more than 50 years ahead is in the previous century.
      std::tm now_tm{};
      const std::time_t now_t = std::chrono::system_clock::to_time_t(now);
      gmtime_r(&now_t, &now_tm);
      if (tm.tm_year > now_tm.tm_year + 50) {
        tm.tm_year -= 100;
        t = timegm(&tm);
      }
    }
    // Compared in seconds first: system_clock counts nanoseconds and cannot hold every date
    // (beyond the year 2262). Capped like the seconds form.
    const std::time_t now_t = std::chrono::system_clock::to_time_t(now);
    if (t > now_t && t - now_t > std::chrono::duration_cast<std::chrono::seconds>(kMaxRetryAfter).count()) {
      return kMaxRetryAfter;
    }
    if (t < now_t - 1) return std::chrono::milliseconds(0);
    const auto when = std::chrono::system_clock::from_time_t(t);
    if (when <= now) return std::chrono::milliseconds(0);
    return std::chrono::duration_cast<std::chrono::milliseconds>(when - now);
  }
  return std::nullopt;
}

bool http_status_retryable(long status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

component::Status status_from_http(long status, std::optional<std::chrono::milliseconds> retry_after,
                                   std::string_view message) {
  if (status >= 200 && status < 300) return component::Status::ok();
  const std::string text = describe("HTTP " + std::to_string(status), message);
  if (http_status_retryable(status)) {
    return component::Status::retryable(text, retry_after.value_or(std::chrono::milliseconds(0)));
  }
  return component::Status::permanent(text);
}

bool grpc_code_retryable(int code, bool has_retry_info) {
  switch (code) {
    case 1:   // CANCELLED
    case 4:   // DEADLINE_EXCEEDED
    case 10:  // ABORTED
    case 11:  // OUT_OF_RANGE
    case 14:  // UNAVAILABLE
    case 15:  // DATA_LOSS
      return true;
    case 8:  // RESOURCE_EXHAUSTED: only when the server says when to retry
      return has_retry_info;
    default:
      return false;
  }
}

component::Status status_from_grpc(int code, std::string_view message,
                                   std::optional<std::chrono::milliseconds> retry_info) {
  if (code == 0) return component::Status::ok();
  const std::string text = describe("gRPC " + std::string(grpc_code_name(code)), message);
  if (grpc_code_retryable(code, retry_info.has_value())) {
    return component::Status::retryable(text, retry_info.value_or(std::chrono::milliseconds(0)));
  }
  return component::Status::permanent(text);
}

std::string_view grpc_code_name(int code) {
  if (code >= 0 && code < static_cast<int>(std::size(kGrpcNames))) return kGrpcNames[code];
  return "UNKNOWN_CODE";
}

}  // namespace vigil::exporters
