// What stands behind coronet::rpc::health: the statuses by service name, and the Watch
// calls waiting for them to change (health_service.cpp serves both).
#pragma once

#include <coronet/rpc/health.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace coronet::rpc::detail {

/// One Watch call's wake-up. Its handler waits on `wake`, which never expires; a change of
/// status cancels the wait through the handler's executor, so only the handler's own thread
/// ever touches the timer.
struct health_watch {
  explicit health_watch(asio::any_io_executor executor) : wake(std::move(executor)) {}
  asio::steady_timer wake;
};

struct health_state {
  mutable std::mutex mutex;  // guards the members below
  std::map<std::string, serving_status, std::less<>> statuses;
  std::multimap<std::string, std::shared_ptr<health_watch>, std::less<>> watches;
  bool shut_down = false;

  /// With the mutex held: the status of `service` now.
  [[nodiscard]] serving_status status_locked(std::string_view service) const;
  /// With the mutex held: records `status` and wakes the watches of `service` if it changed.
  void set_locked(std::string_view service, serving_status status);
  /// Wakes one watch: posts the cancellation of its wait to its handler's executor. Called
  /// with the mutex held, so a handler that read the old status and has not yet begun to
  /// wait is woken all the same: the post runs only once it has suspended.
  static void wake(const std::shared_ptr<health_watch>& watch);
};

/// A Watch call's registration, for the lifetime of its handler; created and used on the
/// handler's executor.
class health_subscription {
 public:
  health_subscription(health_state& state, std::string service, asio::any_io_executor executor);
  health_subscription(const health_subscription&) = delete;
  health_subscription& operator=(const health_subscription&) = delete;
  ~health_subscription();

  /// The status to send now, and whether it is the last one (the server is shutting down).
  [[nodiscard]] std::pair<serving_status, bool> current() const;

  /// Completes once the status may have changed since current() (at times without a
  /// change), or when the call is cancelled. A change between current() and this await is
  /// not missed.
  asio::awaitable<void> changed();

 private:
  health_state& state_;
  std::string service_;
  std::shared_ptr<health_watch> watch_;
};

}  // namespace coronet::rpc::detail
