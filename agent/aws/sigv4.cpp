#include "agent/aws/sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>
#include <map>

namespace vigil::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  // EVP_Digest only fails on allocation failure; the zero digest then gives a signature the
  // server rejects, which is what "never fails" can honestly promise.
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

Digest hmac(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

std::string_view as_view(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

std::string hex(const Digest& d) {
  std::string out;
  out.reserve(d.size() * 2);
  for (unsigned char c : d) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

// RFC 3986 escaping of every byte but the unreserved ones: what smithy's escapeUri does
// (encodeURIComponent, then !'()* too).
std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (unreserved(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0xf]);
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding as decodeURIComponent does it, except that a malformed escape is kept as
// text (decodeURIComponent would throw) and "+" stays "+" (it is not form encoding).
std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

struct ParsedUrl {
  std::string host;  // with the port when it is not the scheme's default
  std::string path;
  std::string query;
};

ParsedUrl parse_url(std::string_view url) {
  ParsedUrl out;
  std::string scheme;
  if (const auto p = url.find("://"); p != std::string_view::npos) {
    scheme = lower(url.substr(0, p));
    url.remove_prefix(p + 3);
  }
  if (const auto p = url.find('#'); p != std::string_view::npos) url = url.substr(0, p);
  const auto authority_end = url.find_first_of("/?");
  std::string_view authority = url.substr(0, authority_end);
  url = authority_end == std::string_view::npos ? std::string_view{} : url.substr(authority_end);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  // Drop the port when it is the scheme's default, like HTTP clients do in the Host header.
  const auto bracket = authority.rfind(']');
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    const std::string_view port = authority.substr(colon + 1);
    if (port.empty() || (scheme == "http" && port == "80") || (scheme == "https" && port == "443")) {
      authority = authority.substr(0, colon);
    }
  }
  out.host = std::string(authority);
  const auto q = url.find('?');
  out.path = std::string(url.substr(0, q));
  if (q != std::string_view::npos) out.query = std::string(url.substr(q + 1));
  if (out.path.empty()) out.path = "/";
  return out;
}

// Removes empty and "." segments, resolves "..", keeps a leading and (for a non-empty path) a
// trailing slash, then escapes every segment: the path already as sent gets escaped a second
// time, as every service but S3 expects.
std::string canonical_path(const std::string& path, bool uri_escape_path) {
  if (!uri_escape_path) return path;
  std::vector<std::string_view> segments;
  std::string_view rest = path;
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  std::string out;
  if (!path.empty() && path.front() == '/') out.push_back('/');
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out += escape(segments[i]);
  }
  if (!segments.empty() && path.back() == '/') out.push_back('/');
  return out;
}

// Keys and values decoded, escaped again, sorted by key then by value; "k" and "k=" both give
// "k=". X-Amz-Signature is never signed.
std::string canonical_query(std::string_view query) {
  std::map<std::string, std::vector<std::string>> params;  // escaped key -> "key=value" entries
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string key = unescape(pair.substr(0, eq));
    const std::string value = eq == std::string_view::npos ? std::string{} : unescape(pair.substr(eq + 1));
    if (lower(key) == "x-amz-signature") continue;
    std::string escaped_key = escape(key);
    std::string entry = escaped_key + "=" + escape(value);
    params[std::move(escaped_key)].push_back(std::move(entry));
  }
  std::string out;
  for (auto& [key, entries] : params) {
    std::sort(entries.begin(), entries.end());
    for (const auto& e : entries) {
      if (!out.empty()) out.push_back('&');
      out += e;
    }
  }
  return out;
}

