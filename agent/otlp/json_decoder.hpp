#pragma once
// OTLP/JSON decoder: Export{Trace,Metrics,Logs}ServiceRequest in the OTLP/JSON encoding ->
// model::Batch, with simdjson (on-demand). The OTLP specification's rules ("JSON Protobuf
// Encoding"):
//   - keys are lowerCamelCase field names (the proto field names, e.g. "trace_id", are accepted
//     too, as protobuf's JSON parser does); unknown keys are ignored, whatever their value;
//   - trace_id / span_id / parent_span_id are hex strings (case-insensitive), not base64; an
//     empty string means absent;
//   - 64-bit integers as decimal strings or JSON numbers; 32-bit ones as numbers (or strings);
//   - enums as integers (names such as "SPAN_KIND_SERVER" are accepted too);
//   - bytes (AnyValue bytesValue) as base64; doubles as numbers or "NaN", "Infinity",
//     "-Infinity";
//   - null means the field is absent.
// The input may be hostile: invalid JSON, invalid UTF-8, wrong value types, nesting deeper than
// libprotobuf allows on the protobuf form (100 nested messages below the request; arrays inside
// unknown fields count too) and ids of the wrong length are errors naming the field (e.g.
// "resourceSpans[0].scopeSpans[1].spans[3].traceId: want 32 hex digits, got 31"). Never throws;
// on failure `out` may hold part of the request (callers drop the batch).
//
// Thread-safety: may run concurrently on different threads (each thread keeps its own parser).

#include <string>
#include <string_view>

#include "agent/model/batch.hpp"

namespace vigil::otlp {

// Appends the request's resource entries to out (out.signal() must equal signal). An empty body
// or "{}" is valid and adds nothing.
bool decode_json_export_request(model::Signal signal, std::string_view json, model::Batch& out,
                                std::string& error);

}  // namespace vigil::otlp
