// libFuzzer target: everything a remote peer or a local file feeds the AWS code (agent/aws/), and
// the request side that must take any input (SigV4 signing, PutLogEvents planning and encoding).
//
// Input: byte 0 picks what is fed (byte % 8); the rest is text, read as below (seeds in
// corpus/fuzz_aws_responses/ are written by hand in these forms):
//   0  STS AssumeRole* answer      line 1: HTTP status; then the XML body
//   1  container / IMDS JSON       the JSON body (also parsed as an ISO 8601 time)
//   2  ~/.aws/credentials          the file
//   3  ~/.aws/config               the file
//   4  CloudWatch Logs error       line 1: HTTP status and an optional x-amzn-errortype; then the body
//   5  PutLogEvents 200 answer     line 1: the request's event count; then the body
//   6  SigV4 signing               line 1: method region service session-token flags; line 2: the
//                                  URL; then header lines "name:value" up to an empty line; then the body
//   7  PutLogEvents planning       line 1: now_ms max_event_bytes repeat; then events "ts message",
//                                  one per line, the whole list repeated `repeat` times
// Checked (a broken property aborts with __builtin_trap()):
//   - credential parsers: success means a key ID and a secret, trimmed, not expired; failure
//     means a one-line bounded message (valid UTF-8 when the input is) that names no secret of the
//     answer, and `out` untouched; the same input gives the same result twice;
//   - ini files: section names, keys and values non-empty and trimmed, keys lower-case;
//   - CloudWatch answers: a known outcome (ok exactly for 2xx), a bounded one-line message (valid
//     UTF-8 when the input is); rejected events never more than the request's;
//   - signing (dates from 2015 to about 2150): a 64-hex signature, an Authorization header, the
//     same signature twice and with the header names in another case;
//   - planning: every event is sent or counted once, each request within the PutLogEvents limits
//     (events, bytes, sorted, under 24 h, ages), and the JSON body parses back to the same messages.

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/aws/cloudwatch_logs.hpp"
#include "agent/aws/cloudwatch_logs_parse.hpp"
#include "agent/aws/credentials_ini.hpp"
#include "agent/aws/credentials_parse.hpp"
#include "agent/aws/sigv4.hpp"

namespace {

using namespace vigil::aws;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Splits off the first line of `text` (without its '\n').
std::string_view take_line(std::string_view& text) {
  const std::size_t nl = text.find('\n');
  const std::string_view line = text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  return line;
}

std::string_view take_word(std::string_view& line) {
  while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  const std::size_t sp = line.find(' ');
  const std::string_view word = line.substr(0, sp);
  line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  return word;
}

template <typename T>
T number(std::string_view s, T fallback) {
  T v = fallback;
  if (std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc()) return fallback;
  return v;
}

bool valid_utf8(std::string_view s) {
  return simdjson::validate_utf8(s.data(), s.size());
}

bool trimmed(std::string_view s) {
  return !s.empty() && !std::isspace(static_cast<unsigned char>(s.front())) &&
         !std::isspace(static_cast<unsigned char>(s.back()));
}

// A message for a log line or a Status: one line, bounded, valid UTF-8 when its source was.
void check_message(const std::string& m, bool input_utf8) {
  check(!m.empty());
  check(m.size() < 2048);
  for (char c : m) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  if (input_utf8) check(valid_utf8(m));
}

Credentials sentinel() {
  Credentials c;
  c.access_key_id = "SENTINEL";
  c.secret_access_key = "untouched";
  return c;
}

bool same(const Credentials& a, const Credentials& b) {
  return a.access_key_id == b.access_key_id && a.secret_access_key == b.secret_access_key &&
         a.session_token == b.session_token && a.expiration == b.expiration;
}

void check_found(const Credentials& c, std::chrono::system_clock::time_point before) {
  check(!c.empty());
  check(!c.expiration || *c.expiration > before);
}

// ---- 0: STS ----------------------------------------------------------------------------------

void sts(std::string_view text) {
  const long status = number<long>(take_line(text), 200);
  const std::string body(text);
  const auto before = std::chrono::system_clock::now();
  Credentials out = sentinel(), again = sentinel();
  std::string error, error2;
  const bool ok = detail::parse_sts_answer(status, body, out, error);
  check(detail::parse_sts_answer(status, body, again, error2) == ok);
  if (ok) {
    check(error.empty());
    check_found(out, before);
    check(trimmed(out.access_key_id) && trimmed(out.secret_access_key));
    check(same(out, again));
    return;
  }
  check(same(out, sentinel()));
  check_message(error, valid_utf8(body));
  check(error.rfind("STS", 0) == 0);
  if (status == 200) {
    // A 200 carried credentials: what the message may quote is the Expiration text alone.
    static constexpr std::string_view kFixed[] = {"STS: the answer holds no <Credentials>",
                                                  "STS: the answer lacks AccessKeyId or SecretAccessKey"};
    const bool fixed = std::find(std::begin(kFixed), std::end(kFixed), error) != std::end(kFixed);
    check(fixed || error.rfind("STS: Expiration is not ISO 8601: ", 0) == 0 ||
          error.rfind("STS returned credentials that expired at ", 0) == 0);
  }
}

// ---- 1: container / IMDS JSON ----------------------------------------------------------------

std::string json_field(simdjson::dom::element root, const char* key) {
  std::string_view v;
  if (root[key].get_string().get(v) != simdjson::SUCCESS) return {};
  return std::string(v);
}

void json_credentials(std::string_view text) {
  const std::string body(text);
  (void)detail::parse_iso8601(body);
  const auto before = std::chrono::system_clock::now();
  Credentials out = sentinel(), again = sentinel();
  std::string error, error2;
  const bool ok = detail::parse_json_credentials_answer(body, out, error);
  check(detail::parse_json_credentials_answer(body, again, error2) == ok);
  check(error == error2);
  if (ok) {
    check(error.empty());
    check_found(out, before);
    check(same(out, again));
    return;
  }
  check(same(out, sentinel()));
  check_message(error, valid_utf8(body));
  // The secret of the answer is never quoted, unless a field the message may quote holds it too.
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body).get(root) != simdjson::SUCCESS || !root.is_object()) return;
  const std::string secret = json_field(root, "SecretAccessKey");
  if (secret.size() < 8 || error.find(secret) == std::string::npos) return;
  bool quoted = false;
  for (const char* k : {"Code", "Message", "Expiration"})
    quoted = quoted || json_field(root, k).find(secret) != std::string::npos;
  check(quoted);
}

