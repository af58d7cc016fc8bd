#include "server_state.hpp"

#include <coronet/tls.hpp>

#include <asio/post.hpp>

#include <system_error>

namespace coronet::http {

namespace {

using state_ptr = std::shared_ptr<detail::server_state>;

// The steps of a graceful shutdown. A runtime stop runs them in its stages (every port of
// the process stops accepting before any server drains); shutdown() runs them in a row.

// From now on every answer carries `Connection: close` and a connection closes after it;
// the listening ports close once the connections already queued in them are taken.
asio::awaitable<void> stop_accepting(state_ptr s) {
  s->draining = true;
  co_await s->acceptors.close_drained();
  co_await s->tls_acceptors.close_drained();
}

// Waits until every connection has closed, or until `deadline`.
asio::awaitable<void> wait_closed(const state_ptr& s, std::chrono::steady_clock::time_point deadline) {
  // Connections end on their own threads; poll their count (only while shutting down).
  asio::steady_timer tick(co_await asio::this_coro::executor);
  while (s->live.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(5));
    co_await tick.async_wait(coronet::detail::use_nothrow);
  }
}

// drain_idle_grace: idle keep-alive connections stay open, so that a client holding them in
// a pool (a reverse proxy) closes them itself, between two requests, instead of having one
// closed under a request it is sending. A request that arrives meanwhile is served with
// `Connection: close` (the connection then closes after its answer).
asio::awaitable<void> idle_grace(state_ptr s) {
  const auto grace = s->options.drain_idle_grace;
  if (grace.count() > 0) co_await wait_closed(s, std::chrono::steady_clock::now() + grace);
}

// Idle connections close now, busy ones after their answer; those left after drain_timeout
// are closed.
asio::awaitable<void> drain(state_ptr s, std::chrono::milliseconds drain_timeout) {
  for (auto& w : s->workers) {
    co_await asio::co_spawn(w->ctx, [&w = *w]() -> asio::awaitable<void> {
      detail::drain_connections(w);
      co_return;
    }, asio::use_awaitable);
  }
  co_await wait_closed(s, std::chrono::steady_clock::now() + drain_timeout);
  if (s->live.load() == 0) co_return;
  for (auto& w : s->workers) {
    co_await asio::co_spawn(w->ctx, [&w = *w]() -> asio::awaitable<void> {
      detail::close_connections(w);
      co_return;
    }, asio::use_awaitable);
  }
  co_await wait_closed(s, std::chrono::steady_clock::now() + std::chrono::seconds(1));
}

}  // namespace

server::server(runtime& rt, router routes, server_options options)
    : runtime_(rt), state_(std::make_shared<detail::server_state>(std::move(routes), std::move(options))) {
  for (std::size_t i = 0; i < rt.size(); ++i) {
    state_->workers.push_back(std::make_unique<detail::worker>(rt.context(i)));
  }
  stop_hook_ = rt.add_stop_hooks({
      {stop_stage::stop_accepting, [s = state_] { return stop_accepting(s); }},
      {stop_stage::lame_duck, [s = state_] { return idle_grace(s); }},
      {stop_stage::drain, [s = state_] { return drain(s, s->options.drain_timeout); }},
  });
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
  // The accept loops must not keep the state alive: it owns them. While draining, the
  // connections the closing acceptors still take are served too (with `Connection: close`).
  state_->acceptors.listen(runtime_, host, port, state_->options.backlog,
                           [weak = std::weak_ptr(state_)](std::size_t index, asio::ip::tcp::socket socket) {
                             const auto s = weak.lock();
                             if (!s) return;
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
                                 if (!s) return;
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
  co_await stop_accepting(state_);
  co_await idle_grace(state_);
  co_await drain(state_, drain_timeout);
}

}  // namespace coronet::http
