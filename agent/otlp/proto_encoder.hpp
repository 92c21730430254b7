#pragma once
// Vigil's OTLP protobuf encoder: model::Batch -> Export{Trace,Metrics,Logs}ServiceRequest bytes
// (wire-identical to TracesData / MetricsData / LogsData). It does not use libprotobuf: records
// are written straight from the arena-backed model, which is several times faster than building
// libprotobuf messages first (see docs/benchmarks.md, "OTLP codec").
//
// Output follows proto3 and is byte-identical to what libprotobuf serializes for the same
// message: fields in field-number order, scalar defaults (0, "", false, all-zero ids) omitted,
// oneof members and `optional` fields written whenever set (even when zero), packed repeated
// numeric fields. Rules for nested messages the model cannot mark as present are in README.md.
//
// Thread-safety: the functions may run concurrently on different threads; each thread keeps its
// own scratch buffer of nested-message sizes (reused, so there is no per-record allocation).
// The batch is only read.

#include <cstddef>
#include <string>

#include "agent/model/batch.hpp"

namespace vigil::otlp {

// Replaces out's contents with the export request for batch.signal().
void encode_export_request(const model::Batch& batch, std::string& out);

// Appends the export request to out, e.g. after a frame header the caller has already written.
void append_export_request(const model::Batch& batch, std::string& out);

// Exact number of bytes encode_export_request writes for batch.
std::size_t encoded_size(const model::Batch& batch);

}  // namespace vigil::otlp
