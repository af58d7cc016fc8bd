#include "server_state.hpp"

#include <asio/ip/address.hpp>
#include <asio/post.hpp>

#include <system_error>

namespace coronet::http {

namespace {

using asio::ip::tcp;
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

asio::awaitable<void> accept_loop(std::shared_ptr<detail::server_state> s, detail::worker& w) {
  for (;;) {
    auto [ec, socket] = co_await w.acceptor->async_accept(coronet::detail::use_nothrow);
    if (!w.acceptor->is_open() || s->draining.load(std::memory_order_relaxed)) co_return;
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors or buffers (EMFILE, ENFILE, ENOBUFS): pause instead of spinning a
      // core on an accept that keeps failing; connections closing meanwhile free what we need.
      asio::steady_timer pause(w.ctx, std::chrono::milliseconds(50));
      co_await pause.async_wait(coronet::detail::use_nothrow);
      continue;
    }
    detail::start_connection(s, w, std::move(socket), {});
  }
}

tcp::endpoint resolve(asio::io_context& ctx, std::string_view host, std::uint16_t port) {
  std::error_code ec;
  const auto address = asio::ip::make_address(std::string(host), ec);
  if (!ec) return {address, port};
  tcp::resolver resolver(ctx);
  const auto results = resolver.resolve(std::string(host), std::to_string(port));
  return *results.begin();  // resolve() throws when there is none
}

}  // namespace

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
  for (auto& w : state_->workers) {
    asio::post(w->ctx, [s = state_, &w = *w] {
      std::error_code ignored;
      if (w.acceptor) w.acceptor->close(ignored);
      detail::close_connections(w);
    });
  }
}

void server::listen(std::string_view host, std::uint16_t port) {
  auto endpoint = resolve(*&state_->workers.front()->ctx, host, port);
  if (endpoint.port() != 0) {
    // SO_REUSEPORT would let us share a port another server already listens on; a plain
    // bind first makes that an error, as users expect.
    tcp::acceptor probe(state_->workers.front()->ctx);
    probe.open(endpoint.protocol());
    probe.set_option(tcp::acceptor::reuse_address(true));
    probe.bind(endpoint);
  }
  for (auto& w : state_->workers) {
    w->acceptor.emplace(w->ctx);
    w->acceptor->open(endpoint.protocol());
    w->acceptor->set_option(tcp::acceptor::reuse_address(true));
    w->acceptor->set_option(reuse_port(true));
    w->acceptor->bind(endpoint);
    w->acceptor->listen(state_->options.backlog);
    endpoint.port(w->acceptor->local_endpoint().port());  // port 0: the rest join the chosen one
  }
  state_->port = endpoint.port();
  for (auto& w : state_->workers) {
    asio::co_spawn(w->ctx, accept_loop(state_, *w), asio::detached);
  }
}

std::uint16_t server::port() const noexcept { return state_->port; }

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
  for (auto& w : s->workers) {
    co_await asio::co_spawn(w->ctx, [&w = *w]() -> asio::awaitable<void> {
      std::error_code ignored;
      if (w.acceptor) w.acceptor->close(ignored);
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
