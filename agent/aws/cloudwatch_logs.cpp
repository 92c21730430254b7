#include "agent/aws/cloudwatch_logs.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string_view>

#include <openssl/evp.h>
#include <prometheus/counter.h>
#include <simdjson.h>

#include "agent/aws/cloudwatch_logs_parse.hpp"
#include "agent/aws/sigv4.hpp"
#include "agent/model/utf8.hpp"
#include "agent/runtime/http_client.hpp"
#include "agent/telemetry/log.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::aws {

using component::Status;

namespace {

constexpr std::array<int, 22> kRetentionDays = {1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
                                                365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};
constexpr std::string_view kTargetPrefix = "Logs_20140328.";
constexpr char kContentType[] = "application/x-amz-json-1.1";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::size_t kMaxErrorMessage = 256;
constexpr std::size_t kMaxErrorType = 128;  // the longest AWS error code is under 64

// Copies `s` with every byte that starts no valid UTF-8 sequence replaced by U+FFFD; true when
// something was replaced.
bool sanitize_utf8(std::string& s) {
  // The common case, valid text, checked with SIMD (simdjson's rule is model::utf8_sequence's).
  if (simdjson::validate_utf8(s.data(), s.size())) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  const auto* scan = p;
  while (scan < end) {
    if (*scan < 0x80) {
      ++scan;
      continue;
    }
    const std::size_t n = model::utf8_sequence(scan, end);
    if (n == 0) break;
    scan += n;
  }
  if (scan == end) return false;
  std::string out(s.data(), static_cast<std::size_t>(scan - p));
  while (scan < end) {
    if (*scan < 0x80) {
      out.push_back(static_cast<char>(*scan++));
      continue;
    }
    const std::size_t n = model::utf8_sequence(scan, end);
    if (n == 0) {
      out.append(kReplacement);
      ++scan;
    } else {
      out.append(reinterpret_cast<const char*>(scan), n);
      scan += n;
    }
  }
  s = std::move(out);
  return true;
}

// The longest prefix of valid UTF-8 `s` of at most `limit` bytes that ends on a character boundary.
std::size_t utf8_cut(std::string_view s, std::size_t limit) {
  if (s.size() <= limit) return s.size();
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return cut;
}

std::string scalar_text(const model::AnyValue& v, bool& ok) {
  ok = true;
  switch (v.type()) {
    case model::ValueType::kString:
      return std::string(v.string_value());
    case model::ValueType::kBool:
      return v.bool_value() ? "true" : "false";
    case model::ValueType::kInt:
      return std::to_string(v.int_value());
    case model::ValueType::kDouble: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v.double_value());
      return buf;
    }
    default:
      ok = false;
      return {};
  }
}

bool tag_char_ok(std::string_view s, std::size_t& chars) {
  // Letters, digits and spaces of any script (\p{L}\p{Z}\p{N}) and _.:/=+-@. Non-ASCII
  // characters are let through (valid UTF-8 is checked): classifying Unicode needs ICU, and the
  // service checks the rest.
  chars = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    ++chars;
    if (*p >= 0x80) {
      const std::size_t n = model::utf8_sequence(p, end);
      if (n == 0) return false;
      p += n;
      continue;
    }
    const char c = static_cast<char>(*p++);
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view(" _.:/=+-@").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

}  // namespace

// ---- pure helpers -------------------------------------------------------------------------------

bool valid_retention_days(std::int64_t days) {
  return std::find(kRetentionDays.begin(), kRetentionDays.end(), days) != kRetentionDays.end();
}

std::string retention_days_list() {
  std::string out;
  for (int d : kRetentionDays) out += (out.empty() ? "" : ", ") + std::to_string(d);
  return out;
}

std::string check_log_group_name(std::string_view name) {
  if (name.empty() || name.size() > 512) return "a log group name has 1 to 512 characters";
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("._-/#").find(c) != std::string_view::npos;
    if (!ok)
      return std::string("a log group name may hold only letters, digits and . _ - / # (not '") + c + "')";
  }
  return {};
}

std::string check_log_stream_name(std::string_view name) {
  if (name.empty() || name.size() > 512) return "a log stream name has 1 to 512 characters";
  if (name.find_first_of(":*") != std::string_view::npos) return "a log stream name may not hold ':' or '*'";
  std::string copy(name);
  if (sanitize_utf8(copy)) return "a log stream name must be valid UTF-8";
  return {};
}

