// hello_grpc: HelloWorld.SayHello (proto/hello.proto) served by a coroutine handler and
// called once by a coroutine client in the same program, which then stops.
//
//     hello_grpc [NAME]        prints "Hello, NAME" (default "World")
#include <coronet/coronet.hpp>

#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <iostream>
#include <memory>
#include <string>

namespace rpc = coronet::rpc;

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "World";
  coronet::runtime rt({.threads = 1});
  // snippet-begin hello_grpc_server
  rpc::service<HelloWorld> greeter;
  greeter.handle<hello_world::say_hello>(
      [](coronet::rpc::context&, const Greeting& request,
         Greeting& reply) -> asio::awaitable<grpc::Status> {
        reply.set_message("Hello, " + request.message());
        co_return grpc::Status::OK;
      },
      {.inline_start = true});  // never suspends: runs on gRPC's thread, no hand-off
  rpc::server server(rt);
  server.add(greeter);
  server.listen("127.0.0.1", 0);  // port 0 picks one: server.port()
  server.start();
  // snippet-end hello_grpc_server

  auto stub = HelloWorld::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials()));
  int exit_code = 1;
  asio::co_spawn(
      rt.next_executor(),
      [&]() -> asio::awaitable<void> {
        // snippet-begin hello_grpc_client
        Greeting request;
        request.set_message(name);
        grpc::ClientContext ctx;
        auto [status, reply] =
            co_await rpc::call(&HelloWorld::Stub::async::SayHello, *stub, ctx, request);
        if (status.ok()) std::cout << reply.message() << "\n";
        // snippet-end hello_grpc_client
        exit_code = status.ok() ? 0 : 1;
        rt.stop();
      },
      asio::detached);
  rt.run();
  return exit_code;
}