// ---- 2, 3: shared files ----------------------------------------------------------------------

void ini(std::string_view text, bool config_file) {
  const IniProfiles profiles = parse_ini_profiles(text, config_file);
  check(profiles == parse_ini_profiles(text, config_file));
  for (const auto& [name, keys] : profiles) {
    check(trimmed(name));
    for (const auto& [k, v] : keys) {
      check(trimmed(k) && trimmed(v));
      check(k.find('=') == std::string::npos);
      for (char c : k) check(!(c >= 'A' && c <= 'Z'));
    }
  }
}

// ---- 4, 5: CloudWatch Logs answers -------------------------------------------------------------

void cloudwatch_error(std::string_view text) {
  std::string_view line = take_line(text);
  const long status = number<long>(take_word(line), 400);
  const std::string header(line);
  const std::string body(text);
  std::string message;
  const std::string outcome = detail::classify_answer(status, body, header, message);
  static constexpr std::string_view kOutcomes[] = {
      "ok",        "network_error", "resource_not_found", "already_exists",
      "throttled", "server_error",  "invalid_parameter",  "rejected"};
  check(std::find(std::begin(kOutcomes), std::end(kOutcomes), outcome) != std::end(kOutcomes));
  check((outcome == "ok") == (status >= 200 && status < 300));
  check((outcome == "network_error") == (status == 0));
  if (outcome != "ok") check_message(message, valid_utf8(body) && valid_utf8(header));
}

void cloudwatch_rejected(std::string_view text) {
  // A request holds at most 10,000 events; a little beyond that is still checked.
  const std::size_t n = std::min<std::size_t>(number<std::size_t>(take_line(text), 10), 1u << 20);
  const detail::RejectedEvents r = detail::parse_rejected_log_events(text, n);
  check(r.too_old <= n && r.expired <= n && r.too_new <= n);
  check(r.total() <= n);
}

