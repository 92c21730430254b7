#include "agent/aws/credentials.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "agent/aws/credentials_ini.hpp"
#include "agent/aws/credentials_parse.hpp"
#include "agent/runtime/http_client.hpp"
#include "agent/telemetry/log.hpp"

namespace vigil::aws {

using component::Status;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

namespace {

constexpr char kLogComponent[] = "aws/credentials";
constexpr char kStsVersion[] = "2011-06-15";
constexpr char kDefaultImds[] = "http://169.254.169.254";
constexpr char kDefaultImdsV6[] = "http://[fd00:ec2::254]";
constexpr char kDefaultContainer[] = "http://169.254.170.2";
constexpr int kImdsTokenTtlSeconds = 21600;
constexpr std::size_t kMaxMessageChars = 200;
constexpr int kMaxProfileDepth = 5;

// ---- small helpers -----------------------------------------------------------------------------

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// A server's text made safe for a message: one line, bounded. Only ever applied to error bodies,
// never to a response that carried credentials.
std::string excerpt(std::string_view body) {
  std::string out;
  std::size_t cut = std::min(body.size(), kMaxMessageChars);  // at a character boundary
  while (cut > 0 && cut < body.size() && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80) --cut;
  for (char c : body.substr(0, cut)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  out = trim(out);
  if (body.size() > kMaxMessageChars) out += "...";
  return out;
}

bool read_whole_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return !in.bad();
}

std::string form_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string form(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += form_encode(k) + "=" + form_encode(v);
  }
  return out;
}

// ISO 8601 as the services write it: "2024-05-01T12:00:00Z", with optional fractional seconds
// and an optional numeric offset.
std::optional<Clock::time_point> parse_time(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, n = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6) return std::nullopt;
  std::size_t i = static_cast<std::size_t>(n);
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  }
  long offset = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(text.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset = (text[i] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
  } else if (i >= text.size() || (text[i] != 'Z' && text[i] != 'z')) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const std::time_t t = ::timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  // The clock counts nanoseconds in 64 bits (years 1678 to 2262): a time beyond is clamped to its
  // ends ("never expires" / "long expired") rather than overflowing.
  constexpr std::time_t kMaxSeconds =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::duration::max()).count() - 1;
  return Clock::from_time_t(std::clamp<std::time_t>(t - offset, -kMaxSeconds, kMaxSeconds));
}

std::string format_time(Clock::time_point t) {
  const std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string unix_seconds() {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count());
}

// ---- XML (STS answers) -------------------------------------------------------------------------

std::string xml_unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    const std::size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out.push_back('&');
      continue;
    }
    const std::string_view entity = s.substr(i + 1, semi - i - 1);
    if (entity == "amp") out.push_back('&');
    else if (entity == "lt") out.push_back('<');
    else if (entity == "gt") out.push_back('>');
    else if (entity == "quot") out.push_back('"');
    else if (entity == "apos") out.push_back('\'');
    else if (!entity.empty() && entity[0] == '#') {
      const bool hex = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X');
      const unsigned long cp = std::strtoul(std::string(entity.substr(hex ? 2 : 1)).c_str(), nullptr, hex ? 16 : 10);
      if (cp < 0x80) out.push_back(static_cast<char>(cp));
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

// The text of the first <tag>...</tag> in `xml` (after `from`), or nullopt.
std::optional<std::string> xml_text(std::string_view xml, std::string_view tag, std::size_t from = 0) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const std::size_t a = xml.find(open, from);
  if (a == std::string_view::npos) return std::nullopt;
  const std::size_t b = xml.find(close, a + open.size());
  if (b == std::string_view::npos) return std::nullopt;
  return xml_unescape(xml.substr(a + open.size(), b - a - open.size()));
}

// ---- the outcome of one provider ---------------------------------------------------------------

enum class Outcome { kFound, kNotConfigured, kFailed };

struct Fetched {
  Outcome outcome = Outcome::kFailed;
  std::string message;  // why not (never a secret)

  static Fetched found() { return {Outcome::kFound, {}}; }
  static Fetched skip(std::string m) { return {Outcome::kNotConfigured, std::move(m)}; }
  static Fetched fail(std::string m) { return {Outcome::kFailed, std::move(m)}; }
};

// One way to obtain credentials. fetch() may block on the network (bounded by timeouts).
class Source {
 public:
  virtual ~Source() = default;
  virtual std::string name() const = 0;
  virtual Fetched fetch(Credentials& out) = 0;
};

