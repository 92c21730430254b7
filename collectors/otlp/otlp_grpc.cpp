// The otlp receiver's gRPC transport (see otlp_grpc.hpp).
#include "collectors/otlp/otlp_grpc.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>
#include <grpcpp/grpcpp.h>

#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "agent/runtime/tls.hpp"
#include "agent/telemetry/log.hpp"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

// gRPC 1.51 inflates a compressed message completely, without a bound, before checking it
// against max_recv_msg_size, so a small compressed "bomb" could make it allocate gigabytes. The
// server therefore turns gRPC's decompression off and inflates the message itself with
// decompress_body, which stops at the limit. The compressed bytes are only reachable through the
// grpc_byte_buffer that grpc::ByteBuffer wraps; ByteBuffer names this class (declared, never
// defined by libgrpc++) as its friend for such access.
namespace grpc::internal {
class GrpcByteBufferPeer {
 public:
  explicit GrpcByteBufferPeer(const ByteBuffer* buffer) : buffer_(const_cast<ByteBuffer*>(buffer)) {}
  grpc_byte_buffer* c_buffer() { return buffer_->c_buffer(); }

 private:
  ByteBuffer* buffer_;
};
}  // namespace grpc::internal

namespace vigil::collectors {

namespace {

using model::Signal;

namespace trace_v1 = opentelemetry::proto::collector::trace::v1;
namespace metrics_v1 = opentelemetry::proto::collector::metrics::v1;
namespace logs_v1 = opentelemetry::proto::collector::logs::v1;

// One Export call waiting for (or in) its turn on the io_context. gRPC keeps the pointers valid
// until the reactor is finished.
struct Call {
  Signal signal = Signal::kTraces;
  grpc::CallbackServerContext* context = nullptr;
  const grpc::ByteBuffer* request = nullptr;
  grpc::ByteBuffer* response = nullptr;
  grpc::ServerUnaryReactor* reactor = nullptr;
  std::size_t bytes = 0;  // the request as received (compressed or not)
};

// The queue of calls waiting for a worker thread is bounded (OtlpGrpcOptions::max_queued_bytes)
// like every queue in Vigil: when the pipeline is slow, calls beyond it are refused as retryable
// rather than piling up in memory (the counterpart of OTLP/HTTP's max_inflight_bytes).
constexpr std::chrono::milliseconds kBusyRetryDelay{1000};

grpc::Status shutting_down() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the receiver is shutting down");
}

// Hands calls from gRPC's threads to the io_context. Shared with the tasks posted there, so a
// task that runs after the server is gone finds an empty queue instead of a dangling pointer.
class Dispatcher : public std::enable_shared_from_this<Dispatcher> {
 public:
  Dispatcher(OtlpIngest& ingest, const component::ServerAuthenticator* auth, boost::asio::io_context& io,
             std::size_t max_message, std::size_t max_queued)
      : ingest_(ingest), auth_(auth), io_(io), max_message_(max_message), max_queued_(max_queued) {}

