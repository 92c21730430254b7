#include "exporters/otlp/otlp_exporter.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/slice.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <prometheus/counter.h>

#include "agent/otlp/proto_encoder.hpp"
#include "agent/otlp/response.hpp"
#include "agent/telemetry/log.hpp"
#include "agent/telemetry/telemetry.hpp"
#include "exporters/otlp/export_status.hpp"

namespace vigil::exporters {

using component::Status;

namespace {

// gRPC's reconnect backoff grows to 120 s by default; after a long outage the channel would wait
// that long before trying the recovered backend again, while retry_on_failure tries every 30 s.
constexpr int kMaxReconnectBackoffMs = 30'000;

const std::string& export_method(model::Signal signal) {
  static const std::string kTraces = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
  static const std::string kMetrics = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
  static const std::string kLogs = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
  switch (signal) {
    case model::Signal::kTraces:
      return kTraces;
    case model::Signal::kMetrics:
      return kMetrics;
    case model::Signal::kLogs:
      return kLogs;
  }
  return kTraces;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "host:port" or "[v6]:port", as Go's net.SplitHostPort plus the port check of the Collector's
// otlpexporter Validate.
bool check_host_port(std::string_view hp, std::string& error) {
  std::string_view host, port;
  if (starts_with(hp, "[")) {
    const std::size_t close = hp.find(']');
    if (close == std::string_view::npos) {
      error = "missing ']' in address \"" + std::string(hp) + "\"";
      return false;
    }
    host = hp.substr(1, close - 1);
    std::string_view rest = hp.substr(close + 1);
    if (!starts_with(rest, ":")) {
      error = "missing port in address \"" + std::string(hp) + "\" (expected host:port)";
      return false;
    }
    port = rest.substr(1);
  } else {
    const std::size_t colon = hp.rfind(':');
    if (colon == std::string_view::npos) {
      error = "missing port in address \"" + std::string(hp) + "\" (expected host:port)";
      return false;
    }
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      error = "too many colons in address \"" + std::string(hp) + "\" (write an IPv6 address as [addr]:port)";
      return false;
    }
  }
  if (host.empty()) {
    error = "missing host in address \"" + std::string(hp) + "\"";
    return false;
  }
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '?' || c == '#') {
      error = "invalid host \"" + std::string(host) + "\"";
      return false;
    }
  }
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value == 0 || value > 65535) {
    error = "invalid port \"" + std::string(port) + "\"";
    return false;
  }
  return true;
}

// The PEM checks done at start, so that a wrong file is a clear start error instead of
// handshakes failing later with gRPC's less specific messages.
bool pem_has_certificate(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return false;
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  const bool ok = cert != nullptr;
  X509_free(cert);
  BIO_free(bio);
  ERR_clear_error();
  return ok;
}

bool pem_key_matches(const std::string& cert_pem, const std::string& key_pem, std::string& error) {
  BIO* cbio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  BIO* kbio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  X509* cert = cbio ? PEM_read_bio_X509(cbio, nullptr, nullptr, nullptr) : nullptr;
  EVP_PKEY* key = kbio ? PEM_read_bio_PrivateKey(kbio, nullptr, nullptr, nullptr) : nullptr;
  bool ok = false;
  if (cert == nullptr) {
    error = "holds no PEM certificate";
  } else if (key == nullptr) {
    error = "holds no PEM private key (encrypted keys are not supported)";
  } else if (X509_check_private_key(cert, key) != 1) {
    error = "does not match the certificate";
  } else {
    ok = true;
  }
  EVP_PKEY_free(key);
  X509_free(cert);
  BIO_free(kbio);
  BIO_free(cbio);
  ERR_clear_error();
  return ok;
}

