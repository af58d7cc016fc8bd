// hello_fleet: one instance of a fleet, and a client that spreads its calls over several.
//
//     hello_fleet serve [PORT]            HTTP/1.1 and gRPC on 127.0.0.1:PORT (0: any free
//                                         port), printed as "listening on 127.0.0.1:PORT"
//     hello_fleet call TARGET NAME COUNT  COUNT SayHello calls over a balanced channel, e.g.
//                                         TARGET = ipv4:127.0.0.1:8080,127.0.0.1:8081
//
// The instance has what running behind a load balancer asks for (docs/deploy.md): metrics at
// GET /metrics, hooks that tag every answer with a request id, a middleware that guards /api
// with a token, the same token check on gRPC, and shutdown settings under which SIGTERM loses no
// request. `call` prints how many calls each instance answered (its "x-instance" metadata).
#include <coronet/coronet.hpp>

#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <unistd.h>

namespace http = coronet::http;
namespace rpc = coronet::rpc;
using namespace std::chrono_literals;

namespace {

const std::string instance = std::to_string(getpid());

// snippet-begin http_middleware
// Answers 401 without reaching the handler unless the request carries the token.
http::middleware require_token() {
  return [](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
    if (req.headers.get("authorization") != "Bearer hello") {
      co_return http::response::text("Unauthorized\n", http::status::unauthorized);
    }
    co_return co_await next(req);
  };
}
// snippet-end http_middleware

// snippet-begin http_hooks
// Gives every request an id (the client's, or a new one) on the way in, and tags its answer,
// 404s included, with it on the way out: no suspension, so hooks rather than a middleware.
std::optional<http::response> ensure_request_id(http::request& req) {
  static std::atomic<unsigned long> counter{0};
  if (!req.headers.get("x-request-id")) {
    req.headers.set("X-Request-Id", instance + "-" + std::to_string(++counter));
  }
  return std::nullopt;  // go on
}

void tag_request_id(const http::request& req, http::response& res) {
  res.headers.set("X-Request-Id", *req.headers.get("x-request-id"));
}
// snippet-end http_hooks

// snippet-begin grpc_middleware
// The same check for gRPC, on every method of every coroutine service of the server.
rpc::middleware require_grpc_token() {
  return [](rpc::call_info& call, rpc::next_handler next) -> asio::awaitable<grpc::Status> {
    if (call.context.metadata("authorization") != "Bearer hello") {
      co_return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no or wrong token");
    }
    call.context.add_header("x-instance", instance);
    co_return co_await next();
  };
}
// snippet-end grpc_middleware

int serve(std::uint16_t port) {
  coronet::runtime rt;
  http::router routes;
  // snippet-begin routes_with_middleware
  routes.before(ensure_request_id).after(tag_request_id);  // every request, 404 and 405 too
  routes.get("/", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("Hello, World!");
  });
  auto api = routes.group("/api");
  api.use(require_token());  // inside the hooks, before the handlers of /api
  api.get("/hello/{name}", [](http::request& req) -> asio::awaitable<http::response> {
    co_return http::response::text("Hello, " + std::string(req.param("name")));
  });
  // snippet-end routes_with_middleware
  // snippet-begin metrics
  coronet::metrics metrics;  // outlives the servers that count into it
  metrics.track(rt);         // coronet_io_threads
  routes.get("/metrics", metrics.endpoint());
  // snippet-end metrics

  rpc::service<HelloWorld> greeter;
  greeter.handle<hello_world::say_hello>(
      [](coronet::rpc::context&, const Greeting& request,
         Greeting& reply) -> asio::awaitable<grpc::Status> {
        reply.set_message("Hello, " + request.message());
        co_return grpc::Status::OK;
      },
      {.inline_start = true});
  // snippet-begin fleet_options
  // Behind nginx (docs/deploy.md): nginx closes idle upstream connections after 2-3 s, so
  // on SIGTERM idle ones are left to it for 4 s, and a request racing coronet's close is
  // impossible. Long-lived gRPC clients reconnect every 5 minutes and so find new instances.
  http::server web(rt, std::move(routes), {.drain_idle_grace = 4s, .metrics = &metrics});
  rpc::server grpc(rt, {.max_connection_age = 5min,
                        .drain_timeout = 10s,
                        .shutdown_notice = 200ms,
                        .metrics = &metrics});
  grpc.use(require_grpc_token());
  grpc.add(greeter);
  grpc.start();
  coronet::listener shared_port(rt, web, {.http2_drain_grace = 4s});
  shared_port.on_http2([&grpc](asio::ip::tcp::socket s) { grpc.adopt(std::move(s)); });
  shared_port.listen("127.0.0.1", port);
  // snippet-end fleet_options
  std::cout << "listening on 127.0.0.1:" << shared_port.port() << std::endl;
  rt.run();  // SIGTERM: stop accepting, the graces, drain, return
  return 0;
}

int call(const std::string& target, const std::string& name, int count) {
  coronet::runtime rt({.threads = 1});
  // snippet-begin balanced_channel
  // round_robin over every address of the target; a call that meets an instance going away
  // (UNAVAILABLE) is retried on another.
  auto channel = rpc::balanced_channel(target, {.wait_for_ready = true});
  auto stub = HelloWorld::NewStub(channel);
  // snippet-end balanced_channel
  int failed = 0;
  std::map<std::string, int> answered;
  asio::co_spawn(
      rt.next_executor(),
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < count; ++i) {
          Greeting request;
          request.set_message(name);
          grpc::ClientContext ctx;
          ctx.AddMetadata("authorization", "Bearer hello");
          ctx.set_deadline(std::chrono::system_clock::now() + 5s);
          auto [status, reply] = co_await rpc::call(&HelloWorld::Stub::async::SayHello, *stub, ctx, request);
          if (!status.ok() || reply.message() != "Hello, " + name) {
            std::cerr << "call failed: " << status.error_message() << "\n";
            ++failed;
            continue;
          }
          const auto& md = ctx.GetServerInitialMetadata();
          const auto it = md.find("x-instance");
          ++answered[it == md.end() ? "?" : std::string(it->second.data(), it->second.size())];
        }
        rt.stop();
      },
      asio::detached);
  rt.run();
  for (const auto& [who, n] : answered) std::cout << who << " " << n << "\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "serve") return serve(argc > 2 ? static_cast<std::uint16_t>(std::stoul(argv[2])) : 0);
  if (mode == "call" && argc == 5) return call(argv[2], argv[3], std::stoi(argv[4]));
  std::cerr << "usage: hello_fleet serve [PORT] | hello_fleet call TARGET NAME COUNT\n";
  return 2;
}