  // On a gRPC thread: queue the call, never block.
  grpc::ServerUnaryReactor* enqueue(Signal signal, grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const std::size_t bytes = request->Length();
    bool stopping = false;
    bool busy = false;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
      // One call is always let in, however large (max_recv_msg_size bounds it).
      busy = !queue_.empty() && queued_bytes_ + bytes > max_queued_;
      if (!stopping && !busy) {
        queue_.push_back(Call{signal, context, request, response, reactor, bytes});
        queued_bytes_ += bytes;
      }
    }
    if (stopping) {
      reactor->Finish(shutting_down());
      return reactor;
    }
    if (busy) {
      ingest_.count_failed(signal, Transport::kGrpc, "busy");
      telemetry::log_limited(telemetry::Level::kWarn, ingest_.id() + "/busy", ingest_.id(),
                             "refused gRPC calls: " + std::to_string(max_queued_) +
                                 " bytes of requests already wait for the pipeline");
      const std::string message = "too many requests waiting for the pipeline, retry later";
      otlp::RpcStatus status{static_cast<std::int32_t>(grpc::StatusCode::UNAVAILABLE), message,
                             kBusyRetryDelay};
      reactor->Finish(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, message, otlp::encode_status_details_bin(status)));
      return reactor;
    }
    boost::asio::post(io_, [self = shared_from_this()] { self->run_one(); });
    return reactor;
  }

  // See OtlpGrpcServer::stop. Returns once no call is queued or being handled here.
  void drain(std::chrono::steady_clock::time_point deadline) {
    std::deque<Call> left;
    {
      std::unique_lock lock(mu_);
      stopping_ = true;
      // Polls io_.stopped(): a stopped io_context would never run the queued tasks.
      while (!queue_.empty() && std::chrono::steady_clock::now() < deadline && !io_.stopped()) {
        cv_.wait_for(lock, std::chrono::milliseconds(10));
      }
      left.swap(queue_);
      queued_bytes_ = 0;
    }
    for (Call& call : left) call.reactor->Finish(shutting_down());
    // Calls already in consume() finish on their own; gRPC's Shutdown waits for them too.
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return running_ == 0; });
  }

 private:
  void run_one() {
    Call call;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) return;  // answered by drain()
      call = queue_.front();
      queue_.pop_front();
      queued_bytes_ -= call.bytes;
      ++running_;
    }
    handle(call);
    std::lock_guard lock(mu_);
    --running_;
    cv_.notify_all();
  }

  void handle(const Call& call) {
    if (call.context->IsCancelled()) {
      // The client gave up (deadline, disconnect): its data must not reach the pipeline, since
      // it will send it again.
      call.reactor->Finish(grpc::Status::CANCELLED);
      return;
    }
    const std::string peer = call.context->peer();
    if (auth_ != nullptr) {
      component::HeaderList headers;
      for (const auto& [key, value] : call.context->client_metadata()) {
        headers.emplace_back(std::string(key.data(), key.size()), std::string(value.data(), value.size()));
      }
      const component::Status status = auth_->authenticate(headers);
      if (!status.is_ok()) {
        ingest_.count_failed(call.signal, Transport::kGrpc, "unauthorized");
        telemetry::log_limited(telemetry::Level::kWarn, ingest_.id() + "/unauthorized", ingest_.id(),
                               "refused an unauthenticated gRPC call from " + peer + ": " + status.message());
        call.reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                          status.message().empty() ? "unauthenticated" : status.message()));
        return;
      }
    }

    // One contiguous buffer for the decoder; a single-slice message is used in place.
    grpc::Slice single;
    std::string joined;
    std::string_view body;
    grpc_byte_buffer* raw = grpc::internal::GrpcByteBufferPeer(call.request).c_buffer();
    const grpc_compression_algorithm compression =
        raw != nullptr && raw->type == GRPC_BB_RAW ? raw->data.raw.compression : GRPC_COMPRESS_NONE;
    if (compression != GRPC_COMPRESS_NONE) {
      std::string compressed;
      const grpc_slice_buffer& slices = raw->data.raw.slice_buffer;
      compressed.reserve(slices.length);
      for (std::size_t i = 0; i < slices.count; ++i) {
        compressed.append(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slices.slices[i])),
                          GRPC_SLICE_LENGTH(slices.slices[i]));
      }
      // gRPC's "deflate" is zlib-wrapped, as HTTP's is.
      const char* encoding = compression == GRPC_COMPRESS_GZIP      ? "gzip"
                             : compression == GRPC_COMPRESS_DEFLATE ? "deflate"
                                                                    : "unknown";
      std::string error;
      switch (decompress_body(encoding, std::move(compressed), max_message_, joined, error)) {
        case DecompressResult::kOk:
          break;
        case DecompressResult::kTooLarge:
          too_large(call, peer);
          return;
        case DecompressResult::kCorrupt:
          ingest_.count_failed(call.signal, Transport::kGrpc, "invalid");
          call.reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                            "cannot decompress the request message: " + error));
          return;
        case DecompressResult::kUnsupported:
          ingest_.count_failed(call.signal, Transport::kGrpc, "unsupported");
          call.reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, error));
          return;
      }
      body = joined;
    } else if (call.request->TrySingleSlice(&single).ok()) {
      body = std::string_view(reinterpret_cast<const char*>(single.begin()), single.size());
    } else {
      std::vector<grpc::Slice> slices;
      if (!call.request->Dump(&slices).ok()) {
        ingest_.count_failed(call.signal, Transport::kGrpc, "invalid");
        call.reactor->Finish(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cannot read the request message"));
        return;
      }
      std::size_t total = 0;
      for (const grpc::Slice& slice : slices) total += slice.size();
      joined.reserve(total);
      for (const grpc::Slice& slice : slices)
        joined.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      body = joined;
    }
    // gRPC enforces max_recv_msg_size on uncompressed messages already; kept for any version.
    if (body.size() > max_message_) {
      too_large(call, peer);
      return;
    }

    IngestResult result =
        ingest_.ingest(call.signal, Transport::kGrpc, otlp::Encoding::kProtobuf, body, peer);
    switch (result.code) {
      case IngestResult::Code::kOk: {
        const std::string bytes =
            otlp::encode_export_response(call.signal, result.partial, otlp::Encoding::kProtobuf);
        grpc::Slice slice(bytes);
        *call.response = grpc::ByteBuffer(&slice, 1);
        call.reactor->Finish(grpc::Status::OK);
        return;
      }
      case IngestResult::Code::kRetryable: {
        const std::chrono::milliseconds delay = std::max(result.retry_after, std::chrono::milliseconds(1000));
        otlp::RpcStatus status{static_cast<std::int32_t>(grpc::StatusCode::UNAVAILABLE), result.message,
                               delay};
        call.reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, result.message,
                                          otlp::encode_status_details_bin(status)));
        return;
      }
      case IngestResult::Code::kTooLarge:
        call.reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, result.message));
        return;
      case IngestResult::Code::kUnauthorized:
        call.reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, result.message));
        return;
      case IngestResult::Code::kInvalid:
      case IngestResult::Code::kRejected:
        break;
    }
    call.reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, result.message));
  }

  void too_large(const Call& call, const std::string& peer) {
    ingest_.count_failed(call.signal, Transport::kGrpc, "too_large");
    telemetry::log_limited(telemetry::Level::kWarn, ingest_.id() + "/too_large", ingest_.id(),
                           "refused a gRPC call from " + peer + ": message larger than " +
                               std::to_string(max_message_) + " bytes after decompression");
    call.reactor->Finish(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        "request message larger than " + std::to_string(max_message_) + " bytes after decompression"));
  }

  OtlpIngest& ingest_;
  const component::ServerAuthenticator* auth_;
  boost::asio::io_context& io_;
  const std::size_t max_message_;
  const std::size_t max_queued_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Call> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t running_ = 0;
  bool stopping_ = false;
};

