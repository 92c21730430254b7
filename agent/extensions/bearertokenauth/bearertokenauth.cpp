#include "agent/extensions/bearertokenauth/bearertokenauth.hpp"

#include <sys/stat.h>

#include <openssl/crypto.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>
#include <utility>

#include "agent/telemetry/log.hpp"

namespace vigil::extensions {

namespace {

constexpr char kType[] = "bearertokenauth";
constexpr std::int64_t kMaxTokenFileBytes = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

// HTTP field-name characters (RFC 9110 tchar).
bool is_header_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) == 0 && std::strchr("!#$%&'*+-.^_`|~", c) == nullptr) return false;
  }
  return true;
}

// A token goes into a header value: no whitespace or control characters inside it.
bool is_token_text(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

void wipe(std::string& s) {
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// A token held so that its bytes are wiped when the last user lets go of it.
std::shared_ptr<const std::string> make_secret(std::string_view text) {
  return std::shared_ptr<const std::string>(new std::string(text), [](const std::string* p) {
    auto* s = const_cast<std::string*>(p);
    OPENSSL_cleanse(s->data(), s->size());
    delete s;
  });
}

}  // namespace

BearerTokenAuthOptions read_bearertokenauth_options(const config::Settings& settings) {
  BearerTokenAuthOptions o;
  o.scheme = settings.get_string("scheme");
  o.token = settings.get_string("token");
  o.filename = settings.get_string("filename");
  o.header = settings.get_string("header");
  return o;
}

BearerTokenAuthExtension::BearerTokenAuthExtension(std::string id, BearerTokenAuthOptions options)
    : id_(std::move(id)), options_(std::move(options)), header_lower_(lower(options_.header)) {
  token_ = make_secret(options_.filename.empty() ? options_.token : std::string_view());
}

BearerTokenAuthExtension::~BearerTokenAuthExtension() = default;

component::Status BearerTokenAuthExtension::start(component::Host&) {
  if (options_.filename.empty()) return component::Status::ok();
  std::lock_guard lock(mu_);
  std::string error;
  if (!reload(true, error)) return component::Status::permanent(id_ + ": " + error);
  next_check_ = std::chrono::steady_clock::now() + options_.file_check_interval;
  telemetry::log(telemetry::Level::kInfo, id_,
                 "bearer token read from \"" + options_.filename + "\" (read again when it changes)");
  return component::Status::ok();
}

void BearerTokenAuthExtension::shutdown(component::Deadline) {}

std::uint64_t BearerTokenAuthExtension::file_reads() const {
  std::lock_guard lock(mu_);
  return file_reads_;
}

bool BearerTokenAuthExtension::reload(bool force, std::string& error) const {
  const std::string& path = options_.filename;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = "cannot read token file \"" + path + "\": " + std::strerror(errno);
    return false;
  }
  const FileState state{static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                        static_cast<std::int64_t>(st.st_size), static_cast<std::uint64_t>(st.st_ino)};
  if (!force && state == file_state_) return true;
  if (state.size > kMaxTokenFileBytes) {
    error = "token file \"" + path + "\" is larger than " + std::to_string(kMaxTokenFileBytes) + " bytes";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read token file \"" + path + "\": " + std::strerror(errno);
    return false;
  }
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ++file_reads_;
  const bool read_ok = !in.bad();
  const std::string_view token = trim(content);
  if (!read_ok || !is_token_text(token)) {
    wipe(content);
    error = read_ok ? "token file \"" + path + "\" holds whitespace or control characters inside the token"
                    : "cannot read token file \"" + path + "\": read error";
    // Not read again until it changes.
    file_state_ = state;
    return false;
  }
  token_ = make_secret(token);
  wipe(content);
  file_state_ = state;
  if (token_->empty()) {
    telemetry::log_limited(
        telemetry::Level::kWarn, "bearertokenauth/empty/" + id_, id_,
        "token file \"" + path + "\" is empty: requests are refused until it holds a token");
  }
  return true;
}

