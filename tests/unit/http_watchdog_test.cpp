// src/http/watchdog.hpp: every HTTP timeout, server and client, is one watchdog deadline
// counted from the kernel's coarse clock. A timeout may end two ticks late, never early.
#include "http/watchdog.hpp"

#include <asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <thread>

namespace {

using namespace std::chrono_literals;
using coronet::http::detail::coarse_now;
using clock_type = std::chrono::steady_clock;

TEST(coarse_now, is_never_before_the_fine_clock_and_at_most_two_ticks_after_it) {
  for (int i = 0; i < 2000; ++i) {
    const auto before = clock_type::now();
    const auto coarse = coarse_now();
    const auto after = clock_type::now();
    ASSERT_GE(coarse, before) << "round " << i;
    // A tick is 1-10 ms (CONFIG_HZ 1000 to 100).
    ASSERT_LE(coarse - after, 20ms) << "round " << i;
    if (i % 100 == 0) std::this_thread::sleep_for(300us);
  }
}

struct owner : std::enable_shared_from_this<owner> {
  explicit owner(asio::io_context& io) : dog(io.get_executor(), *this) {}
  void on_deadline() { fired = clock_type::now(); }
  coronet::http::detail::watchdog<owner> dog;
  std::optional<clock_type::time_point> fired;
};

TEST(watchdog, a_timeout_never_ends_early) {
  asio::io_context io;
  for (const auto t : {5ms, 30ms, 120ms}) {
    auto o = std::make_shared<owner>(io);
    const auto set = clock_type::now();
    o->dog.expires_after(t);
    io.restart();
    io.run_for(t + 2s);
    ASSERT_TRUE(o->fired.has_value()) << t.count() << " ms";
    EXPECT_GE(*o->fired - set, t);
  }
}

TEST(watchdog, a_later_deadline_replaces_an_earlier_one_and_disarm_stops_it) {
  asio::io_context io;
  auto o = std::make_shared<owner>(io);
  const auto set = clock_type::now();
  o->dog.expires_after(10ms);
  o->dog.expires_after(80ms);  // a store: the timer armed for 10 ms sleeps again
  io.run_for(2s);
  ASSERT_TRUE(o->fired.has_value());
  EXPECT_GE(*o->fired - set, 80ms);

  auto quiet = std::make_shared<owner>(io);
  quiet->dog.expires_after(10ms);
  quiet->dog.disarm();
  io.restart();
  io.run_for(100ms);
  EXPECT_FALSE(quiet->fired.has_value());
}

}  // namespace