// Line breaks become spaces, runs of spaces and tabs one space, and the ends are trimmed.
std::string canonical_header_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool in_space = false;
  for (char c : v) {
    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

// Headers a proxy or the HTTP stack may change on the way, which AWS signers leave out.
bool unsignable(const std::string& name) {
  static constexpr std::array<std::string_view, 15> kNames = {
      "authorization",     "cache-control", "connection",     "expect", "from",    "keep-alive",
      "max-forwards",      "pragma",        "referer",        "te",     "trailer", "upgrade",
      "transfer-encoding", "user-agent",    "x-amzn-trace-id"};
  if (std::find(kNames.begin(), kNames.end(), name) != kNames.end()) return true;
  return name.starts_with("proxy-") || name.starts_with("sec-");
}

// Set by the signer itself: whatever the request held is replaced.
bool generated(const std::string& name) {
  return name == "authorization" || name == "x-amz-date" || name == "date";
}

std::string format_time(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace

std::string Credentials::describe() const {
  std::string out;
  if (access_key_id.empty()) {
    out = "(no access key)";
  } else if (access_key_id.size() > 8) {
    out = access_key_id.substr(0, 4) + "\xE2\x80\xA6" + access_key_id.substr(access_key_id.size() - 4);
  } else {
    out = access_key_id.substr(0, access_key_id.size() / 2) + "\xE2\x80\xA6";
  }
  if (!provider.empty()) out += " from " + provider;
  return out;
}

std::string sha256_hex(std::string_view data) {
  return hex(sha256(data));
}

Signature sign(const SignableRequest& request, const Credentials& credentials,
               const SigningOptions& options) {
  Signature result;
  const ParsedUrl url = parse_url(request.url);
  const std::string long_date = format_time(options.time);
  const std::string short_date = long_date.substr(0, 8);

  // Canonical headers: lower-case name -> values in the order given.
  std::map<std::string, std::vector<std::string>> headers;
  std::string payload_hash;
  bool has_host = false;
  bool has_content_sha = false;
  for (const auto& [name, value] : request.headers) {
    std::string l = lower(name);
    if (generated(l)) continue;
    if (l == "host") has_host = true;
    if (l == "x-amz-content-sha256") {
      // Already there (S3's UNSIGNED-PAYLOAD, a streaming hash): it is the payload hash.
      has_content_sha = true;
      if (payload_hash.empty()) payload_hash = value;
    }
    // The token this signer adds replaces one the request held.
    if (l == "x-amz-security-token" && !credentials.session_token.empty()) continue;
    if (unsignable(l)) continue;
    headers[std::move(l)].push_back(canonical_header_value(value));
  }
  if (!has_content_sha)
    payload_hash = options.payload_hash ? *options.payload_hash : sha256_hex(request.body);

  if (!has_host) {
    headers["host"].push_back(url.host);
    result.headers.emplace_back("host", url.host);
  }
  headers["x-amz-date"].push_back(long_date);
  result.headers.emplace_back("x-amz-date", long_date);
  if (!credentials.session_token.empty()) {
    headers["x-amz-security-token"].push_back(canonical_header_value(credentials.session_token));
    result.headers.emplace_back("x-amz-security-token", credentials.session_token);
  }
  if (options.add_content_sha256 && !has_content_sha) {
    headers["x-amz-content-sha256"].push_back(payload_hash);
    result.headers.emplace_back("x-amz-content-sha256", payload_hash);
  }

  std::string canonical_headers;
  std::string signed_headers;
  for (const auto& [name, values] : headers) {
    canonical_headers += name;
    canonical_headers.push_back(':');
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) canonical_headers.push_back(',');
      canonical_headers += values[i];
    }
    canonical_headers.push_back('\n');
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers += name;
  }

  result.canonical_request = request.method;
  result.canonical_request += '\n';
  result.canonical_request += canonical_path(url.path, options.uri_escape_path);
  result.canonical_request += '\n';
  result.canonical_request += canonical_query(url.query);
  result.canonical_request += '\n';
  result.canonical_request += canonical_headers;
  result.canonical_request += '\n';
  result.canonical_request += signed_headers;
  result.canonical_request += '\n';
  result.canonical_request += payload_hash;

  const std::string scope = short_date + "/" + options.region + "/" + options.service + "/aws4_request";
  result.string_to_sign =
      std::string(kAlgorithm) + "\n" + long_date + "\n" + scope + "\n" + sha256_hex(result.canonical_request);

  Digest key = hmac("AWS4" + credentials.secret_access_key, short_date);
  key = hmac(as_view(key), options.region);
  key = hmac(as_view(key), options.service);
  key = hmac(as_view(key), "aws4_request");
  result.signature = hex(hmac(as_view(key), result.string_to_sign));

  result.headers.emplace(result.headers.begin(), "authorization",
                         std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" + scope +
                             ", SignedHeaders=" + signed_headers + ", Signature=" + result.signature);
  return result;
}

}  // namespace vigil::aws