std::string check_tag(std::string_view key, std::string_view value) {
  std::size_t chars = 0;
  if (!tag_char_ok(key, chars) || chars == 0 || chars > 128) {
    return "tag key \"" + std::string(key) + "\": 1 to 128 letters, digits, spaces or _ . : / = + - @";
  }
  if (key.size() >= 4) {
    std::string prefix(key.substr(0, 4));
    for (char& c : prefix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (prefix == "aws:") return "tag key \"" + std::string(key) + "\": the aws: prefix is reserved";
  }
  if (!tag_char_ok(value, chars) || chars > 256) {
    return "the value of tag \"" + std::string(key) +
           "\": at most 256 letters, digits, spaces or _ . : / = + - @";
  }
  return {};
}

std::string expand_placeholders(std::string_view pattern, const model::Attributes& resource,
                                std::string& missing, std::string_view fallback) {
  std::string out;
  out.reserve(pattern.size());
  std::size_t i = 0;
  while (i < pattern.size()) {
    const std::size_t open = pattern.find('{', i);
    if (open == std::string_view::npos) break;
    const std::size_t close = pattern.find('}', open + 1);
    if (close == std::string_view::npos) break;
    out.append(pattern.substr(i, open - i));
    const std::string_view key = pattern.substr(open + 1, close - open - 1);
    bool ok = false;
    std::string value;
    if (const model::AnyValue* v = model::find_attribute(resource, key)) value = scalar_text(*v, ok);
    if (ok) {
      out += value;
    } else {
      out.append(fallback);
      if (!missing.empty()) missing += ",";
      missing.append(key);
    }
    i = close + 1;
  }
  out.append(pattern.substr(std::min(i, pattern.size())));
  return out;
}

std::vector<std::vector<LogEvent>> plan_requests(std::vector<LogEvent> events, std::int64_t now_ms,
                                                 PlanCounts& counts, std::size_t max_event_bytes) {
  max_event_bytes = std::clamp<std::size_t>(
      max_event_bytes, kEventOverheadBytes + kTruncatedSuffix.size() + 4, kMaxRequestBytes);
  const std::size_t max_message = max_event_bytes - kEventOverheadBytes;
  std::vector<LogEvent> kept;
  kept.reserve(events.size());
  for (LogEvent& e : events) {
    if (e.timestamp_ms < now_ms - kMaxEventAgeMs) {
      ++counts.too_old;
      continue;
    }
    if (e.timestamp_ms > now_ms + kMaxEventFutureMs) {
      ++counts.too_new;
      continue;
    }
    if (sanitize_utf8(e.message)) ++counts.invalid_utf8;
    if (e.message.empty()) {
      ++counts.empty;
      continue;
    }
    if (e.message.size() > max_message) {
      e.message.resize(utf8_cut(e.message, max_message - kTruncatedSuffix.size()));
      e.message.append(kTruncatedSuffix);
      ++counts.truncated;
    }
    kept.push_back(std::move(e));
  }
  std::stable_sort(kept.begin(), kept.end(),
                   [](const LogEvent& a, const LogEvent& b) { return a.timestamp_ms < b.timestamp_ms; });

  std::vector<std::vector<LogEvent>> requests;
  std::size_t bytes = 0;
  for (LogEvent& e : kept) {
    const std::size_t size = event_size(e);
    const bool fits = !requests.empty() && requests.back().size() < kMaxRequestEvents &&
                      bytes + size <= kMaxRequestBytes &&
                      // strictly less: exactly 24 h is at the documented edge, not worth the risk
                      e.timestamp_ms - requests.back().front().timestamp_ms < kMaxRequestSpanMs;
    if (!fits) {
      requests.emplace_back();
      bytes = 0;
    }
    bytes += size;
    requests.back().push_back(std::move(e));
  }
  return requests;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Per ASCII byte: 0 copied as it is (printable but the quote and the backslash), 'u' written
  // as \u00XX, else the letter of its two-character escape.
  static constexpr auto kEscape = [] {
    std::array<char, 128> e{};
    for (int c = 0; c < 0x20; ++c) e[static_cast<std::size_t>(c)] = 'u';
    e[0x7f] = 'u';
    e['"'] = '"';
    e['\\'] = '\\';
    e['\n'] = 'n';
    e['\r'] = 'r';
    e['\t'] = 't';
    e['\b'] = 'b';
    e['\f'] = 'f';
    return e;
  }();
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const auto* run = p;  // appended in one go rather than byte by byte
    while (p < end && *p < 0x80 && kEscape[*p] == 0) ++p;
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    if (p == end) break;
    const unsigned char c = *p;
    if (c >= 0x80) {
      const std::size_t n = model::utf8_sequence(p, end);
      if (n == 0) {
        out.append(kReplacement);
        ++p;
      } else {
        out.append(reinterpret_cast<const char*>(p), n);
        p += n;
      }
      continue;
    }
    ++p;
    const char e = kEscape[c];
    if (e == 'u') {
      const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      out.append(u, 6);
    } else {
      const char two[2] = {'\\', e};
      out.append(two, 2);
    }
  }
  out.push_back('"');
}

