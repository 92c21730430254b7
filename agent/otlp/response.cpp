// OTLP export responses and google.rpc.Status with libprotobuf's generated classes; the JSON
// forms through libprotobuf's proto3 JSON mapping (json_util), except where servers' Status
// details would trip it (see status_from_json).
#include "agent/otlp/response.hpp"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstring>
#include <optional>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace vigil::otlp {
namespace {

namespace pb = google::protobuf;
namespace col_trace = opentelemetry::proto::collector::trace::v1;
namespace col_metrics = opentelemetry::proto::collector::metrics::v1;
namespace col_logs = opentelemetry::proto::collector::logs::v1;

// google.protobuf.Duration's valid range (about 10,000 years); larger values from a hostile or
// broken server are clamped so the conversion to milliseconds cannot overflow.
constexpr std::int64_t kMaxDurationSeconds = 315'576'000'000;

// An empty body; for JSON, whitespace only.
bool is_empty(std::string_view body, Encoding encoding) {
  if (encoding == Encoding::kProtobuf) return body.empty();
  return std::all_of(body.begin(), body.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::string to_json(const pb::Message& message) {
  std::string out;
  pb::util::JsonPrintOptions options;  // proto3 JSON: lowerCamelCase, int64 as strings
  if (!pb::util::MessageToJsonString(message, &out, options).ok())
    return "{}";  // cannot happen for these types
  return out;
}

bool from_json(std::string_view body, pb::Message& message, std::string& error) {
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  pb::LogSilencer silence;  // failures are returned, not logged by libprotobuf
  auto status = pb::util::JsonStringToMessage(pb::StringPiece(body.data(), body.size()), &message, options);
  if (!status.ok()) {
    error = "invalid " + message.GetTypeName() + " JSON: " + std::string(status.message());
    return false;
  }
  return true;
}

bool from_protobuf(std::string_view body, pb::Message& message, std::string& error) {
  pb::LogSilencer silence;
  if (body.size() > static_cast<std::size_t>(INT_MAX) ||
      !message.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    error = "invalid " + message.GetTypeName() + ": malformed or truncated protobuf";
    return false;
  }
  return true;
}

std::chrono::milliseconds to_millis(std::int64_t seconds, std::int32_t nanos) {
  seconds = std::clamp<std::int64_t>(seconds, 0, kMaxDurationSeconds);
  nanos = std::clamp<std::int32_t>(nanos, 0, 999'999'999);
  return std::chrono::milliseconds(seconds * 1000 + nanos / 1'000'000);
}

google::rpc::Status to_proto(const RpcStatus& in) {
  google::rpc::Status status;
  status.set_code(in.code);
  status.set_message(in.message);
  if (in.retry_delay) {
    const std::int64_t ms = std::max<std::int64_t>(in.retry_delay->count(), 0);
    google::rpc::RetryInfo info;
    info.mutable_retry_delay()->set_seconds(ms / 1000);
    info.mutable_retry_delay()->set_nanos(static_cast<std::int32_t>(ms % 1000) * 1'000'000);
    status.add_details()->PackFrom(info);
  }
  return status;
}

// The first RetryInfo among a Status's details, if any.
std::optional<std::chrono::milliseconds> retry_delay(const google::rpc::Status& status) {
  for (const pb::Any& detail : status.details()) {
    google::rpc::RetryInfo info;
    if (detail.Is<google::rpc::RetryInfo>() && detail.UnpackTo(&info)) {
      return to_millis(info.retry_delay().seconds(), info.retry_delay().nanos());
    }
  }
  return std::nullopt;
}

// Parses a proto3 JSON Duration ("1.5s", "-2s", "0.000001s") into seconds and nanoseconds.
bool parse_duration(std::string_view s, std::int64_t& seconds, std::int32_t& nanos) {
  if (s.size() < 2 || s.back() != 's') return false;
  s.remove_suffix(1);
  bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  std::size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (whole.empty() || whole.size() > 12 || frac.size() > 9) return false;
  std::int64_t sec = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return false;
    sec = sec * 10 + (c - '0');
  }
  std::int32_t ns = 0;
  for (std::size_t i = 0; i < 9; ++i) {
    char c = i < frac.size() ? frac[i] : '0';
    if (c < '0' || c > '9') return false;
    ns = ns * 10 + (c - '0');
  }
  seconds = negative ? -sec : sec;
  nanos = negative ? -ns : ns;
  return true;
}

// google.rpc.Status from JSON. libprotobuf's JSON parser refuses a whole Status when one of its
// `details` is an Any of a type it does not know (servers send ErrorInfo, BadRequest, ...; only
// RetryInfo is compiled in here), even with ignore_unknown_fields, so the Status is read with
// simdjson instead: code, message, and the retryDelay of a RetryInfo detail; the rest is ignored.
bool status_from_json(std::string_view body, RpcStatus& out, std::string& error) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto e = parser.parse(body.data(), body.size()).get(root)) {
    error = std::string("invalid google.rpc.Status JSON: ") + simdjson::error_message(e);
    return false;
  }
  simdjson::dom::object object;
  if (root.get(object) != simdjson::SUCCESS) {
    error = "invalid google.rpc.Status JSON: not an object";
    return false;
  }
  auto fail = [&](const char* what) {
    error = std::string("invalid google.rpc.Status JSON: ") + what;
    return false;
  };
  for (auto field : object) {
    if (field.value.is_null()) continue;
    if (field.key == "code") {
      std::int64_t code = 0;
      std::string_view text;
      if (field.value.get(code) != simdjson::SUCCESS) {
        // proto3 JSON also allows an int32 as a string.
        if (field.value.get(text) != simdjson::SUCCESS) return fail("code is not an integer");
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
        if (ec != std::errc() || p != text.data() + text.size()) return fail("code is not an integer");
      }
      if (code < INT32_MIN || code > INT32_MAX) return fail("code out of range");
      out.code = static_cast<std::int32_t>(code);
    } else if (field.key == "message") {
      std::string_view message;
      if (field.value.get(message) != simdjson::SUCCESS) return fail("message is not a string");
      out.message.assign(message);
    } else if (field.key == "details") {
      simdjson::dom::array details;
      if (field.value.get(details) != simdjson::SUCCESS) return fail("details is not an array");
      for (simdjson::dom::element detail : details) {
        std::string_view type;
        std::string_view delay;
        if (detail["@type"].get(type) != simdjson::SUCCESS ||
            type.substr(type.rfind('/') + 1) != "google.rpc.RetryInfo") {
          continue;
        }
        if (out.retry_delay) continue;  // the first RetryInfo counts, as in protobuf form
        std::int64_t seconds = 0;
        std::int32_t nanos = 0;
        if (detail["retryDelay"].get(delay) == simdjson::SUCCESS) {
          if (!parse_duration(delay, seconds, nanos)) return fail("RetryInfo.retryDelay is not a duration");
        } else if (detail["retry_delay"].get(delay) == simdjson::SUCCESS) {
          if (!parse_duration(delay, seconds, nanos)) return fail("RetryInfo.retry_delay is not a duration");
        }
        out.retry_delay = to_millis(seconds, nanos);
      }
    }
  }
  return true;
}

