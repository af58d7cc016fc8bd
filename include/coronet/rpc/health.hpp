// coronet::rpc::health — the serving status that grpc.health.v1.Health reports.
//
// Every rpc::server has one, server.health(). start() makes the whole server ("") and each
// service the server advertises SERVING, unless a status was set for it before; a service
// whose backend fails says so, and clients watching it (Health/Watch) see the change at once:
//
//     server.start();
//     server.health().set_serving("shop.v1.Cart", false);   // its database went away
//     ...
//     server.health().set_serving("shop.v1.Cart", true);    // back
//
// The server's shutdown() (and so a runtime stop) makes every status NOT_SERVING for good
// before it drains, and ends each Watch once it has sent that. Thread safe: set_serving may be
// called from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace coronet::rpc {

class server;

/// grpc.health.v1.HealthCheckResponse.ServingStatus, value for value.
enum class serving_status {
  unknown = 0,
  serving = 1,
  not_serving = 2,
  /// A name the server does not know: Watch streams it, Check answers NOT_FOUND.
  service_unknown = 3,
};

namespace detail {
struct health_state;  // defined in src/rpc/health_state.hpp
class health_service;
}  // namespace detail

class health {
 public:
  health();
  health(const health&) = delete;
  health& operator=(const health&) = delete;
  ~health();

  /// Sets the status of `service` (a full name, "package.Service"; "" is the whole server),
  /// which the server then knows if it did not, and tells its watchers. Ignored once the
  /// server has begun to shut down: every status stays NOT_SERVING.
  void set_serving(std::string_view service, bool serving);

  /// The status of `service` now: service_unknown for a name the server does not know.
  [[nodiscard]] serving_status status(std::string_view service) const;

 private:
  friend class server;
  friend class detail::health_service;

  /// Makes "" and each of `services` SERVING, where no status was set before (start()).
  void start(const std::vector<std::string>& services);
  /// Makes every status NOT_SERVING for good and ends the watches once they have sent it.
  void shut_down();

  std::unique_ptr<detail::health_state> state_;
};

}  // namespace coronet::rpc