// Credentials that are expired are never handed out.
Fetched check_not_expired(const Credentials& c, const std::string& from) {
  if (c.expiration && *c.expiration <= Clock::now()) {
    return Fetched::fail(from + " returned credentials that expired at " + format_time(*c.expiration));
  }
  return Fetched::found();
}

// ---- JSON (container and IMDS answers) ---------------------------------------------------------

Fetched parse_json_credentials(const std::string& body, const std::string& from, Credentials& out) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  // The body holds secrets: a parse failure names the error, never the text.
  if (parser.parse(body).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return Fetched::fail(from + " answered with something that is not a JSON object");
  }
  const auto field = [&](const char* key) {
    std::string_view v;
    if (root[key].get_string().get(v) != simdjson::SUCCESS) return std::string();
    return std::string(v);
  };
  if (const std::string code = field("Code"); !code.empty() && code != "Success") {
    return Fetched::fail(from + " answered Code \"" + excerpt(code) + "\"" +
                         (field("Message").empty() ? "" : ": " + excerpt(field("Message"))));
  }
  Credentials c;
  c.access_key_id = field("AccessKeyId");
  c.secret_access_key = field("SecretAccessKey");
  c.session_token = field("Token");
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Fetched::fail(from + " answered without AccessKeyId or SecretAccessKey");
  }
  if (const std::string exp = field("Expiration"); !exp.empty()) {
    c.expiration = parse_time(exp);
    if (!c.expiration) return Fetched::fail(from + " answered an Expiration that is not ISO 8601: " + excerpt(exp));
  }
  Fetched f = check_not_expired(c, from);
  if (f.outcome == Outcome::kFound) out = std::move(c);
  return f;
}

std::string http_failure(const runtime::HttpClientResponse& r) {
  if (r.status == 0) return r.transport_error.empty() ? "no response" : r.transport_error;
  std::string m = "HTTP " + std::to_string(r.status);
  if (!r.body.empty()) m += ": " + excerpt(r.body);
  return m;
}

// ---- STS ---------------------------------------------------------------------------------------

std::string sts_region_for(const CredentialSettings& settings, runtime::HttpClient& http) {
  if (!settings.sts_region.empty()) return settings.sts_region;
  std::string source, error;
  return resolve_region("", settings, http, source, error);
}

// Parses an STS AssumeRole* answer (XML): credentials, or an error with STS's code and message.
Fetched parse_sts(const runtime::HttpClientResponse& r, const std::string& from, Credentials& out) {
  if (r.status == 0) return Fetched::fail(from + ": " + http_failure(r));
  if (r.status != 200) {
    const auto code = xml_text(r.body, "Code");
    const auto message = xml_text(r.body, "Message");
    std::string m = from + ": HTTP " + std::to_string(r.status);
    if (code) m += " " + excerpt(*code);
    if (message) m += ": " + excerpt(*message);
    if (!code && !message && !r.body.empty()) m += ": " + excerpt(r.body);
    return Fetched::fail(m);
  }
  const std::size_t creds = r.body.find("<Credentials>");
  if (creds == std::string::npos) return Fetched::fail(from + ": the answer holds no <Credentials>");
  Credentials c;
  c.access_key_id = trim(xml_text(r.body, "AccessKeyId", creds).value_or(""));
  c.secret_access_key = trim(xml_text(r.body, "SecretAccessKey", creds).value_or(""));
  c.session_token = trim(xml_text(r.body, "SessionToken", creds).value_or(""));
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Fetched::fail(from + ": the answer lacks AccessKeyId or SecretAccessKey");
  }
  if (const auto exp = xml_text(r.body, "Expiration", creds)) {
    c.expiration = parse_time(trim(*exp));
    if (!c.expiration) return Fetched::fail(from + ": Expiration is not ISO 8601: " + excerpt(*exp));
  }
  Fetched f = check_not_expired(c, from);
  if (f.outcome == Outcome::kFound) out = std::move(c);
  return f;
}

struct RoleRequest {
  std::string role_arn;
  std::string session_name;  // "" → vigil-<unix seconds>
  std::string external_id;
};

// STS AssumeRoleWithWebIdentity: unsigned, the token (a secret) in the body only.
Fetched assume_role_with_web_identity(const CredentialSettings& settings, runtime::HttpClient& http,
                                      const RoleRequest& role, const std::string& token_file, Credentials& out) {
  const std::string from = "STS AssumeRoleWithWebIdentity for " + role.role_arn;
  std::string token;
  if (!read_whole_file(token_file, token)) return Fetched::fail("cannot read the web identity token file " + token_file);
  token = trim(token);
  if (token.empty()) return Fetched::fail("the web identity token file " + token_file + " is empty");
  runtime::HttpClientRequest req;
  req.method = "POST";
  req.url = sts_endpoint(settings, sts_region_for(settings, http));
  if (req.url.empty() || req.url.back() != '/') req.url += '/';
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}, {"Accept", "application/xml"}};
  req.body = form({{"Action", "AssumeRoleWithWebIdentity"},
                   {"Version", kStsVersion},
                   {"RoleArn", role.role_arn},
                   {"RoleSessionName", role.session_name.empty() ? "vigil-" + unix_seconds() : role.session_name},
                   {"WebIdentityToken", token}});
  req.timeout = 10s;
  return parse_sts(http.perform(req), from, out);
}