std::string duration_text(std::chrono::nanoseconds d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace

bool parse_grpc_endpoint(std::string_view endpoint, GrpcEndpoint& out, std::string& error) {
  out = GrpcEndpoint{};
  std::string_view rest = endpoint;
  if (starts_with(rest, "http://")) {
    out.scheme = GrpcEndpoint::Scheme::kHttp;
    rest.remove_prefix(7);
  } else if (starts_with(rest, "https://")) {
    out.scheme = GrpcEndpoint::Scheme::kHttps;
    rest.remove_prefix(8);
  }
  // A trailing slash is harmless ("http://host:4317/"); any other path is not gRPC's.
  if (out.scheme != GrpcEndpoint::Scheme::kNone && !rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) {
    error = "endpoint must not be empty";
    return false;
  }
  if (out.scheme == GrpcEndpoint::Scheme::kNone) {
    if (starts_with(rest, "unix:") || starts_with(rest, "unix-abstract:")) {
      if (rest.substr(rest.find(':') + 1).empty()) {
        error = "endpoint \"" + std::string(endpoint) + "\" names no socket";
        return false;
      }
      out.target = std::string(rest);
      return true;
    }
    if (starts_with(rest, "dns:")) {
      // dns:[//authority/]host:port: the name to resolve follows the last '/'.
      std::string_view name = rest.substr(4);
      if (starts_with(name, "//")) {
        const std::size_t slash = name.find('/', 2);
        if (slash == std::string_view::npos) {
          error = "endpoint \"" + std::string(endpoint) + "\": expected dns:///host:port";
          return false;
        }
        name = name.substr(slash + 1);
      }
      std::string why;
      if (!check_host_port(name, why)) {
        error = "endpoint \"" + std::string(endpoint) + "\": " + why;
        return false;
      }
      out.target = std::string(rest);
      return true;
    }
  }
  std::string why;
  if (rest.find('/') != std::string_view::npos) {
    error = "endpoint \"" + std::string(endpoint) + "\": a gRPC endpoint is host:port, without a path";
    return false;
  }
  if (!check_host_port(rest, why)) {
    error = "endpoint \"" + std::string(endpoint) + "\": " + why;
    return false;
  }
  out.target = std::string(rest);
  return true;
}

std::string check_grpc_metadata(std::string_view name, std::string_view value) {
  if (name.empty()) return "header name must not be empty";
  for (char c : name) {
    const bool legal = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!legal) {
      return "header name \"" + std::string(name) +
             "\" is not a valid gRPC metadata key (letters, digits, '-', '_', '.')";
    }
  }
  if (starts_with(name, "grpc-") || name == "content-type" || name == "te" || name == "user-agent" ||
      name == "host" || name == "connection") {
    return "header \"" + std::string(name) + "\" is reserved (set by gRPC itself)";
  }
  const bool binary = name.size() > 4 && name.substr(name.size() - 4) == "-bin";
  if (!binary) {
    for (char c : value) {
      if (c < 0x20 || c > 0x7E) {
        return "value of header \"" + std::string(name) +
               "\" must be printable ASCII (or name the header with a -bin suffix for binary values)";
      }
    }
  }
  return {};
}

OtlpExporterOptions read_otlp_exporter_options(const config::Settings& settings) {
  OtlpExporterOptions o;
  o.endpoint = settings.get_string("endpoint");
  std::string error;
  (void)parse_grpc_endpoint(o.endpoint, o.target, error);  // validated before
  o.tls = runtime::read_tls_client(settings, "tls");
  switch (o.target.scheme) {
    case GrpcEndpoint::Scheme::kHttp:
      o.plaintext = true;
      break;
    case GrpcEndpoint::Scheme::kHttps:
      o.plaintext = false;
      break;
    case GrpcEndpoint::Scheme::kNone:
      o.plaintext = o.tls.insecure;
      break;
  }
  o.compression = settings.get_string("compression") == "gzip" ? OtlpExporterOptions::Compression::kGzip
                                                               : OtlpExporterOptions::Compression::kNone;
  for (auto& [name, value] : settings.get_string_map("headers")) o.headers.emplace_back(lower(name), value);
  o.timeout = settings.get_duration("timeout");
  o.authenticator = settings.get_string("auth.authenticator");
  return o;
}

