// Counting an rpc::server's calls into a coronet::metrics: a grpc++ server interceptor, so
// every call the server takes is counted, whatever serves it (coroutine services, health,
// reflection, a raw grpc::Service, connections adopted from a coronet::listener).
#pragma once

#include "metrics/state.hpp"

#include <grpcpp/support/server_interceptor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace coronet::rpc::detail {

struct metrics_hook {
  /// Counts every call of the server it is given to.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> factory;
  /// Call with the names of the services the server advertises, before it starts. Their
  /// methods (from the protobuf descriptors compiled in) are counted by name; a call to any
  /// other (which gRPC answers UNIMPLEMENTED) under grpc_service and grpc_method "unknown",
  /// so a client cannot grow the label values.
  std::function<void(const std::vector<std::string>&)> learn;
};
metrics_hook metrics_interceptor(std::shared_ptr<coronet::detail::metrics_state> state);

}  // namespace coronet::rpc::detail
