// One TLS connection's OpenSSL state, driven through memory rather than through the socket.
//
// OpenSSL reads and writes through a BIO of our own: ciphertext the socket delivered is read
// from `input` (a buffer the socket reads straight into), and ciphertext OpenSSL produces is
// appended to `output`, which the connection writes with one system call. So the connection
// decides when to touch the socket (its reactor, its timeouts, its batching) and every
// gathered answer leaves as few full records as possible in one write, instead of Asio's
// ssl::stream linearising 8 KiB per SSL_write through a fixed 17 KiB buffer pair that
// every connection carries even when idle. Between requests the input buffer is given back
// and OpenSSL releases its own (SSL_MODE_RELEASE_BUFFERS): an idle TLS connection keeps
// only the SSL object.
#pragma once

#include <coronet/tls.hpp>

#include <asio/buffer.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <system_error>

typedef struct ssl_st SSL;

namespace coronet::tls::detail {

/// What an OpenSSL call needs next.
enum class want {
  nothing,   // done (the handshake finished, bytes were read)
  input,     // more ciphertext from the peer
  closed,    // the peer sent close_notify
  failed,    // a protocol or verification error: see session::error()
};

class session {
 public:
  /// Largest TLS record plus header and tag; the input buffer holds at least one.
  static constexpr std::size_t input_size = 17 * 1024 + 512;

  session(SSL_CTX* ctx, bool server);
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  ~session();

  [[nodiscard]] SSL* native() const noexcept { return ssl_; }

  /// Space for the socket to read ciphertext into, and how much of it it filled.
  asio::mutable_buffer input_space();
  void commit_input(std::size_t n) noexcept { in_end_ += n; }
  /// Ciphertext received and not yet consumed by OpenSSL.
  [[nodiscard]] std::span<const char> unread_input() const noexcept {
    return {in_.get() + in_begin_, in_end_ - in_begin_};
  }
  /// Bytes received or decrypted that a read would return without the socket.
  [[nodiscard]] bool has_buffered_input() const noexcept;

  want handshake();
  /// Decrypts into `into`; `n` is what was read (> 0 only with want::nothing).
  want read(asio::mutable_buffer into, std::size_t& n);
  /// Encrypts every buffer into the output, packing small ones into full records.
  bool write(std::span<const asio::const_buffer> plain);
  bool write(asio::const_buffer plain) { return write(std::span(&plain, 1)); }
  /// Queues close_notify.
  void shutdown();

  /// Ciphertext waiting for the socket.
  [[nodiscard]] asio::const_buffer output() const noexcept {
    return {out_.data() + out_begin_, out_.size() - out_begin_};
  }
  void consume_output(std::size_t n) noexcept;

  /// Between requests: frees the input buffer when it holds nothing unread.
  void release_buffers() noexcept;

  /// Why the last call failed: OpenSSL's reason, or the certificate verification's.
  [[nodiscard]] std::error_code error() const noexcept { return error_; }
  /// The peer's identity and the agreed parameters; filled once the handshake is done.
  [[nodiscard]] const tls::peer& peer() const noexcept { return peer_; }

  // The BIO's ends (session.cpp): OpenSSL reads input and appends output through them.
  static int bio_read(void* self, char* into, int len) noexcept;
  static int bio_write(void* self, const char* from, int len) noexcept;

 private:
  want on_error(int rc);
  bool write_record(const char* data, std::size_t len);
  void describe_peer();

  SSL* ssl_ = nullptr;
  std::unique_ptr<char[]> in_;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  std::string out_;
  std::size_t out_begin_ = 0;
  std::string stage_;  // small plaintext pieces packed into one record
  std::error_code error_;
  tls::peer peer_;
  bool handshake_done_ = false;
};

/// The oldest queued OpenSSL error as an error_code (clears the queue).
std::error_code last_error() noexcept;

}  // namespace coronet::tls::detail