// STS AssumeRole, signed (SigV4, service "sts") with `source`.
Fetched assume_role(const CredentialSettings& settings, runtime::HttpClient& http, const RoleRequest& role,
                    const Credentials& source, Credentials& out) {
  const std::string from = "STS AssumeRole for " + role.role_arn + " (as " + source.describe() + ")";
  const std::string region = sts_region_for(settings, http);
  runtime::HttpClientRequest req;
  req.method = "POST";
  req.url = sts_endpoint(settings, region);
  if (req.url.empty() || req.url.back() != '/') req.url += '/';
  std::vector<std::pair<std::string, std::string>> fields = {
      {"Action", "AssumeRole"},
      {"Version", kStsVersion},
      {"RoleArn", role.role_arn},
      {"RoleSessionName", role.session_name.empty() ? "vigil-" + unix_seconds() : role.session_name}};
  if (!role.external_id.empty()) fields.emplace_back("ExternalId", role.external_id);
  req.body = form(fields);
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}, {"Accept", "application/xml"}};
  SignableRequest signable{req.method, req.url, req.headers, req.body};
  SigningOptions options;
  options.region = region.empty() ? "us-east-1" : region;
  options.service = "sts";
  const Signature sig = sign(signable, source, options);
  for (const auto& h : sig.headers) {
    if (h.first != "host") req.headers.push_back(h);
  }
  req.timeout = 10s;
  return parse_sts(http.perform(req), from, out);
}

// ---- IMDSv2 ------------------------------------------------------------------------------------

// The instance metadata service with its session token, shared by the credential provider and
// region resolution. A 401 means the token expired: one new token, one retry.
class Imds {
 public:
  Imds(const CredentialSettings& settings, runtime::HttpClient& http) : http_(http) {
    endpoint_ = settings.imds_endpoint;
    if (endpoint_.empty()) endpoint_ = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (endpoint_.empty()) {
      endpoint_ = lower(env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")) == "ipv6" ? kDefaultImdsV6 : kDefaultImds;
    }
    while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
  }

  static bool disabled() { return lower(trim(env("AWS_EC2_METADATA_DISABLED"))) == "true"; }

  // GET path with the token; the answer or why not.
  bool get(const std::string& path, std::string& body, std::string& error) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::string token;
      if (!session_token(token, error)) return false;
      runtime::HttpClientRequest req;
      req.url = endpoint_ + path;
      req.headers = {{"X-aws-ec2-metadata-token", token}};
      req.timeout = kTimeout;
      req.connect_timeout = kConnectTimeout;
      runtime::HttpClientResponse r = http_.perform(req);
      if (r.status == 401 && attempt == 0) {
        forget_token(token);
        continue;
      }
      if (r.status != 200) {
        error = "GET " + path + ": " + http_failure(r);
        return false;
      }
      body = std::move(r.body);
      return true;
    }
    error = "GET " + path + ": HTTP 401 again with a new token";
    return false;
  }

  const std::string& endpoint() const { return endpoint_; }

 private:
  // Short: off EC2 nothing answers, and the chain must not hang on it.
  static constexpr std::chrono::milliseconds kTimeout{2000};
  static constexpr std::chrono::milliseconds kConnectTimeout{1000};

  bool session_token(std::string& token, std::string& error) {
    std::lock_guard lock(mu_);
    if (!token_.empty() && std::chrono::steady_clock::now() < token_expiry_) {
      token = token_;
      return true;
    }
    runtime::HttpClientRequest req;
    req.method = "PUT";
    req.url = endpoint_ + "/latest/api/token";
    req.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", std::to_string(kImdsTokenTtlSeconds)}};
    req.timeout = kTimeout;
    req.connect_timeout = kConnectTimeout;
    runtime::HttpClientResponse r = http_.perform(req);
    if (r.status != 200 || trim(r.body).empty()) {
      error = "PUT /latest/api/token: " + (r.status == 200 ? std::string("empty token") : http_failure(r));
      return false;
    }
    token_ = trim(r.body);
    // Renewed a minute before the TTL the service was asked for.
    token_expiry_ = std::chrono::steady_clock::now() + std::chrono::seconds(kImdsTokenTtlSeconds - 60);
    token = token_;
    return true;
  }

  void forget_token(const std::string& token) {
    std::lock_guard lock(mu_);
    if (token_ == token) token_.clear();
  }

  runtime::HttpClient& http_;
  std::string endpoint_;
  std::mutex mu_;
  std::string token_;
  std::chrono::steady_clock::time_point token_expiry_;
};

