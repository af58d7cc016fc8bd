// The smallest embedding: an application that owns its io_context and adds one HTTP route
// and one gRPC method to it. coronet starts no thread of its own here.
//
//   coronet-embedding          serve until Ctrl-C
//   coronet-embedding --once   call both servers once, print the answers, exit
#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <coronet/coronet.hpp>
#include <coronet/rpc/client.hpp>
#include <coronet/rpc/server.hpp>
#include <coronet/rpc/service.hpp>

#include <asio/signal_set.hpp>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdio>
#include <string>

namespace http = coronet::http;
namespace rpc = coronet::rpc;

// Calls each server once through coronet's clients, then stops the runtime.
asio::awaitable<void> call_both(coronet::runtime& rt, std::uint16_t http_port, int grpc_port) {
  // Executor first, then the client: GCC 12 mishandles temporaries (here the default
  // client_options) in a full-expression that also contains co_await.
  const auto executor = co_await asio::this_coro::executor;
  http::client client(executor);
  auto res = co_await client.get("http://127.0.0.1:" + std::to_string(http_port) + "/");
  std::printf("http: %s\n", res ? res->body.c_str() : res.error().message().c_str());

  auto stub = HelloWorld::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port),
                                                      grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  Greeting greeting;
  greeting.set_message("embedding");
  auto [status, reply] = co_await rpc::call(&HelloWorld::Stub::async::SayHello, *stub, ctx, greeting);
  std::printf("grpc: %s\n", status.ok() ? reply.message().c_str() : status.error_message().c_str());
  rt.stop();
}

int main(int argc, char** argv) {
  asio::io_context io;        // the application's own context
  coronet::runtime rt(io);    // coronet runs on it

  http::router routes;
  routes.get("/", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("Hello from an embedded coronet");
  });
  http::server web(rt, std::move(routes));
  web.listen("127.0.0.1", 0);

  rpc::service<HelloWorld> greeter;
  greeter.handle<hello_world::say_hello>([](coronet::rpc::context&, const Greeting& req,
                                Greeting& reply) -> asio::awaitable<grpc::Status> {
    reply.set_message("Hello, " + req.message());
    co_return grpc::Status::OK;
  });
  rpc::server grpc_server(rt);
  grpc_server.add(greeter);
  grpc_server.listen("127.0.0.1", 0);
  grpc_server.start();
  std::printf("http on %u, grpc on %d\n", web.port(), grpc_server.port());
  std::fflush(stdout);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& ec, int) {
    if (!ec) rt.stop();
  });
  if (argc > 1 && std::string(argv[1]) == "--once") {
    asio::co_spawn(io, call_both(rt, web.port(), grpc_server.port()), [&](std::exception_ptr) {
      signals.cancel();
    });
  }
  io.run();  // returns once coronet has drained and nothing is left to do
}
