#include "client_tls.hpp"

#include <coronet/tls.hpp>

#if CORONET_HAS_TLS
#include "tls/io.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#endif

namespace coronet::http::detail {

#if CORONET_HAS_TLS
namespace {

[[noreturn]] void fail(const std::string& what) {
  const auto reason = tls::detail::last_error();
  throw tls::error(reason.value() ? what + ": " + reason.message() : what);
}

std::shared_ptr<void> make_context(const tls::client_config& config) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) fail("SSL_CTX_new failed");
  std::shared_ptr<void> owned(ctx, [](void* p) { SSL_CTX_free(static_cast<SSL_CTX*>(p)); });
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (config.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (!config.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1) {
        fail("cannot load CA file " + config.ca_file);
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      fail("cannot use the system's CA store");
    }
  }
  const auto& cert = config.client_certificate;
  if (!cert.chain_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.chain_file.c_str()) != 1) {
      fail("cannot load client certificate " + cert.chain_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cert.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      fail("cannot load client key " + cert.key_file);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) fail("client key does not match " + cert.chain_file);
  }
  static constexpr unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);  // returns 0 on success
  return owned;
}

}  // namespace

asio::awaitable<std::error_code> start_tls(client_connection& c, const url& u, client_state& st) {
  if (!st.tls_context) {
    try {
      st.tls_context = make_context(st.options.tls);
    } catch (const tls::error&) {
      co_return std::make_error_code(std::errc::invalid_argument);  // only without files
    }
  }
  c.tls = std::make_unique<tls::detail::session>(static_cast<SSL_CTX*>(st.tls_context.get()), false);
  c.session_saved = false;
  SSL* ssl = c.tls->native();
  std::error_code ec;
  const bool literal = (asio::ip::make_address(u.host, ec), !ec);
  // SNI carries names only (RFC 6066), never address literals.
  if (!literal) SSL_set_tlsext_host_name(ssl, u.host.c_str());
  if (st.options.tls.verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    // The certificate must name what the URL names: a DNS name, or an IP address SAN.
    if (literal) {
      X509_VERIFY_PARAM_set1_ip_asc(param, u.host.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, u.host.c_str(), u.host.size());
    }
  }
  if (st.options.tls.session_resumption && c.pool->tls_session) {
    SSL_set_session(ssl, static_cast<SSL_SESSION*>(c.pool->tls_session.get()));
  }
  co_return co_await tls::detail::handshake(c.socket, *c.tls);
}

void remember_session(client_connection& c) {
  if (!c.tls || c.session_saved || !c.pool->owner->options.tls.session_resumption) return;
  // A copy: OpenSSL marks a connection's own session unresumable when the connection ends
  // without close_notify (a reset, a timeout), which must not cost the pool its ticket.
  SSL_SESSION* s = SSL_get0_session(c.tls->native());
  if (!s || SSL_SESSION_is_resumable(s) != 1) return;
  s = SSL_SESSION_dup(s);
  if (!s) return;
  c.pool->tls_session = std::shared_ptr<void>(s, [](void* p) { SSL_SESSION_free(static_cast<SSL_SESSION*>(p)); });
  c.session_saved = true;
}
#endif

void load_client_tls(client_state& st) {
#if CORONET_HAS_TLS
  const auto& t = st.options.tls;
  if (!t.ca_file.empty() || !t.client_certificate.chain_file.empty()) st.tls_context = make_context(t);
#else
  (void)st;
#endif
}

}  // namespace coronet::http::detail
