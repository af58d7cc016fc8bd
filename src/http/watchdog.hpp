// One deadline per connection, kept by one timer: the server's connections and the client's
// both use it for every timeout they have (header, body, idle, write, connect, request).
//
// Moving the deadline later is a store; the timer is re-armed only when a deadline comes
// earlier than the one it is armed for. When the timer fires early (the deadline moved
// later meanwhile) it sleeps again until the new one. When the deadline passes, the owner's
// on_deadline() runs on the timer's executor. The timer's wait holds only a weak reference,
// so a pending deadline never keeps a finished connection alive.
//
// expires_after() counts from the kernel's coarse clock, which is read from memory: a
// keep-alive request sets two timeouts, and reading the fine clock (the TSC, behind a call
// into libstdc++) cost about 1.5% of such a request's CPU. The coarse clock is the time of
// the kernel's last tick (every 1-10 ms); a tickless kernel may let it lag a little over one
// (5.4 ms at 4 ms ticks, measured). Two ticks are added: a timeout ends up to two ticks
// late, not early.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <ctime>
#include <memory>
#include <system_error>

namespace coronet::http::detail {

/// A time no earlier than steady_clock::now() and up to two of the kernel's ticks (2-20 ms)
/// after it, for a third of its cost.
inline std::chrono::steady_clock::time_point coarse_now() noexcept {
#ifdef CLOCK_MONOTONIC_COARSE
  // steady_clock is CLOCK_MONOTONIC (libstdc++), whose last tick this is.
  static const std::chrono::nanoseconds tick = [] {
    timespec res{};
    if (::clock_getres(CLOCK_MONOTONIC_COARSE, &res) != 0) return std::chrono::nanoseconds(-1);
    return std::chrono::seconds(res.tv_sec) + std::chrono::nanoseconds(res.tv_nsec);
  }();
  timespec ts{};
  if (tick.count() >= 0 && ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0) {
    return std::chrono::steady_clock::time_point(std::chrono::seconds(ts.tv_sec) +
                                                 std::chrono::nanoseconds(ts.tv_nsec) + 2 * tick);
  }
#endif
  return std::chrono::steady_clock::now();
}

/// Owner: derives from std::enable_shared_from_this<Owner> and has `void on_deadline()`.
template <class Owner>
class watchdog {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr clock::time_point never = clock::time_point::max();

  watchdog(const asio::any_io_executor& ex, Owner& owner) : timer_(ex), owner_(owner) {}

  void expires_at(clock::time_point d) {
    deadline_ = d;
    if (d < armed_) {
      armed_ = d;
      timer_.expires_at(d);  // cancels the wait armed for later
      wait();
    }
  }
  void expires_after(clock::duration t) { expires_at(coarse_now() + t); }
  /// No deadline until the next expires_at(); the armed wait ends quietly.
  void disarm() noexcept { deadline_ = never; }
  /// Stops the timer for good (until the next expires_at()).
  void cancel() {
    deadline_ = never;
    armed_ = never;
    timer_.cancel();
  }
  [[nodiscard]] clock::time_point deadline() const noexcept { return deadline_; }

 private:
  void wait() {
    timer_.async_wait([this, owner = owner_.weak_from_this()](const std::error_code& ec) {
      if (ec) return;  // re-armed or cancelled
      if (const auto alive = owner.lock()) fire();
    });
  }
  void fire() {
    if (deadline_ == never) {
      armed_ = never;
      return;
    }
    if (clock::now() < deadline_) {
      // The deadline moved since this wait was armed: sleep until the new one.
      armed_ = deadline_;
      timer_.expires_at(deadline_);
      wait();
      return;
    }
    armed_ = never;
    deadline_ = never;
    owner_.on_deadline();
  }

  asio::steady_timer timer_;
  Owner& owner_;
  clock::time_point deadline_ = never;
  clock::time_point armed_ = never;
};

}  // namespace coronet::http::detail