// ---- the providers -----------------------------------------------------------------------------

class EnvironmentSource : public Source {
 public:
  std::string name() const override { return "environment"; }
  Fetched fetch(Credentials& out) override {
    const std::string id = env("AWS_ACCESS_KEY_ID");
    const std::string secret = env("AWS_SECRET_ACCESS_KEY");
    if (id.empty() && secret.empty()) return Fetched::skip("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
    if (id.empty()) return Fetched::fail("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    if (secret.empty()) return Fetched::fail("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    out = {};
    out.access_key_id = id;
    out.secret_access_key = secret;
    out.session_token = env("AWS_SESSION_TOKEN");
    return Fetched::found();
  }
};

std::string home_dir(const CredentialSettings& settings) {
  if (!settings.home.empty()) return settings.home;
  if (std::string h = env("HOME"); !h.empty()) return h;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr) return pw->pw_dir;
  return {};
}

std::string expand_home(const std::string& path, const CredentialSettings& settings) {
  if (path == "~" || path.rfind("~/", 0) == 0) return home_dir(settings) + path.substr(1);
  return path;
}

std::string profile_name(const CredentialSettings& settings) {
  if (!settings.profile.empty()) return settings.profile;
  if (std::string p = env("AWS_PROFILE"); !p.empty()) return p;
  return "default";
}

// Both shared files, read now (they may change while the agent runs).
struct SharedFiles {
  std::string credentials_path;
  std::string config_path;
  IniProfiles credentials;  // [name]
  IniProfiles config;       // [profile name], [default]
  std::vector<std::string> errors;

  static SharedFiles load(const CredentialSettings& settings) {
    SharedFiles f;
    f.credentials_path = env("AWS_SHARED_CREDENTIALS_FILE");
    if (f.credentials_path.empty()) f.credentials_path = "~/.aws/credentials";
    f.config_path = env("AWS_CONFIG_FILE");
    if (f.config_path.empty()) f.config_path = "~/.aws/config";
    std::string text;
    if (read_whole_file(expand_home(f.credentials_path, settings), text)) {
      f.credentials = parse_ini_profiles(text, /*config_file=*/false);
    }
    if (read_whole_file(expand_home(f.config_path, settings), text)) {
      f.config = parse_ini_profiles(text, /*config_file=*/true);
    }
    return f;
  }

