// OtlpIngest: decode -> consume -> count, shared by the otlp receiver's HTTP and gRPC servers.
#include <algorithm>

#include "agent/otlp/json_decoder.hpp"
#include "agent/otlp/proto_decoder.hpp"
#include "agent/telemetry/log.hpp"
#include "collectors/otlp/otlp_receiver.hpp"

namespace vigil::collectors {

namespace {

constexpr std::string_view kTransportNames[] = {"http", "grpc"};

}  // namespace

OtlpIngest::OtlpIngest(std::string id, const component::SignalConsumers& next,
                       telemetry::Telemetry& telemetry, bool http, bool grpc)
    : id_(std::move(id)), next_(next), telemetry_(telemetry) {
  for (std::size_t s = 0; s < 3; ++s) {
    if (next_[s] == nullptr) continue;
    const auto signal = static_cast<model::Signal>(s);
    if (http) metrics_[s][0] = telemetry.receiver(id_, signal, kTransportNames[0]);
    if (grpc) metrics_[s][1] = telemetry.receiver(id_, signal, kTransportNames[1]);
  }
}

void OtlpIngest::count_failed(model::Signal signal, Transport transport, std::string_view reason) {
  telemetry_
      .counter_family("vigil_receiver_failed_requests_total",
                      "Requests the receiver refused before they reached the pipeline, by reason.")
      .Add({{"receiver", id_},
            {"transport", std::string(kTransportNames[static_cast<std::size_t>(transport)])},
            {"signal", std::string(model::signal_name(signal))},
            {"reason", std::string(reason)}})
      .Increment();
}

IngestResult OtlpIngest::ingest(model::Signal signal, Transport transport, otlp::Encoding encoding,
                                std::string_view body, std::string_view peer) {
  const auto index = static_cast<std::size_t>(signal);
  IngestResult result;
  if (next_[index] == nullptr) {
    result.code = IngestResult::Code::kInvalid;
    result.message = "no pipeline takes " + std::string(model::signal_name(signal)) + " from this receiver";
    return result;
  }
  // An empty export (some SDKs send one as a connection check) is valid whatever its encoding.
  if (body.empty()) return result;

  model::Batch batch(signal);
  std::string error;
  const bool decoded = encoding == otlp::Encoding::kJson
                           ? otlp::decode_json_export_request(signal, body, batch, error)
                           : otlp::decode_export_request(signal, body, batch, error);
  if (!decoded) {
    count_failed(signal, transport, "invalid");
    const std::string what = std::string(model::signal_name(signal)) + " request (" +
                             (encoding == otlp::Encoding::kJson ? "JSON" : "protobuf") + ")";
    telemetry::log_limited(telemetry::Level::kWarn, id_ + "/decode", id_,
                           "cannot decode a " + what + " from " + std::string(peer) + ": " + error);
    result.code = IngestResult::Code::kInvalid;
    result.message = "cannot decode the " + what + ": " + error;
    return result;
  }

  const std::size_t items = batch.item_count();
  if (items == 0) return result;  // nothing a pipeline could use
  const telemetry::ReceiverMetrics& metrics = metrics_[index][static_cast<std::size_t>(transport)];
  component::Status status = next_[index]->consume(std::move(batch));
  if (status.is_ok()) {
    if (metrics.accepted) metrics.accepted->Increment(static_cast<double>(items));
    return result;
  }
  if (metrics.refused) metrics.refused->Increment(static_cast<double>(items));
  if (status.is_retryable()) {
    result.code = IngestResult::Code::kRetryable;
    result.message = status.message().empty() ? "pipeline busy, retry later" : status.message();
    result.retry_after = std::max(status.retry_after(), std::chrono::milliseconds(1000));
    return result;
  }
  telemetry::log_limited(telemetry::Level::kWarn, id_ + "/permanent", id_,
                         "pipeline rejected " + std::to_string(items) + " " +
                             std::string(model::signal_item_name(signal)) + ": " + status.message());
  result.code = IngestResult::Code::kRejected;
  result.message = status.message().empty() ? "rejected by the pipeline" : status.message();
  return result;
}

}  // namespace vigil::collectors
