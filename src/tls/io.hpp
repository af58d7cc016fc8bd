// A session's bytes on a socket: the handshake, reads and writes as awaitables, used alike by
// the server's and the client's connections. The socket must be in non-blocking mode; a
// timeout is the caller's (cancelling the socket ends whatever is awaited here).
#pragma once

#include "session.hpp"

#include <coronet/detail/asio.hpp>

#include <asio/ip/tcp.hpp>

#include <cstddef>
#include <span>
#include <system_error>
#include <utility>

namespace coronet::tls::detail {

/// Writes the session's pending ciphertext: at once when the socket takes it, else waiting.
asio::awaitable<std::error_code> flush(asio::ip::tcp::socket& s, session& t);
/// Reads whatever ciphertext has arrived into the session (waiting for some).
asio::awaitable<std::error_code> receive(asio::ip::tcp::socket& s, session& t);
/// Runs the handshake to its end. Failures are the session's error() (a verification
/// failure in verify_category()).
asio::awaitable<std::error_code> handshake(asio::ip::tcp::socket& s, session& t);
/// Decrypted bytes into `into`: what the session holds, else what arrives next. End of
/// stream (close_notify, or the peer closing) is asio::error::eof.
asio::awaitable<std::pair<std::error_code, std::size_t>> read_some(asio::ip::tcp::socket& s, session& t,
                                                                  asio::mutable_buffer into);
/// Encrypts and writes every buffer.
asio::awaitable<std::error_code> write(asio::ip::tcp::socket& s, session& t,
                                       std::span<const asio::const_buffer> plain);
/// Queues close_notify and tries to send it without waiting (the connection is closing).
void send_close_notify(asio::ip::tcp::socket& s, session& t) noexcept;

}  // namespace coronet::tls::detail
