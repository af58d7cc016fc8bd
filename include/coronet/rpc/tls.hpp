// coronet::rpc TLS — gRPC over TLS, for rpc::server::listen_tls and for clients.
//
// server_tls names the PEM files a TLS port serves: its certificate chain and key, and, for
// mutual TLS, the CA that client certificates must chain to. The files are read and checked
// when rpc::server::start() runs (a missing, unreadable or invalid file throws, naming it);
// with a reload_interval they are re-read while the server runs, so certificates rotate
// without a restart. A handler finds the verified client in its context's auth_context():
// the properties "x509_common_name" and "x509_subject_alternative_name".
//
//     server.listen_tls("0.0.0.0", 8444, {.certificate_chain_file = "server.pem",
//                                         .private_key_file = "server.key",
//                                         .client_ca_file = "clients-ca.pem"});
//
//     auto channel = coronet::rpc::secure_channel("localhost:8444", {.ca_file = "ca.pem",
//         .certificate_file = "client.pem", .private_key_file = "client.key"});
//     auto stub = HelloWorld::NewStub(channel);
//
// TLS ports are gRPC's own. The one port coronet::listener shares between HTTP/1.1 and
// HTTP/2 stays cleartext: rpc::server::adopt() hands gRPC a descriptor, and grpc++ 1.51 can
// take over only a cleartext connection that way (AddInsecureChannelFromFd), not one whose
// TLS session another party has begun.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>
#include <memory>
#include <string>

namespace grpc {
class ServerCredentials;
}  // namespace grpc

namespace coronet::rpc {

/// The certificates of one TLS port of an rpc::server.
struct server_tls {
  /// The server's certificate, then any intermediates (PEM). Required.
  std::string certificate_chain_file = {};
  /// The private key of the chain's first certificate (PEM). Required.
  std::string private_key_file = {};
  /// Non-empty: client certificates are asked for and verified against the CAs in this
  /// file (PEM), i.e. mutual TLS. Empty (the default): clients are not asked for one.
  std::string client_ca_file = {};
  /// With client_ca_file: true (the default) refuses, during the handshake, a client that
  /// presents no certificate; false lets it in unauthenticated (its auth_context() then
  /// carries no x509 properties). A certificate that is presented and fails verification
  /// is refused either way.
  bool require_client_certificate = true;
  /// > 0: the three files are re-read this often (rounded up to whole seconds, gRPC's
  /// unit), and handshakes from then on use what they hold: certificate rotation without
  /// a restart. Connections already open keep their session. Replace the key and the
  /// certificate together, atomically (swap a directory by rename or symlink): gRPC takes
  /// whatever the files hold when it looks. 0 (the default): read once, at start().
  std::chrono::milliseconds reload_interval{0};
};

/// What a client trusts and presents when it opens a secure channel.
struct channel_tls {
  /// The CAs (PEM) that the server certificate must chain to. Empty (the default): gRPC's
  /// default roots (the system's, or GRPC_DEFAULT_SSL_ROOTS_FILE_PATH).
  std::string ca_file = {};
  /// The client certificate chain (PEM), for mutual TLS; optional. With private_key_file.
  std::string certificate_file = {};
  /// The client certificate's private key (PEM).
  std::string private_key_file = {};
  /// Non-empty: the name the server certificate must carry, instead of the target's host
  /// (and the name sent as SNI). For tests and for addressing a server by IP.
  std::string target_name_override = {};
};

/// A channel to `target` ("localhost:8444", "dns:///name:port", anything gRPC resolves)
/// secured with TLS as `tls` says; `args` are further channel arguments. Reads the files
/// now: throws std::runtime_error naming a file that cannot be read or holds no valid PEM,
/// std::invalid_argument for a certificate without a key or a key without a certificate.
/// A server that fails verification fails calls with UNAVAILABLE.
std::shared_ptr<grpc::Channel> secure_channel(const std::string& target,
                                              const channel_tls& tls = {},
                                              grpc::ChannelArguments args = {});

namespace detail {
/// The credentials rpc::server::start() binds a TLS port with: reads and checks the files
/// (std::runtime_error naming the one at fault) and, with a reload_interval, watches them.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const server_tls& tls);
}  // namespace detail

}  // namespace coronet::rpc
