// Counting an rpc::server's calls into a coronet::metrics. The calls of coronet's coroutine
// services are counted by their reactors (method_counter); every other call the server takes
// (reflection, a raw grpc::Service, a method no service has) by a grpc++ server interceptor,
// whose factory stands aside for the methods counted by reactors: an interceptor turns on
// grpc++'s interception machinery for its call, about a fifth more CPU for a unary call.
#pragma once

#include "metrics/state.hpp"

#include <coronet/rpc/detail/reactors.hpp>

#include <grpcpp/support/server_interceptor.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
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
  /// Where the reactors count the calls of method `name` ("/Service/Method") of `type` (in
  /// grpc_type_names' order); the interceptor then leaves that method's calls alone. Before
  /// the server starts; the counter lives as long as `factory`.
  std::function<method_counter*(std::string_view name, std::uint8_t type)> counter_for;
};
metrics_hook metrics_interceptor(std::shared_ptr<coronet::detail::metrics_state> state);

}  // namespace coronet::rpc::detail
