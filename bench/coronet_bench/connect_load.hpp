// Connect and gRPC-Web unary load on HTTP/1.1: the greeter the gRPC rows call, served from
// the same service object by connect::mount in the server process, one keep-alive
// connection per call in flight (as the http-rpc rows).
#pragma once

#include "load.hpp"

namespace coronet_bench {

/// SayHello through connect::call (client connect-call): transport connect-proto
/// (application/proto) or connect-json (application/json).
measurement run_connect_unary(const run_spec& spec, const server_link& server);
/// The same requests as run_connect_unary, built once and sent through http::client, the
/// reply compared with the bytes expected: no per-call work on the load side beyond what
/// the http-rpc and grpc-web rows do, so the server sees the same pace of requests.
measurement run_connect_raw(const run_spec& spec, const server_link& server);
/// SayHello as gRPC-Web: a POST of the enveloped Greeting through http::client, the reply's
/// message frame and trailer frame (grpc-status 0) checked.
measurement run_grpc_web(const run_spec& spec, const server_link& server);

}  // namespace coronet_bench
