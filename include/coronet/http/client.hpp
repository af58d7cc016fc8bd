// http::client — an HTTP/1.1 client whose calls are coroutines.
//
// A client keeps a pool of keep-alive connections per (host, port) and lives on one executor:
// every call must be made from a coroutine running on that executor, which needs no locks.
// Calls never throw for network or protocol failures: they complete with a result<response>
// that holds either the response or a client_errc error code.
//
//     http::client c(co_await asio::this_coro::executor);
//     auto res = co_await c.get("http://127.0.0.1:8080/users/7");
//     if (!res) { std::cerr << res.error().message() << "\n"; co_return; }
//     std::cout << static_cast<int>(res->status) << " " << res->body << "\n";
//
// Cancellation: every call honours its cancellation slot, so
// `co_await (c.get(u) || timer.async_wait(asio::use_awaitable))` ends the request (its
// connection is closed, never pooled) and the call completes with client_errc::cancelled.
#pragma once

#include <coronet/config.hpp>
#include <coronet/detail/asio.hpp>
#include <coronet/http/client_error.hpp>
#include <coronet/http/message.hpp>
#include <coronet/http/url.hpp>
#include <coronet/tls.hpp>

#include <asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace coronet::http {

namespace detail {
struct client_state;  // the pools; shared with calls in flight. Defined in src/http/client.cpp.
}  // namespace detail

struct client_options {
  /// From the start of DNS resolution to an established connection (for https, the TLS
  /// handshake done). A name with several addresses has them tried in turn, each within an
  /// equal share of the time left (the last one with all of it), so one that never answers
  /// leaves time for the others. Over it:
  /// client_errc::connect_timeout.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
  /// Whole request: waiting for a pooled connection, connecting, sending, and receiving the
  /// complete response (for stream(), the whole body). Over it: client_errc::timeout.
  /// 0 means no limit.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(30);
  /// A pooled keep-alive connection unused for this long is closed.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  /// Open connections per (host, port), busy and idle together. Requests beyond it wait for
  /// a connection to come free (within request_timeout).
  std::size_t max_connections_per_host = 16;
  /// Status line plus header fields of a response. Over it: client_errc::response_too_large.
  std::size_t max_header_bytes = 64 * 1024;
  /// Decoded response body (not applied by stream()). Over it: client_errc::response_too_large.
  std::size_t max_body_bytes = 64 * 1024 * 1024;
  /// Redirects followed per call; 0 returns the 3xx response itself. 301, 302 and 303 turn
  /// into GET without a body (HEAD stays HEAD); 307 and 308 repeat method and body.
  unsigned follow_redirects = 0;
  /// User-Agent header; empty sends none.
  std::string user_agent = "coronet/" CORONET_VERSION;
  /// https:// requests: whose certificates to trust (the system's store by default), an
  /// optional client certificate, session resumption. Files named here are loaded by the
  /// client's constructor, which throws tls::error when one cannot be.
  tls::client_config tls = {};
};

/// One request, for request() and stream().
struct client_request {
  std::string method = "GET";
  std::string url;    ///< absolute http:// or https:// URL
  fields headers;     ///< extra fields; Host, Content-Length and User-Agent are added
  std::string body;   ///< sent with Content-Length when non-empty (or method is POST/PUT/PATCH)
};

/// Receives a streamed body piece by piece; each piece is valid only during the call.
using chunk_handler = std::function<asio::awaitable<void>(std::string_view chunk)>;

class client {
 public:
  /// A client whose connections and timers run on `executor` (e.g. an io_context's).
  explicit client(asio::any_io_executor executor, client_options options);
  /// The same with the default client_options. An overload rather than a default argument:
  /// GCC 12 destroys a defaulted argument's temporary wrongly when the call also awaits
  /// (`http::client c(co_await asio::this_coro::executor);` inside a coroutine).
  explicit client(asio::any_io_executor executor);
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  /// Closes every idle connection. Calls still in flight keep what they need alive and
  /// close their connection when they complete.
  ~client();

  // Arguments are taken by value: a call's coroutine starts only when awaited, so it must
  // not refer to the caller's temporaries.

  /// GET url.
  asio::awaitable<result<response>> get(std::string url, fields headers = {});
  /// POST body with the given Content-Type.
  asio::awaitable<result<response>> post(std::string url, std::string body,
                                         std::string content_type = "application/octet-stream");
  /// PUT body with the given Content-Type.
  asio::awaitable<result<response>> put(std::string url, std::string body,
                                        std::string content_type = "application/octet-stream");
  /// DELETE url.
  asio::awaitable<result<response>> del(std::string url, fields headers = {});
  /// Any method. The response body is read whole (up to max_body_bytes).
  asio::awaitable<result<response>> request(std::string method, std::string url,
                                            fields headers = {}, std::string body = {});
  asio::awaitable<result<response>> request(client_request req);

  /// Like request(), but hands the final response's body to `on_chunk` as it arrives instead
  /// of collecting it; the returned response has status and headers and an empty body.
  /// `on_chunk` is awaited before more is read, so a slow consumer slows the transfer.
  /// An exception from `on_chunk` closes the connection and propagates.
  asio::awaitable<result<response>> stream(client_request req, chunk_handler on_chunk);

  /// Closes the idle pooled connections now (busy ones are closed when they come back).
  void close_idle();

  /// Open connections over all hosts (busy, idle and connecting).
  [[nodiscard]] std::size_t open_connections() const noexcept;
  /// Pooled connections waiting for a request, over all hosts.
  [[nodiscard]] std::size_t idle_connections() const noexcept;

  [[nodiscard]] asio::any_io_executor get_executor() const noexcept { return executor_; }
  [[nodiscard]] const client_options& options() const noexcept;

 private:
  asio::any_io_executor executor_;
  std::shared_ptr<detail::client_state> state_;
};

}  // namespace coronet::http
