#pragma once
// Reference conversion model -> libprotobuf messages, written independently of Vigil's encoder.
// Tests compare Vigil's bytes with what libprotobuf serializes from these messages; the
// benchmark uses it to time libprotobuf on the same data. Follows the encoder's documented
// presence rules (agent/otlp/README.md): resource, scope and KeyValue.value always present,
// an unset status and empty exponential buckets absent, number values always set.

#include "agent/model/batch.hpp"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace vigil::otlp::testing {

namespace pbc = opentelemetry::proto::common::v1;
namespace pbr = opentelemetry::proto::resource::v1;
namespace pbl = opentelemetry::proto::logs::v1;
namespace pbt = opentelemetry::proto::trace::v1;
namespace pbm = opentelemetry::proto::metrics::v1;
using LogsRequest = opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;
using TraceRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using MetricsRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;

void to_proto(const model::Batch& batch, LogsRequest& out);
void to_proto(const model::Batch& batch, TraceRequest& out);
void to_proto(const model::Batch& batch, MetricsRequest& out);

}  // namespace vigil::otlp::testing