// The call bookkeeping shared by send() and shutdown(), under mu.
struct OtlpExporter::Impl {
  OtlpExporterOptions options;
  std::string id;
  model::Signal signal;
  const std::string& method;
  prometheus::Counter* rejected = nullptr;

  // Set by start(), cleared by shutdown() (control thread), read by send() under mu.
  const component::ClientAuthenticator* auth = nullptr;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;

  std::mutex mu;
  std::condition_variable idle_cv;
  bool running = false;
  std::unordered_set<grpc::ClientContext*> in_flight;

  Impl(OtlpExporterOptions o, std::string i, model::Signal s, telemetry::Telemetry& telemetry)
      : options(std::move(o)), id(std::move(i)), signal(s), method(export_method(s)) {
    const std::string items(model::signal_item_name(s));
    rejected = &telemetry
                    .counter_family("vigil_exporter_rejected_" + items + "_total",
                                    "Items the server rejected in a partial success (not retried).")
                    .Add({{"exporter", id}});
  }

  Status make_credentials(std::shared_ptr<grpc::ChannelCredentials>& out, grpc::ChannelArguments& args) const;
  // `cancelled_by_shutdown`: shutdown() cancelled the call; `timed_out`: our deadline passed.
  Status interpret(const grpc::Status& status, const grpc::ByteBuffer& response, bool cancelled_by_shutdown,
                   bool timed_out) const;
};

Status OtlpExporter::Impl::make_credentials(std::shared_ptr<grpc::ChannelCredentials>& out,
                                            grpc::ChannelArguments& args) const {
  if (options.plaintext) {
    out = grpc::InsecureChannelCredentials();
    return Status::ok();
  }
  const runtime::TlsClientSettings& tls = options.tls;
  const std::string prefix = "otlp exporter " + id + ": ";
  std::string ca, cert, key, error;
  if (!tls.ca_file.empty()) {
    if (!runtime::read_file(tls.ca_file, ca, error))
      return Status::permanent(prefix + "tls.ca_file: " + error);
    if (!pem_has_certificate(ca)) {
      return Status::permanent(prefix + "tls.ca_file \"" + tls.ca_file + "\" holds no PEM certificate");
    }
  }
  if (!tls.cert_file.empty()) {
    if (!runtime::read_file(tls.cert_file, cert, error))
      return Status::permanent(prefix + "tls.cert_file: " + error);
    if (!runtime::read_file(tls.key_file, key, error))
      return Status::permanent(prefix + "tls.key_file: " + error);
    if (!pem_key_matches(cert, key, error)) {
      return Status::permanent(prefix + "tls.cert_file \"" + tls.cert_file + "\" / tls.key_file \"" +
                               tls.key_file + "\": " + error);
    }
  }
  if (!tls.server_name_override.empty()) args.SetSslTargetNameOverride(tls.server_name_override);

  if (!tls.insecure_skip_verify) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca;  // empty: gRPC's default roots (the system's trust store)
    ssl.pem_private_key = key;
    ssl.pem_cert_chain = cert;
    out = grpc::SslCredentials(ssl);
  } else {
    // TLS without checking the server's certificate chain or name: gRPC's experimental TLS
    // credentials with a verifier that accepts everything.
    namespace gx = grpc::experimental;
    gx::TlsChannelCredentialsOptions opts;
    if (!cert.empty()) {
      opts.set_certificate_provider(std::make_shared<gx::StaticDataCertificateProvider>(
          std::vector<gx::IdentityKeyCertPair>{{key, cert}}));
      opts.watch_identity_key_cert_pairs();
    }
    opts.set_verify_server_certs(false);
    opts.set_check_call_host(false);
    opts.set_certificate_verifier(std::make_shared<gx::NoOpCertificateVerifier>());
    out = gx::TlsCredentials(opts);
  }
  if (!out) return Status::permanent(prefix + "gRPC refused the TLS settings");
  return Status::ok();
}

