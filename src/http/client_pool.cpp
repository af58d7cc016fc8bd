#include "client_pool.hpp"

#include <algorithm>

namespace coronet::http::detail {

using clock = std::chrono::steady_clock;
using coronet::detail::use_nothrow;

host_pool& client_state::pool_for(const url& u) {
  auto& p = pools[{u.secure, u.host, u.port}];
  p.owner = this;
  return p;
}

std::shared_ptr<client_connection> client_state::fresh(host_pool& p) {
  return std::make_shared<client_connection>(ex, p, parse_limits{options.max_header_bytes, options.max_body_bytes});
}

void client_state::release(host_pool& p, std::shared_ptr<client_connection> c, bool reusable) {
  if (!reusable || closed) {
    c->close();
    free_slot(p);
    return;
  }
  c->reused = true;
  c->timed_out = false;
  if (!p.waiters.empty()) {
    auto* w = p.waiters.front();
    p.waiters.pop_front();
    w->handed = std::move(c);
    w->timer.cancel();
    return;
  }
  c->idle = true;
  c->watchdog.expires_after(options.idle_timeout);
  p.idle.push_back(std::move(c));
}

void client_state::free_slot(host_pool& p) {
  if (!p.waiters.empty()) {
    auto* w = p.waiters.front();
    p.waiters.pop_front();
    w->granted = true;
    w->timer.cancel();
    return;
  }
  --p.open;
}

void client_state::expire(client_connection& c) {
  auto& p = *c.pool;
  const auto it = std::find_if(p.idle.begin(), p.idle.end(), [&](const auto& x) { return x.get() == &c; });
  if (it == p.idle.end()) return;
  auto keep = std::move(*it);
  p.idle.erase(it);
  keep->close();
  free_slot(p);
}

void client_state::close_idle() {
  for (auto& [key, p] : pools) {
    while (!p.idle.empty()) {
      auto c = std::move(p.idle.back());
      p.idle.pop_back();
      c->close();
      free_slot(p);
    }
  }
}

void client_connection::on_deadline() {
  if (idle) {
    pool->owner->expire(*this);
    return;
  }
  timed_out = true;
  if (resolver) resolver->cancel();
  close();
}

lease::~lease() {
  if (conn) {
    conn->watchdog.disarm();
    st->release(*pool, std::move(conn), reusable);
  }
}

namespace {

struct waiter_guard {
  host_pool& pool;
  pool_waiter& w;
  ~waiter_guard() {
    const auto it = std::find(pool.waiters.begin(), pool.waiters.end(), &w);
    if (it != pool.waiters.end()) pool.waiters.erase(it);
  }
};

}  // namespace

asio::awaitable<std::error_code> acquire(lease& l, clock::time_point deadline, bool check_alive) {
  auto& pool = *l.pool;
  auto& st = *l.st;
  while (!pool.idle.empty()) {
    auto c = std::move(pool.idle.back());
    pool.idle.pop_back();
    c->idle = false;
    if (check_alive && !looks_alive(c->socket)) {
      c->close();
      st.free_slot(pool);
      continue;
    }
    l.conn = std::move(c);
    co_return std::error_code{};
  }
  if (pool.open < std::max<std::size_t>(st.options.max_connections_per_host, 1)) {
    ++pool.open;
    l.conn = st.fresh(pool);
    co_return std::error_code{};
  }
  pool_waiter w(st.ex);
  w.timer.expires_at(deadline);
  pool.waiters.push_back(&w);
  std::error_code ec;
  {
    waiter_guard guard{pool, w};
    std::tie(ec) = co_await w.timer.async_wait(use_nothrow);
  }
  if (w.handed || w.granted) {
    const bool handed = w.handed != nullptr;
    l.conn = handed ? std::move(w.handed) : st.fresh(pool);
    if (co_await cancelled()) {
      l.reusable = handed;  // a good connection goes back to the pool
      co_return client_errc::cancelled;
    }
    if (handed && check_alive && !looks_alive(l.conn->socket)) l.conn = st.fresh(pool);
    co_return std::error_code{};
  }
  if (!ec) co_return client_errc::timeout;  // the request's deadline passed while waiting
  co_return client_errc::cancelled;
}

}  // namespace coronet::http::detail
