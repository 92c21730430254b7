#pragma once
// AWS credentials and region, found the way the AWS SDKs find them (see README.md):
// environment → shared files (profile) → web identity (EKS IRSA) → container (ECS task role,
// EKS Pod Identity) → IMDSv2 (EC2), then optionally a role assumed through STS.
// Credentials are cached and refreshed before they expire.
//
// Thread-safety: CredentialsProvider::get() is called concurrently by exporter threads.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "agent/aws/sigv4.hpp"
#include "agent/component/status.hpp"

namespace vigil::runtime {
class HttpClient;
}

namespace vigil::aws {

// Where the providers look, and what they call. Each field has the SDKs' default; tests point
// the endpoints at local fakes.
struct CredentialSettings {
  std::string profile;            // "" → AWS_PROFILE, else "default"
  std::string role_arn;           // assume this role (STS AssumeRole) with the chain's credentials
  std::string role_session_name;  // "" → "vigil-<unix seconds>"
  std::string external_id;
  std::string sts_region;         // "" → the resolved region
  // Test-only overrides (not config options): "" → the real endpoint.
  std::string sts_endpoint;             // also AWS_ENDPOINT_URL_STS
  std::string imds_endpoint;            // also AWS_EC2_METADATA_SERVICE_ENDPOINT; default http://169.254.169.254
  std::string container_endpoint;       // host the RELATIVE_URI is resolved against; default http://169.254.170.2
  // How long before Expiration credentials are refreshed.
  std::chrono::seconds refresh_before{300};
  // At most one refresh this often while the credentials in hand are still valid (a provider
  // that hands out credentials already within refresh_before would otherwise be asked on every
  // call). Expired credentials are always refetched.
  std::chrono::milliseconds min_refresh_interval{10'000};
  // Test-only: where ~/.aws is ("" → $HOME); AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE win.
  std::string home;
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Cached credentials, refreshed first when they are due. A retryable Status (saying which
  // providers were tried and why each failed, never a secret) when none can be had now.
  virtual component::Status get(Credentials& out) = 0;
};

// The default chain (with settings.role_arn, wrapped in AssumeRole). The HttpClient must outlive it.
// Nothing is fetched until the first get().
std::shared_ptr<CredentialsProvider> make_default_credentials_provider(CredentialSettings settings,
                                                                       runtime::HttpClient& http);

// Fixed credentials (tests, and components handed keys directly).
std::shared_ptr<CredentialsProvider> make_static_credentials_provider(Credentials credentials);

// The STS endpoint for `region`: settings.sts_endpoint, else AWS_ENDPOINT_URL_STS, else
// AWS_ENDPOINT_URL, else https://sts.<region>.amazonaws.com (.amazonaws.com.cn in China), or the
// global https://sts.amazonaws.com when `region` is "".
std::string sts_endpoint(const CredentialSettings& settings, const std::string& region);

// Whether AWS_CONTAINER_CREDENTIALS_FULL_URI may be called, the SDKs' rule: https:// to any host;
// http:// only to a loopback address, 169.254.170.2 (ECS), 169.254.170.23 or fd00:ec2::23 (EKS
// Pod Identity), or a host name all of whose addresses are one of those. "" when allowed, else
// why not.
std::string check_container_full_uri(const std::string& uri);

// The region: `configured`, else AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`, IMDS
// (/latest/meta-data/placement/region). `source` says which. "" with a message in `error` when
// none is found.
std::string resolve_region(const std::string& configured, const CredentialSettings& settings,
                           runtime::HttpClient& http, std::string& source, std::string& error);

}  // namespace vigil::aws
