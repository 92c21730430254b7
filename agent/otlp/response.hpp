#pragma once
// OTLP export responses and errors, in protobuf and in OTLP/JSON:
//   - Export{Trace,Metrics,Logs}ServiceResponse with its partial_success
//     (rejected_spans / rejected_data_points / rejected_log_records, error_message);
//   - google.rpc.Status (code, message, details), the body of an OTLP/HTTP error response, with
//     an optional google.rpc.RetryInfo detail (retry_delay) as the OTLP specification allows.
// Receivers encode them; exporters decode them from what a server answered.
//
// Off the hot path: built with libprotobuf's generated classes (agent/otlp/proto, including the
// vendored google/rpc status.proto and error_details.proto).
//
// Thread-safety: stateless; may run concurrently.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/model/batch.hpp"

namespace vigil::otlp {

// What part of a request a server did not accept (OTLP partial success). rejected == 0 with an
// empty message means full success.
struct PartialSuccess {
  std::int64_t rejected = 0;  // spans, data points or log records, per the signal
  std::string error_message;
  bool empty() const { return rejected == 0 && error_message.empty(); }
};

enum class Encoding { kProtobuf, kJson };

// The Export*ServiceResponse for `signal`. An empty PartialSuccess encodes as an empty message
// (zero bytes in protobuf, "{}" in JSON).
std::string encode_export_response(model::Signal signal, const PartialSuccess& partial, Encoding encoding);
// Reads a server's Export*ServiceResponse. An empty body is a full success. False with `error`
// when the bytes are not a valid response.
bool decode_export_response(model::Signal signal, std::string_view body, Encoding encoding,
                            PartialSuccess& out, std::string& error);

// google.rpc.Status. `code` is a gRPC status code (3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED,
// 14 UNAVAILABLE, 16 UNAUTHENTICATED, ...).
struct RpcStatus {
  std::int32_t code = 0;
  std::string message;
  std::optional<std::chrono::milliseconds> retry_delay;  // a google.rpc.RetryInfo detail
};

std::string encode_rpc_status(const RpcStatus& status, Encoding encoding);
bool decode_rpc_status(std::string_view body, Encoding encoding, RpcStatus& out, std::string& error);

// gRPC's grpc-status-details-bin trailer: a serialized google.rpc.Status (code, message, and a
// google.rpc.RetryInfo detail when retry_delay is set), and its reverse: the trailer bytes ->
// retry delay, if the Status has a RetryInfo detail.
std::string encode_status_details_bin(const RpcStatus& status);
std::optional<std::chrono::milliseconds> retry_delay_from_status_details_bin(std::string_view bytes);

}  // namespace vigil::otlp