template <class Response>
std::string encode_response(const PartialSuccess& partial, Encoding encoding,
                            void (*set)(Response&, std::int64_t)) {
  Response response;
  if (!partial.empty()) {
    set(response, partial.rejected);
    response.mutable_partial_success()->set_error_message(partial.error_message);
  }
  return encoding == Encoding::kJson ? to_json(response) : response.SerializeAsString();
}

template <class Response>
bool decode_response(std::string_view body, Encoding encoding, PartialSuccess& out, std::string& error,
                     std::int64_t (*rejected)(const Response&)) {
  Response response;
  if (encoding == Encoding::kJson ? !from_json(body, response, error)
                                  : !from_protobuf(body, response, error)) {
    return false;
  }
  out.rejected = rejected(response);
  out.error_message = response.partial_success().error_message();
  return true;
}

}  // namespace

std::string encode_export_response(model::Signal signal, const PartialSuccess& partial, Encoding encoding) {
  switch (signal) {
    case model::Signal::kTraces:
      return encode_response<col_trace::ExportTraceServiceResponse>(
          partial, encoding,
          [](auto& r, std::int64_t n) { r.mutable_partial_success()->set_rejected_spans(n); });
    case model::Signal::kMetrics:
      return encode_response<col_metrics::ExportMetricsServiceResponse>(
          partial, encoding,
          [](auto& r, std::int64_t n) { r.mutable_partial_success()->set_rejected_data_points(n); });
    case model::Signal::kLogs:
      return encode_response<col_logs::ExportLogsServiceResponse>(
          partial, encoding,
          [](auto& r, std::int64_t n) { r.mutable_partial_success()->set_rejected_log_records(n); });
  }
  return encoding == Encoding::kJson ? "{}" : "";
}

bool decode_export_response(model::Signal signal, std::string_view body, Encoding encoding,
                            PartialSuccess& out, std::string& error) {
  out = {};
  if (is_empty(body, encoding)) return true;  // an empty body is a full success
  switch (signal) {
    case model::Signal::kTraces:
      return decode_response<col_trace::ExportTraceServiceResponse>(
          body, encoding, out, error, [](const auto& r) { return r.partial_success().rejected_spans(); });
    case model::Signal::kMetrics:
      return decode_response<col_metrics::ExportMetricsServiceResponse>(
          body, encoding, out, error,
          [](const auto& r) { return r.partial_success().rejected_data_points(); });
    case model::Signal::kLogs:
      return decode_response<col_logs::ExportLogsServiceResponse>(
          body, encoding, out, error,
          [](const auto& r) { return r.partial_success().rejected_log_records(); });
  }
  error = "unknown signal";
  return false;
}

std::string encode_rpc_status(const RpcStatus& status, Encoding encoding) {
  google::rpc::Status message = to_proto(status);
  return encoding == Encoding::kJson ? to_json(message) : message.SerializeAsString();
}

bool decode_rpc_status(std::string_view body, Encoding encoding, RpcStatus& out, std::string& error) {
  out = {};
  if (is_empty(body, encoding)) return true;  // the empty Status message (code 0)
  if (encoding == Encoding::kJson) return status_from_json(body, out, error);
  google::rpc::Status status;
  if (!from_protobuf(body, status, error)) return false;
  out.code = status.code();
  out.message = status.message();
  out.retry_delay = retry_delay(status);
  return true;
}

std::string encode_status_details_bin(const RpcStatus& status) {
  return to_proto(status).SerializeAsString();
}

std::optional<std::chrono::milliseconds> retry_delay_from_status_details_bin(std::string_view bytes) {
  google::rpc::Status status;
  std::string error;
  if (!from_protobuf(bytes, status, error)) return std::nullopt;
  return retry_delay(status);
}

}  // namespace vigil::otlp
