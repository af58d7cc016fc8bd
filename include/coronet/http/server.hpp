// http::server — an HTTP/1.1 server whose handlers are coroutines.
//
// One acceptor per runtime io_context, all on the same port (SO_REUSEPORT): the kernel
// spreads connections, and each connection lives on one context for its whole life, one
// coroutine each. Pipelined requests are answered in order, their responses gathered into
// one write.
//
//     coronet::runtime rt;
//     http::router routes;
//     routes.get("/", [](http::request&) -> asio::awaitable<http::response> {
//       co_return http::response::text("Hello, World!");
//     });
//     http::server server(rt, std::move(routes));
//     server.listen("127.0.0.1", 8080);
//     rt.run();   // Ctrl-C drains the server, then returns
#pragma once

#include <coronet/http/router.hpp>
#include <coronet/runtime.hpp>

#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace coronet {
class metrics;  // coronet/metrics.hpp
}  // namespace coronet

namespace coronet::tls {
class server_context;  // coronet/tls.hpp
}  // namespace coronet::tls

namespace coronet::http {

namespace detail {
struct server_state;  // shared with the connections; defined in src/http/server_state.hpp
}  // namespace detail

/// Limits and timeouts. Every breach has its answer; see docs/http-server.md, "Security and limits".
struct server_options {
  /// Request line plus header fields, in bytes. Over it: 431, then close.
  std::size_t max_header_bytes = 16 * 1024;
  /// Decoded request body, in bytes. Over it: 413, then close (before reading the body when
  /// Content-Length announces it).
  std::size_t max_body_bytes = 8 * 1024 * 1024;
  /// From the first byte of a request to the end of its head. Over it: 408, then close.
  std::chrono::milliseconds read_header_timeout = std::chrono::seconds(10);
  /// Longest pause between two reads of a request body. Over it: 408, then close.
  std::chrono::milliseconds body_read_timeout = std::chrono::seconds(30);
  /// A keep-alive connection with no request in progress is closed silently after this.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  /// Longest wait for the client to take a response write. Over it: close.
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  /// Open connections per server. Excess connections are accepted, answered 503 with
  /// `Connection: close` and closed, so a client learns at once instead of timing out.
  std::size_t max_connections = 10'000;
  /// Requests served on one connection before it is closed (with `Connection: close` on the
  /// last answer). 0 means no limit.
  std::size_t max_requests_per_connection = 10'000;
  /// Queued pipelined responses, in bytes, after which the server stops reading from that
  /// connection until the client has taken them.
  std::size_t max_pending_output_bytes = 1024 * 1024;
  /// Listen backlog of each acceptor.
  int backlog = 1024;
  /// `Server` header value; empty sends none.
  std::string server_name = "coronet";
  /// How long shutdown() (and so a runtime stop) lets in-flight requests finish before the
  /// connections left are closed.
  std::chrono::milliseconds drain_timeout = std::chrono::seconds(10);
  /// During shutdown, how long an idle keep-alive connection stays open: a request arriving
  /// on it meanwhile is served and answered with `Connection: close`. 0 (default): idle
  /// connections close as soon as shutdown begins. Behind a reverse proxy that reuses its
  /// upstream connections, set it above the proxy's upstream keep-alive timeout (nginx:
  /// `keepalive_timeout` in the `upstream` block) and below drain_timeout: the proxy then
  /// closes them itself, and no request it sends can race coronet's close (docs/deploy.md).
  std::chrono::milliseconds drain_idle_grace = std::chrono::milliseconds(0);
  /// Where the server's requests and connections are counted (coronet/metrics.hpp).
  /// nullptr (default): not counted, at no cost.
  coronet::metrics* metrics = nullptr;
};

class server {
 public:
  /// Serves `routes` on the runtime's contexts. Registers a stop hook: stopping the runtime
  /// drains this server for options.drain_timeout.
  server(runtime& rt, router routes, server_options options = {});
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  /// Closes the listeners and every connection without draining (call shutdown() first for
  /// a graceful stop).
  ~server();

  /// Binds and listens on host:port (port 0 picks a free port; see port()). One acceptor per
  /// context, with SO_REUSEPORT. Throws std::system_error when the address cannot be bound.
  void listen(std::string_view host, std::uint16_t port);
  /// The bound port, after listen().
  [[nodiscard]] std::uint16_t port() const noexcept;

  /// Listens like listen(), with TLS from `tls` (coronet/tls.hpp): TLS 1.2 and 1.3, ALPN
  /// http/1.1. The handshake counts against read_header_timeout. A server listens on at most
  /// one plaintext and one TLS port; both serve the same routes. Throws tls::error when
  /// coronet was built without OpenSSL.
  void listen_tls(std::string_view host, std::uint16_t port, const tls::server_context& tls);
  /// The bound TLS port, after listen_tls().
  [[nodiscard]] std::uint16_t tls_port() const noexcept;

  /// Takes over an already accepted connection (e.g. handed over by a protocol-sniffing
  /// listener). The socket must belong to one of the runtime's contexts. Bytes already read
  /// from it can be passed as `preread`.
  void adopt(asio::ip::tcp::socket socket, std::string_view preread = {});

  /// Graceful shutdown: stops accepting (serving the connections already queued), closes
  /// idle connections (after options.drain_idle_grace, when set), lets in-flight requests
  /// finish (their answers carry `Connection: close`), and completes when every connection
  /// is closed or `drain_timeout` has passed (the rest are then closed).
  asio::awaitable<void> shutdown(std::chrono::milliseconds drain_timeout);
  /// shutdown() with options.drain_timeout.
  asio::awaitable<void> shutdown();

  /// Open connections, over all contexts.
  [[nodiscard]] std::size_t connections() const noexcept;

 private:
  runtime& runtime_;
  std::shared_ptr<detail::server_state> state_;
  std::size_t stop_hook_ = 0;
};

}  // namespace coronet::http