void append_double(std::string& out, double v) {
  std::array<char, 32> buf{};
  const auto r = std::abs(v) >= 9007199254740992.0
                     ? std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::scientific)
                     : std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), r.ptr);
}

namespace {

std::string_view non_finite_text(double d) { return std::isnan(d) ? "NaN" : (d > 0 ? "+Inf" : "-Inf"); }

void append_base64(std::string& out, std::string_view b) {
  const std::size_t at = out.size();
  out.resize(at + 4 * ((b.size() + 2) / 3) + 1);
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + at),
                                reinterpret_cast<const unsigned char*>(b.data()), static_cast<int>(b.size()));
  out.resize(at + static_cast<std::size_t>(std::max(n, 0)));
}

// Scalars the same in JSON and in text (bool, int, finite double); false for the others.
bool append_plain_scalar(std::string& out, const model::AnyValue& v) {
  switch (v.type()) {
    case model::ValueType::kBool:
      out += v.bool_value() ? "true" : "false";
      return true;
    case model::ValueType::kInt: {
      std::array<char, 24> buf{};
      const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v.int_value());
      out.append(buf.data(), r.ptr);
      return true;
    }
    case model::ValueType::kDouble:
      if (!std::isfinite(v.double_value())) return false;
      append_double(out, v.double_value());
      return true;
    default:
      return false;
  }
}

}  // namespace

void append_json_value(std::string& out, const model::AnyValue& v) {
  if (append_plain_scalar(out, v)) return;
  switch (v.type()) {
    case model::ValueType::kString:
      append_json_string(out, v.string_value());
      break;
    case model::ValueType::kDouble:
      append_json_string(out, non_finite_text(v.double_value()));
      break;
    case model::ValueType::kBytes:
      out.push_back('"');
      append_base64(out, v.string_value());  // base64 needs no escaping
      out.push_back('"');
      break;
    case model::ValueType::kArray:
      out.push_back('[');
      for (std::uint32_t i = 0; i < v.size(); ++i) {
        if (i > 0) out.push_back(',');
        append_json_value(out, v.array_begin()[i]);
      }
      out.push_back(']');
      break;
    case model::ValueType::kKvList:
      out.push_back('{');
      for (std::uint32_t i = 0; i < v.size(); ++i) {
        if (i > 0) out.push_back(',');
        append_json_string(out, v.kvlist_begin()[i].key);
        out.push_back(':');
        append_json_value(out, v.kvlist_begin()[i].value);
      }
      out.push_back('}');
      break;
    default:  // kEmpty
      out += "null";
      break;
  }
}

void append_value_text(std::string& out, const model::AnyValue& v) {
  if (append_plain_scalar(out, v)) return;
  switch (v.type()) {
    case model::ValueType::kEmpty:
      break;
    case model::ValueType::kString:
      out += v.string_value();
      break;
    case model::ValueType::kDouble:
      out += non_finite_text(v.double_value());
      break;
    case model::ValueType::kBytes:
      append_base64(out, v.string_value());
      break;
    default:  // arrays and maps
      append_json_value(out, v);
      break;
  }
}

std::string put_log_events_body(std::string_view group, std::string_view stream,
                                const std::vector<LogEvent>& events) {
  std::size_t reserve = 64 + group.size() + stream.size();
  for (const LogEvent& e : events) reserve += e.message.size() + 48;
  std::string out;
  out.reserve(reserve);
  out += "{\"logGroupName\":";
  append_json_string(out, group);
  out += ",\"logStreamName\":";
  append_json_string(out, stream);
  out += ",\"logEvents\":[";
  bool first = true;
  for (const LogEvent& e : events) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"timestamp\":";
    out += std::to_string(e.timestamp_ms);
    out += ",\"message\":";
    append_json_string(out, e.message);
    out.push_back('}');
  }
  out += "]}";
  return out;
}

