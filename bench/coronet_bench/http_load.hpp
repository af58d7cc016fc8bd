// HTTP/1.1 load: coronet's http::client over keep-alive connections, and raw sockets for
// pipelining (http::client never puts a second request on a busy connection).
#pragma once

#include "load.hpp"

namespace coronet_bench {

/// GET / through http::client, one pooled connection per request in flight.
measurement run_http_get(const run_spec& spec, const server_link& server);
/// The Greeting as an application/proto POST through http::client.
measurement run_http_rpc(const run_spec& spec, const server_link& server);
/// `connections` raw sockets, each with concurrency / connections requests on the wire.
measurement run_http_pipelined(const run_spec& spec, const server_link& server);

}  // namespace coronet_bench
