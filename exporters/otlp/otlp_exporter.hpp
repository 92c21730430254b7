#pragma once
// The `otlp` exporter: OTLP over gRPC, with the OpenTelemetry Collector's option names and
// defaults (exporter/otlpexporter, config/configgrpc). Each batch is one unary call of
// opentelemetry.proto.collector.{trace,metrics,logs}.v1.*Service/Export, made with a
// grpc::GenericStub on raw bytes: Vigil's own encoder (agent/otlp/proto_encoder) writes the
// request, no libprotobuf message is built on the way.
//
// Results follow the OTLP retry rules (exporters/otlp/export_status.hpp): the gRPC status, and a
// google.rpc.RetryInfo in the grpc-status-details-bin trailer, become a component::Status that
// the exporter helper (sending_queue, retry_on_failure) acts on. A partial success is logged
// (rate-limited) and its rejected items counted in vigil_exporter_rejected_<items>_total; it is
// never retried.
//
// Ownership and threads: one gRPC channel per sender (an exporter used by the traces and logs
// pipelines has two), created by start() and released by shutdown(). send() is called from up
// to sending_queue.num_consumers threads at once; each call blocks its thread until the server
// answers or `timeout` passes. shutdown() waits for calls in flight until its deadline, then
// cancels them (they return a retryable "cancelled" status) and waits for them to finish.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "agent/component/auth.hpp"
#include "agent/component/component.hpp"
#include "agent/component/factory.hpp"
#include "agent/runtime/tls.hpp"

namespace vigil::exporters {

// Where and how to connect, from `endpoint` (as the Collector's configgrpc reads it):
//   "host:port", "[::1]:port"      -> that target; TLS unless tls.insecure
//   "http://host:port"             -> "host:port" in plain text (as the OTel SDKs read it)
//   "https://host:port"            -> "host:port" with TLS, whatever tls.insecure says
//   "dns:///host:port", "dns://authority/host:port", "unix:/path", "unix-abstract:name"
//                                  -> handed to gRPC as they are (gRPC naming syntax)
struct GrpcEndpoint {
  enum class Scheme { kNone, kHttp, kHttps };
  Scheme scheme = Scheme::kNone;
  std::string target;  // what the channel dials
};

// False with `error` (naming what is wrong) when the endpoint is not one of the forms above or
// its port is not in 1..65535.
bool parse_grpc_endpoint(std::string_view endpoint, GrpcEndpoint& out, std::string& error);

// Checks a gRPC metadata entry before it reaches gRPC (which aborts the process on an illegal
// one): names of [0-9a-z_.-] (callers lower-case them first), not reserved by gRPC or HTTP/2
// (grpc-*, content-type, te, user-agent, host, connection); values of printable ASCII unless
// the name ends in "-bin". "" when fine, else why.
std::string check_grpc_metadata(std::string_view name, std::string_view value);

struct OtlpExporterOptions {
  enum class Compression { kNone, kGzip };

  std::string endpoint;  // as written
  GrpcEndpoint target;
  bool plaintext = false;  // resolved from the scheme and tls.insecure
  Compression compression = Compression::kGzip;
  component::HeaderList headers;  // names lower-cased
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);
  runtime::TlsClientSettings tls;
  std::string authenticator;  // extension ID from auth.authenticator; empty: none
};

// Reads validated settings (the factory's schema and validate have passed).
OtlpExporterOptions read_otlp_exporter_options(const config::Settings& settings);

class OtlpExporter : public component::Sender {
 public:
  OtlpExporter(OtlpExporterOptions options, std::string id, model::Signal signal,
               telemetry::Telemetry& telemetry);
  ~OtlpExporter() override;

  // Looks up the authenticator, reads the TLS files and creates the channel (connecting
  // happens in the background, on the first call). A missing authenticator, or a TLS file that
  // cannot be read or does not hold a PEM certificate / key, is a permanent error.
  component::Status start(component::Host& host) override;
  // Waits for calls in flight until `deadline`, cancels those still running, and releases the
  // channel. Safe without start(), idempotent; send() afterwards refuses permanently.
  void shutdown(component::Deadline deadline) override;
  component::Status send(const model::Batch& batch) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

component::Factory otlp_exporter_factory();

}  // namespace vigil::exporters
