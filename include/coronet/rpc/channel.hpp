// coronet::rpc::balanced_channel — one channel that spreads calls over every server a name
// or an address list gives.
//
// gRPC balances on the client: the channel resolves its target to addresses, keeps a
// connection to each (round_robin) and sends each call to the next ready one. A server that
// stops drops out of the rotation and one that comes back rejoins it; a call caught on a
// connection that went away is retried on another (the retry policy below). The target is
// anything gRPC resolves:
//
//     "dns:///orders.internal:50051"                 every A/AAAA record, re-resolved when
//                                                    a connection fails (at most every 30 s)
//     "ipv4:10.0.0.1:50051,10.0.0.2:50051"           a fixed list
//     "ipv6:[::1]:50051,[::1]:50052"
//
//     auto channel = coronet::rpc::balanced_channel("dns:///orders.internal:50051");
//     auto stub = Orders::NewStub(channel);         // calls as usual (client.hpp)
//
// A server behind one long-lived channel sees its share only of the connections opened
// while it was up: set rpc::server_options::max_connection_age on the servers so clients
// reconnect, and re-resolve, now and then. TLS: fill `tls` (tls.hpp's channel_tls).
#pragma once

#include <coronet/rpc/tls.hpp>

#include <grpcpp/channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace coronet::rpc {

struct channel_options {
  /// gRPC's load-balancing policy: "round_robin" (the default) connects to every address
  /// and sends each call to the next ready connection; "pick_first" (gRPC's own default)
  /// sends every call over one connection, to the first address that accepts.
  std::string load_balancing_policy = "round_robin";
  /// Attempts per call, the first included, while attempts fail with UNAVAILABLE (a server
  /// that stopped or went away mid-call), each on the next ready connection after a short
  /// back-off (0.1 s, doubling, at most 1 s). Beware: a call cut off after its server got it
  /// runs again, so say 1 (no retries) for methods that must not run twice. gRPC caps it
  /// at 5; default 3. Calls that never left the client are retried by gRPC regardless.
  int max_attempts = 3;
  /// false (the default, as gRPC): while no server is reachable at all, a call fails at
  /// once with UNAVAILABLE. true: it waits for one until its deadline, e.g. through a
  /// rolling restart of every server; then give every call a deadline.
  bool wait_for_ready = false;
  /// Set: every connection watches this service's grpc.health.v1 status ("" is the whole
  /// server; health.hpp) and takes no calls while it is not SERVING. That is how a server
  /// leaves the rotation before it stops: it turns NOT_SERVING, waits a moment, then shuts
  /// down; without it a call sent in the instant the server stops may fail with CANCELLED
  /// (gRPC's server drops calls that reach it after its shutdown began). A server without
  /// the health service counts as healthy. Unset (the default): no health checks.
  std::optional<std::string> health_check_service = std::nullopt;
  /// false (the default): channels with equal options share their connections (gRPC's
  /// process-wide subchannel pool), so N channels to one server are one connection. true:
  /// this channel connects on its own, e.g. N channels in one process as N connections
  /// spread over more server threads, or a test that counts connections.
  bool local_subchannel_pool = false;
  /// > 0: the longest wait between attempts to reconnect to a server that went away, i.e.
  /// how late at worst a restarted server rejoins the rotation. 0: gRPC's 120 s (its
  /// back-off starts at 1 s and grows by 1.6 each attempt).
  std::chrono::milliseconds max_reconnect_backoff{0};
  /// > 0: a connection without traffic for this long is pinged; one whose ping is not
  /// answered within keepalive_timeout is closed, and its calls fail over. Finds servers
  /// that vanished without closing (a host gone, a dropped NAT entry). A gRPC server
  /// answers pings more often than every 5 minutes with a GOAWAY ("too_many_pings") unless
  /// it allows them (GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS in its
  /// server_options::channel_args). 0 (the default): no pings.
  std::chrono::milliseconds keepalive_time{0};
  /// With keepalive_time: how long a ping may go unanswered. 0: gRPC's 20 s.
  std::chrono::milliseconds keepalive_timeout{0};
  /// Set: the channel speaks TLS as tls.hpp's secure_channel() does (it reads the files
  /// now and throws as it says). With an address list, set target_name_override to the
  /// name the servers' certificates carry. Unset (the default): cleartext.
  std::optional<channel_tls> tls = std::nullopt;
  /// Further channel arguments (GRPC_ARG_*). One set here wins over what the fields above
  /// would set: e.g. a service config of your own (GRPC_ARG_SERVICE_CONFIG) replaces the
  /// one they make (policy, retries, wait-for-ready, health checks) as a whole.
  grpc::ChannelArguments args = {};
};

/// A channel to `target` ("dns:///host:port", "ipv4:a:p,b:q", "ipv6:[a]:p,[b]:q", or any
/// other target gRPC resolves) balancing its calls as `options` say. Throws
/// std::invalid_argument for an empty target, a max_attempts below 1, or a policy or
/// health-checked service name that could not be one; with `tls`, what secure_channel()
/// throws. A target that resolves to nothing fails calls with UNAVAILABLE.
std::shared_ptr<grpc::Channel> balanced_channel(std::string_view target,
                                                const channel_options& options = {});

}  // namespace coronet::rpc