// ---- the client ---------------------------------------------------------------------------------

namespace {

// One answer of the service, classified.
struct Answer {
  enum class Kind { kOk, kNotFound, kAlreadyExists, kRetryable, kPermanent };
  Kind kind = Kind::kPermanent;
  std::string outcome;  // requests_total label
  std::string message;  // for logs and Status (never a secret)
  std::string body;     // the 200 body
};

// "com.amazonaws.logs#ThrottlingException:http://..." → "ThrottlingException".
// What the service wrote, made safe for a log line and a Status: one line, at most `max` bytes,
// cut at a character boundary.
std::string one_line(std::string_view s, std::size_t max) {
  std::string out(s.substr(0, utf8_cut(s, max)));
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return out;
}

std::string error_type(const runtime::HttpClientResponse& r, std::string& message) {
  std::string type;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (!r.body.empty() && parser.parse(r.body.data(), r.body.size()).get(root) == simdjson::SUCCESS) {
    std::string_view t;
    if (root["__type"].get(t) == simdjson::SUCCESS) type = std::string(t);
    std::string_view m;
    if (root["message"].get(m) == simdjson::SUCCESS || root["Message"].get(m) == simdjson::SUCCESS) {
      message = one_line(m, kMaxErrorMessage);
    }
  }
  if (type.empty()) {
    if (const std::string* h = r.header("x-amzn-errortype")) type = *h;
  }
  if (const auto hash = type.find('#'); hash != std::string::npos) type = type.substr(hash + 1);
  if (const auto colon = type.find(':'); colon != std::string::npos) type = type.substr(0, colon);
  return one_line(type, kMaxErrorType);
}

Answer classify(const runtime::HttpClientResponse& r) {
  Answer a;
  if (r.status == 0) {
    a.kind = Answer::Kind::kRetryable;
    a.outcome = "network_error";
    a.message = "no answer: " + r.transport_error;
    return a;
  }
  if (r.status >= 200 && r.status < 300) {
    a.kind = Answer::Kind::kOk;
    a.outcome = "ok";
    a.body = r.body;
    return a;
  }
  std::string message;
  const std::string type = error_type(r, message);
  a.message = "HTTP " + std::to_string(r.status) + (type.empty() ? "" : " " + type) +
              (message.empty() ? "" : ": " + message);
  if (type == "ResourceNotFoundException") {
    a.kind = Answer::Kind::kNotFound;
    a.outcome = "resource_not_found";
  } else if (type == "ResourceAlreadyExistsException") {
    a.kind = Answer::Kind::kAlreadyExists;
    a.outcome = "already_exists";
  } else if (type == "ThrottlingException" || r.status == 429) {
    a.kind = Answer::Kind::kRetryable;
    a.outcome = "throttled";
  } else if (type == "ServiceUnavailableException" || r.status >= 500) {
    a.kind = Answer::Kind::kRetryable;
    a.outcome = "server_error";
  } else if (type == "InvalidParameterException") {
    a.kind = Answer::Kind::kPermanent;
    a.outcome = "invalid_parameter";
  } else {
    a.kind = Answer::Kind::kPermanent;
    a.outcome = "rejected";
  }
  return a;
}

}  // namespace

