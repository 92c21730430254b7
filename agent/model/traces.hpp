#pragma once
// OTLP traces: mirrors opentelemetry/proto/trace/v1/trace.proto. Views into a batch's Arena.

#include "agent/model/common.hpp"

namespace vigil::model {

enum class SpanKind : std::int32_t {
  kUnspecified = 0, kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5
};

enum class StatusCode : std::int32_t { kUnset = 0, kOk = 1, kError = 2 };

struct SpanEvent {
  std::uint64_t time_unix_nano = 0;
  std::string_view name;
  Attributes attributes;
  std::uint32_t dropped_attributes_count = 0;
};

struct SpanLink {
  TraceId trace_id{};
  SpanId span_id{};
  std::string_view trace_state;
  Attributes attributes;
  std::uint32_t dropped_attributes_count = 0;
  std::uint32_t flags = 0;
};

struct SpanStatus {
  std::string_view message;
  StatusCode code = StatusCode::kUnset;
};

struct Span {
  TraceId trace_id{};
  SpanId span_id{};
  std::string_view trace_state;
  SpanId parent_span_id{};
  std::uint32_t flags = 0;
  std::string_view name;
  SpanKind kind = SpanKind::kUnspecified;
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t end_time_unix_nano = 0;
  Attributes attributes;
  std::uint32_t dropped_attributes_count = 0;
  ArenaVec<SpanEvent> events;
  std::uint32_t dropped_events_count = 0;
  ArenaVec<SpanLink> links;
  std::uint32_t dropped_links_count = 0;
  SpanStatus status;
};

struct ScopeSpans {
  InstrumentationScope scope;
  ArenaVec<Span> spans;
  std::string_view schema_url;
};

struct ResourceSpans {
  Resource resource;
  ArenaVec<ScopeSpans> scope_spans;
  std::string_view schema_url;
};

}  // namespace vigil::model
