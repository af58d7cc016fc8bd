#include <coronet/rpc/tls.hpp>

#include <grpc/grpc_security_constants.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace coronet::rpc {

namespace {

// gRPC takes PEM as it comes and only logs what it cannot use: a wrong path or a broken
// key would surface as failed handshakes, client side, long after start. So every file is
// parsed here first, with the OpenSSL gRPC itself uses, and a fault throws naming the file.

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  ERR_clear_error();  // leave no error behind for the next OpenSSL user on this thread
  throw std::runtime_error("coronet::rpc TLS: " + file + ": " + what);
}

std::string read_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot be read");
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) fail(file, "cannot be read");
  return text;
}

struct bio_free {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};
struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

bio_ptr memory_bio(const std::string& pem) {
  if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return nullptr;
  return bio_ptr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

/// The certificates of a PEM file, read whole: at least one, every one parseable. Returns
/// the file's text and its first certificate.
std::pair<std::string, x509_ptr> read_certificates(const std::string& file) {
  std::string pem = read_file(file);
  x509_ptr first;
  int count = 0;
  const auto bio = memory_bio(pem);
  if (!bio) fail(file, "too large");
  ERR_clear_error();  // what is left on the queue below is this file's
  while (x509_ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    if (!first) first = std::move(cert);
    ++count;
  }
  // Reading stops at the end of the text (PEM_R_NO_START_LINE) or at a block it cannot
  // parse, which is an error, as is a file without any certificate.
  const unsigned long last = ERR_peek_last_error();
  const bool clean_end =
      ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (count == 0) fail(file, "holds no PEM certificate");
  if (last != 0 && !clean_end) fail(file, "holds a certificate that is not valid PEM");
  ERR_clear_error();
  return {std::move(pem), std::move(first)};
}

/// A PEM private key file, which must hold a key (unencrypted: no one is there to type
/// a passphrase) that belongs to `certificate`.
std::string read_private_key(const std::string& file, X509* certificate,
                             const std::string& certificate_file) {
  std::string pem = read_file(file);
  const auto bio = memory_bio(pem);
  if (!bio) fail(file, "too large");
  // An empty passphrase callback: an encrypted key fails here instead of prompting.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  const pkey_ptr key{PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)};
  if (!key) fail(file, "holds no valid, unencrypted PEM private key");
  if (X509_check_private_key(certificate, key.get()) != 1) {
    fail(file, "is not the private key of the certificate in " + certificate_file);
  }
  ERR_clear_error();
  return pem;
}

}  // namespace

std::shared_ptr<grpc::Channel> secure_channel(const std::string& target, const channel_tls& tls,
                                              grpc::ChannelArguments args) {
  grpc::SslCredentialsOptions options;
  if (!tls.ca_file.empty()) options.pem_root_certs = read_certificates(tls.ca_file).first;
  if (tls.certificate_file.empty() != tls.private_key_file.empty()) {
    throw std::invalid_argument(
        "coronet::rpc::secure_channel: certificate_file and private_key_file go together");
  }
  if (!tls.certificate_file.empty()) {
    auto [chain, leaf] = read_certificates(tls.certificate_file);
    options.pem_private_key =
        read_private_key(tls.private_key_file, leaf.get(), tls.certificate_file);
    options.pem_cert_chain = std::move(chain);
  }
  if (!tls.target_name_override.empty()) args.SetSslTargetNameOverride(tls.target_name_override);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(options), args);
}

namespace detail {

std::shared_ptr<grpc::ServerCredentials> server_credentials(const server_tls& tls) {
  namespace gx = grpc::experimental;
  if (tls.certificate_chain_file.empty() || tls.private_key_file.empty()) {
    throw std::invalid_argument("coronet::rpc::server::listen_tls: certificate_chain_file and "
                                "private_key_file are required");
  }
  auto [chain, leaf] = read_certificates(tls.certificate_chain_file);
  std::string key = read_private_key(tls.private_key_file, leaf.get(), tls.certificate_chain_file);
  std::string client_cas;
  if (!tls.client_ca_file.empty()) client_cas = read_certificates(tls.client_ca_file).first;

  const auto request = tls.client_ca_file.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                       : tls.require_client_certificate
                           ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                           : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  const auto ms = tls.reload_interval.count();
  if (ms <= 0) {
    // grpc++'s stable credentials, serving exactly what was checked above.
    grpc::SslServerCredentialsOptions options(request);
    options.pem_root_certs = std::move(client_cas);
    options.pem_key_cert_pairs.push_back({std::move(key), std::move(chain)});
    return grpc::SslServerCredentials(options);
  }
  // Rotation needs gRPC's TLS credentials, which take a certificate provider: the file
  // watcher re-reads the files on a thread of its own and hands what they hold to the
  // handshakes that follow.
  const auto seconds = static_cast<unsigned>(
      std::min<long long>((ms + 999) / 1000, std::numeric_limits<unsigned>::max()));
  gx::TlsServerCredentialsOptions options(std::make_shared<gx::FileWatcherCertificateProvider>(
      tls.private_key_file, tls.certificate_chain_file, tls.client_ca_file, seconds));
  options.watch_identity_key_cert_pairs();
  if (!tls.client_ca_file.empty()) options.watch_root_certs();
  options.set_cert_request_type(request);
  return gx::TlsServerCredentials(options);
}

}  // namespace detail

}  // namespace coronet::rpc
