#include "agent/runtime/tls.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include <boost/asio/ssl/context.hpp>

namespace vigil::runtime {

namespace ssl = boost::asio::ssl;

namespace {

const std::vector<std::string> kVersions = {"1.2", "1.3"};

config::Option min_version_option() {
  return config::opt_string(
      "min_version", "1.2",
      "Lowest TLS version accepted: \"1.2\" or \"1.3\" (older versions are never offered).", kVersions);
}

std::string join(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

// cert_file and key_file come as a pair; `need_pair` (servers) requires them.
void check_pair(const config::Settings& s, const std::string& path, const std::string& id, bool need_pair,
                config::Errors& errors) {
  const bool cert = !s.get_string(join(path, "cert_file")).empty();
  const bool key = !s.get_string(join(path, "key_file")).empty();
  if (cert && !key) {
    errors.push_back({s.location(join(path, "cert_file")), id,
                      path + ": cert_file is set but key_file is not (both are needed)"});
  } else if (key && !cert) {
    errors.push_back({s.location(join(path, "key_file")), id,
                      path + ": key_file is set but cert_file is not (both are needed)"});
  } else if (!cert && !key && need_pair) {
    errors.push_back({s.location(path), id, path + ": a TLS server needs cert_file and key_file"});
  }
}

// OpenSSL's message for a failed context call; the reason from the error queue when there is one.
std::string ssl_message(const boost::system::error_code& ec) {
  std::string m = ec.message();
  ERR_clear_error();
  return m;
}

int protocol_version(const std::string& v) {
  if (v == "1.2") return TLS1_2_VERSION;
  if (v == "1.3") return TLS1_3_VERSION;
  return 0;
}

}  // namespace

config::Option tls_server_option() {
  return config::opt_object(
      "tls", "Serve TLS (HTTPS / gRPC over TLS). Without this key the server speaks plain text.",
      {
          config::opt_string("cert_file", "", "PEM certificate chain of the server (leaf first)."),
          config::opt_string("key_file", "", "PEM private key of cert_file."),
          config::opt_string(
              "client_ca_file", "",
              "PEM CA certificates; when set, clients must present a certificate signed by one "
              "of them (mutual TLS)."),
          min_version_option(),
      });
}

config::Option tls_client_option() {
  return config::opt_object(
      "tls", "TLS towards the server.",
      {
          config::opt_bool("insecure", false, "Plain text instead of TLS (gRPC endpoints without a scheme)."),
          config::opt_string("ca_file", "",
                             "PEM CA certificates to verify the server with (default: the system's)."),
          config::opt_string("cert_file", "", "PEM client certificate (mutual TLS); needs key_file."),
          config::opt_string("key_file", "", "PEM private key of cert_file."),
          config::opt_bool("insecure_skip_verify", false,
                           "Do not verify the server's certificate or name (testing only)."),
          min_version_option(),
          config::opt_string("server_name_override", "",
                             "Name to send in SNI and to verify the certificate against, instead of the "
                             "endpoint's host."),
      });
}

void validate_tls_server(const config::Settings& settings, const std::string& path, const std::string& id,
                         config::Errors& errors) {
  if (!settings.has(path)) return;
  check_pair(settings, path, id, true, errors);
}

void validate_tls_client(const config::Settings& settings, const std::string& path, const std::string& id,
                         config::Errors& errors) {
  if (!settings.has(path)) return;
  check_pair(settings, path, id, false, errors);
}

std::optional<TlsServerSettings> read_tls_server(const config::Settings& settings, const std::string& path) {
  if (!settings.has(path)) return std::nullopt;
  TlsServerSettings t;
  t.cert_file = settings.get_string(join(path, "cert_file"));
  t.key_file = settings.get_string(join(path, "key_file"));
  t.client_ca_file = settings.get_string(join(path, "client_ca_file"));
  t.min_version = settings.get_string(join(path, "min_version"));
  return t;
}

TlsClientSettings read_tls_client(const config::Settings& settings, const std::string& path) {
  TlsClientSettings t;
  t.insecure = settings.get_bool(join(path, "insecure"));
  t.ca_file = settings.get_string(join(path, "ca_file"));
  t.cert_file = settings.get_string(join(path, "cert_file"));
  t.key_file = settings.get_string(join(path, "key_file"));
  t.insecure_skip_verify = settings.get_bool(join(path, "insecure_skip_verify"));
  t.min_version = settings.get_string(join(path, "min_version"));
  t.server_name_override = settings.get_string(join(path, "server_name_override"));
  return t;
}

bool read_file(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read \"" + path + "\": " + std::strerror(errno);
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    error = "cannot read \"" + path + "\": read error";
    return false;
  }
  out = std::move(buf).str();
  return true;
}

std::shared_ptr<ssl::context> make_server_context(const TlsServerSettings& tls, std::string& error) {
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    error = "cert_file and key_file are both needed";
    return nullptr;
  }
  const int min_version = protocol_version(tls.min_version);
  if (min_version == 0) {
    error = "min_version \"" + tls.min_version + "\": expected \"1.2\" or \"1.3\"";
    return nullptr;
  }

  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  // OpenSSL's default cipher lists and groups are sound; below min_version nothing is offered,
  // renegotiation (a DoS lever) is off, and the server's cipher order wins.
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_min_proto_version(native, min_version) != 1) {
    ERR_clear_error();
    error = "min_version " + tls.min_version + " is not supported by this OpenSSL";
    return nullptr;
  }

  // The files are read here first so a missing file is reported as such, by name; OpenSSL's
  // reason follows for content it cannot use. Key bytes are wiped once loaded.
  boost::system::error_code ec;
  std::string pem;
  if (!read_file(tls.cert_file, pem, error)) {
    error = "cert_file: " + error;
    return nullptr;
  }
  ctx->use_certificate_chain(boost::asio::buffer(pem), ec);
  if (ec) {
    error = "cert_file \"" + tls.cert_file + "\": no usable PEM certificate (" + ssl_message(ec) + ")";
    return nullptr;
  }

  std::string key;
  if (!read_file(tls.key_file, key, error)) {
    error = "key_file: " + error;
    return nullptr;
  }
  // Parsed here rather than by use_private_key so that an unreadable key and a key that does not
  // belong to the certificate get different messages.
  EVP_PKEY* pkey = nullptr;
  if (BIO* bio = BIO_new_mem_buf(key.data(), static_cast<int>(key.size()))) {
    // No passphrase source: an encrypted key fails here instead of OpenSSL prompting on a terminal.
    pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
    pkey = PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr);
    BIO_free(bio);
  }
  OPENSSL_cleanse(key.data(), key.size());
  if (pkey == nullptr) {
    const unsigned long e = ERR_peek_last_error();
    const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
    ERR_clear_error();
    error = "key_file \"" + tls.key_file + "\": no usable PEM private key" +
            (reason != nullptr ? std::string(" (") + reason + ")" : std::string());
    return nullptr;
  }
  const int used = SSL_CTX_use_PrivateKey(native, pkey);
  EVP_PKEY_free(pkey);
  if (used != 1 || SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    error = "key_file \"" + tls.key_file + "\" does not match the certificate in cert_file \"" +
            tls.cert_file + "\"";
    return nullptr;
  }

  if (!tls.client_ca_file.empty()) {
    if (!read_file(tls.client_ca_file, pem, error)) {
      error = "client_ca_file: " + error;
      return nullptr;
    }
    ctx->load_verify_file(tls.client_ca_file, ec);
    if (ec) {
      error = "client_ca_file \"" + tls.client_ca_file + "\": no usable PEM CA certificate (" +
              ssl_message(ec) + ")";
      return nullptr;
    }
    // Tell clients which CAs are accepted, so one with several certificates can pick.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
    ERR_clear_error();
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

}  // namespace vigil::runtime