  // The profile's keys, the credentials file's winning over the config file's.
  std::optional<std::map<std::string, std::string>> profile(const std::string& name) const {
    std::optional<std::map<std::string, std::string>> out;
    if (auto it = config.find(name); it != config.end()) out = it->second;
    if (auto it = credentials.find(name); it != credentials.end()) {
      if (!out) out.emplace();
      for (const auto& [k, v] : it->second) (*out)[k] = v;
    }
    return out;
  }
};

std::string value_of(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

class ContainerSource;
class ImdsSource;

// A profile of the shared files: static keys, or a role assumed with a source profile, a web
// identity token file or a credential_source.
class SharedFileSource : public Source {
 public:
  SharedFileSource(const CredentialSettings& settings, runtime::HttpClient& http,
                   std::function<Fetched(const std::string&, Credentials&)> credential_source)
      : settings_(settings), http_(http), credential_source_(std::move(credential_source)) {}

  std::string name() const override { return "shared_file"; }

  Fetched fetch(Credentials& out) override {
    const SharedFiles files = SharedFiles::load(settings_);
    const std::string profile = profile_name(settings_);
    if (!files.profile(profile)) {
      return Fetched::skip("no profile \"" + profile + "\" in " + files.credentials_path + " or " + files.config_path);
    }
    std::set<std::string> seen;
    return resolve(files, profile, seen, out);
  }

 private:
  Fetched resolve(const SharedFiles& files, const std::string& name, std::set<std::string>& seen,
                  Credentials& out) {
    const std::string where = "profile \"" + name + "\"";
    if (!seen.insert(name).second || seen.size() > static_cast<std::size_t>(kMaxProfileDepth)) {
      return Fetched::fail(where + ": source_profile chain loops or is deeper than " +
                           std::to_string(kMaxProfileDepth));
    }
    const auto p = files.profile(name);
    if (!p) return Fetched::fail(where + " does not exist");
    const std::string role_arn = value_of(*p, "role_arn");
    const std::string id = value_of(*p, "aws_access_key_id");
    const std::string secret = value_of(*p, "aws_secret_access_key");

    if (!role_arn.empty()) {
      RoleRequest role{role_arn, value_of(*p, "role_session_name"), value_of(*p, "external_id")};
      if (const std::string token_file = value_of(*p, "web_identity_token_file"); !token_file.empty()) {
        Fetched f = assume_role_with_web_identity(settings_, http_, role, expand_home(token_file, settings_), out);
        if (f.outcome != Outcome::kFound) f.message = where + ": " + f.message;
        return f;
      }
      Credentials source;
      if (const std::string src = value_of(*p, "source_profile"); !src.empty()) {
        // A source profile with its own keys uses them even if it names a role too (the SDKs'
        // rule for a profile that is its own source).
        if (src == name) {
          if (id.empty() || secret.empty()) return Fetched::fail(where + " is its own source_profile but has no keys");
          source.access_key_id = id;
          source.secret_access_key = secret;
          source.session_token = value_of(*p, "aws_session_token");
        } else {
          Fetched f = resolve(files, src, seen, source);
          if (f.outcome != Outcome::kFound) return Fetched::fail(where + ": source_profile: " + f.message);
        }
      } else if (const std::string cs = value_of(*p, "credential_source"); !cs.empty()) {
        Fetched f = credential_source_(cs, source);
        if (f.outcome != Outcome::kFound) return Fetched::fail(where + ": credential_source " + cs + ": " + f.message);
      } else {
        return Fetched::fail(where + " has role_arn but no source_profile, credential_source or web_identity_token_file");
      }
      source.provider = "profile " + name;
      Fetched f = assume_role(settings_, http_, role, source, out);
      if (f.outcome != Outcome::kFound) f.message = where + ": " + f.message;
      return f;
    }
    if (!id.empty() && !secret.empty()) {
      out = {};
      out.access_key_id = id;
      out.secret_access_key = secret;
      out.session_token = value_of(*p, "aws_session_token");
      return Fetched::found();
    }
    if (!id.empty() || !secret.empty()) {
      return Fetched::fail(where + " has only one of aws_access_key_id and aws_secret_access_key");
    }
    if (!value_of(*p, "credential_process").empty()) {
      return Fetched::fail(where + " uses credential_process, which Vigil does not run");
    }
    if (!value_of(*p, "sso_session").empty() || !value_of(*p, "sso_start_url").empty()) {
      return Fetched::fail(where + " uses SSO, which Vigil does not support (use `aws configure export-credentials`)");
    }
    return Fetched::skip(where + " has no credentials");
  }

  const CredentialSettings& settings_;
  runtime::HttpClient& http_;
  std::function<Fetched(const std::string&, Credentials&)> credential_source_;
};

// EKS IRSA: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, the token re-read on every fetch (the
// kubelet rotates it).
class WebIdentitySource : public Source {
 public:
  WebIdentitySource(const CredentialSettings& settings, runtime::HttpClient& http) : settings_(settings), http_(http) {}
  std::string name() const override { return "web_identity"; }
  Fetched fetch(Credentials& out) override {
    const std::string role = env("AWS_ROLE_ARN");
    const std::string file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
    if (role.empty() && file.empty()) return Fetched::skip("AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE are not set");
    if (role.empty()) return Fetched::fail("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
    if (file.empty()) return Fetched::skip("AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
    return assume_role_with_web_identity(settings_, http_, RoleRequest{role, env("AWS_ROLE_SESSION_NAME"), {}}, file,
                                         out);
  }

 private:
  const CredentialSettings& settings_;
  runtime::HttpClient& http_;
};

}  // namespace

std::string check_container_full_uri(const std::string& uri) {
  const std::size_t scheme_end = uri.find("://");
  if (scheme_end == std::string::npos) return "not an absolute URL";
  const std::string scheme = lower(uri.substr(0, scheme_end));
  if (scheme == "https") return {};
  if (scheme != "http") return "the scheme must be http or https";
  std::string rest = uri.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const std::size_t at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  std::string host;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string::npos) return "the host is not valid";
    host = rest.substr(1, close - 1);
  } else {
    host = rest.substr(0, rest.find(':'));
  }
  if (host.empty()) return "the URL has no host";

  const auto allowed = [](const sockaddr* sa) {
    if (sa->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
      const std::uint32_t a = ntohl(in->sin_addr.s_addr);
      return (a >> 24) == 127 || a == 0xA9FEAA02u /*169.254.170.2*/ || a == 0xA9FEAA17u /*169.254.170.23*/;
    }
    if (sa->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
      static const unsigned char kEks[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x23};
      if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
      if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return in6->sin6_addr.s6_addr[12] == 127;
      return std::memcmp(in6->sin6_addr.s6_addr, kEks, 16) == 0;
    }
    return false;
  };
  // An address is checked as is; a name must resolve to allowed addresses only.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
    return "http:// is only allowed to a loopback or container address, and \"" + host + "\" does not resolve";
  }
  bool ok = true;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) ok = ok && allowed(ai->ai_addr);
  ::freeaddrinfo(res);
  if (!ok) {
    return "http:// is only allowed to loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23 (\"" + host +
           "\" is none of them); use https://";
  }
  return {};
}

