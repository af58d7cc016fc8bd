// coronet::rpc::server — a grpc::Server whose coroutine services run on a coronet::runtime.
//
// Owns the grpc::Server built from server_options and the services added to it, starts it,
// and drains it: shutdown() lets in-flight calls finish for the drain timeout and refuses
// new ones; a runtime stop (runtime::stop(), SIGINT, SIGTERM) does the same through a stop
// hook. Its lifecycle is http::server's: listen(host, port), port(), adopt(socket),
// shutdown(), drain_timeout in the options; only start() is its own, because gRPC binds
// its ports and services together. listen_tls() adds a TLS port (tls.hpp). health() is
// what the server's grpc.health.v1.Health reports (health.hpp).
//
//     coronet::runtime rt;
//     coronet::rpc::service<HelloWorld> greeter;
//     greeter.handle<hello_world::say_hello>(say_hello);
//     coronet::rpc::server server(rt);
//     server.add(greeter);
//     server.listen("127.0.0.1", 50051);
//     server.start();
//     rt.run();                                // Ctrl-C drains the server, then returns
//
// Destroy the server before its runtime, and while the runtime still runs or after it has
// drained the server: in-flight handlers need their io_context to finish.
#pragma once

#include <coronet/rpc/health.hpp>
#include <coronet/rpc/service.hpp>
#include <coronet/rpc/tls.hpp>
#include <coronet/runtime.hpp>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace grpc {
class Server;
class ServerBuilder;
class Service;
}  // namespace grpc

namespace coronet {
class metrics;  // coronet/metrics.hpp
}  // namespace coronet

namespace coronet::rpc {

namespace detail {
class health_service;  // src/rpc/health_service.hpp
}  // namespace detail

struct server_options {
  /// Largest message accepted from a client; larger ones fail with RESOURCE_EXHAUSTED.
  /// Default 4 MiB (gRPC's). -1: unlimited.
  int max_receive_message_bytes = 4 * 1024 * 1024;
  /// Largest message the server sends; -1 (gRPC's default): unlimited.
  int max_send_message_bytes = -1;
  /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection; 0 keeps gRPC's default
  /// (unlimited).
  int max_concurrent_streams = 0;
  /// Largest header list (request metadata) accepted, in bytes, counted as HPACK does (name
  /// + value + 32 per entry); a larger one fails the call. 0 keeps gRPC's default.
  int max_metadata_bytes = 0;
  /// A connection with no call in progress is closed (GOAWAY, then close) once it has been
  /// so for between one and two times this: a client that connects and never calls, or
  /// stopped calling, gives its descriptor back. This is the only timeout gRPC applies to
  /// connections handed over through adopt() (it runs no handshake timeout on them). A
  /// gRPC client reconnects on its next call. Default 5 min, so a client calling every
  /// few minutes keeps its connection; 0: never (gRPC's default). Any idle or age limit
  /// makes gRPC 1.51 run its max_age filter on every call: about 4,700 instructions of a
  /// unary call, 3-5% of its CPU (docs/grpc.md). Behind a proxy that bounds connections
  /// itself, 0 saves that.
  std::chrono::milliseconds max_connection_idle = std::chrono::minutes(5);
  /// A connection open this long (give or take 10%, so a fleet's clients do not all
  /// reconnect at once) is sent a GOAWAY: its client finishes the calls in progress and
  /// opens a new connection, which a load balancer may place on another instance. Without
  /// it, a long-lived client stays on the instances that were up when it connected. Applies
  /// to adopted connections too. 0 (default): no limit.
  std::chrono::milliseconds max_connection_age = std::chrono::milliseconds(0);
  /// After max_connection_age, how long calls in progress may still run before the
  /// connection is closed under them.
  std::chrono::milliseconds max_connection_age_grace = std::chrono::seconds(30);
  /// Serve grpc.health.v1.Health: Check and Watch answer what health() holds (health.hpp).
  /// false: no health service at all (gRPC's default one is never served either).
  bool health_service = true;
  /// Serve grpc.reflection.v1alpha.ServerReflection, which describes every service the
  /// server advertises. Decided per server.
  bool reflection = true;
  /// How long shutdown() (and so a runtime stop) lets in-flight calls run before they are
  /// cancelled.
  std::chrono::milliseconds drain_timeout = std::chrono::seconds(10);
  /// How long shutdown() keeps serving, with every health status NOT_SERVING, before it
  /// stops taking calls (within drain_timeout). Clients that check health (rpc::channel_options::
  /// health_check_service) move their calls to other servers meanwhile; without it a call
  /// that reaches the server in the instant gRPC's shutdown begins fails with CANCELLED.
  /// 0 (default): stop taking calls at once.
  std::chrono::milliseconds shutdown_notice = std::chrono::milliseconds(0);
  /// Where the server's calls are counted (coronet/metrics.hpp): calls started and finished
  /// by method and status, durations, stream messages. nullptr (default): not counted.
  coronet::metrics* metrics = nullptr;
  /// Further integer channel arguments (GRPC_ARG_* names), applied after the fields above.
  std::map<std::string, int> channel_args = {};
  /// Called last with the builder, for anything the fields above do not name: string
  /// channel arguments, a grpc::ResourceQuota, ServerBuilder options. docs/grpc.md lists
  /// which settings change the cost of a call.
  std::function<void(grpc::ServerBuilder&)> configure = {};
};

class server {
 public:
  /// Handlers of the services added later run on `rt`'s executors (round robin). Registers
  /// a stop hook: stopping the runtime drains this server for options.drain_timeout.
  explicit server(runtime& rt, server_options options = {});
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  /// Shuts down immediately (cancelling in-flight calls) if not yet shut down, and waits.
  ~server();

