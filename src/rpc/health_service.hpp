// grpc.health.v1.Health, served from a coronet::rpc::health by coroutine handlers on
// coronet's own service API. Its descriptors come from proto/grpc/health/v1/health.proto, so
// server reflection can describe it (gRPC's default health service has none).
#pragma once

#include <coronet/rpc/health.hpp>
#include <coronet/rpc/service.hpp>

#include "grpc/health/v1/health.grpc.pb.h"

namespace coronet::rpc::detail {

class health_service {
 public:
  /// Serves `health`, which must outlive this service.
  explicit health_service(rpc::health& health);

  /// What the server registers.
  [[nodiscard]] service_binding& binding() noexcept { return service_; }

 private:
  rpc::service<grpc::health::v1::Health> service_;
};

}  // namespace coronet::rpc::detail