detail::RejectedEvents detail::parse_rejected_log_events(std::string_view body, std::size_t n) {
  RejectedEvents out;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (body.empty() || parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return out;
  simdjson::dom::object info;
  if (root["rejectedLogEventsInfo"].get(info) != simdjson::SUCCESS) return out;
  const auto index = [&](const char* key, std::int64_t def) {
    std::int64_t v = def;
    if (info[key].get(v) != simdjson::SUCCESS) v = def;
    return static_cast<std::size_t>(std::clamp<std::int64_t>(v, 0, static_cast<std::int64_t>(n)));
  };
  // tooOld / expired: [0, end) (exclusive); tooNew: [start, n) (inclusive).
  const std::size_t too_old = index("tooOldLogEventEndIndex", 0);
  const std::size_t expired_end = std::max(too_old, index("expiredLogEventEndIndex", 0));
  const std::size_t too_new_start =
      std::max(expired_end, index("tooNewLogEventStartIndex", static_cast<std::int64_t>(n)));
  out.too_old = too_old;
  out.expired = expired_end - too_old;
  out.too_new = n - too_new_start;
  return out;
}

std::string detail::classify_answer(long status, const std::string& body, const std::string& error_type_header,
                                    std::string& message) {
  runtime::HttpClientResponse r;
  r.status = status;
  r.body = body;
  if (!error_type_header.empty()) r.headers.emplace_back("x-amzn-errortype", error_type_header);
  Answer a = classify(r);
  message = std::move(a.message);
  return a.outcome;
}

namespace {

constexpr std::array<std::string_view, 9> kOutcomes = {
    "ok",           "network_error",     "resource_not_found", "already_exists", "throttled",
    "server_error", "invalid_parameter", "rejected",           "no_credentials"};
constexpr std::array<std::string_view, 10> kDropReasons = {"too_old",
                                                           "too_new",
                                                           "expired",
                                                           "empty_message",
                                                           "invalid_parameter",
                                                           "rejected",
                                                           "resource_not_found",
                                                           "retries_exhausted",
                                                           "shutdown",
                                                           "no_credentials"};

// Drops of one call, counted only when the call does not hand its events back.
struct Tally {
  std::array<std::size_t, kDropReasons.size()> dropped{};
  std::size_t truncated = 0;
  std::size_t invalid_utf8 = 0;
  std::size_t accepted = 0;
  void drop(std::string_view reason, std::size_t n) {
    for (std::size_t i = 0; i < kDropReasons.size(); ++i) {
      if (kDropReasons[i] == reason) dropped[i] += n;
    }
  }
  std::size_t total_dropped() const {
    std::size_t n = 0;
    for (std::size_t d : dropped) n += d;
    return n;
  }
};

}  // namespace

struct CloudWatchLogsClient::Impl {
  CloudWatchLogsSettings settings;
  std::shared_ptr<CredentialsProvider> credentials;
  runtime::HttpClient& http;
  std::string url;
  std::string log_component;

  prometheus::Counter* sent = nullptr;
  prometheus::Counter* truncated = nullptr;
  prometheus::Counter* invalid_utf8 = nullptr;
  std::array<prometheus::Counter*, kDropReasons.size()> dropped{};
  // requests_total{operation, outcome}: PutLogEvents, CreateLogGroup, CreateLogStream, PutRetentionPolicy
  std::array<std::array<prometheus::Counter*, kOutcomes.size()>, 4> requests{};
  prometheus::Counter* groups_created = nullptr;
  prometheus::Counter* streams_created = nullptr;

  std::mutex mu;
  std::condition_variable cv;
  bool aborted = false;
  std::atomic<std::uint64_t> seed{0};  // per-request backoff seeds; put() runs concurrently

  Impl(CloudWatchLogsSettings s, std::shared_ptr<CredentialsProvider> c, runtime::HttpClient& h,
       telemetry::Telemetry& telemetry)
      : settings(std::move(s)), credentials(std::move(c)), http(h) {
    url =
        settings.endpoint.empty() ? "https://logs." + settings.region + ".amazonaws.com" : settings.endpoint;
    while (url.size() > 8 && url.back() == '/') url.pop_back();
    log_component = "exporter/" + settings.exporter_id;
    const std::map<std::string, std::string> id{{"exporter", settings.exporter_id}};
    sent =
        &telemetry
             .counter_family("vigil_cloudwatchlogs_events_sent_total", "Log events CloudWatch Logs accepted.")
             .Add(id);
    truncated = &telemetry
                     .counter_family(
                         "vigil_cloudwatchlogs_events_truncated_total",
                         "Log events cut to the per-event size limit (sent, flagged with [Truncated...]).")
                     .Add(id);
    invalid_utf8 =
        &telemetry
             .counter_family("vigil_cloudwatchlogs_events_invalid_utf8_total",
                             "Log events whose invalid UTF-8 was replaced by U+FFFD before sending.")
             .Add(id);
    auto& drops = telemetry.counter_family("vigil_cloudwatchlogs_events_dropped_total",
                                           "Log events not delivered to CloudWatch Logs, by reason.");
    for (std::size_t i = 0; i < kDropReasons.size(); ++i) {
      dropped[i] = &drops.Add({{"exporter", settings.exporter_id}, {"reason", std::string(kDropReasons[i])}});
    }
    auto& reqs = telemetry.counter_family("vigil_cloudwatchlogs_requests_total",
                                          "CloudWatch Logs API calls by operation and outcome.");
    static constexpr std::array<std::string_view, 4> kOps = {"PutLogEvents", "CreateLogGroup",
                                                             "CreateLogStream", "PutRetentionPolicy"};
    for (std::size_t o = 0; o < kOps.size(); ++o) {
      for (std::size_t i = 0; i < kOutcomes.size(); ++i) {
        requests[o][i] = &reqs.Add({{"exporter", settings.exporter_id},
                                    {"operation", std::string(kOps[o])},
                                    {"outcome", std::string(kOutcomes[i])}});
      }
    }
    auto& created = telemetry.counter_family("vigil_cloudwatchlogs_resources_created_total",
                                             "Log groups and log streams this agent created.");
    groups_created = &created.Add({{"exporter", settings.exporter_id}, {"kind", "log_group"}});
    streams_created = &created.Add({{"exporter", settings.exporter_id}, {"kind", "log_stream"}});
    seed = std::random_device{}();
  }

  static std::size_t op_index(std::string_view op) {
    if (op == "CreateLogGroup") return 1;
    if (op == "CreateLogStream") return 2;
    if (op == "PutRetentionPolicy") return 3;
    return 0;
  }

  void count_request(std::string_view op, std::string_view outcome) {
    for (std::size_t i = 0; i < kOutcomes.size(); ++i) {
      if (kOutcomes[i] == outcome) requests[op_index(op)][i]->Increment();
    }
  }

  bool is_aborted() {
    std::lock_guard lock(mu);
    return aborted;
  }

  // Sleeps `wait` unless aborted; false when aborted.
  bool sleep(std::chrono::nanoseconds wait) {
    std::unique_lock lock(mu);
    return !cv.wait_for(lock, wait, [this] { return aborted; });
  }

  // One signed call. A credentials failure comes back as a retryable "no_credentials" answer.
  Answer call(std::string_view operation, std::string body) {
    Credentials creds;
    if (Status s = credentials ? credentials->get(creds) : Status::retryable("no credentials provider");
        !s.is_ok() || creds.empty()) {
      Answer a;
      a.kind = s.is_permanent() ? Answer::Kind::kPermanent : Answer::Kind::kRetryable;
      a.outcome = "no_credentials";
      a.message = "no AWS credentials: " + (s.is_ok() ? std::string("empty credentials") : s.message());
      count_request(operation, a.outcome);
      return a;
    }
    runtime::HttpClientRequest req;
    req.method = "POST";
    req.url = url + "/";
    req.timeout = settings.request_timeout;
    req.headers = {{"content-type", kContentType},
                   {"x-amz-target", std::string(kTargetPrefix) + std::string(operation)}};
    req.body = std::move(body);
    SignableRequest sr{req.method, req.url, req.headers, req.body};
    SigningOptions so;
    so.region = settings.region;
    so.service = "logs";
    const Signature sig = sign(sr, creds, so);
    for (const auto& h : sig.headers) req.headers.push_back(h);
    const runtime::HttpClientResponse res = http.perform(req);
    Answer a = classify(res);
    count_request(operation, a.outcome);
    return a;
  }

  // CreateLogStream, and when the group is missing CreateLogGroup (tags, then retention) first.
  // Already existing counts as success.
  Answer create(const std::string& group, const std::string& stream) {
    const auto stream_body = [&] {
      std::string b = "{\"logGroupName\":";
      append_json_string(b, group);
      b += ",\"logStreamName\":";
      append_json_string(b, stream);
      b += "}";
      return b;
    };
    Answer a = call("CreateLogStream", stream_body());
    if (a.kind == Answer::Kind::kOk) streams_created->Increment();
    if (a.kind != Answer::Kind::kNotFound) return a;

    std::string b = "{\"logGroupName\":";
    append_json_string(b, group);
    if (!settings.tags.empty()) {
      b += ",\"tags\":{";
      bool first = true;
      for (const auto& [k, v] : settings.tags) {
        if (!first) b += ",";
        first = false;
        append_json_string(b, k);
        b += ":";
        append_json_string(b, v);
      }
      b += "}";
    }
    b += "}";
    Answer g = call("CreateLogGroup", std::move(b));
    if (g.kind == Answer::Kind::kOk) {
      groups_created->Increment();
      telemetry::log(telemetry::Level::kInfo, log_component, "created log group " + group);
      if (settings.log_retention_days > 0) {
        std::string r = "{\"logGroupName\":";
        append_json_string(r, group);
        r += ",\"retentionInDays\":" + std::to_string(settings.log_retention_days) + "}";
        Answer p = call("PutRetentionPolicy", std::move(r));
        if (p.kind != Answer::Kind::kOk) {
          // The group exists and takes events: a missing retention costs storage, not data.
          telemetry::log_limited(telemetry::Level::kWarn, log_component + "/retention", log_component,
                                 "cannot set the retention of log group " + group + ": " + p.message);
        }
      }
    } else if (g.kind != Answer::Kind::kAlreadyExists) {
      return g;
    }
    a = call("CreateLogStream", stream_body());
    if (a.kind == Answer::Kind::kOk) streams_created->Increment();
    // Just created and not found yet: CloudWatch is eventually consistent; retry later.
    if (a.kind == Answer::Kind::kNotFound) a.kind = Answer::Kind::kRetryable;
    return a;
  }

  // Reads rejectedLogEventsInfo of a 200 into the tally; returns the events rejected.
  std::size_t rejected(const std::string& body, std::size_t n, Tally& tally) {
    const detail::RejectedEvents rej = detail::parse_rejected_log_events(body, n);
    tally.drop("too_old", rej.too_old);
    tally.drop("expired", rej.expired);
    tally.drop("too_new", rej.too_new);
    const std::size_t r = rej.total();
    if (r > 0) {
      telemetry::log_limited(telemetry::Level::kWarn, log_component + "/rejected", log_component,
                             "CloudWatch Logs rejected " + std::to_string(r) + " of " + std::to_string(n) +
                                 " events (too old, expired or too new)");
    }
    return r;
  }

  void flush(const Tally& t) {
    for (std::size_t i = 0; i < kDropReasons.size(); ++i) {
      if (t.dropped[i] > 0) dropped[i]->Increment(static_cast<double>(t.dropped[i]));
    }
    if (t.truncated > 0) truncated->Increment(static_cast<double>(t.truncated));
    if (t.invalid_utf8 > 0) invalid_utf8->Increment(static_cast<double>(t.invalid_utf8));
    if (t.accepted > 0) sent->Increment(static_cast<double>(t.accepted));
  }

  PutResult put(const std::string& group, const std::string& stream, std::vector<LogEvent> events,
                const PutOptions& options) {
    PutResult result;
    Tally tally;
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    PlanCounts pc;
    std::vector<std::vector<LogEvent>> plan =
        plan_requests(std::move(events), now_ms, pc, settings.max_event_bytes);
    tally.drop("too_old", pc.too_old);
    tally.drop("too_new", pc.too_new);
    tally.drop("empty_message", pc.empty);
    tally.truncated = pc.truncated;
    tally.invalid_utf8 = pc.invalid_utf8;
    if (pc.too_old + pc.too_new + pc.empty > 0) {
      telemetry::log_limited(telemetry::Level::kWarn, log_component + "/filtered", log_component,
                             "dropped " + std::to_string(pc.too_old) + " events older than 14 days, " +
                                 std::to_string(pc.too_new) + " more than 2 hours ahead, " +
                                 std::to_string(pc.empty) + " with an empty message");
    }

    // A name CloudWatch would refuse is refused here, for good (no request).
    std::string bad = check_log_group_name(group);
    if (bad.empty()) bad = check_log_stream_name(stream);
    if (!bad.empty()) {
      std::size_t n = 0;
      for (const auto& r : plan) n += r.size();
      tally.drop("invalid_parameter", n);
      flush(tally);
      result.dropped = tally.total_dropped();
      result.committed = true;
      const std::string msg = "cloudwatch logs " + group + "/" + stream + ": " + bad;
      telemetry::log_limited(telemetry::Level::kError, log_component + "/name", log_component, msg);
      result.status = n > 0 ? Status::permanent(msg) : Status::ok();
      return result;
    }

    bool any_permanent = false;
    std::string last_error;
    bool handed_back = false;
    for (std::size_t i = 0; i < plan.size(); ++i) {
      const std::vector<LogEvent>& req = plan[i];
      runtime::Backoff backoff(settings.retry, seed.fetch_add(1, std::memory_order_relaxed));
      const auto start = std::chrono::steady_clock::now();
      bool created = false;
      std::string give_up;  // "" while going on; else the drop reason
      for (;;) {
        const bool may_hand_back = !options.committed_before && !result.committed;
        Answer a = call("PutLogEvents", put_log_events_body(group, stream, req));
        if (a.kind == Answer::Kind::kNotFound && !created) {
          created = true;
          Answer c = create(group, stream);
          if (c.kind == Answer::Kind::kOk || c.kind == Answer::Kind::kAlreadyExists)
            continue;  // resend at once
          a = c;
        } else if (a.kind == Answer::Kind::kNotFound) {
          a.kind = Answer::Kind::kRetryable;  // just created; eventually consistent
        }
        if (a.kind == Answer::Kind::kOk) {
          const std::size_t r = rejected(a.body, req.size(), tally);
          tally.accepted += req.size() - r;
          result.committed = true;
          break;
        }
        if (a.kind == Answer::Kind::kPermanent || a.kind == Answer::Kind::kAlreadyExists) {
          tally.drop(a.outcome == "invalid_parameter"    ? "invalid_parameter"
                     : a.outcome == "no_credentials"     ? "no_credentials"
                     : a.outcome == "resource_not_found" ? "resource_not_found"
                                                         : "rejected",
                     req.size());
          any_permanent = true;
          last_error = a.message;
          result.committed = true;
          telemetry::log_limited(telemetry::Level::kError, log_component + "/permanent/" + a.outcome,
                                 log_component,
                                 "PutLogEvents to " + group + "/" + stream + " refused, " +
                                     std::to_string(req.size()) + " events dropped: " + a.message);
          break;
        }
        // Retryable.
        last_error = a.message;
        if (may_hand_back && options.hand_back_uncommitted) {
          handed_back = true;
          break;
        }
        if (is_aborted()) {
          give_up = "shutdown";
          break;
        }
        if (!settings.retry.enabled) {
          give_up = "retries_exhausted";
          break;
        }
        const std::chrono::nanoseconds wait = backoff.next();
        const auto elapsed = std::chrono::steady_clock::now() - start;
        if (settings.retry.max_elapsed_time.count() > 0 && elapsed + wait > settings.retry.max_elapsed_time) {
          give_up = "retries_exhausted";
          break;
        }
        telemetry::log_limited(
            telemetry::Level::kWarn, log_component + "/retry", log_component,
            "PutLogEvents to " + group + "/" + stream + " failed (" + a.message + "), retrying");
        if (!sleep(wait)) {
          give_up = "shutdown";
          break;
        }
      }
      if (handed_back) break;
      if (!give_up.empty()) {
        if (!options.committed_before && !result.committed) {
          handed_back = true;
          break;
        }
        std::size_t rest = 0;
        for (std::size_t j = i; j < plan.size(); ++j) rest += plan[j].size();
        tally.drop(give_up, rest);
        telemetry::log_limited(telemetry::Level::kError, log_component + "/gaveup", log_component,
                               "PutLogEvents to " + group + "/" + stream + ": " + std::to_string(rest) +
                                   " events dropped (" + give_up + "): " + last_error);
        break;
      }
    }

    if (handed_back) {
      // Nothing delivered and nothing counted: the caller resends everything (or counts it).
      result.status = Status::retryable("cloudwatch logs " + group + "/" + stream + ": " + last_error);
      return result;
    }
    flush(tally);
    result.accepted = tally.accepted;
    result.dropped = tally.total_dropped();
    result.committed = true;
    if (any_permanent && tally.accepted == 0) {
      result.status = Status::permanent("cloudwatch logs " + group + "/" + stream + ": " + last_error);
    }
    return result;
  }
};

CloudWatchLogsClient::CloudWatchLogsClient(CloudWatchLogsSettings settings,
                                           std::shared_ptr<CredentialsProvider> credentials,
                                           runtime::HttpClient& http, telemetry::Telemetry& telemetry)
    : impl_(std::make_unique<Impl>(std::move(settings), std::move(credentials), http, telemetry)) {}

CloudWatchLogsClient::~CloudWatchLogsClient() = default;

Status CloudWatchLogsClient::put_log_events(const std::string& group, const std::string& stream,
                                            std::vector<LogEvent> events) {
  return impl_->put(group, stream, std::move(events), PutOptions{}).status;
}

PutResult CloudWatchLogsClient::put(const std::string& group, const std::string& stream,
                                    std::vector<LogEvent> events, const PutOptions& options) {
  return impl_->put(group, stream, std::move(events), options);
}

void CloudWatchLogsClient::abort() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->aborted = true;
  }
  impl_->cv.notify_all();
}

const std::string& CloudWatchLogsClient::endpoint() const {
  return impl_->url;
}

}  // namespace vigil::aws
