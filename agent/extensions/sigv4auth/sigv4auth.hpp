#pragma once
// The `sigv4auth` extension (the Collector's extension/sigv4authextension): a client
// authenticator that signs every outgoing request with AWS Signature Version 4, so that
// `otlphttp` can send to AWS's OTLP endpoints (X-Ray traces, CloudWatch Logs, CloudWatch
// metrics). Credentials come from the AWS default chain (agent/aws/credentials.hpp), optionally
// through a role assumed with STS; they are fetched when a request is signed (the provider caches
// and refreshes them). When `service` or `region` is not configured it is read from the host of
// each request's URL (`<service>.<region>.amazonaws.com`), else the region comes from the
// environment, the profile or IMDS.
//
// A secret never appears in a log line, a Status or `vigil validate` output.
//
// Thread-safety: sign_request() is called concurrently by exporter threads; start() and
// shutdown() from the control thread.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/aws/credentials.hpp"
#include "agent/component/auth.hpp"
#include "agent/component/factory.hpp"

namespace prometheus {
class Counter;
}

namespace vigil::runtime {
class HttpClient;
}

namespace vigil::extensions {

struct Sigv4AuthOptions {
  std::string region;   // "" → from the URL's host, else AWS_REGION, AWS_DEFAULT_REGION, profile, IMDS
  std::string service;  // "" → from the URL's host
  // assume_role
  std::string role_arn;
  std::string role_session_name;
  std::string sts_region;
  // Not config options (tests): where the credential providers look, and a provider that
  // replaces the default chain.
  aws::CredentialSettings credential_settings;
  std::shared_ptr<aws::CredentialsProvider> provider;
  // How long a failed region lookup is remembered before the next attempt.
  std::chrono::seconds region_retry{60};
};

Sigv4AuthOptions read_sigv4auth_options(const config::Settings& settings);

// The signing scope for a URL the way the Collector infers it, from hosts like
// "xray.us-east-1.amazonaws.com" (service "xray", region "us-east-1"),
// "aps-workspaces.<region>.amazonaws.com" (service "aps") and
// "search-<domain>.<region>.es.amazonaws.com" (service "es"). Empty parts when the host does not
// say.
struct SigningScope {
  std::string service;
  std::string region;
};
SigningScope infer_signing_scope(std::string_view url);

class Sigv4AuthExtension final : public component::Extension, public component::ClientAuthenticator {
 public:
  Sigv4AuthExtension(std::string id, Sigv4AuthOptions options, telemetry::Telemetry* telemetry);
  ~Sigv4AuthExtension() override;

  // Sets up the credential chain (no network call yet).
  component::Status start(component::Host& host) override;
  void shutdown(component::Deadline deadline) override;

  // A signature needs the request: a permanent Status saying so (a sender that only asks for
  // headers, like the OTLP/gRPC exporter, cannot use this extension).
  component::Status request_headers(component::HeaderList& out) const override;
  bool signs_whole_request() const override { return true; }
  // Appends authorization, x-amz-date, x-amz-security-token (temporary credentials),
  // x-amz-content-sha256 and host (when the request has none). Retryable when no credentials
  // can be had now; permanent when the service or region is unknown.
  component::Status sign_request(const component::OutgoingRequest& request,
                                 component::HeaderList& out) const override;

 private:
  // The region for a request whose host does not name one; "" with `error` when none is found.
  std::string fallback_region(std::string& error) const;
  void count_failure(const char* reason) const;

  const std::string id_;
  Sigv4AuthOptions options_;
  std::unique_ptr<runtime::HttpClient> http_;
  std::shared_ptr<aws::CredentialsProvider> provider_;
  prometheus::Counter* signed_ = nullptr;
  prometheus::Counter* failed_credentials_ = nullptr;
  prometheus::Counter* failed_scope_ = nullptr;

  mutable std::mutex region_mu_;
  mutable std::string region_;        // guarded by region_mu_: the resolved fallback region
  mutable std::string region_error_;  // the last lookup's failure
  mutable std::chrono::steady_clock::time_point region_next_try_{};
};

component::Factory sigv4auth_extension_factory();

}  // namespace vigil::extensions