namespace {

// ECS task roles (RELATIVE_URI) and EKS Pod Identity (FULL_URI + token file).
class ContainerSource : public Source {
 public:
  ContainerSource(const CredentialSettings& settings, runtime::HttpClient& http) : settings_(settings), http_(http) {}
  std::string name() const override { return "container"; }
  Fetched fetch(Credentials& out) override {
    const std::string relative = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const std::string full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    std::string url;
    if (!relative.empty()) {
      std::string host = settings_.container_endpoint.empty() ? kDefaultContainer : settings_.container_endpoint;
      while (!host.empty() && host.back() == '/') host.pop_back();
      url = host + (relative.front() == '/' ? "" : "/") + relative;
    } else if (!full.empty()) {
      if (const std::string why = check_container_full_uri(full); !why.empty()) {
        return Fetched::fail("AWS_CONTAINER_CREDENTIALS_FULL_URI is not allowed: " + why);
      }
      url = full;
    } else {
      return Fetched::skip("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set");
    }
    runtime::HttpClientRequest req;
    req.url = url;
    req.timeout = 5s;
    req.connect_timeout = 2s;
    req.headers = {{"Accept", "application/json"}};
    // The token file wins over the token; both are read on every fetch (EKS rotates the file).
    std::string token;
    if (const std::string file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); !file.empty()) {
      if (!read_whole_file(file, token)) {
        return Fetched::fail("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + file);
      }
      token = trim(token);
    } else {
      token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    }
    if (token.find_first_of("\r\n") != std::string::npos) {
      return Fetched::fail("the container authorization token holds a line break");
    }
    if (!token.empty()) req.headers.emplace_back("Authorization", token);
    const std::string from = "container endpoint " + display(url);
    runtime::HttpClientResponse r = http_.perform(req);
    if (r.status != 200) return Fetched::fail(from + ": " + http_failure(r));
    return parse_json_credentials(r.body, from, out);
  }

 private:
  // The URL without its query (which could carry something private).
  static std::string display(const std::string& url) { return url.substr(0, url.find('?')); }

  const CredentialSettings& settings_;
  runtime::HttpClient& http_;
};

class ImdsSource : public Source {
 public:
  explicit ImdsSource(std::shared_ptr<Imds> imds) : imds_(std::move(imds)) {}
  std::string name() const override { return "imds"; }
  Fetched fetch(Credentials& out) override {
    if (Imds::disabled()) return Fetched::skip("AWS_EC2_METADATA_DISABLED is true");
    std::string body, error;
    const std::string base = "/latest/meta-data/iam/security-credentials/";
    if (!imds_->get(base, body, error)) return Fetched::fail(imds_->endpoint() + ": " + error);
    const std::string role = trim(body.substr(0, body.find('\n')));
    if (role.empty()) return Fetched::fail(imds_->endpoint() + ": the instance has no IAM role");
    if (!imds_->get(base + role, body, error)) return Fetched::fail(imds_->endpoint() + ": " + error);
    return parse_json_credentials(body, "IMDS role " + role, out);
  }

