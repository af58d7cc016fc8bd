// gRPC load: coronet's rpc::call and rpc::stream, and grpc++'s own completion-queue and
// callback clients, over one channel or several (each its own TCP connection).
#pragma once

#include "load.hpp"

namespace coronet_bench {

/// The port of the server `spec.transport` names: grpc-raw, grpc-hop, or coronet's
/// coroutine services (grpc).
int grpc_port_of(const run_spec& spec, const server_link& server);

/// SayHello through coronet's rpc::call, workers spread over `connections` channels.
measurement run_grpc_unary(const run_spec& spec, const server_link& server);
/// SayHello through grpc++'s completion-queue API on `threads` threads. Closed loop only.
measurement run_grpc_cq(const run_spec& spec, const server_link& server);
/// SayHello through grpc++'s callback API, without coronet. Closed loop only.
measurement run_grpc_callback(const run_spec& spec, const server_link& server);
/// Server streaming through rpc::stream: a row per message.
measurement run_grpc_server_stream(const run_spec& spec, const server_link& server);
/// Bidi ping-pong through rpc::stream: a row per round trip.
measurement run_grpc_bidi(const run_spec& spec, const server_link& server);

}  // namespace coronet_bench
