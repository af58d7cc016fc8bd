// Loading a server_config into OpenSSL contexts: protocol floor, ciphers, certificates, SNI,
// ALPN, tickets, client verification; and swapping them on reload().
#include "server_context.hpp"
#include "session.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <string_view>

namespace coronet::tls {
namespace {

[[noreturn]] void fail(std::string_view what, const std::string& file = {}) {
  std::string msg(what);
  if (!file.empty()) msg += " " + file;
  const auto reason = detail::last_error();
  if (reason.value() != 0) msg += ": " + reason.message();
  throw tls::error(msg);
}

// ALPN (RFC 7301): this server speaks HTTP/1.1 only. A client that offers protocols but not
// that one (an h2-only gRPC client, say) gets no_application_protocol in the handshake
// rather than a connection that fails on its first frame.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static constexpr unsigned char http11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (unsigned int i = 0; i < inlen;) {
    const unsigned len = in[i];
    if (i + 1 + len > inlen) break;
    if (len == sizeof http11 && std::memcmp(in + i + 1, http11, len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// SNI: moves the handshake to the first certificate whose names cover the requested one;
// an unknown or absent name keeps the default certificate (as nginx's default server does).
int select_certificate(SSL* ssl, int*, void* arg) {
  const auto& loaded = *static_cast<const loaded_contexts*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  for (std::size_t i = 1; i < loaded.by_certificate.size(); ++i) {
    SSL_CTX* ctx = loaded.by_certificate[i];
    X509* leaf = SSL_CTX_get0_certificate(ctx);
    if (leaf && X509_check_host(leaf, name, 0, 0, nullptr) == 1) {
      SSL_set_SSL_CTX(ssl, ctx);
      break;
    }
  }
  return SSL_TLSEXT_ERR_OK;
}

SSL_CTX* make_context(const server_config& config, const certificate& cert) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) fail("SSL_CTX_new failed");
  try {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    // OpenSSL frees a connection's record buffers while it has nothing buffered: idle
    // keep-alive connections stay small.
    // The chain sent is the chain file's, as configured: no store lookups per handshake to
    // complete it (as nginx does).
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
    if (SSL_CTX_set_cipher_list(ctx, config.tls12_ciphers.c_str()) != 1) fail("bad tls12_ciphers");
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.chain_file.c_str()) != 1) {
      fail("cannot load certificate chain", cert.chain_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cert.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      fail("cannot load private key", cert.key_file);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) fail("private key does not match certificate", cert.key_file);

    // Resumption by stateless tickets only: a server-side session cache would be one more
    // lock shared by every io thread. The id context is what a resumed session must match
    // (OpenSSL refuses resumption without one when clients are verified).
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    static constexpr unsigned char sid[] = {'c', 'o', 'r', 'o', 'n', 'e', 't'};
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid);
    if (!config.session_tickets) {
      SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
      SSL_CTX_set_num_tickets(ctx, 0);
    }
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);

    if (!config.client_ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, config.client_ca_file.c_str(), nullptr) != 1) {
        fail("cannot load client CA file", config.client_ca_file);
      }
      // The CA names sent in CertificateRequest, so a client with several certificates
      // picks the right one.
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_file.c_str());
      if (!names) fail("no CA certificate in", config.client_ca_file);
      SSL_CTX_set_client_CA_list(ctx, names);
      SSL_CTX_set_verify(ctx,
                         SSL_VERIFY_PEER | (config.require_client_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                         nullptr);
    }
  } catch (...) {
    SSL_CTX_free(ctx);
    throw;
  }
  return ctx;
}

std::shared_ptr<const loaded_contexts> load(const server_config& config) {
  if (config.certificates.empty()) throw tls::error("tls::server_config has no certificate");
  auto loaded = std::make_shared<loaded_contexts>();
  for (const auto& cert : config.certificates) loaded->by_certificate.push_back(make_context(config, cert));
  if (loaded->by_certificate.size() > 1) {
    SSL_CTX_set_tlsext_servername_callback(loaded->by_certificate.front(), select_certificate);
    SSL_CTX_set_tlsext_servername_arg(loaded->by_certificate.front(), loaded.get());
  }
  loaded->on_failure = config.on_handshake_failure;
  return loaded;
}

}  // namespace

loaded_contexts::~loaded_contexts() {
  for (auto* ctx : by_certificate) SSL_CTX_free(ctx);
}

server_context::server_context(server_config config) : state_(std::make_shared<state>()) {
  state_->loaded = load(config);
  state_->config = std::move(config);
}

server_context::server_context(SSL_CTX* configured) : state_(std::make_shared<state>()) {
  if (!configured) throw tls::error("tls::server_context: null SSL_CTX");
  SSL_CTX_up_ref(configured);
  auto loaded = std::make_shared<loaded_contexts>();
  loaded->by_certificate.push_back(configured);
  state_->loaded = std::move(loaded);
}

void server_context::reload() {
  if (!state_->config) throw tls::error("tls::server_context: built from an SSL_CTX, nothing to reload");
  auto fresh = load(*state_->config);  // throws, leaving the current load in place
  std::lock_guard lock(state_->mutex);
  state_->loaded = std::move(fresh);
}

}  // namespace coronet::tls
