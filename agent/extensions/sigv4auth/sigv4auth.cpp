#include "agent/extensions/sigv4auth/sigv4auth.hpp"

#include <prometheus/counter.h>

#include <cctype>
#include <utility>
#include <vector>

#include "agent/aws/sigv4.hpp"
#include "agent/config/schema.hpp"
#include "agent/runtime/http_client.hpp"
#include "agent/telemetry/log.hpp"
#include "agent/telemetry/telemetry.hpp"

namespace vigil::extensions {

namespace {

constexpr char kType[] = "sigv4auth";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The host of scheme://[user@]host[:port]/..., lower-case, without the port.
std::string url_host(std::string_view url) {
  if (const auto p = url.find("://"); p != std::string_view::npos) url.remove_prefix(p + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (const auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (!url.empty() && url.front() == '[') return lower(url.substr(0, url.find(']') + 1));
  return lower(url.substr(0, url.find(':')));
}

std::vector<std::string_view> split_labels(std::string_view host) {
  std::vector<std::string_view> out;
  while (true) {
    const auto dot = host.find('.');
    out.push_back(host.substr(0, dot));
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  return out;
}

// A region name as AWS writes them ("us-east-1", "us-gov-west-1", "cn-north-1").
bool looks_like_region(std::string_view s) {
  if (s.size() < 4 || s.find('-') == std::string_view::npos) return false;
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '-')) {
      return false;
    }
  }
  return std::isdigit(static_cast<unsigned char>(s.back())) != 0;
}

}  // namespace

SigningScope infer_signing_scope(std::string_view url) {
  SigningScope scope;
  const std::string host = url_host(url);
  std::string_view rest = host;
  if (rest.ends_with(".amazonaws.com")) {
    rest.remove_suffix(std::string_view(".amazonaws.com").size());
  } else if (rest.ends_with(".amazonaws.com.cn")) {
    rest.remove_suffix(std::string_view(".amazonaws.com.cn").size());
  } else {
    return scope;
  }
  const std::vector<std::string_view> labels = split_labels(rest);
  if (labels.size() < 2) return scope;
  const std::string_view first = labels[0];
  if (first.starts_with("search-") && labels.size() >= 3 && labels[2] == "es") {
    // OpenSearch: search-<domain>.<region>.es.amazonaws.com
    scope.service = "es";
    if (looks_like_region(labels[1])) scope.region = std::string(labels[1]);
    return scope;
  }
  if (labels.size() != 2) return scope;
  if (first == "aps-workspaces") {
    scope.service = "aps";  // Amazon Managed Service for Prometheus signs as "aps"
  } else if (first.ends_with("-fips")) {
    scope.service = std::string(first.substr(0, first.size() - 5));
  } else {
    scope.service = std::string(first);
  }
  if (looks_like_region(labels[1])) scope.region = std::string(labels[1]);
  return scope;
}

Sigv4AuthOptions read_sigv4auth_options(const config::Settings& s) {
  Sigv4AuthOptions o;
  o.region = s.get_string("region");
  o.service = s.get_string("service");
  o.role_arn = s.get_string("assume_role.arn");
  o.role_session_name = s.get_string("assume_role.session_name");
  o.sts_region = s.get_string("assume_role.sts_region");
  return o;
}

Sigv4AuthExtension::Sigv4AuthExtension(std::string id, Sigv4AuthOptions options,
                                       telemetry::Telemetry* telemetry)
    : id_(std::move(id)), options_(std::move(options)) {
  if (telemetry != nullptr) {
    signed_ =
        &telemetry->counter_family("vigil_sigv4auth_signed_requests_total", "Requests signed with SigV4.")
             .Add({{"extension", id_}});
    auto& failures = telemetry->counter_family(
        "vigil_sigv4auth_failures_total",
        "Requests that could not be signed (the sender retries or drops them), by reason.");
    failed_credentials_ = &failures.Add({{"extension", id_}, {"reason", "credentials"}});
    failed_scope_ = &failures.Add({{"extension", id_}, {"reason", "scope"}});
  }
}

Sigv4AuthExtension::~Sigv4AuthExtension() {
  shutdown({});
}

component::Status Sigv4AuthExtension::start(component::Host& /*host*/) {
  if (provider_ != nullptr) return component::Status::ok();
  http_ = std::make_unique<runtime::HttpClient>();
  if (options_.provider != nullptr) {
    provider_ = options_.provider;
    return component::Status::ok();
  }
  aws::CredentialSettings settings = options_.credential_settings;
  settings.role_arn = options_.role_arn;
  settings.role_session_name = options_.role_session_name;
  settings.sts_region = options_.sts_region.empty() ? options_.region : options_.sts_region;
  provider_ = aws::make_default_credentials_provider(std::move(settings), *http_);
  if (provider_ == nullptr)
    return component::Status::permanent(id_ + ": cannot set up the AWS credential chain");
  return component::Status::ok();
}

void Sigv4AuthExtension::shutdown(component::Deadline /*deadline*/) {
  // Senders are stopped before extensions; the provider uses http_, so it goes first.
  provider_.reset();
  http_.reset();
}

component::Status Sigv4AuthExtension::request_headers(component::HeaderList& /*out*/) const {
  return component::Status::permanent(id_ +
                                      ": SigV4 signs the whole request; this sender only asks for headers "
                                      "(use sigv4auth with otlphttp)");
}

void Sigv4AuthExtension::count_failure(const char* reason) const {
  prometheus::Counter* c = std::string_view(reason) == "credentials" ? failed_credentials_ : failed_scope_;
  if (c != nullptr) c->Increment();
}

std::string Sigv4AuthExtension::fallback_region(std::string& error) const {
  std::lock_guard lock(region_mu_);
  if (!region_.empty()) return region_;
  const auto now = std::chrono::steady_clock::now();
  if (now < region_next_try_) {
    error = region_error_;
    return {};
  }
  std::string source;
  std::string found;
  if (http_ != nullptr) {
    found = aws::resolve_region("", options_.credential_settings, *http_, source, region_error_);
  } else {
    region_error_ = "no region configured";
  }
  if (found.empty()) {
    region_next_try_ = now + options_.region_retry;
    error = region_error_;
    return {};
  }
  telemetry::log(telemetry::Level::kInfo, "extension/" + id_,
                 "signing region " + found + " (from " + source + ")");
  region_ = found;
  return region_;
}

component::Status Sigv4AuthExtension::sign_request(const component::OutgoingRequest& request,
                                                   component::HeaderList& out) const {
  const std::string component = "extension/" + id_;
  if (provider_ == nullptr) {
    return component::Status::retryable(id_ + ": not started");
  }
  SigningScope scope{options_.service, options_.region};
  if (scope.service.empty() || scope.region.empty()) {
    const SigningScope inferred = infer_signing_scope(request.url);
    if (scope.service.empty()) scope.service = inferred.service;
    if (scope.region.empty()) scope.region = inferred.region;
  }
  if (scope.service.empty()) {
    count_failure("scope");
    const std::string message = id_ + ": `service` is not configured and the host of " +
                                std::string(url_host(request.url)) +
                                " does not name one (<service>.<region>.amazonaws.com)";
    telemetry::log_limited(telemetry::Level::kError, component + "/service", component, message);
    return component::Status::permanent(message);
  }
  if (scope.region.empty()) {
    std::string error;
    scope.region = fallback_region(error);
    if (scope.region.empty()) {
      count_failure("scope");
      const std::string message = id_ + ": `region` is not configured, the host of " + url_host(request.url) +
                                  " does not name one, and " + error;
      telemetry::log_limited(telemetry::Level::kError, component + "/region", component, message);
      return component::Status::permanent(message);
    }
  }

  aws::Credentials credentials;
  const component::Status got = provider_->get(credentials);
  if (!got.is_ok() || credentials.empty()) {
    count_failure("credentials");
    // The provider's message names providers and reasons, never a secret.
    const std::string message = id_ + ": no AWS credentials: " +
                                (got.is_ok() ? std::string("the provider gave empty ones") : got.message());
    telemetry::log_limited(telemetry::Level::kWarn, component + "/credentials", component, message);
    return component::Status::retryable(message, got.retry_after());
  }

  aws::SignableRequest signable;
  signable.method = std::string(request.method);
  signable.url = std::string(request.url);
  signable.headers.assign(request.headers.begin(), request.headers.end());
  signable.body = request.body;
  aws::SigningOptions options;
  options.region = scope.region;
  options.service = scope.service;
  const aws::Signature signature = aws::sign(signable, credentials, options);
  for (const auto& header : signature.headers) out.push_back(header);
  if (signed_ != nullptr) signed_->Increment();
  return component::Status::ok();
}

component::Factory sigv4auth_extension_factory() {
  component::Factory f;
  f.kind = component::Kind::kExtension;
  f.type = kType;
  f.description = "Signs outgoing requests with AWS Signature Version 4 (for otlphttp to AWS endpoints).";
  f.schema = {
      config::opt_string(
          "region", "",
          "Signing region; empty: from the URL's host (<service>.<region>.amazonaws.com), else "
          "AWS_REGION, AWS_DEFAULT_REGION, the profile, IMDS."),
      config::opt_string(
          "service", "",
          "Signing service name (xray, logs, monitoring, aps...); empty: from the URL's host."),
      config::opt_object(
          "assume_role", "A role to assume through STS with the default chain's credentials.",
          {
              config::opt_string("arn", "", "ARN of the role."),
              config::opt_string("session_name", "", "Role session name; empty: vigil-<unix seconds>."),
              config::opt_string("sts_region", "", "Region of the STS endpoint; empty: `region`."),
          }),
  };
  f.validate = [](const config::Settings& s, const std::string& id, config::Errors& errors) {
    const std::string arn = s.get_string("assume_role.arn");
    if (!arn.empty() && !arn.starts_with("arn:")) {
      errors.push_back(
          {s.location("assume_role.arn"), id,
           "assume_role.arn \"" + arn + "\" is not an ARN (arn:aws:iam::<account>:role/<name>)"});
    }
    if (arn.empty() && (!s.get_string("assume_role.session_name").empty() ||
                        !s.get_string("assume_role.sts_region").empty())) {
      errors.push_back({s.location("assume_role"), id, "assume_role needs arn"});
    }
    const std::string region = s.get_string("region");
    if (!region.empty() && !looks_like_region(region)) {
      errors.push_back(
          {s.location("region"), id, "region \"" + region + "\" is not an AWS region name (e.g. us-east-1)"});
    }
  };
  f.create_extension = [](const component::CreateSettings& cs) -> std::unique_ptr<component::Extension> {
    return std::make_unique<Sigv4AuthExtension>(cs.id, read_sigv4auth_options(cs.settings), &cs.telemetry);
  };
  return f;
}

}  // namespace vigil::extensions
