// https:// for http::client: the OpenSSL context made from client_options::tls, the handshake
// on a freshly connected connection, and the sessions kept per host for resumption.
#pragma once

#include "client_pool.hpp"

#include <coronet/config.hpp>

#include <system_error>

namespace coronet::http::detail {

/// Makes st.tls_context now when options.tls names files (so a bad file is the client
/// constructor's tls::error, not every request's failure). Without TLS, nothing.
void load_client_tls(client_state& st);

#if CORONET_HAS_TLS
/// The TLS handshake on `c`, connected to `u`: SNI and ALPN http/1.1, the chain checked
/// against the configured CAs and the name (or address) against the certificate, a stored
/// session offered. Errors come from tls::verification_category() or
/// tls::handshake_category().
asio::awaitable<std::error_code> start_tls(client_connection& c, const url& u, client_state& st);
/// After a response: keeps the connection's session (with its ticket, which TLS 1.3 sends
/// after the handshake) for the next connection to the same host.
void remember_session(client_connection& c);
#endif

}  // namespace coronet::http::detail
