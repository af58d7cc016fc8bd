#include <coronet/listener.hpp>

#include "acceptor_set.hpp"

#include <asio/steady_timer.hpp>

#include <array>

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
  bool http2 = false;
  for (;;) {
    auto [ec, n] = co_await socket.async_receive(asio::buffer(head), tcp::socket::message_peek, use_nothrow);
    if (ec || expired || n == 0) {
      timer.cancel();
      co_return;  // closed, reset or too slow before saying anything useful
    }
    const std::string_view seen(head.data(), n);
    if (seen != h2_preface.substr(0, n)) break;  // HTTP/1.1 (or garbage the server rejects)
    if (n == h2_preface.size()) {
      http2 = true;
      break;
    }
    // A prefix of the preface: wait for more bytes to arrive, then look again.
    auto [wec] = co_await socket.async_wait(tcp::socket::wait_read, use_nothrow);
    if (wec || expired) {
      timer.cancel();
      co_return;
    }
  }
  timer.cancel();
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