BearerTokenAuthExtension::Secret BearerTokenAuthExtension::current_token() const {
  std::lock_guard lock(mu_);
  if (!options_.filename.empty()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_check_) {
      next_check_ = now + options_.file_check_interval;
      std::string error;
      if (!reload(false, error)) {
        telemetry::log_limited(telemetry::Level::kWarn, "bearertokenauth/reload/" + id_, id_,
                               error + "; the last token read stays in use");
      }
    }
  }
  return token_;
}

component::Status BearerTokenAuthExtension::authenticate(const component::HeaderList& headers) const {
  const std::string* value = nullptr;
  for (const auto& [name, v] : headers) {
    if (name == header_lower_) {
      value = &v;
      break;
    }
  }
  if (value == nullptr || value->empty())
    return component::Status::permanent("missing " + options_.header + " header");

  std::string_view credentials = *value;
  const std::string& scheme = options_.scheme;
  if (!scheme.empty()) {
    // "<scheme> <token>": the scheme is case-insensitive (RFC 9110), then one or more spaces.
    if (credentials.size() <= scheme.size() || !iequals(credentials.substr(0, scheme.size()), scheme) ||
        credentials[scheme.size()] != ' ') {
      return component::Status::permanent(options_.header + " header does not use the " + scheme + " scheme");
    }
    credentials.remove_prefix(scheme.size());
    while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
  }

  const Secret token = current_token();
  if (token->empty()) return component::Status::permanent("no token is available to check against");
  // Constant time over the token's bytes; only a length mismatch ends the comparison early.
  if (credentials.size() != token->size() ||
      CRYPTO_memcmp(credentials.data(), token->data(), token->size()) != 0) {
    return component::Status::permanent(scheme.empty() ? "invalid token"
                                                       : "invalid " + lower(scheme) + " token");
  }
  return component::Status::ok();
}

component::Status BearerTokenAuthExtension::request_headers(component::HeaderList& out) const {
  const Secret token = current_token();
  if (token->empty()) {
    return component::Status::retryable(id_ + ": no bearer token (token file \"" + options_.filename +
                                        "\" is empty)");
  }
  out.emplace_back(header_lower_, options_.scheme.empty() ? *token : options_.scheme + " " + *token);
  return component::Status::ok();
}

component::Factory bearertokenauth_extension_factory() {
  component::Factory f;
  f.kind = component::Kind::kExtension;
  f.type = kType;
  f.description = "Bearer token authentication: receivers require the token in a header, exporters send it.";
  f.schema = {
      config::opt_string(
          "scheme", "Bearer",
          "Authentication scheme before the token in the header; empty sends the token alone."),
      config::opt_string("token", "", "The token. Exactly one of token and filename."),
      config::opt_string(
          "filename", "",
          "File holding the token (surrounding whitespace ignored), read again when it changes."),
      config::opt_string("header", "Authorization", "Header that carries the token."),
  };
  f.validate = [](const config::Settings& s, const std::string& id, config::Errors& errors) {
    const std::string token = s.get_string("token");
    const std::string filename = s.get_string("filename");
    if (!token.empty() && !filename.empty()) {
      errors.push_back({s.location("token"), id, "token and filename are both set; set one of them"});
    } else if (token.empty() && filename.empty()) {
      errors.push_back({s.location(), id, "one of token or filename is required"});
    }
    // The value itself is never repeated in a message.
    if (!token.empty() && !is_token_text(token)) {
      errors.push_back({s.location("token"), id, "token contains whitespace or control characters"});
    }
    const std::string header = s.get_string("header");
    if (!is_header_name(header)) {
      errors.push_back({s.location("header"), id, "header \"" + header + "\" is not a valid header name"});
    }
    const std::string scheme = s.get_string("scheme");
    if (!scheme.empty() && !is_header_name(scheme)) {
      errors.push_back({s.location("scheme"), id, "scheme \"" + scheme + "\" must be a single word"});
    }
  };
  f.create_extension = [](const component::CreateSettings& cs) -> std::unique_ptr<component::Extension> {
    return std::make_unique<BearerTokenAuthExtension>(cs.id, read_bearertokenauth_options(cs.settings));
  };
  return f;
}

}  // namespace vigil::extensions
