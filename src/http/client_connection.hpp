// One connection of http::client: its socket, read buffer, parser and watchdog, and the two
// steps a request takes on it: connect (resolve, then try each address) and exchange (write
// the request, read the response). client_pool.hpp keeps these connections between requests.
#pragma once

#include "parser.hpp"
#include "watchdog.hpp"

#include <coronet/config.hpp>
#if CORONET_HAS_TLS
#include "tls/session.hpp"
#endif

#include <coronet/http/client.hpp>

#include <asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <string_view>
#include <system_error>

namespace coronet::http::detail {

struct host_pool;
struct client_state;

struct client_connection : std::enable_shared_from_this<client_connection> {
  static constexpr std::size_t read_buffer_size = 16 * 1024;

  client_connection(const asio::any_io_executor& ex, host_pool& p, parse_limits limits)
      : socket(ex), watchdog(ex, *this), pool(&p), parser(limits), buffer(new char[read_buffer_size]) {}

  /// In the pool: the idle expiry; in use: the request's deadline (closes the socket).
  void on_deadline();
  void close() noexcept;

  asio::ip::tcp::socket socket;
  detail::watchdog<client_connection> watchdog;
  host_pool* pool;
  response_parser parser;
  std::unique_ptr<char[]> buffer;
  std::size_t begin = 0;
  std::size_t end = 0;
#if CORONET_HAS_TLS
  std::unique_ptr<tls::detail::session> tls;  // https: the session over `socket`
  bool session_saved = false;  // its session is in the pool for resumption
#endif
  asio::ip::tcp::resolver* resolver = nullptr;  // set while resolving, so a deadline can cancel it
  bool connected = false;
  bool reused = false;     // carried a request before: the server may have closed it since
  bool idle = false;       // in the pool
  bool timed_out = false;  // the watchdog fired during a request
};

/// Whether a pooled connection still looks open: one the server has closed (or written to,
/// unasked) reads as EOF or data at once, a live idle one would block.
[[nodiscard]] bool looks_alive(asio::ip::tcp::socket& s) noexcept;

/// Whether the current coroutine's cancellation slot has fired.
asio::awaitable<bool> cancelled();

/// Resolves and connects a fresh connection within connect_timeout (and the request's
/// deadline), trying every address the name resolves to in turn, each within an equal share
/// of the time left (the last one with all of it); for https, the TLS handshake too
/// (client_tls.cpp), within the same connect_timeout.
asio::awaitable<std::error_code> connect(client_connection& c, const url& u,
                                         std::chrono::steady_clock::time_point deadline,
                                         const client_options& o, client_state& st);

struct exchange_error {
  std::error_code ec;
  bool retryable = false;  // nothing of a response arrived: the server may have closed it idle
};

/// Writes the request and reads the response on a connected connection. With a `sink`, the
/// final response's body goes to it as it arrives (unless it is a redirect that will be
/// followed: `may_follow`).
asio::awaitable<exchange_error> send_and_receive(client_connection& c, std::string_view head,
                                                 std::string_view body, bool head_request,
                                                 const chunk_handler* sink, bool may_follow);

}  // namespace coronet::http::detail
