// coronet::listener — one port for HTTP/1.1 and gRPC.
//
// Accepts connections and looks at their first bytes without consuming them: a connection
// that opens with the HTTP/2 client preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", which every
// gRPC client sends over cleartext: h2c with prior knowledge) goes to the HTTP/2 handler,
// typically a gRPC server; anything else is served as HTTP/1.1 by an http::server.
//
//     http::server web(rt, std::move(routes));
//     rpc::server grpc(rt);                        // no listen(): no port of its own
//     grpc.add(greeter);
//     grpc.start();
//     coronet::listener port(rt, web);
//     port.on_http2([&grpc](asio::ip::tcp::socket s) { grpc.adopt(std::move(s)); });
//     port.listen("127.0.0.1", 8080);
#pragma once

#include <coronet/http/server.hpp>
#include <coronet/runtime.hpp>

#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace coronet {

namespace detail {
struct listener_state;  // shared with the accept loops; defined in src/listener.cpp
}  // namespace detail

struct listener_options {
  /// How long a new connection may take to send enough bytes to tell the protocols apart:
  /// for HTTP/2, the whole client preface and the header of the SETTINGS frame that must
  /// follow it. Over it the connection is closed.
  std::chrono::milliseconds sniff_timeout = std::chrono::seconds(10);
  /// HTTP/2 connections handed to on_http2() and still open, over all contexts. Past it a
  /// new HTTP/2 connection gets a GOAWAY (ENHANCE_YOUR_CALM, "too many connections") and is
  /// closed. A handed-over socket's close is noticed within about a second (the listener
  /// checks its descriptors once a second), so a connection counts that long after it
  /// closed. HTTP/1.1 connections are bounded by http::server_options::max_connections.
  std::size_t max_http2_connections = 10'000;
  /// Listen backlog of each acceptor.
  int backlog = 1024;
  /// During a graceful stop of the runtime, how long the HTTP/2 connections handed to
  /// on_http2() are still served as usual, once the port has stopped accepting, before the
  /// stop goes on to drain them (an rpc::server then sends GOAWAY and refuses new calls).
  /// The wait ends early when every one of them has closed. Behind a reverse proxy that
  /// keeps its upstream HTTP/2 connections between calls (nginx's grpc_pass with
  /// `keepalive`), set it above the proxy's idle and lifetime limits for them (nginx:
  /// `keepalive_timeout` and `keepalive_time` in the `upstream` block): the proxy then
  /// closes them itself, between calls, and never sends a call into a GOAWAY, which nginx
  /// cannot retry (docs/deploy.md). 0 (default): no wait.
  std::chrono::milliseconds http2_drain_grace = std::chrono::milliseconds(0);
};

class listener {
 public:
  using socket_handler = std::function<void(asio::ip::tcp::socket)>;

  /// HTTP/1.1 connections go to `http`. Registers runtime stop hooks: the port stops
  /// accepting (stop_stage::stop_accepting) and, with http2_drain_grace, waits for the
  /// HTTP/2 connections to close (stop_stage::lame_duck).
  listener(runtime& rt, http::server& http, listener_options options = {});
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  ~listener();

  /// Where connections opening with the HTTP/2 preface go (they are closed while unset).
  /// Called on the connection's io_context thread; the preface is still unread. Only a
  /// connection whose preface is followed by a SETTINGS frame header is handed over (RFC
  /// 9113 section 3.4); any other is closed.
  void on_http2(socket_handler handler);

  /// Binds host:port (0: a free port, see port()), one acceptor per runtime context with
  /// SO_REUSEPORT. Throws std::system_error when the address cannot be bound.
  void listen(std::string_view host, std::uint16_t port);
  [[nodiscard]] std::uint16_t port() const noexcept;

  /// HTTP/2 connections handed over and not yet seen closed (see max_http2_connections).
  [[nodiscard]] std::size_t http2_connections() const noexcept;

  /// Stops accepting; the connections already queued in the port are still taken and served.
  /// Connections already handed over are not affected.
  void close();

 private:
  runtime& runtime_;
  std::shared_ptr<detail::listener_state> state_;
  std::size_t stop_hook_ = 0;
};

}  // namespace coronet
