#include "server_state.hpp"

#include <coronet/tls.hpp>

#include <asio/post.hpp>

#include <system_error>

namespace coronet::http {

server::server(runtime& rt, router routes, server_options options)
    : runtime_(rt), state_(std::make_shared<detail::server_state>(std::move(routes), std::move(options))) {
  for (std::size_t i = 0; i < rt.size(); ++i) {
    state_->workers.push_back(std::make_unique<detail::worker>(rt.context(i)));
  }
  stop_hook_ = rt.add_stop_hook([this]() -> asio::awaitable<void> { co_await shutdown(); });
}

server::~server() {
  runtime_.remove_stop_hook(stop_hook_);
  state_->draining = true;
  state_->acceptors.close();
  state_->tls_acceptors.close();
  for (auto& w : state_->workers) {
    asio::post(w->ctx, [s = state_, &w = *w] { detail::close_connections(w); });
  }
}

void server::listen(std::string_view host, std::uint16_t port) {
  // The accept loops must not keep the state alive: it owns them.
  state_->acceptors.listen(runtime_, host, port, state_->options.backlog,
                           [weak = std::weak_ptr(state_)](std::size_t index, asio::ip::tcp::socket socket) {
                             const auto s = weak.lock();
                             if (!s || s->draining.load(std::memory_order_relaxed)) return;
                             detail::start_connection(s, *s->workers[index], std::move(socket), {});
                           });
}

std::uint16_t server::port() const noexcept { return state_->acceptors.port(); }

void server::listen_tls(std::string_view host, std::uint16_t port, const tls::server_context& tls) {
#if CORONET_HAS_TLS
  state_->tls = tls.shared();
  state_->tls_acceptors.listen(runtime_, host, port, state_->options.backlog,
                               [weak = std::weak_ptr(state_)](std::size_t index, asio::ip::tcp::socket socket) {
                                 const auto s = weak.lock();
                                 if (!s || s->draining.load(std::memory_order_relaxed)) return;
                                 detail::start_connection(s, *s->workers[index], std::move(socket), {}, true);
                               });
#else
  (void)host, (void)port, (void)tls;
  throw tls::error("http::server::listen_tls: coronet was built without TLS (OpenSSL)");
#endif
}

std::uint16_t server::tls_port() const noexcept { return state_->tls_acceptors.port(); }

std::size_t server::connections() const noexcept { return state_->live.load(); }

void server::adopt(asio::ip::tcp::socket socket, std::string_view preread) {
  auto& ctx = asio::query(socket.get_executor(), asio::execution::context);
  for (auto& w : state_->workers) {
    if (&w->ctx == &ctx) {
      asio::post(w->ctx, [s = state_, &w = *w, socket = std::move(socket),
                          data = std::string(preread)]() mutable {
        detail::start_connection(std::move(s), w, std::move(socket), data);
      });
      return;
    }
  }
  throw std::invalid_argument("http::server::adopt: the socket belongs to another io_context");
}

asio::awaitable<void> server::shutdown() { return shutdown(state_->options.drain_timeout); }

asio::awaitable<void> server::shutdown(std::chrono::milliseconds drain_timeout) {
  auto s = state_;
  s->draining = true;
  s->acceptors.close();
  s->tls_acceptors.close();
  for (auto& w : s->workers) {
    co_await asio::co_spawn(w->ctx, [&w = *w]() -> asio::awaitable<void> {
      detail::drain_connections(w);
      co_return;
    }, asio::use_awaitable);
  }
  // In-flight requests finish on their own; poll their count (only while shutting down).
  asio::steady_timer tick(co_await asio::this_coro::executor);
  const auto wait_until = [&](std::chrono::steady_clock::time_point deadline) -> asio::awaitable<void> {
    while (s->live.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      tick.expires_after(std::chrono::milliseconds(5));
      co_await tick.async_wait(coronet::detail::use_nothrow);
    }
  };
  co_await wait_until(std::chrono::steady_clock::now() + drain_timeout);
  if (s->live.load() == 0) co_return;
  for (auto& w : s->workers) {
    co_await asio::co_spawn(w->ctx, [&w = *w]() -> asio::awaitable<void> {
      detail::close_connections(w);
      co_return;
    }, asio::use_awaitable);
  }
  co_await wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(1));
}

}  // namespace coronet::http