Status OtlpExporter::Impl::interpret(const grpc::Status& status, const grpc::ByteBuffer& response,
                                     bool cancelled_by_shutdown, bool timed_out) const {
  if (status.ok()) {
    std::string body;
    if (response.Valid()) {
      grpc::Slice slice;
      if (response.DumpToSingleSlice(&slice).ok())
        body.assign(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    otlp::PartialSuccess partial;
    std::string error;
    if (!otlp::decode_export_response(signal, body, otlp::Encoding::kProtobuf, partial, error)) {
      // The server took the request (status OK); what it said about it is unreadable.
      telemetry::log_limited(telemetry::Level::kWarn, id + "/bad_response", id,
                             "cannot decode the server's Export response (" + error + "); counted as sent");
      return Status::ok();
    }
    if (!partial.empty()) {
      // The OTLP specification: the server accepted the rest, and retrying cannot change its
      // mind about the rejected part. An error_message alone is a warning from the server.
      const std::string said =
          partial.error_message.empty() ? std::string() : ": " + partial.error_message.substr(0, 512);
      if (partial.rejected > 0) {
        rejected->Increment(static_cast<double>(partial.rejected));
        telemetry::log_limited(telemetry::Level::kWarn, id + "/partial_success", id,
                               "partial success: the server rejected " + std::to_string(partial.rejected) +
                                   " " + std::string(model::signal_item_name(signal)) + " (not retried)" +
                                   said);
      } else {
        telemetry::log_limited(telemetry::Level::kWarn, id + "/partial_success", id,
                               "the server accepted everything with a warning" + said);
      }
    }
    return Status::ok();
  }
  const int code = static_cast<int>(status.error_code());
  std::string message = status.error_message();
  if (cancelled_by_shutdown) message = "cancelled at shutdown";
  if (code == grpc::StatusCode::DEADLINE_EXCEEDED && timed_out) {
    message += " (timeout " + duration_text(options.timeout) + ")";
  }
  std::optional<std::chrono::milliseconds> retry_info;
  if (!status.error_details().empty())
    retry_info = otlp::retry_delay_from_status_details_bin(status.error_details());
  return status_from_grpc(code, message, retry_info);
}

OtlpExporter::OtlpExporter(OtlpExporterOptions options, std::string id, model::Signal signal,
                           telemetry::Telemetry& telemetry)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(id), signal, telemetry)) {}

OtlpExporter::~OtlpExporter() {
  shutdown(component::Clock::now());
}

Status OtlpExporter::start(component::Host& host) {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu);
    if (m.running) return Status::ok();
  }
  const component::ClientAuthenticator* auth = nullptr;
  if (!m.options.authenticator.empty()) {
    std::string error;
    auth =
        component::find_authenticator<component::ClientAuthenticator>(host, m.options.authenticator, error);
    if (auth == nullptr) return Status::permanent("otlp exporter " + m.id + ": " + error);
    if (auth->signs_whole_request()) {
      return Status::permanent("otlp exporter " + m.id + ": auth.authenticator: extension \"" +
                               m.options.authenticator +
                               "\" signs whole HTTP requests, which gRPC does not expose; use the otlphttp exporter");
    }
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  args.SetUserAgentPrefix("vigil-otlp-exporter");
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (Status s = m.make_credentials(credentials, args); !s.is_ok()) return s;
  auto channel = grpc::CreateCustomChannel(m.options.target.target, credentials, args);
  if (!channel)
    return Status::permanent("otlp exporter " + m.id + ": cannot create a gRPC channel to " +
                             m.options.endpoint);

  std::lock_guard lock(m.mu);
  m.auth = auth;
  m.channel = std::move(channel);
  m.stub = std::make_unique<grpc::GenericStub>(m.channel);
  m.running = true;
  return Status::ok();
}

