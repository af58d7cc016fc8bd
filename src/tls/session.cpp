#include "session.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>

namespace coronet::tls::detail {
namespace {

// TLS records carry at most 16 KiB of plaintext.
constexpr std::size_t max_record = 16 * 1024;

class openssl_category : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int code) const override {
    if (code == 0) return "TLS error";
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(code));
    return reason ? reason : "TLS error " + std::to_string(code);
  }
};

class x509_category : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls.verify"; }
  std::string message(int code) const override {
    return std::string("certificate verification failed: ") +
           X509_verify_cert_error_string(code);
  }
};

// The BIO between OpenSSL and a session's buffers. Created once, shared by every session.
BIO_METHOD* memory_method() {
  static BIO_METHOD* const method = [] {
    auto* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "coronet session");
    BIO_meth_set_create(m, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
    BIO_meth_set_read(m, [](BIO* b, char* into, int len) {
      BIO_clear_retry_flags(b);
      const int n = session::bio_read(BIO_get_data(b), into, len);
      if (n <= 0) BIO_set_retry_read(b);
      return n;
    });
    BIO_meth_set_write(m, [](BIO* b, const char* from, int len) {
      BIO_clear_retry_flags(b);
      return session::bio_write(BIO_get_data(b), from, len);
    });
    // OpenSSL flushes after each flight; there is nothing to flush, but it must succeed.
    BIO_meth_set_ctrl(m, [](BIO*, int cmd, long, void*) -> long { return cmd == BIO_CTRL_FLUSH ? 1 : 0; });
    return m;
  }();
  return method;
}

}  // namespace

const std::error_category& category() noexcept {
  static const openssl_category c;
  return c;
}

const std::error_category& verify_category() noexcept {
  static const x509_category c;
  return c;
}

std::error_code last_error() noexcept {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  return {static_cast<int>(e), category()};
}

session::session(SSL_CTX* ctx, bool server) : ssl_(SSL_new(ctx)) {
  if (!ssl_) throw tls::error("SSL_new failed: " + last_error().message());
  BIO* bio = BIO_new(memory_method());
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // one BIO for both directions; the SSL owns it
  if (server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
}

session::~session() { SSL_free(ssl_); }

int session::bio_read(void* self, char* into, int len) noexcept {
  auto& s = *static_cast<session*>(self);
  const auto n = std::min<std::size_t>(static_cast<std::size_t>(len), s.in_end_ - s.in_begin_);
  if (n == 0) return -1;
  std::memcpy(into, s.in_.get() + s.in_begin_, n);
  s.in_begin_ += n;
  if (s.in_begin_ == s.in_end_) s.in_begin_ = s.in_end_ = 0;
  return static_cast<int>(n);
}

int session::bio_write(void* self, const char* from, int len) noexcept {
  auto& s = *static_cast<session*>(self);
  try {
    s.out_.append(from, static_cast<std::size_t>(len));
  } catch (...) {
    return -1;
  }
  return len;
}

asio::mutable_buffer session::input_space() {
  if (!in_) in_ = std::make_unique<char[]>(input_size);
  if (in_begin_ > 0 && in_end_ == input_size) {
    std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  return {in_.get() + in_end_, input_size - in_end_};
}

bool session::has_buffered_input() const noexcept {
  return in_end_ > in_begin_ || SSL_has_pending(ssl_) == 1;
}

void session::release_buffers() noexcept {
  if (in_ && in_end_ == in_begin_) {
    in_.reset();
    in_begin_ = in_end_ = 0;
  }
  if (out_begin_ == out_.size() && out_.capacity() > max_record * 2) {
    out_ = std::string();
    out_begin_ = 0;
  }
}

void session::consume_output(std::size_t n) noexcept {
  out_begin_ += n;
  if (out_begin_ >= out_.size()) {
    out_.clear();
    out_begin_ = 0;
  }
}

want session::on_error(int rc) {
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ:
      return want::input;
    case SSL_ERROR_ZERO_RETURN:
      return want::closed;
    case SSL_ERROR_SYSCALL:
      // Our BIO never fails on its own: this is OpenSSL seeing the end of our input where
      // a record should continue.
      ERR_clear_error();
      error_ = std::make_error_code(std::errc::connection_aborted);
      return want::failed;
    default: {
      const long verify = SSL_get_verify_result(ssl_);
      if (!handshake_done_ && verify != X509_V_OK) {
        ERR_clear_error();
        error_ = {static_cast<int>(verify), verify_category()};
      } else {
        error_ = last_error();
      }
      return want::failed;
    }
  }
}

want session::handshake() {
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    handshake_done_ = true;
    describe_peer();
    return want::nothing;
  }
  return on_error(rc);
}

want session::read(asio::mutable_buffer into, std::size_t& n) {
  n = 0;
  const int rc = SSL_read_ex(ssl_, into.data(), into.size(), &n);
  if (rc == 1) return want::nothing;
  return on_error(rc);
}

bool session::write_record(const char* data, std::size_t len) {
  while (len > 0) {
    std::size_t written = 0;
    if (SSL_write_ex(ssl_, data, std::min(len, max_record), &written) != 1) {
      error_ = last_error();
      return false;
    }
    data += written;
    len -= written;
  }
  return true;
}

bool session::write(std::span<const asio::const_buffer> plain) {
  // Pieces smaller than a record are packed together so that a pipelined batch of small
  // answers leaves as a few full records (each record costs a header, a tag and a cipher
  // call); a large piece goes straight through.
  for (const auto& b : plain) {
    const auto* p = static_cast<const char*>(b.data());
    std::size_t len = b.size();
    while (len > 0) {
      if (stage_.empty() && len >= max_record) {
        const std::size_t whole = len - len % max_record;
        if (!write_record(p, whole)) return false;
        p += whole;
        len -= whole;
        continue;
      }
      const std::size_t take = std::min(len, max_record - stage_.size());
      stage_.append(p, take);
      p += take;
      len -= take;
      if (stage_.size() == max_record) {
        if (!write_record(stage_.data(), stage_.size())) return false;
        stage_.clear();
      }
    }
  }
  if (!stage_.empty()) {
    const bool ok = write_record(stage_.data(), stage_.size());
    stage_.clear();
    if (!ok) return false;
  }
  if (stage_.capacity() > max_record) stage_.shrink_to_fit();
  return true;
}

void session::shutdown() {
  if (handshake_done_) SSL_shutdown(ssl_);
  ERR_clear_error();
}

void session::describe_peer() {
  peer_.version = SSL_get_version(ssl_);
  peer_.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_));
  peer_.resumed = SSL_session_reused(ssl_) == 1;
  if (const char* sni = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) peer_.server_name = sni;
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (!cert) return;
  peer_.verified = SSL_get_verify_result(ssl_) == X509_V_OK;
  X509_NAME* subject = X509_get_subject_name(cert);
  if (BIO* mem = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(mem, subject, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long len = BIO_get_mem_data(mem, &data);
    if (len > 0) peer_.subject.assign(data, static_cast<std::size_t>(len));
    BIO_free(mem);
  }
  char cn[256];
  const int cn_len = X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof cn);
  if (cn_len > 0) peer_.common_name.assign(cn, static_cast<std::size_t>(cn_len));
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_DNS) continue;
      const auto* s = name->d.dNSName;
      peer_.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                   static_cast<std::size_t>(ASN1_STRING_length(s)));
    }
    GENERAL_NAMES_free(names);
  }
}

}  // namespace coronet::tls::detail