// One Export service over the raw callback method of its generated base.
template <class Base, Signal kSignal>
class ExportService final : public Base {
 public:
  explicit ExportService(std::shared_ptr<Dispatcher> dispatcher) : dispatcher_(std::move(dispatcher)) {}
  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override {
    return dispatcher_->enqueue(kSignal, context, request, response);
  }

 private:
  std::shared_ptr<Dispatcher> dispatcher_;
};

using TraceExport =
    ExportService<trace_v1::TraceService::WithRawCallbackMethod_Export<trace_v1::TraceService::Service>,
                  Signal::kTraces>;
using MetricsExport = ExportService<
    metrics_v1::MetricsService::WithRawCallbackMethod_Export<metrics_v1::MetricsService::Service>,
    Signal::kMetrics>;
using LogsExport =
    ExportService<logs_v1::LogsService::WithRawCallbackMethod_Export<logs_v1::LogsService::Service>,
                  Signal::kLogs>;

// gRPC only logs why a port could not be bound; binding a plain socket to the same address
// recovers the reason (almost always "Address already in use") for the start error.
std::string bind_error(const std::string& host, std::uint16_t port) {
  sockaddr_storage address{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    length = sizeof(sockaddr_in6);
  } else {
    return "cannot bind (is the host name an address of this machine?)";
  }
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  std::string error = "cannot bind";
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) error = std::strerror(errno);
  ::close(fd);
  return error;
}

}  // namespace