  /// Installs `m` around every method of the coroutine services added after it (outside
  /// each service's own middleware, rpc/middleware.hpp); not the health service. Before
  /// add(): throws std::logic_error once a coroutine service was added.
  server& use(middleware m);
  /// Registers a coroutine service; it must outlive the server. Before start().
  template <class Grpc>
  void add(rpc::service<Grpc>& service) {
    add_binding(service);
  }
  /// Registers any other grpc::Service (sync, callback or async); before start().
  void add(grpc::Service& service);

  /// Listens on host:port once start() runs (port 0 picks a free port; see port()). Before
  /// start(). A server that never listens is fed only through adopt().
  void listen(std::string_view host, std::uint16_t port);

  /// Listens with TLS on host:port once start() runs, beside any listen() port (port 0
  /// picks a free port; see tls_port()). Before start(). The files are read, and checked,
  /// by start(). adopt() stays cleartext (tls.hpp says why).
  void listen_tls(std::string_view host, std::uint16_t port, server_tls tls);

  /// Builds and starts the gRPC server. Throws std::runtime_error when an address cannot
  /// be bound, or when a TLS file cannot be read or holds no valid PEM (naming the file);
  /// std::invalid_argument when a listen_tls() names no certificate or no key. With the
  /// runtime's batch_scheduling, the calling thread runs under SCHED_BATCH meanwhile, so
  /// the threads gRPC starts now inherit it.
  void start();

  /// The bound port of the first listen() (after start()), 0 when there is none.
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// The bound port of the first listen_tls() (after start()), 0 when there is none.
  [[nodiscard]] std::uint16_t tls_port() const noexcept { return tls_port_; }
  /// The running grpc::Server (after start()), e.g. for grpc::AddInsecureChannelFromFd.
  [[nodiscard]] grpc::Server* native() const noexcept { return server_.get(); }

  /// The serving status per service that grpc.health.v1.Health reports (health.hpp); usable
  /// at any time, from any thread. Lives as long as the server.
  [[nodiscard]] rpc::health& health() noexcept { return health_; }

  /// Takes over an accepted cleartext HTTP/2 connection (its preface still unread), e.g.
  /// one a coronet::listener recognised on a port shared with HTTP/1.1. After start().
  void adopt(asio::ip::tcp::socket socket);

  /// Graceful shutdown: makes every health status NOT_SERVING and ends the health watches,
  /// stops accepting calls at once, lets in-flight calls finish for `drain_timeout`, then
  /// cancels those left. Completes when every call is finished. The blocking part runs on a
  /// thread of its own, so awaiting it from a handler's executor does not hold up the calls
  /// being drained. Later calls complete at once.
  asio::awaitable<void> shutdown(std::chrono::milliseconds drain_timeout);
  /// shutdown() with options.drain_timeout.
  asio::awaitable<void> shutdown();

  /// The blocking form of shutdown(); must not be called on one of the runtime's threads
  /// while calls are in flight (their handlers would wait for that thread).
  void shutdown_blocking(std::chrono::milliseconds drain_timeout);

 private:
  void add_binding(detail::service_binding& service);
  void bind(detail::service_binding& service);  // add() without the server's middleware

  runtime& runtime_;
  server_options options_;
  rpc::health health_;
  std::unique_ptr<detail::health_service> health_service_;  // outlives server_
  std::vector<grpc::Service*> services_;
  std::vector<detail::service_binding*> bindings_;  // the coroutine services among them
  std::vector<middleware> middleware_;
  bool added_ = false;  // a coroutine service was added: use() would not reach it
  std::vector<std::string> addresses_;
  std::vector<std::pair<std::string, server_tls>> tls_addresses_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  int tls_port_ = 0;
  std::size_t stop_hook_ = 0;
  std::once_flag shutdown_once_;
  std::vector<std::thread> shutdown_threads_;
  std::mutex threads_mutex_;
};

}  // namespace coronet::rpc
