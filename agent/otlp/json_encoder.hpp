#pragma once
// OTLP/JSON encoder: model::Batch -> Export{Trace,Metrics,Logs}ServiceRequest in the OTLP/JSON
// encoding (OTLP specification, "JSON Protobuf Encoding"), as the Collector's file exporter and
// OTLP/HTTP with Content-Type application/json write it:
//   - lowerCamelCase keys; enums as integers; trace and span IDs as lowercase hex;
//   - int64/uint64/fixed64 as decimal strings, bytes as base64, doubles as numbers with NaN and
//     infinities as "NaN", "Infinity", "-Infinity";
//   - proto3 defaults omitted (0, "", empty arrays, all-zero IDs); oneof members and `optional`
//     fields written whenever set. Like the Collector, the embedded messages `resource`, `scope`,
//     log `body`, attribute `value`, span `status` and exponential histogram `positive` /
//     `negative` are always written (as {} when empty), which any OTLP/JSON reader accepts.
//   - strings are escaped for JSON; bytes that are not valid UTF-8 become U+FFFD, so the output
//     is always valid JSON (and valid UTF-8).
// One JSON object, no newline: JSON-lines writers add '\n' themselves.
//
// Thread-safety: stateless; may run concurrently. The batch is only read. The encoder appends to
// the caller's string and allocates nothing per record (only the string grows).

#include <string>

#include "agent/model/batch.hpp"

namespace vigil::otlp {

// Replaces out's contents with the JSON export request for batch.signal().
void encode_json(const model::Batch& batch, std::string& out);

// Appends the JSON export request to out (to build several lines in one buffer).
void append_json(const model::Batch& batch, std::string& out);

}  // namespace vigil::otlp
