#pragma once
// otlp receiver: OTLP over HTTP (protobuf) for traces, metrics and logs. Config and behaviour
// follow the Collector's otlpreceiver; gRPC and OTLP/JSON are not implemented yet (see
// README.md).
//
// One instance serves every signal it has a consumer for, on one HTTP server.
// Ownership: the receiver owns its HTTP server; consumers and the Telemetry object must outlive
// it. Thread-safety: start/shutdown from the control thread; requests are handled on io_context
// worker threads, concurrently, and the consumers must accept that (component.hpp says so).

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/component/factory.hpp"
#include "agent/runtime/http_server.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::collectors {

struct OtlpHttpOptions {
  std::string endpoint = "127.0.0.1:4318";
  std::size_t max_request_body_size = 20 * 1024 * 1024;  // bytes, after decompression
  std::string traces_url_path = "/v1/traces";
  std::string metrics_url_path = "/v1/metrics";
  std::string logs_url_path = "/v1/logs";
  // Vigil-specific bounds (the Collector has no such options): connections served at once, and
  // request body bytes held at once across connections (503 with Retry-After above either).
  std::size_t max_concurrent_connections = 1000;
  std::size_t max_inflight_bytes = 64 * 1024 * 1024;
};

struct OtlpReceiverOptions {
  std::optional<OtlpHttpOptions> http;  // absent: no HTTP server
};

OtlpReceiverOptions read_otlp_receiver_options(const config::Settings& settings);

enum class DecompressResult { kOk, kTooLarge, kCorrupt, kUnsupported };

// Decodes a request body per its Content-Encoding ("", "identity", "gzip", "deflate", "zstd"),
// streaming, and stops as soon as the output passes `limit` bytes (kTooLarge), so a small
// compressed body cannot make the receiver allocate more than about `limit` bytes.
DecompressResult decompress_body(std::string_view encoding, std::string&& body, std::size_t limit,
                                 std::string& out, std::string& error);

class OtlpReceiver : public component::Receiver {
 public:
  OtlpReceiver(std::string id, OtlpReceiverOptions options, const component::SignalConsumers& next,
               telemetry::Telemetry& telemetry);
  ~OtlpReceiver() override;

  component::Status start(component::Host& host) override;
  void shutdown(component::Deadline deadline) override;

  // The HTTP server's bound port (after start), useful with port 0.
  std::uint16_t http_port() const;
  // Handles one OTLP/HTTP request (the HTTP server's handler; public for tests).
  runtime::HttpResponse handle_http(runtime::HttpRequest& request);

 private:
  runtime::HttpResponse export_request(model::Signal signal, runtime::HttpRequest& request);

  std::string id_;
  OtlpReceiverOptions options_;
  component::SignalConsumers next_;
  std::array<telemetry::ReceiverMetrics, 3> http_metrics_{};
  std::unique_ptr<runtime::HttpServer> http_server_;
};

component::Factory otlp_receiver_factory();

}  // namespace vigil::collectors
