#pragma once
// otlp receiver: OTLP over gRPC and HTTP (protobuf and JSON) for traces, metrics and logs.
// Config and behaviour follow the Collector's otlpreceiver (see README.md).
//
// One instance serves every signal it has a consumer for, on one HTTP server and one gRPC
// server. Both transports hand decompressed request bytes to one OtlpIngest, which decodes,
// passes the batch on and counts.
// Ownership: the receiver owns its servers; consumers, extensions and the Telemetry object must
// outlive it. Thread-safety: start/shutdown from the control thread; requests of both transports
// are handled on the agent's io_context worker threads (gRPC calls are handed over from gRPC's
// threads, see otlp_grpc.hpp), concurrently, and the consumers must accept that (component.hpp
// says so).

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/component/auth.hpp"
#include "agent/component/factory.hpp"
#include "agent/otlp/response.hpp"
#include "agent/runtime/http_server.hpp"
#include "agent/runtime/tls.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::collectors {

// The Collector's confighttp `cors` block. Origins may hold '*' wildcards matching any run of
// characters ("https://*.example.com", or "*" for any origin); matching ignores case.
// Always allowed request headers (beyond allowed_headers): Accept, Accept-Language,
// Content-Type, Content-Language, Origin, and X-Requested-With when allowed_headers is empty.
// "*" in allowed_headers allows any header.
struct OtlpCorsOptions {
  std::vector<std::string> allowed_origins;  // empty: CORS off
  std::vector<std::string> allowed_headers;
  int max_age = 0;  // seconds; 0: no Access-Control-Max-Age
};

struct OtlpHttpOptions {
  std::string endpoint = "127.0.0.1:4318";
  std::size_t max_request_body_size = 20 * 1024 * 1024;  // bytes, after decompression
  std::string traces_url_path = "/v1/traces";
  std::string metrics_url_path = "/v1/metrics";
  std::string logs_url_path = "/v1/logs";
  std::optional<runtime::TlsServerSettings> tls;
  std::string authenticator;  // auth.authenticator: extension ID, "" for none
  OtlpCorsOptions cors;
  // Vigil-specific bounds (the Collector has no such options): connections served at once, and
  // request body bytes held at once across connections (503 with Retry-After above either).
  std::size_t max_concurrent_connections = 1000;
  std::size_t max_inflight_bytes = 64 * 1024 * 1024;
};

struct OtlpGrpcOptions {
  std::string endpoint = "127.0.0.1:4317";
  std::size_t max_recv_msg_size = 4 * 1024 * 1024;  // max_recv_msg_size_mib, in bytes
  std::optional<runtime::TlsServerSettings> tls;
  std::string authenticator;
  int max_concurrent_streams = 0;  // 0: gRPC's default (no limit)
  // Request bytes of calls waiting for a worker thread; past it new calls get UNAVAILABLE. Not a
  // config option (the Collector has none; see otlp_grpc.hpp): tests lower it.
  std::size_t max_queued_bytes = 64 * 1024 * 1024;
};

struct OtlpReceiverOptions {
  std::optional<OtlpHttpOptions> http;  // absent: no HTTP server
  std::optional<OtlpGrpcOptions> grpc;  // absent: no gRPC server
};

OtlpReceiverOptions read_otlp_receiver_options(const config::Settings& settings);

enum class DecompressResult { kOk, kTooLarge, kCorrupt, kUnsupported };

// Decodes a request body per its Content-Encoding ("", "identity", "gzip", "deflate", "zstd"),
// streaming, and stops as soon as the output passes `limit` bytes (kTooLarge), so a small
// compressed body cannot make the receiver allocate more than about `limit` bytes.
DecompressResult decompress_body(std::string_view encoding, std::string&& body, std::size_t limit,
                                 std::string& out, std::string& error);

enum class Transport : std::uint8_t { kHttp = 0, kGrpc = 1 };

// The outcome of one export request, mapped by each transport to its status codes.
struct IngestResult {
  enum class Code {
    kOk,            // HTTP 200 / gRPC OK (with partial_success when it is not empty)
    kInvalid,       // malformed request: HTTP 400 / gRPC INVALID_ARGUMENT
    kTooLarge,      // over the size limit: HTTP 413 / gRPC RESOURCE_EXHAUSTED (no RetryInfo)
    kUnauthorized,  // authenticator refused: HTTP 401 / gRPC UNAUTHENTICATED
    kRetryable,     // pipeline busy: HTTP 503 + Retry-After / gRPC UNAVAILABLE + RetryInfo
    kRejected,      // pipeline rejected the data permanently: HTTP 400 / gRPC INVALID_ARGUMENT
  };
  Code code = Code::kOk;
  std::string message;
  std::chrono::milliseconds retry_after{0};  // kRetryable: the pipeline's hint, at least 1s
  otlp::PartialSuccess partial;
};

// Decode -> consume -> count, shared by the HTTP and gRPC servers.
// Self-metrics per (signal, transport): vigil_receiver_accepted_*/refused_* (telemetry.hpp), and
// vigil_receiver_failed_requests_total{receiver,transport,signal,reason} for requests refused
// before reaching the pipeline (reason: invalid, too_large, unauthorized, unsupported, and busy
// for gRPC calls refused because too many wait for the pipeline).
class OtlpIngest {
 public:
  OtlpIngest(std::string id, const component::SignalConsumers& next, telemetry::Telemetry& telemetry,
             bool http, bool grpc);

  const std::string& id() const { return id_; }
  bool accepts(model::Signal signal) const { return next_[static_cast<std::size_t>(signal)] != nullptr; }
  // `body` is the decompressed request; `peer` names the client in log lines.
  IngestResult ingest(model::Signal signal, Transport transport, otlp::Encoding encoding,
                      std::string_view body, std::string_view peer);
  // Counts a request refused before ingest() (reason as above).
  void count_failed(model::Signal signal, Transport transport, std::string_view reason);

 private:
  std::string id_;
  component::SignalConsumers next_;
  telemetry::Telemetry& telemetry_;
  std::array<std::array<telemetry::ReceiverMetrics, 2>, 3> metrics_{};  // [signal][transport]
};

class OtlpGrpcServer;  // otlp_grpc.hpp

class OtlpReceiver : public component::Receiver {
 public:
  OtlpReceiver(std::string id, OtlpReceiverOptions options, const component::SignalConsumers& next,
               telemetry::Telemetry& telemetry);
  ~OtlpReceiver() override;

  component::Status start(component::Host& host) override;
  void shutdown(component::Deadline deadline) override;

  // The servers' bound ports (after start), useful with port 0.
  std::uint16_t http_port() const;
  std::uint16_t grpc_port() const;
  // Handles one OTLP/HTTP request (the HTTP server's handler; public for tests).
  runtime::HttpResponse handle_http(runtime::HttpRequest& request);

 private:
  runtime::HttpResponse export_request(model::Signal signal, runtime::HttpRequest& request);
  runtime::HttpResponse preflight(const runtime::HttpRequest& request, bool origin_allowed) const;
  bool origin_allowed(std::string_view origin) const;

  std::string id_;
  OtlpReceiverOptions options_;
  OtlpIngest ingest_;
  // CORS, lower-cased once: allowed origin patterns and allowed request headers.
  std::vector<std::string> cors_origins_;
  std::vector<std::string> cors_headers_;
  bool cors_any_header_ = false;
  const component::ServerAuthenticator* http_auth_ = nullptr;
  std::unique_ptr<runtime::HttpServer> http_server_;
  std::unique_ptr<OtlpGrpcServer> grpc_server_;
};

component::Factory otlp_receiver_factory();

}  // namespace vigil::collectors
