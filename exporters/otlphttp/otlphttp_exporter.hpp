#pragma once
// The `otlphttp` exporter: OTLP over HTTP/1.1 or HTTP/2 (protobuf or JSON) through the runtime's
// HTTP client (runtime::HttpClient, libcurl), with the option names and defaults of the
// Collector's exporter/otlphttpexporter and config/confighttp (see README.md). Each batch is one
// POST of an Export{Trace,Metrics,Logs}ServiceRequest, compressed by the exporter itself (gzip,
// zstd, deflate or none). The server's answer becomes a component::Status with the OTLP retry
// rules of exporters/otlp/export_status.hpp; the runtime's exporter helper queues and retries
// (sending_queue, retry_on_failure).
//
// Ownership and threads: one OtlpHttpExporter per (exporter ID, signal). send() is called from up
// to sending_queue.num_consumers threads at once and blocks until the server answered or
// `timeout` passed. Each concurrent send() uses its own request buffers from a small pool, and
// the HttpClient gives it its own libcurl handle (which keeps its connection alive), so there are
// at most as many connections as concurrent senders. start() and shutdown() come from the
// control thread and never run concurrently with send() (the exporter helper guarantees it). The
// authenticator extension found at start() must outlive the exporter (extensions start first and
// stop last). It is asked through ClientAuthenticator::sign_request() with each request as sent
// (URL, headers, final compressed body), so a signing one (sigv4auth) can sign it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/component/auth.hpp"
#include "agent/component/component.hpp"
#include "agent/component/factory.hpp"
#include "agent/otlp/response.hpp"
#include "agent/runtime/proxy.hpp"
#include "agent/runtime/tls.hpp"

namespace prometheus {
class Counter;
}

namespace vigil::exporters {

struct OtlpHttpExporterOptions {
  enum class Compression { kNone, kGzip, kZstd, kDeflate };

  std::string endpoint;  // base URL; /v1/traces, /v1/metrics, /v1/logs are appended
  std::string traces_endpoint;   // full URLs that replace endpoint for one signal
  std::string metrics_endpoint;
  std::string logs_endpoint;
  std::vector<std::pair<std::string, std::string>> headers;
  Compression compression = Compression::kGzip;
  otlp::Encoding encoding = otlp::Encoding::kProtobuf;
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);  // whole request; 0: none
  runtime::TlsClientSettings tls;  // used for https:// URLs (`insecure` is ignored: the scheme decides)
  std::string proxy_url;           // non-empty: every request goes through it (environment ignored)
  std::string authenticator;       // auth.authenticator: extension ID, "" for none
  std::chrono::nanoseconds idle_conn_timeout = std::chrono::seconds(90);  // 0: no limit
  bool disable_keep_alives = false;
};

OtlpHttpExporterOptions read_otlphttp_exporter_options(const config::Settings& settings);

// The URL a signal is sent to: its <signal>_endpoint, else endpoint + "/v1/<signal>" (no doubled
// slash when endpoint ends with '/'), else "" (the exporter then fails to start for that signal).
std::string otlphttp_signal_url(const OtlpHttpExporterOptions& options, model::Signal signal);

// The proxy rules (Go's, from the environment) live in the runtime, shared with HttpClient.
using runtime::ProxyEnvironment;
using runtime::proxy_for_url;

struct OtlpHttpConnections;  // the HTTP client, request buffers, the request settings (.cpp)

class OtlpHttpExporter : public component::Sender {
 public:
  OtlpHttpExporter(OtlpHttpExporterOptions options, std::string id, model::Signal signal,
                   telemetry::Telemetry& telemetry);
  ~OtlpHttpExporter() override;

  // Permanent errors: no URL for this signal, unreadable TLS files, an invalid proxy in the
  // environment, an invalid tls.server_name_override, a missing authenticator extension, libcurl
  // that cannot initialise.
  component::Status start(component::Host& host) override;
  // Closes the connections. Safe without start(); never concurrent with send().
  void shutdown(component::Deadline deadline) override;
  // Encodes, compresses and POSTs the batch; returns when the server answered or `timeout`
  // passed. Retryable: HTTP 429/502/503/504 (with the server's Retry-After), connection and TLS
  // failures and timeouts, credentials not available yet. Permanent: every other 3xx/4xx/5xx
  // (with the server's google.rpc.Status message), a request the client cannot send as written.
  // A 2xx is OK; a partial success in it is logged and its rejected items counted, never retried.
  component::Status send(const model::Batch& batch) override;

  const std::string& url() const { return url_; }

 private:
  const OtlpHttpExporterOptions options_;
  const std::string id_;
  const model::Signal signal_;
  const std::string url_;          // as configured
  std::string display_url_;        // without credentials or query, for messages
  prometheus::Counter* rejected_;  // vigil_exporter_rejected_<items>_total{exporter}
  const component::ClientAuthenticator* auth_ = nullptr;
  std::unique_ptr<OtlpHttpConnections> connections_;  // set by start(), reset by shutdown()
};

component::Factory otlphttp_exporter_factory();

}  // namespace vigil::exporters
