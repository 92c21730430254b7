#pragma once
// OTLP protobuf decoder: Export{Trace,Metrics,Logs}ServiceRequest bytes (or the wire-identical
// TracesData / MetricsData / LogsData) -> model::Batch.
//
// The bytes are parsed with libprotobuf's generated classes (on a protobuf arena, freed on
// return) and converted into the model: every string is copied into the batch's arena, AnyValue
// arrays and kvlists become arena arrays. The input may be hostile: parsing keeps libprotobuf's
// nesting limit (100), requests over 2 GiB are refused, and trace/span ids of any length other
// than 0 or 16 / 0 or 8 bytes are rejected. Never throws; on failure `out` may hold part of the
// request (callers drop the batch).
//
// Thread-safety: may run concurrently on different threads for different batches.

#include <string>
#include <string_view>

#include "agent/model/batch.hpp"

namespace vigil::otlp {

// Appends the request's resource entries to out. out.signal() must equal signal. Returns false
// with a human-readable reason in error when the bytes are not a valid request. An empty
// request (zero bytes) is valid and adds nothing.
bool decode_export_request(model::Signal signal, std::string_view bytes, model::Batch& out,
                           std::string& error);

}  // namespace vigil::otlp