void OtlpExporter::shutdown(component::Deadline deadline) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mu);
  if (!m.running && m.in_flight.empty()) {
    m.stub.reset();
    m.channel.reset();
    return;
  }
  m.running = false;  // send() refuses from now on
  if (!m.idle_cv.wait_until(lock, deadline, [&] { return m.in_flight.empty(); })) {
    // TryCancel is thread-safe; a call not started yet is cancelled as soon as it starts.
    for (grpc::ClientContext* ctx : m.in_flight) ctx->TryCancel();
    m.idle_cv.wait(lock, [&] { return m.in_flight.empty(); });
  }
  m.stub.reset();
  m.channel.reset();
  m.auth = nullptr;
}

Status OtlpExporter::send(const model::Batch& batch) {
  Impl& m = *impl_;
  if (batch.item_count() == 0) return Status::ok();

  grpc::ClientContext ctx;
  const auto deadline = std::chrono::system_clock::now() +
                        std::chrono::duration_cast<std::chrono::system_clock::duration>(m.options.timeout);
  ctx.set_deadline(deadline);
  if (m.options.compression == OtlpExporterOptions::Compression::kGzip) {
    ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  }
  for (const auto& [name, value] : m.options.headers) ctx.AddMetadata(name, value);

  grpc::GenericStub* stub = nullptr;
  const component::ClientAuthenticator* auth = nullptr;
  {
    std::lock_guard lock(m.mu);
    if (!m.running) return Status::permanent("otlp exporter " + m.id + ": not running");
    stub = m.stub.get();
    auth = m.auth;
    m.in_flight.insert(&ctx);
  }
  // From here on every return unregisters the call first. True when shutdown() began meanwhile.
  auto unregister = [&m, &ctx] {
    std::lock_guard lock(m.mu);
    m.in_flight.erase(&ctx);
    m.idle_cv.notify_all();
    return !m.running;
  };

  if (auth != nullptr) {
    component::HeaderList extra;
    Status s = auth->request_headers(extra);
    if (!s.is_ok()) {
      unregister();
      return s.is_retryable() ? Status::retryable("auth: " + s.message(), s.retry_after())
                              : Status::permanent("auth: " + s.message());
    }
    for (auto& [name, value] : extra) {
      std::string key = lower(name);
      if (std::string why = check_grpc_metadata(key, value); !why.empty()) {
        unregister();
        return Status::permanent("auth: the authenticator's " + why);
      }
      ctx.AddMetadata(key, value);
    }
  }

  // The encoder's bytes become the request slice without a copy; gRPC frees them.
  auto* body = new std::string();
  otlp::encode_export_request(batch, *body);
  grpc::Slice slice(
      body->data(), body->size(), [](void* p) { delete static_cast<std::string*>(p); }, body);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;

  // The callback runs on a gRPC thread and owns its share of the promise, so it may still be
  // inside set_value() when this thread has already returned.
  auto done = std::make_shared<std::promise<grpc::Status>>();
  std::future<grpc::Status> result = done->get_future();
  stub->UnaryCall(&ctx, m.method, grpc::StubOptions(), &request, &response,
                  [done](grpc::Status status) { done->set_value(std::move(status)); });
  const grpc::Status status = result.get();
  const bool shutting_down = unregister();
  return m.interpret(status, response, shutting_down && status.error_code() == grpc::StatusCode::CANCELLED,
                     std::chrono::system_clock::now() >= deadline);
}