 private:
  std::shared_ptr<Imds> imds_;
};

// The sources in order; the first that finds credentials wins, every other one says why not.
class ChainSource : public Source {
 public:
  std::vector<std::unique_ptr<Source>> sources;
  std::string name() const override { return "chain"; }
  Fetched fetch(Credentials& out) override {
    std::string why;
    for (const auto& s : sources) {
      Credentials c;
      Fetched f = s->fetch(c);
      if (f.outcome == Outcome::kFound) {
        if (c.provider.empty()) c.provider = s->name();
        out = std::move(c);
        return f;
      }
      why += (why.empty() ? "" : "; ") + s->name() + ": " + f.message;
    }
    return Fetched::fail("no AWS credentials found (" + why + ")");
  }
};

// The configured role, assumed with what `source` provides.
class AssumeRoleSource : public Source {
 public:
  AssumeRoleSource(const CredentialSettings& settings, runtime::HttpClient& http,
                   std::shared_ptr<CredentialsProvider> source)
      : settings_(settings), http_(http), source_(std::move(source)) {}
  std::string name() const override { return "assume_role"; }
  Fetched fetch(Credentials& out) override {
    Credentials base;
    const Status s = source_->get(base);
    if (!s.is_ok()) return Fetched::fail("role " + settings_.role_arn + ": " + s.message());
    Credentials c;
    Fetched f = assume_role(settings_, http_,
                            RoleRequest{settings_.role_arn, settings_.role_session_name, settings_.external_id}, base,
                            c);
    if (f.outcome != Outcome::kFound) return f;
    c.provider = "assume_role " + settings_.role_arn + " (via " + base.provider + ")";
    out = std::move(c);
    return f;
  }

 private:
  const CredentialSettings& settings_;
  runtime::HttpClient& http_;
  std::shared_ptr<CredentialsProvider> source_;
};

// Caches what a source gives and asks it again when the credentials are due: one fetch at a
// time, callers that arrive meanwhile wait for its result (or keep using credentials that are
// still valid). A failed refresh keeps credentials that have not expired yet.
class CachingProvider : public CredentialsProvider {
 public:
  CachingProvider(CredentialSettings settings, std::function<std::unique_ptr<Source>(const CredentialSettings&)> make)
      : settings_(std::make_unique<CredentialSettings>(std::move(settings))), source_(make(*settings_)) {}

  Status get(Credentials& out) override {
    std::unique_lock lock(mu_);
    const auto now = Clock::now();
    if (cached_ && now < refresh_at_) {
      out = *cached_;
      return Status::ok();
    }
    if (fetching_) {
      if (cached_ && valid(*cached_, now)) {
        out = *cached_;
        return Status::ok();
      }
      const std::uint64_t generation = generation_;
      cv_.wait(lock, [&] { return !fetching_ || generation_ != generation; });
      return result(out);
    }
    fetching_ = true;
    lock.unlock();
    Credentials fresh;
    const Fetched f = source_->fetch(fresh);
    lock.lock();
    fetching_ = false;
    ++generation_;
    const auto after = Clock::now();
    if (f.outcome == Outcome::kFound) {
      auto refresh = after + settings_->min_refresh_interval;
      if (fresh.expiration) {
        refresh = std::max(*fresh.expiration - settings_->refresh_before, after + settings_->min_refresh_interval);
        refresh = std::min(refresh, *fresh.expiration);
      } else {
        refresh = Clock::time_point::max();  // long-term keys
      }
      const bool changed = !cached_ || cached_->access_key_id != fresh.access_key_id;
      cached_ = std::move(fresh);
      refresh_at_ = refresh;
      last_error_.clear();
      if (changed) {
        telemetry::log(telemetry::Level::kInfo, kLogComponent,
                       "using AWS credentials " + cached_->describe() +
                           (cached_->expiration ? ", expiring at " + format_time(*cached_->expiration) : ""));
      }
    } else {
      last_error_ = f.message;
      if (cached_ && valid(*cached_, after)) {
        telemetry::log_limited(telemetry::Level::kWarn, "aws/credentials/refresh", kLogComponent,
                               "refreshing AWS credentials failed, keeping " + cached_->describe() +
                                   " until they expire at " + format_time(*cached_->expiration) + ": " + f.message);
        // Not again on every call: the next try after min_refresh_interval.
        refresh_at_ = std::min(after + settings_->min_refresh_interval, *cached_->expiration);
      } else {
        cached_.reset();
      }
    }
    cv_.notify_all();
    return result(out);
  }

 private:
  static bool valid(const Credentials& c, Clock::time_point now) { return !c.expiration || now < *c.expiration; }

  // The outcome of the last fetch, under the lock.
  Status result(Credentials& out) {
    if (cached_ && valid(*cached_, Clock::now())) {
      out = *cached_;
      return Status::ok();
    }
    return Status::retryable(last_error_.empty() ? "no AWS credentials" : last_error_);
  }

  // On the heap so the sources' references to it stay valid.
  std::unique_ptr<CredentialSettings> settings_;
  std::unique_ptr<Source> source_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool fetching_ = false;
  std::uint64_t generation_ = 0;
  std::optional<Credentials> cached_;
  Clock::time_point refresh_at_{};
  std::string last_error_;
};

class StaticProvider : public CredentialsProvider {
 public:
  explicit StaticProvider(Credentials c) : c_(std::move(c)) {
    if (c_.provider.empty()) c_.provider = "static";
  }
  Status get(Credentials& out) override {
    if (c_.empty()) return Status::permanent("static AWS credentials without an access key ID or secret");
    out = c_;
    return Status::ok();
  }