// ---- 6: SigV4 --------------------------------------------------------------------------------

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void sigv4(std::string_view text) {
  std::string_view first = take_line(text);
  SignableRequest req;
  req.method = std::string(take_word(first));
  SigningOptions options;
  options.region = std::string(take_word(first));
  options.service = std::string(take_word(first));
  Credentials creds;
  creds.access_key_id = "AKIDEXAMPLE";
  creds.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  const std::string_view token = take_word(first);
  if (token != "-") creds.session_token = std::string(token);
  const unsigned flags = number<unsigned>(take_word(first), 0);
  options.uri_escape_path = (flags & 1) == 0;
  options.add_content_sha256 = (flags & 2) != 0;
  if (flags & 4) options.payload_hash = "UNSIGNED-PAYLOAD";
  // Any time a time_point can hold, as seconds around 2015.
  options.time = std::chrono::system_clock::time_point(
      std::chrono::seconds(1'440'938'160 + static_cast<std::int64_t>((flags >> 3) % 50'000) * 86'401));
  req.url = std::string(take_line(text));
  while (!text.empty()) {
    const std::string_view line = take_line(text);
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    req.headers.emplace_back(std::string(line.substr(0, colon)), colon == std::string_view::npos
                                                                     ? std::string()
                                                                     : std::string(line.substr(colon + 1)));
  }
  req.body = text;

  const Signature sig = sign(req, creds, options);
  check(is_hex64(sig.signature));
  check(!sig.headers.empty() && sig.headers.front().first == "authorization");
  check(sig.headers.front().second.rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 0) == 0);
  check(sig.headers.front().second.size() >= 64 &&
        sig.headers.front().second.compare(sig.headers.front().second.size() - 64, 64, sig.signature) == 0);
  for (const auto& [name, value] : sig.headers) {
    for (char c : name) check(!(c >= 'A' && c <= 'Z'));
  }
  check(sign(req, creds, options).signature == sig.signature);
  // Header names are case-insensitive.
  SignableRequest upper = req;
  for (auto& h : upper.headers) {
    for (char& c : h.first) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  check(sign(upper, creds, options).canonical_request == sig.canonical_request);
  check(sha256_hex(req.body).size() == 64);
}

// ---- 7: PutLogEvents planning and encoding -----------------------------------------------------

void plan(std::string_view text) {
  std::string_view first = take_line(text);
  const std::int64_t now_ms = number<std::int64_t>(take_word(first), 1'700'000'000'000);
  const std::size_t max_event_bytes = number<std::size_t>(take_word(first), kDefaultMaxEventBytes);
  // Enough to pass 10,000 events or 1 MiB; bounded work: at most about 1.25 MiB of messages.
  std::size_t repeat = std::clamp<std::size_t>(number<std::size_t>(take_word(first), 1), 1, 11'000);
  repeat = std::min(repeat, std::max<std::size_t>(1, (5u << 18) / (text.size() + 1)));
  std::vector<LogEvent> one;
  while (!text.empty()) {
    std::string_view line = take_line(text);
    LogEvent e;
    e.timestamp_ms = number<std::int64_t>(take_word(line), now_ms);
    e.message = std::string(line);
    one.push_back(std::move(e));
  }
  std::vector<LogEvent> events;
  for (std::size_t r = 0; r < repeat; ++r) events.insert(events.end(), one.begin(), one.end());
  const std::size_t total = events.size();

  PlanCounts counts;
  const auto requests = plan_requests(std::move(events), now_ms, counts, max_event_bytes);
  const std::size_t limit = std::clamp<std::size_t>(
      max_event_bytes, kEventOverheadBytes + kTruncatedSuffix.size() + 4, kMaxRequestBytes);
  std::size_t sent = 0;
  std::int64_t last = 0;
  bool any = false;
  static simdjson::dom::parser parser;
  for (const auto& req : requests) {
    check(!req.empty() && req.size() <= kMaxRequestEvents);
    std::size_t bytes = 0;
    for (const LogEvent& e : req) {
      check(!e.message.empty());
      check(event_size(e) <= limit);
      check(valid_utf8(e.message));
      check(e.timestamp_ms >= now_ms - kMaxEventAgeMs && e.timestamp_ms <= now_ms + kMaxEventFutureMs);
      check(!any || e.timestamp_ms >= last);  // sorted, across requests too
      check(e.timestamp_ms - req.front().timestamp_ms < kMaxRequestSpanMs);
      last = e.timestamp_ms;
      any = true;
      bytes += event_size(e);
    }
    check(bytes <= kMaxRequestBytes);
    sent += req.size();

    const std::string body = put_log_events_body("/group", "stream", req);
    check(valid_utf8(body));
    simdjson::dom::element root;
    check(parser.parse(body).get(root) == simdjson::SUCCESS);
    simdjson::dom::array list;
    check(root["logEvents"].get(list) == simdjson::SUCCESS);
    check(list.size() == req.size());
    std::size_t i = 0;
    for (simdjson::dom::element ev : list) {
      std::string_view m;
      std::int64_t ts = 0;
      check(ev["message"].get(m) == simdjson::SUCCESS && m == req[i].message);
      check(ev["timestamp"].get(ts) == simdjson::SUCCESS && ts == req[i].timestamp_ms);
      ++i;
    }
  }
  check(sent + counts.too_old + counts.too_new + counts.empty == total);
  check(counts.truncated <= sent && counts.invalid_utf8 <= total);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 8) {
    case 0:
      sts(text);
      break;
    case 1:
      json_credentials(text);
      break;
    case 2:
      ini(text, false);
      break;
    case 3:
      ini(text, true);
      break;
    case 4:
      cloudwatch_error(text);
      break;
    case 5:
      cloudwatch_rejected(text);
      break;
    case 6:
      sigv4(text);
      break;
    default:
      plan(text);
      break;
  }
  return 0;
}
