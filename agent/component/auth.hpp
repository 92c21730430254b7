#pragma once
// Authenticator extensions (the Collector's extension/auth): a receiver's `auth.authenticator`
// or an exporter's `auth.authenticator` names an extension ID; at start the component looks it
// up with Host::extension() and dynamic_casts it to one of these interfaces. An extension may
// implement both (bearertokenauth does).
//
// Thread-safety: both methods are called concurrently from request threads.

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/component/component.hpp"
#include "agent/component/status.hpp"

namespace vigil::component {

// Request headers (HTTP headers or gRPC metadata), names lower-cased.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

class ServerAuthenticator {
 public:
  virtual ~ServerAuthenticator() = default;
  // Ok, or a permanent Status whose message says why (never echoing a secret). The receiver
  // answers HTTP 401 / gRPC UNAUTHENTICATED with it.
  virtual Status authenticate(const HeaderList& headers) const = 0;
};

// An outgoing request as it will be sent, for authenticators that sign it (sigv4auth). Views:
// valid during the sign_request() call only.
struct OutgoingRequest {
  std::string_view method;  // "POST", ...
  std::string_view url;     // scheme://host[:port]/path?query, as sent
  // The headers that will be sent (names in any case), the transport's own aside (User-Agent,
  // Content-Length, Accept); "host" only when it differs from the URL's.
  std::span<const std::pair<std::string, std::string>> headers;
  std::string_view body;  // the final body, compressed when it is sent compressed
};

class ClientAuthenticator {
 public:
  virtual ~ClientAuthenticator() = default;
  // Headers to add to each outgoing request (e.g. {"authorization", "Bearer x"}). A retryable
  // Status when credentials are not available right now.
  virtual Status request_headers(HeaderList& out) const = 0;
  // Headers to add to `request`, which they may depend on (a signature). Senders that know the
  // whole request call this one; the default ignores the request. A header returned replaces a
  // header of the same name the sender would have sent.
  virtual Status sign_request(const OutgoingRequest& request, HeaderList& out) const {
    (void)request;
    return request_headers(out);
  }
  // True when the authenticator needs the whole request (sign_request): a sender that can only
  // ask for headers (gRPC metadata) refuses it at start instead of failing every request.
  virtual bool signs_whole_request() const { return false; }
};

// Finds extension `id` and casts it to T. nullptr when absent or of another kind; `error` then
// says which.
template <typename T>
T* find_authenticator(Host& host, std::string_view id, std::string& error) {
  Extension* e = host.extension(id);
  if (e == nullptr) {
    error = "auth.authenticator: extension \"" + std::string(id) +
            "\" is not configured (add it under extensions and service.extensions)";
    return nullptr;
  }
  T* t = dynamic_cast<T*>(e);
  if (t == nullptr) error = "auth.authenticator: extension \"" + std::string(id) + "\" cannot authenticate here";
  return t;
}

}  // namespace vigil::component