 private:
  Credentials c_;
};

}  // namespace

std::shared_ptr<CredentialsProvider> make_default_credentials_provider(CredentialSettings settings,
                                                                       runtime::HttpClient& http) {
  auto chain = std::make_shared<CachingProvider>(settings, [&http](const CredentialSettings& s) {
    auto imds = std::make_shared<Imds>(s, http);
    // credential_source in a profile: one of the chain's own providers.
    auto credential_source = [&s, &http, imds](const std::string& which, Credentials& out) {
      if (which == "Environment") return EnvironmentSource().fetch(out);
      if (which == "Ec2InstanceMetadata") return ImdsSource(imds).fetch(out);
      if (which == "EcsContainer") return ContainerSource(s, http).fetch(out);
      return Fetched::fail("unknown (Environment, Ec2InstanceMetadata or EcsContainer)");
    };
    auto c = std::make_unique<ChainSource>();
    c->sources.push_back(std::make_unique<EnvironmentSource>());
    c->sources.push_back(std::make_unique<SharedFileSource>(s, http, credential_source));
    c->sources.push_back(std::make_unique<WebIdentitySource>(s, http));
    c->sources.push_back(std::make_unique<ContainerSource>(s, http));
    c->sources.push_back(std::make_unique<ImdsSource>(imds));
    return c;
  });
  if (settings.role_arn.empty()) return chain;
  return std::make_shared<CachingProvider>(settings, [&http, chain](const CredentialSettings& s) {
    return std::make_unique<AssumeRoleSource>(s, http, chain);
  });
}

std::shared_ptr<CredentialsProvider> make_static_credentials_provider(Credentials credentials) {
  return std::make_shared<StaticProvider>(std::move(credentials));
}

std::string sts_endpoint(const CredentialSettings& settings, const std::string& region) {
  if (!settings.sts_endpoint.empty()) return settings.sts_endpoint;
  if (std::string e = env("AWS_ENDPOINT_URL_STS"); !e.empty()) return e;
  if (std::string e = env("AWS_ENDPOINT_URL"); !e.empty()) return e;
  if (region.empty()) return "https://sts.amazonaws.com";
  const bool china = region.rfind("cn-", 0) == 0;
  return "https://sts." + region + (china ? ".amazonaws.com.cn" : ".amazonaws.com");
}

std::string resolve_region(const std::string& configured, const CredentialSettings& settings,
                           runtime::HttpClient& http, std::string& source, std::string& error) {
  error.clear();
  if (!configured.empty()) {
    source = "config";
    return configured;
  }
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (std::string r = trim(env(name)); !r.empty()) {
      source = name;
      return r;
    }
  }
  const SharedFiles files = SharedFiles::load(settings);
  const std::string profile = profile_name(settings);
  if (auto it = files.config.find(profile); it != files.config.end()) {
    if (std::string r = value_of(it->second, "region"); !r.empty()) {
      source = "profile " + profile + " in " + files.config_path;
      return r;
    }
  }
  std::string imds_error = "AWS_EC2_METADATA_DISABLED is true";
  if (!Imds::disabled()) {
    Imds imds(settings, http);
    std::string body;
    if (imds.get("/latest/meta-data/placement/region", body, imds_error) && !trim(body).empty()) {
      source = "imds";
      return trim(body);
    }
  }
  source.clear();
  error = "no AWS region: set `region`, AWS_REGION or AWS_DEFAULT_REGION (not in profile \"" + profile +
          "\" of " + files.config_path + "; IMDS: " + imds_error + ")";
  return {};
}

namespace detail {

std::optional<Clock::time_point> parse_iso8601(const std::string& text) {
  return parse_time(text);
}

bool parse_sts_answer(long status, const std::string& body, Credentials& out, std::string& error) {
  runtime::HttpClientResponse r;
  r.status = status;
  r.body = body;
  const Fetched f = parse_sts(r, "STS", out);
  error = f.outcome == Outcome::kFound ? std::string() : f.message;
  return f.outcome == Outcome::kFound;
}

bool parse_json_credentials_answer(const std::string& body, Credentials& out, std::string& error) {
  const Fetched f = parse_json_credentials(body, "credentials endpoint", out);
  error = f.outcome == Outcome::kFound ? std::string() : f.message;
  return f.outcome == Outcome::kFound;
}

}  // namespace detail

}  // namespace vigil::aws