struct OtlpGrpcServer::Impl {
  OtlpGrpcOptions options;
  OtlpIngest& ingest;
  const component::ServerAuthenticator* auth;
  boost::asio::io_context& io;
  std::shared_ptr<Dispatcher> dispatcher;
  std::vector<std::unique_ptr<grpc::Service>> services;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

OtlpGrpcServer::OtlpGrpcServer(OtlpGrpcOptions options, OtlpIngest& ingest,
                               const component::ServerAuthenticator* auth, boost::asio::io_context& io)
    : impl_(std::make_unique<Impl>(Impl{std::move(options), ingest, auth, io, nullptr, {}, nullptr, 0})) {}

OtlpGrpcServer::~OtlpGrpcServer() {
  stop(std::chrono::steady_clock::now());
}

std::string OtlpGrpcServer::start() {
  Impl& d = *impl_;
  if (d.server) return {};
  const OtlpGrpcOptions& o = d.options;
  std::string host, error;
  std::uint16_t port = 0;
  if (!runtime::split_endpoint(o.endpoint, host, port, error)) return "protocols.grpc.endpoint: " + error;
  const std::string address =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);

  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (o.tls) {
    if (o.tls->min_version == "1.3") {
      return "protocols.grpc.tls.min_version 1.3 is not supported (gRPC 1.51 cannot refuse TLS 1.2)";
    }
    // The same checks as for OTLP/HTTP (files readable, key matching certificate, CA valid), with
    // OpenSSL's messages; gRPC itself would only log them.
    if (!runtime::make_server_context(*o.tls, error)) return "protocols.grpc.tls: " + error;
    grpc::SslServerCredentialsOptions ssl(o.tls->client_ca_file.empty()
                                              ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                              : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    if (!runtime::read_file(o.tls->cert_file, pair.cert_chain, error) ||
        !runtime::read_file(o.tls->key_file, pair.private_key, error) ||
        (!o.tls->client_ca_file.empty() &&
         !runtime::read_file(o.tls->client_ca_file, ssl.pem_root_certs, error))) {
      return "protocols.grpc.tls: " + error;
    }
    ssl.pem_key_cert_pairs.push_back(std::move(pair));
    credentials = grpc::SslServerCredentials(ssl);
  }

  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, which would let a second server "bind" a port in use.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Vigil inflates compressed messages itself, with a bound (see GrpcByteBufferPeer above).
  builder.AddChannelArgument(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<std::size_t>(o.max_recv_msg_size, INT_MAX)));
  if (o.max_concurrent_streams > 0)
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, o.max_concurrent_streams);
  builder.AddListeningPort(address, credentials, &d.port);
  // A fresh dispatcher per start: the previous one (if any) refuses calls for good.
  d.dispatcher =
      std::make_shared<Dispatcher>(d.ingest, d.auth, d.io, o.max_recv_msg_size, o.max_queued_bytes);
  d.services.clear();
  if (d.ingest.accepts(Signal::kTraces)) d.services.push_back(std::make_unique<TraceExport>(d.dispatcher));
  if (d.ingest.accepts(Signal::kMetrics)) d.services.push_back(std::make_unique<MetricsExport>(d.dispatcher));
  if (d.ingest.accepts(Signal::kLogs)) d.services.push_back(std::make_unique<LogsExport>(d.dispatcher));
  for (auto& service : d.services) builder.RegisterService(service.get());

  d.server = builder.BuildAndStart();
  if (!d.server || d.port == 0) {
    if (d.server) {
      d.server->Shutdown(std::chrono::system_clock::now());
      d.server->Wait();
      d.server.reset();
    }
    d.services.clear();
    return "listen on " + o.endpoint + ": " + bind_error(host, port);
  }
  return {};
}

void OtlpGrpcServer::stop(std::chrono::steady_clock::time_point deadline) {
  Impl& d = *impl_;
  if (!d.server) return;
  d.dispatcher->drain(deadline);
  // Shutdown takes a system_clock deadline; calls still open past it are cancelled.
  const auto left = deadline - std::chrono::steady_clock::now();
  d.server->Shutdown(std::chrono::system_clock::now() +
                     std::max(std::chrono::duration_cast<std::chrono::system_clock::duration>(left),
                              std::chrono::system_clock::duration::zero()));
  d.server->Wait();
  d.server.reset();
  d.services.clear();
  d.port = 0;
}

std::uint16_t OtlpGrpcServer::port() const {
  return static_cast<std::uint16_t>(impl_->port);
}

}  // namespace vigil::collectors
