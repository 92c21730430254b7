#pragma once
// The otlp receiver's gRPC transport: the three OTLP Export services
// (opentelemetry.proto.collector.{trace,metrics,logs}.v1.*Service/Export) on a grpc::Server,
// registered as raw (ByteBuffer) callback methods so request bytes go straight to Vigil's
// decoder (OtlpIngest) without building libprotobuf messages. Only the services of signals some
// pipeline takes are registered; the others answer UNIMPLEMENTED.
//
//   - max_recv_msg_size: larger messages are refused with RESOURCE_EXHAUSTED: uncompressed ones
//     by gRPC before the handler runs, compressed ones while Vigil inflates them;
//   - compression: gzip and deflate, inflated by Vigil (decompress_body), not by gRPC, whose
//     1.51 inflater has no bound (a small "bomb" could cost gigabytes); the response is not
//     compressed;
//   - TLS: cert_file/key_file, client_ca_file for mTLS (client certificates required and
//     verified). min_version "1.3" cannot be enforced through gRPC 1.51's API: start() refuses it;
//   - auth: the ServerAuthenticator (if any) sees the call's metadata; refusal is UNAUTHENTICATED;
//   - results (IngestResult) map to OK with the Export*ServiceResponse (partial_success when
//     set), INVALID_ARGUMENT, RESOURCE_EXHAUSTED without RetryInfo, UNAUTHENTICATED,
//     UNAVAILABLE with a google.rpc.RetryInfo in grpc-status-details-bin.
//
// Where the work runs: gRPC calls Export on its own callback threads, which must not block
// (gRPC 1.51 serves every call's callbacks from a small shared pool; a blocked thread delays
// every other call, reads and cancellations included). OtlpIngest::ingest may block, since a
// pipeline's consume() applies backpressure, so Export only queues the call and posts it to the
// agent's io_context, where decoding, authentication and consume() run, as they do for
// OTLP/HTTP requests. The reactor is finished from there. Backpressure thus holds the same worker
// threads whichever transport a request came by, and gRPC's threads keep serving (cancellations,
// new calls, shutdown). The calls waiting for a worker hold at most 64 MiB of request bytes;
// past that, new calls get UNAVAILABLE with a 1 s RetryInfo.
//
// Thread-safety: start/stop from the control thread (never from an io_context handler: stop()
// waits for calls being handled there). Calls are handled on the io_context's threads,
// concurrently; OtlpIngest allows that.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "agent/component/auth.hpp"
#include "collectors/otlp/otlp_receiver.hpp"

namespace boost::asio {
class io_context;
}

namespace vigil::collectors {

class OtlpGrpcServer {
 public:
  // `auth` may be null; it, `ingest` and `io` must outlive the server. `io` must be run by at
  // least one thread while calls arrive.
  OtlpGrpcServer(OtlpGrpcOptions options, OtlpIngest& ingest, const component::ServerAuthenticator* auth,
                 boost::asio::io_context& io);
  ~OtlpGrpcServer();  // stop(now) if still running

  // Binds and starts serving. "" on success, else why (bad endpoint, port in use, bad TLS files).
  std::string start();
  // Stops accepting (new calls get UNAVAILABLE), lets the calls already received finish until
  // `deadline`, then answers those still queued UNAVAILABLE and cancels the rest. Returns once no
  // handler runs. If the io_context is no longer run, queued calls are answered at once.
  // Idempotent.
  void stop(std::chrono::steady_clock::time_point deadline);
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::collectors
