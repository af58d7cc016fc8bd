// coronet::tls — TLS for the HTTP/1.1 server and client, on OpenSSL 3.
//
// A server_context holds the certificates a server presents and how it checks clients; an
// http::server listens with it on a port of its own:
//
//     coronet::tls::server_config cfg;
//     cfg.certificates.push_back({.chain_file = "server.pem", .key_file = "server.key"});
//     coronet::tls::server_context tls(cfg);   // throws tls::error naming the bad file
//     http::server server(rt, std::move(routes));
//     server.listen_tls("0.0.0.0", 8443, tls);
//     ...
//     tls.reload();   // certificates rotated on disk: new handshakes use the new ones
//
// TLS 1.2 and 1.3 only, ECDHE with AEAD ciphers, ALPN "http/1.1", SNI choosing among the
// certificates, stateless session tickets. A client_config turns https:// on for
// http::client (client.hpp). gRPC over TLS is grpc++'s own (rpc/tls.hpp).
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;

namespace coronet::tls {

/// A configuration that cannot be loaded: the message names the file and OpenSSL's reason.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A certificate chain (leaf first) and its private key, both PEM files.
struct certificate {
  std::string chain_file;
  std::string key_file;
};

struct server_config {
  /// The first is presented to clients that send no server name (SNI) or one no
  /// certificate covers; the others to clients whose server name they cover (their DNS
  /// subject alternative names, wildcards included).
  std::vector<certificate> certificates;
  /// PEM file of the CAs client certificates must chain to. Empty: clients are not asked
  /// for a certificate. Set: mutual TLS, and handlers see the verified identity
  /// (request::tls()).
  std::string client_ca_file;
  /// With client_ca_file: a client without a valid certificate is refused in the
  /// handshake. false: asked, not required (request::tls()->verified says which).
  bool require_client_certificate = true;
  /// Stateless session tickets (RFC 5077, TLS 1.3 PSK): a returning client resumes without
  /// the key exchange's signature. The ticket keys live in the context; reload() makes new
  /// ones.
  bool session_tickets = true;
  /// OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's defaults, all AEAD).
  std::string tls12_ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";
  /// Called (on the connection's thread) for each handshake that fails: a plaintext
  /// request, an unknown CA, an expired or missing client certificate, no common protocol.
  /// The library logs nothing itself; this is the debug log's hook.
  std::function<void(const std::error_code& why, const std::string& peer_address)> on_handshake_failure;
};

/// The verified identity of a TLS peer and what the handshake agreed.
struct peer {
  bool verified = false;        ///< a client certificate was presented and verified
  std::string subject;          ///< its subject, one line ("CN=test-client")
  std::string common_name;      ///< its subject's CN
  std::vector<std::string> dns_names;  ///< its DNS subject alternative names
  std::string server_name;      ///< SNI the client sent (empty: none)
  const char* version = "";     ///< "TLSv1.3", "TLSv1.2"
  const char* cipher = "";      ///< e.g. "TLS_AES_128_GCM_SHA256"
  bool resumed = false;         ///< the session was resumed from a ticket
};

/// Server-side TLS settings, shared by every connection of the ports that use it. Copies
/// share one state: reload() through any copy affects all. Thread-safe.
class server_context {
 public:
  /// Loads the certificates and CA file now. Throws tls::error.
  explicit server_context(server_config config);
  /// Uses an SSL_CTX the caller configured (it takes one reference; SNI, reload and the
  /// defaults above are then the caller's business). The context must be a server one.
  explicit server_context(SSL_CTX* configured);

  /// Reads the files again (for certificates that rotate): handshakes from now on use the
  /// new ones, connections already open keep theirs. On failure the previous certificates
  /// stay in use and tls::error says why.
  void reload();

  struct state;  // src/tls/server_context.cpp
  [[nodiscard]] const std::shared_ptr<state>& shared() const noexcept { return state_; }

 private:
  std::shared_ptr<state> state_;
};

/// Client-side TLS settings for http::client.
struct client_config {
  /// Verify the server's chain and host name (off only for tests against throw-away
  /// certificates you cannot trust otherwise).
  bool verify = true;
  /// PEM file of CAs to trust instead of the system's store (Debian's ca-certificates).
  std::string ca_file;
  /// A client certificate for servers that ask for one (mutual TLS).
  certificate client_certificate;
  /// Stored sessions are offered again on new connections to the same host (resumption).
  bool session_resumption = true;
};

}  // namespace coronet::tls
