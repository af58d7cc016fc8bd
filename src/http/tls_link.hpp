// The TLS layer under a server connection: the session and the configuration load it was
// made from (kept alive for the SNI callback and for reload(), which leaves open
// connections on the certificates they started with).
#pragma once

#include <coronet/config.hpp>

#if CORONET_HAS_TLS
#include "tls/server_context.hpp"
#include "tls/session.hpp"

#include <memory>
#endif

namespace coronet::http::detail {

#if CORONET_HAS_TLS
struct tls_link {
  explicit tls_link(std::shared_ptr<const tls::loaded_contexts> c)
      : contexts(std::move(c)), session(contexts->by_certificate.front(), true) {}

  std::shared_ptr<const tls::loaded_contexts> contexts;
  tls::detail::session session;
  bool established = false;  // the handshake is done
};
#else
struct tls_link {};  // never made: a build without OpenSSL has no TLS ports
#endif

}  // namespace coronet::http::detail
