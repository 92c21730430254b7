#pragma once
// TLS settings shared by servers (otlp receiver HTTP and gRPC) and clients (otlp, otlphttp
// exporters), with the Collector's option names (config/configtls), and OpenSSL contexts built
// from them for Boost.Beast. gRPC components convert the same settings to grpc credentials.
//
// Server (`tls:` under a protocol): cert_file, key_file, client_ca_file (mTLS: clients must
// present a certificate signed by it), min_version ("1.2" default, or "1.3").
// Client (`tls:` under an exporter): insecure (plain text; default false for https://, ignored
// by otlphttp whose scheme decides), ca_file, cert_file + key_file (client certificate),
// insecure_skip_verify, min_version, server_name_override.
//
// Thread-safety: the structs are values; contexts are created at start and then only read.

#include <memory>
#include <optional>
#include <string>

#include "agent/config/schema.hpp"

namespace boost::asio::ssl {
class context;
}

namespace vigil::runtime {

struct TlsServerSettings {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // non-empty: require and verify client certificates
  std::string min_version = "1.2";
};

struct TlsClientSettings {
  bool insecure = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;
  std::string min_version = "1.2";
  std::string server_name_override;
};

// Schema entries: `tls` objects for servers and clients.
config::Option tls_server_option();
config::Option tls_client_option();
// Cross-option checks (cert without key, unknown min_version, unreadable files are start errors
// instead); appends to errors. `path` is where the tls object sits ("protocols.http.tls").
void validate_tls_server(const config::Settings& settings, const std::string& path, const std::string& id,
                         config::Errors& errors);
void validate_tls_client(const config::Settings& settings, const std::string& path, const std::string& id,
                         config::Errors& errors);
// std::nullopt when the `tls` key is absent (servers: plain text).
std::optional<TlsServerSettings> read_tls_server(const config::Settings& settings, const std::string& path);
TlsClientSettings read_tls_client(const config::Settings& settings, const std::string& path);

// Reads a whole file (certificates, keys); false with a message naming the file.
bool read_file(const std::string& path, std::string& out, std::string& error);

// OpenSSL contexts for Beast. nullptr with `error` set when a file is missing or invalid.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const TlsServerSettings& tls, std::string& error);

}  // namespace vigil::runtime
