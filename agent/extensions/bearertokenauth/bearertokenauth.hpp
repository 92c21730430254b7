#pragma once
// The `bearertokenauth` extension (the Collector's extension/bearertokenauthextension): a static
// bearer token, given inline or read from a file, that
// - receivers require in a header of every request (ServerAuthenticator), and
// - exporters add to every request they send (ClientAuthenticator).
//
// With `filename`, the file is read at start and read again when it changes: on use, at most once
// a second, its modification time, size and inode are compared with the last read. Surrounding
// whitespace (the trailing newline) is not part of the token. If the file cannot be read any more
// the last token stays in use (and a warning is logged); an empty file means no token: every
// request is refused, and exporters get a retryable error until a token is there.
//
// The token never appears in a log line, an error message or a Status.
//
// Thread-safety: authenticate() and request_headers() are called concurrently from request
// threads; start() and shutdown() from the control thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "agent/component/auth.hpp"
#include "agent/component/factory.hpp"

namespace vigil::extensions {

struct BearerTokenAuthOptions {
  std::string scheme = "Bearer";  // empty: the header holds the token alone
  std::string token;              // exactly one of token and filename
  std::string filename;
  std::string header = "Authorization";
  // Not a config option: how often the file may be checked (tests shorten it).
  std::chrono::milliseconds file_check_interval{1000};
};

BearerTokenAuthOptions read_bearertokenauth_options(const config::Settings& settings);

class BearerTokenAuthExtension final : public component::Extension,
                                       public component::ServerAuthenticator,
                                       public component::ClientAuthenticator {
 public:
  BearerTokenAuthExtension(std::string id, BearerTokenAuthOptions options);
  ~BearerTokenAuthExtension() override;

  // With `filename`: reads the token, a permanent error naming the file when it cannot.
  component::Status start(component::Host& host) override;
  void shutdown(component::Deadline deadline) override;

  // Ok when the configured header is "<scheme> <token>" (the scheme compared without regard to
  // case, the token in constant time); else a permanent Status saying which part is wrong.
  component::Status authenticate(const component::HeaderList& headers) const override;
  // Appends {header (lower-cased), "<scheme> <token>"}.
  component::Status request_headers(component::HeaderList& out) const override;

  // How many times the token file was read (tests).
  std::uint64_t file_reads() const;

 private:
  struct FileState {
    std::int64_t mtime_ns = 0;
    std::int64_t size = -1;
    std::uint64_t inode = 0;
    bool operator==(const FileState&) const = default;
  };
  using Secret = std::shared_ptr<const std::string>;

  // The current token; with `filename`, re-read first if it is due and the file changed. Never
  // null; empty when there is no token.
  Secret current_token() const;
  // Reads the file when its state differs from the last read (or `force`). False with `error`
  // (naming the file, never its content) when it cannot be read.
  bool reload(bool force, std::string& error) const;

  const std::string id_;
  const BearerTokenAuthOptions options_;
  const std::string header_lower_;

  mutable std::mutex mu_;
  mutable Secret token_;  // guarded by mu_
  mutable FileState file_state_;
  mutable std::chrono::steady_clock::time_point next_check_{};
  mutable std::uint64_t file_reads_ = 0;
};

component::Factory bearertokenauth_extension_factory();

}  // namespace vigil::extensions
