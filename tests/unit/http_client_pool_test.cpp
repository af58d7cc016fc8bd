// src/http/client_pool: how http::client lends, reuses, queues and expires connections. The
// connections are never connected: the pool's bookkeeping needs no socket.
#include "http/client_pool.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>

namespace http = coronet::http;
using namespace std::chrono_literals;
using http::detail::acquire;
using http::detail::client_state;
using http::detail::lease;
using clock_type = std::chrono::steady_clock;

namespace {

class client_pool : public ::testing::Test {
 protected:
  std::shared_ptr<client_state> make(http::client_options o = {}) {
    auto st = std::make_shared<client_state>(io.get_executor(), std::move(o));
    pool = &st->pool_for(*http::parse_url("http://pool.test:81/"));
    return st;
  }
  /// Runs `work` to completion on the test's io_context.
  template <class T>
  T run(asio::awaitable<T> work) {
    std::optional<T> out;
    asio::co_spawn(io, std::move(work), [&](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out = std::move(v);
    });
    io.restart();
    while (!out) io.run_one();  // not run(): a pooled connection's idle timer is pending work
    return *out;
  }
  void run_for(std::chrono::milliseconds t) {
    io.restart();
    io.run_for(t);
  }

  asio::io_context io;
  http::detail::host_pool* pool = nullptr;
};

TEST_F(client_pool, a_request_opens_a_connection_and_a_reusable_one_is_kept_for_the_next) {
  auto st = make();
  http::detail::client_connection* first = nullptr;
  {
    lease l(st, *pool);
    EXPECT_FALSE(run(acquire(l, clock_type::now() + 1s, false)));
    ASSERT_TRUE(l.conn);
    first = l.conn.get();
    EXPECT_EQ(pool->open, 1u);
    l.reusable = true;
  }
  EXPECT_EQ(pool->idle.size(), 1u);
  EXPECT_EQ(pool->open, 1u);
  lease again(st, *pool);
  EXPECT_FALSE(run(acquire(again, clock_type::now() + 1s, false)));
  EXPECT_EQ(again.conn.get(), first) << "the pooled connection is reused";
  EXPECT_TRUE(pool->idle.empty());
}

TEST_F(client_pool, a_connection_that_is_not_reusable_is_closed_and_frees_its_slot) {
  auto st = make();
  {
    lease l(st, *pool);
    EXPECT_FALSE(run(acquire(l, clock_type::now() + 1s, false)));
  }
  EXPECT_EQ(pool->open, 0u);
  EXPECT_TRUE(pool->idle.empty());
}

TEST_F(client_pool, a_pooled_connection_that_looks_closed_is_replaced) {
  auto st = make();
  {
    lease l(st, *pool);
    EXPECT_FALSE(run(acquire(l, clock_type::now() + 1s, false)));
    l.reusable = true;
  }
  lease l(st, *pool);
  // Not connected: the liveness check cannot see a live, quiet connection.
  EXPECT_FALSE(run(acquire(l, clock_type::now() + 1s, true)));
  EXPECT_FALSE(l.conn->reused) << "a new connection";
  EXPECT_EQ(pool->open, 1u);
}

TEST_F(client_pool, at_the_limit_a_request_waits_and_gets_the_released_connection) {
  auto st = make({.max_connections_per_host = 1});
  auto first = std::make_unique<lease>(st, *pool);
  EXPECT_FALSE(run(acquire(*first, clock_type::now() + 1s, false)));
  const auto* held = first->conn.get();

  lease second(st, *pool);
  std::optional<std::error_code> got;
  asio::co_spawn(io, acquire(second, clock_type::now() + 5s, false),
                 [&](std::exception_ptr, std::error_code ec) { got = ec; });
  run_for(20ms);
  EXPECT_FALSE(got) << "waits while the only connection is busy";
  EXPECT_EQ(pool->waiters.size(), 1u);

  first->reusable = true;
  first.reset();  // released: handed to the waiter, not pooled
  run_for(20ms);
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got);
  EXPECT_EQ(second.conn.get(), held);
  EXPECT_EQ(pool->open, 1u);
  EXPECT_TRUE(pool->waiters.empty());
}

TEST_F(client_pool, a_closed_connection_gives_its_slot_to_the_waiter) {
  auto st = make({.max_connections_per_host = 1});
  auto first = std::make_unique<lease>(st, *pool);
  EXPECT_FALSE(run(acquire(*first, clock_type::now() + 1s, false)));
  lease second(st, *pool);
  std::optional<std::error_code> got;
  asio::co_spawn(io, acquire(second, clock_type::now() + 5s, false),
                 [&](std::exception_ptr, std::error_code ec) { got = ec; });
  run_for(10ms);
  first.reset();  // not reusable: closed, its slot granted
  run_for(10ms);
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got);
  ASSERT_TRUE(second.conn);
  EXPECT_FALSE(second.conn->reused) << "a new connection (the closed one may share its address)";
  EXPECT_EQ(pool->open, 1u);
}

TEST_F(client_pool, a_waiter_whose_deadline_passes_gets_timeout_and_leaves_the_queue) {
  auto st = make({.max_connections_per_host = 1});
  lease first(st, *pool);
  EXPECT_FALSE(run(acquire(first, clock_type::now() + 1s, false)));
  lease second(st, *pool);
  EXPECT_EQ(run(acquire(second, clock_type::now() + 30ms, false)), http::client_errc::timeout);
  EXPECT_TRUE(pool->waiters.empty());
  EXPECT_FALSE(second.conn);
}

TEST_F(client_pool, an_idle_connection_expires_after_idle_timeout) {
  auto st = make({.idle_timeout = 20ms});
  {
    lease l(st, *pool);
    EXPECT_FALSE(run(acquire(l, clock_type::now() + 1s, false)));
    l.reusable = true;
  }
  EXPECT_EQ(pool->idle.size(), 1u);
  run_for(100ms);
  EXPECT_TRUE(pool->idle.empty());
  EXPECT_EQ(pool->open, 0u);
}

TEST_F(client_pool, close_idle_closes_only_the_idle_connections) {
  auto st = make();
  lease busy(st, *pool);
  EXPECT_FALSE(run(acquire(busy, clock_type::now() + 1s, false)));
  {
    lease l(st, *pool);
    EXPECT_FALSE(run(acquire(l, clock_type::now() + 1s, false)));
    l.reusable = true;
  }
  EXPECT_EQ(pool->open, 2u);
  st->close_idle();
  EXPECT_TRUE(pool->idle.empty());
  EXPECT_EQ(pool->open, 1u);
  EXPECT_TRUE(busy.conn);
}

TEST_F(client_pool, a_closed_client_pools_nothing) {
  auto st = make();
  {
    lease l(st, *pool);
    EXPECT_FALSE(run(acquire(l, clock_type::now() + 1s, false)));
    l.reusable = true;
    st->closed = true;
  }
  EXPECT_TRUE(pool->idle.empty());
  EXPECT_EQ(pool->open, 0u);
}

}  // namespace