component::Factory otlp_exporter_factory() {
  component::Factory f;
  f.kind = component::Kind::kExporter;
  f.type = "otlp";
  f.description = "Sends traces, metrics and logs over OTLP/gRPC.";
  f.signals = {model::Signal::kTraces, model::Signal::kMetrics, model::Signal::kLogs};
  f.exporter_queue = true;
  f.schema = {
      config::required(config::opt_string("endpoint", "",
                                          "host:port to send to (also dns:///host:port, unix:/path; http:// "
                                          "means plain text, https:// TLS)")),
      config::opt_string("compression", "gzip",
                         "compression of each request: gzip or none (zstd is not available over gRPC here)",
                         {"gzip", "zstd", "none"}),
      config::opt_string_map("headers", "metadata added to every request"),
      config::opt_duration("timeout", "5s", "deadline of each Export call"),
      runtime::tls_client_option(),
      config::opt_object(
          "auth", "authentication of outgoing requests",
          {config::opt_string("authenticator", "",
                              "ID of a client authenticator extension (bearertokenauth/...)")}),
  };
  f.validate = [](const config::Settings& s, const std::string& id, config::Errors& errors) {
    GrpcEndpoint target;
    std::string error;
    const std::string endpoint = s.get_string("endpoint");
    if (s.has("endpoint") && !parse_grpc_endpoint(endpoint, target, error)) {
      errors.push_back({s.location("endpoint"), id, error});
    }
    if (s.get_string("compression") == "zstd") {
      errors.push_back(
          {s.location("compression"), id,
           "compression: zstd is not supported over gRPC (gRPC C++ 1.51 compresses messages with "
           "gzip or deflate only); use gzip or none, or the otlphttp exporter, which supports zstd"});
    }
    std::vector<std::string> seen;
    for (const auto& [name, value] : s.get_string_map("headers")) {
      const std::string key = lower(name);
      if (std::string why = check_grpc_metadata(key, value); !why.empty()) {
        errors.push_back({s.location("headers"), id, "headers: " + why});
      }
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        errors.push_back({s.location("headers"), id,
                          "headers: \"" + name + "\" is given twice (gRPC metadata names ignore case)"});
      }
      seen.push_back(key);
    }
    if (s.get_duration("timeout").count() <= 0) {
      errors.push_back({s.location("timeout"), id, "timeout must be greater than 0"});
    }
    runtime::validate_tls_client(s, "tls", id, errors);
    const runtime::TlsClientSettings tls = runtime::read_tls_client(s, "tls");
    const bool tls_files = !tls.ca_file.empty() || !tls.cert_file.empty() || !tls.key_file.empty() ||
                           tls.insecure_skip_verify || !tls.server_name_override.empty();
    if (target.scheme == GrpcEndpoint::Scheme::kHttp && tls_files) {
      errors.push_back({s.location("tls"), id,
                        "endpoint " + endpoint +
                            " means plain text (http://), but TLS options are set under tls; use https:// or "
                            "no scheme"});
    } else if (target.scheme == GrpcEndpoint::Scheme::kNone && tls.insecure && tls_files) {
      errors.push_back(
          {s.location("tls.insecure"), id,
           "tls.insecure: true turns TLS off, but other TLS options are set (ca_file, cert_file, "
           "key_file, insecure_skip_verify, server_name_override); remove one or the other"});
    }
    const bool plaintext = target.scheme == GrpcEndpoint::Scheme::kHttp ||
                           (target.scheme == GrpcEndpoint::Scheme::kNone && tls.insecure);
    if (!plaintext && tls.min_version == "1.3") {
      errors.push_back(
          {s.location("tls.min_version"), id,
           "tls.min_version: 1.3 cannot be enforced by the otlp (gRPC) exporter (gRPC C++ 1.51 has "
           "no setting for it; it negotiates TLS 1.2 or 1.3); remove it or use otlphttp"});
    }
    if (s.has("auth") && s.get_string("auth.authenticator").empty()) {
      errors.push_back({s.location("auth"), id, "auth.authenticator must name an authenticator extension"});
    }
  };
  f.create_exporter = [](const component::CreateSettings& cs,
                         model::Signal signal) -> std::unique_ptr<component::Sender> {
    return std::make_unique<OtlpExporter>(read_otlp_exporter_options(cs.settings), cs.id, signal,
                                          cs.telemetry);
  };
  return f;
}

}  // namespace vigil::exporters
