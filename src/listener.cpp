#include <coronet/listener.hpp>

#include "acceptor_set.hpp"

#include <asio/steady_timer.hpp>

#include <array>

#include <poll.h>

namespace coronet {

namespace {

using asio::ip::tcp;
using coronet::detail::use_nothrow;

constexpr std::string_view h2_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

}  // namespace

struct detail::listener_state {
  listener_state(http::server& h, listener_options o) : http(h), options(o) {}
  http::server& http;
  listener_options options;
  listener::socket_handler http2;
  acceptor_set acceptors;
};

namespace {

// Whether the peer has shut down its sending side, or the connection has failed.
bool peer_closed(tcp::socket& socket) {
  pollfd p{socket.native_handle(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

// Peeks (MSG_PEEK: nothing is consumed) until the bytes either match the whole HTTP/2
// preface or differ from it; usually one peek, since "GET " or "POST" differ at once.
asio::awaitable<void> sniff(std::shared_ptr<detail::listener_state> s, tcp::socket socket) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex, s->options.sniff_timeout);
  bool expired = false;
  timer.async_wait([&](const std::error_code& ec) {
    if (ec) return;
    expired = true;
    std::error_code ignored;
    socket.cancel(ignored);
  });
  std::array<char, h2_preface.size()> head{};
  std::size_t seen = 0;  // bytes peeked so far
  bool watermark_raised = false;
  bool http2 = false;
  for (;;) {
    auto [ec, n] = co_await socket.async_receive(asio::buffer(head), tcp::socket::message_peek, use_nothrow);
    if (ec || expired || n == 0) {
      timer.cancel();
      co_return;  // closed, reset or too slow before saying anything useful
    }
    if (n > seen) {
      seen = n;
      const std::string_view seen_bytes(head.data(), n);
      if (seen_bytes != h2_preface.substr(0, n)) break;  // HTTP/1.1 (or garbage the server rejects)
      if (n == h2_preface.size()) {
        http2 = true;
        break;
      }
      // A prefix of the preface: wait for more bytes. Each wait re-arms the socket's epoll
      // registration, which reports the bytes already queued at once; a receive low
      // watermark of one byte more makes the socket readable only when a new byte has come
      // (or at FIN or an error). Without it this loop would spin until sniff_timeout.
      std::error_code lec;
      socket.set_option(asio::socket_base::receive_low_watermark(static_cast<int>(n + 1)), lec);
      if (lec) {
        timer.cancel();
        co_return;
      }
      watermark_raised = true;
    } else if (peer_closed(socket)) {
      // Nothing new, and nothing more will come: a FIN (or an error) after part of the
      // preface. Otherwise the wake-up was the readiness reported before the watermark.
      timer.cancel();
      co_return;
    }
    auto [wec] = co_await socket.async_wait(tcp::socket::wait_read, use_nothrow);
    if (wec || expired) {
      timer.cancel();
      co_return;
    }
  }
  timer.cancel();
  if (watermark_raised) {
    std::error_code ignored;  // the default, for the server that takes the socket over
    socket.set_option(asio::socket_base::receive_low_watermark(1), ignored);
  }
  if (http2) {
    if (s->http2) s->http2(std::move(socket));
    co_return;  // without a handler the socket closes here
  }
  s->http.adopt(std::move(socket));
}

}  // namespace

listener::listener(runtime& rt, http::server& http, listener_options options)
    : runtime_(rt), state_(std::make_shared<detail::listener_state>(http, options)) {
  stop_hook_ = rt.add_stop_hook([this]() -> asio::awaitable<void> {
    close();
    co_return;
  });
}

listener::~listener() {
  runtime_.remove_stop_hook(stop_hook_);
  close();
}

void listener::on_http2(socket_handler handler) { state_->http2 = std::move(handler); }

void listener::listen(std::string_view host, std::uint16_t port) {
  // The accept loops must not keep the state alive: it owns them.
  state_->acceptors.listen(runtime_, host, port, state_->options.backlog,
                           [weak = std::weak_ptr(state_)](std::size_t, tcp::socket socket) {
                             const auto s = weak.lock();
                             if (!s) return;
                             std::error_code ignored;
                             socket.set_option(tcp::no_delay(true), ignored);
                             const auto ex = socket.get_executor();
                             asio::co_spawn(ex, sniff(s, std::move(socket)), asio::detached);
                           });
}

std::uint16_t listener::port() const noexcept { return state_->acceptors.port(); }

void listener::close() { state_->acceptors.close(); }

}  // namespace coronet
