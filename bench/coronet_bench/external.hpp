// The external load generators: wrk for HTTP/1.1 and h2load for gRPC, run as rows of
// their own at a coronet-bench row's shape, with the server's CPU sampled over their window.
#pragma once

#include "load.hpp"

namespace coronet_bench {

/// wrk -t1 at the row's connections; a Lua script sends the Greeting POST for http-rpc and
/// pipelines concurrency / connections requests when that is over one.
measurement run_wrk(const run_spec& spec, const server_link& server);
/// h2load -t1 at the row's connections, concurrency / connections streams each, sending
/// SayHello with gRPC framing (grpc-status is not checked: h2load ignores trailers).
measurement run_h2load(const run_spec& spec, const server_link& server);

/// The external row that repeats `ours` at its shape, with its `external` tool as the client.
run_spec external_spec(const run_spec& ours);

}  // namespace coronet_bench
