#pragma once
// OTLP logs: mirrors opentelemetry/proto/logs/v1/logs.proto. Views into a batch's Arena.

#include "agent/model/common.hpp"

namespace vigil::model {

struct LogRecord {
  std::uint64_t time_unix_nano = 0;
  std::uint64_t observed_time_unix_nano = 0;
  std::int32_t severity_number = 0;  // SeverityNumber enum value
  std::string_view severity_text;
  AnyValue body;
  Attributes attributes;
  std::uint32_t dropped_attributes_count = 0;
  std::uint32_t flags = 0;
  TraceId trace_id{};  // all zero: absent
  SpanId span_id{};    // all zero: absent
  std::string_view event_name;
};

struct ScopeLogs {
  InstrumentationScope scope;
  ArenaVec<LogRecord> log_records;
  std::string_view schema_url;
};

struct ResourceLogs {
  Resource resource;
  ArenaVec<ScopeLogs> scope_logs;
  std::string_view schema_url;
};

}  // namespace vigil::model
