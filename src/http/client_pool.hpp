// The connection pool of http::client: per (host, port), the idle keep-alive connections
// (most recently used last), the count of open ones, and the requests waiting for one. A
// request borrows a connection through a lease, which gives it back (to a waiter first, then
// the pool) or closes it when the request ends. Everything runs on the client's executor.
#pragma once

#include "client_connection.hpp"

#include <coronet/http/client.hpp>

#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace coronet::http::detail {

/// Waits in a host_pool's queue for a connection (or a slot to open one).
struct pool_waiter {
  explicit pool_waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::shared_ptr<client_connection> handed;  // a released keep-alive connection
  bool granted = false;                       // a slot for a new connection
};

struct host_pool {
  client_state* owner = nullptr;
  /// https: the last resumable TLS session (an SSL_SESSION), offered to new connections.
  std::shared_ptr<void> tls_session;
  std::vector<std::shared_ptr<client_connection>> idle;  // most recently used last
  std::size_t open = 0;  // busy, idle and connecting connections
  std::deque<pool_waiter*> waiters;
};

struct client_state {
  client_state(asio::any_io_executor e, client_options o) : ex(std::move(e)), options(std::move(o)) {}

  host_pool& pool_for(const url& u);
  /// A new, unconnected connection for `p` (its slot is already counted).
  std::shared_ptr<client_connection> fresh(host_pool& p);
  /// A connection leaves use: to the first waiter, or back to the pool, or closed.
  void release(host_pool& p, std::shared_ptr<client_connection> c, bool reusable);
  /// A connection was closed: its slot goes to the first waiter, if any.
  void free_slot(host_pool& p);
  /// An idle connection's expiry passed: close it.
  void expire(client_connection& c);
  void close_idle();

  asio::any_io_executor ex;
  client_options options;
  std::map<std::tuple<bool, std::string, std::uint16_t>, host_pool> pools;  // node addresses are stable
  /// https: the SSL_CTX made from options.tls (client_tls.cpp), on the first https request
  /// unless options.tls names files, which are then loaded (and checked) by the constructor.
  std::shared_ptr<void> tls_context;
  bool closed = false;
};

/// A connection (or a slot for one) borrowed from a host_pool; given back on destruction.
struct lease {
  lease(std::shared_ptr<client_state> s, host_pool& p) : st(std::move(s)), pool(&p) {}
  lease(const lease&) = delete;
  lease& operator=(const lease&) = delete;
  ~lease();

  std::shared_ptr<client_state> st;
  host_pool* pool;
  std::shared_ptr<client_connection> conn;
  bool reusable = false;  // set by the request when the connection may carry another
};

/// Fills l.conn: an idle connection (checked with looks_alive when `check_alive`), or a new
/// one while the pool has room, or the first one released before `deadline`. Errors:
/// client_errc::timeout, client_errc::cancelled.
asio::awaitable<std::error_code> acquire(lease& l, std::chrono::steady_clock::time_point deadline,
                                         bool check_alive);

}  // namespace coronet::http::detail
