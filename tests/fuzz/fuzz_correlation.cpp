// libFuzzer target: the correlation processor's extraction (log fields and headers written by
// applications, so untrusted).
//
// Input: the bytes are used at once as a traceparent, an X-Amzn-Trace-Id, a trace_id and a
// span_id value, and as a request ID; also as a log record's string body (parsed as JSON when it
// starts with '{'), and as the request ID of a span fed to the traces side of the same join table.
// Checked:
//   - a parser that accepts its input gives a non-zero trace ID, and the IDs are the input's
//     own hex digits (traceparent: the first 55 characters re-format to the same text; X-Ray: the
//     Root's 8 + 24 digits; plain fields: the 32 digits in lower case);
//   - when the body is not JSON, the record leaves the processor with exactly the trace ID of the
//     first valid source (trace_id field, then traceparent, then X-Ray), or none;
//   - the correlation.id attribute, when set, reads back as the input;
//   - the record's attributes survive the processor (the batch is walked after the processor
//     handled it), and the join table stays within its bound.
// Any broken property aborts with __builtin_trap(), which libFuzzer reports as a crash.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "agent/model/batch.hpp"
#include "agent/processors/correlation/correlation_processor.hpp"
#include "agent/processors/correlation/extract.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace {

namespace corr = vigil::processors::correlation;
using vigil::component::Status;
using vigil::model::AnyValue;
using vigil::model::Batch;
using vigil::model::Signal;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string hex(const std::uint8_t* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Keeps the last batch so the test can walk it after the processor returned.
struct Keep : vigil::component::Consumer {
  Status consume(Batch&& b) override {
    last = std::make_unique<Batch>(std::move(b));
    return Status::ok();
  }
  std::unique_ptr<Batch> last;
};

struct World {
  vigil::telemetry::Telemetry telemetry;
  Keep logs_out;
  Keep traces_out;
  std::unique_ptr<vigil::processors::CorrelationProcessor> logs;
  std::unique_ptr<vigil::processors::CorrelationProcessor> traces;
  World() {
    vigil::processors::CorrelationSettings s;
    s.join_max_entries = 1000;
    logs = std::make_unique<vigil::processors::CorrelationProcessor>("correlation", Signal::kLogs, "logs", logs_out, s,
                                                                     telemetry);
    traces = std::make_unique<vigil::processors::CorrelationProcessor>("correlation", Signal::kTraces, "traces",
                                                                       traces_out, s, telemetry);
  }
};

void check_parsers(std::string_view in, corr::TraceContext& tp, bool& tp_ok, corr::TraceContext& xr, bool& xr_ok,
                   vigil::model::TraceId& field, bool& field_ok) {
  tp_ok = corr::parse_traceparent(in, tp);
  if (tp_ok) {
    check(in.size() >= 55);
    check(!vigil::model::is_zero(tp.trace_id) && !vigil::model::is_zero(tp.span_id));
    const std::string again = std::string(in.substr(0, 3)) + hex(tp.trace_id.data(), 16) + "-" +
                              hex(tp.span_id.data(), 8) + "-" + std::string(in.substr(53, 2));
    check(again == in.substr(0, 55));
    if (in.substr(0, 2) == "00") check(in.size() == 55);
  }
  xr_ok = corr::parse_xray_header(in, xr);
  if (xr_ok) {
    check(!vigil::model::is_zero(xr.trace_id));
    check(in.find("Root") != std::string_view::npos);
    const std::string digits = hex(xr.trace_id.data(), 16);
    check(in.find(digits.substr(0, 8) + "-" + digits.substr(8)) != std::string_view::npos);
  }
  field_ok = corr::parse_trace_id_value(AnyValue::string(in), field);
  if (field_ok) {
    check(!vigil::model::is_zero(field));
    check(hex(field.data(), 16) == lower(in));
  }
  vigil::model::SpanId span{};
  if (corr::parse_span_id_value(AnyValue::string(in), span)) check(hex(span.data(), 8) == lower(in));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  corr::TraceContext tp;
  corr::TraceContext xr;
  vigil::model::TraceId field{};
  bool tp_ok = false;
  bool xr_ok = false;
  bool field_ok = false;
  check_parsers(in, tp, tp_ok, xr, xr_ok, field, field_ok);

  // A span carrying the input as its request ID feeds the shared join table.
  {
    Batch b(Signal::kTraces);
    auto& a = b.arena();
    auto& span = b.resource_spans().emplace_back(a).scope_spans.emplace_back(a).spans.emplace_back(a);
    span.trace_id[0] = 1;
    span.span_id[0] = 2;
    span.attributes.push_back(a, {a.copy("request_id"), AnyValue::string(a.copy(in))});
    check(world.traces->consume(std::move(b)).is_ok());
  }

  Batch b(Signal::kLogs);
  auto& a = b.arena();
  auto& rec = b.resource_logs().emplace_back(a).scope_logs.emplace_back(a).log_records.emplace_back(a);
  const std::string_view copy = a.copy(in);
  for (const char* key : {"traceparent", "X-Amzn-Trace-Id", "trace_id", "span_id", "request_id"}) {
    rec.attributes.push_back(a, {a.copy(key), AnyValue::string(copy)});
  }
  rec.body = AnyValue::string(copy);
  check(world.logs->consume(std::move(b)).is_ok());
  check(world.logs_out.last != nullptr);
  const auto& out = world.logs_out.last->resource_logs()[0].scope_logs[0].log_records[0];

  if (!corr::looks_like_json_object(in)) {
    vigil::model::TraceId want{};
    if (field_ok) want = field;
    else if (tp_ok) want = tp.trace_id;
    else if (xr_ok) want = xr.trace_id;
    else if (!in.empty() && in.size() <= 64) want[0] = 1;  // joined to the span above
    check(out.trace_id == want);
  }
  const AnyValue* id = vigil::model::find_attribute(out.attributes, "correlation.id");
  if (!in.empty()) {
    check(id != nullptr && id->type() == vigil::model::ValueType::kString && id->string_value() == in);
  } else {
    check(id == nullptr);
  }
  for (const auto& kv : out.attributes) {
    volatile std::size_t n = kv.key.size() + kv.value.size();
    (void)n;
  }
  check(world.logs->join_entries() <= 1000);
  return 0;
}
