// coronet-demo-client: the two clients of the demo: an HTTP GET and a HelloWorld.SayHello call.
//   coronet-demo-client http URL               prints the body (non-2xx: message, exit 1)
//   coronet-demo-client grpc HOST:PORT [MSG]   calls HelloWorld.SayHello(MSG, default "World")
#include "hello.grpc.pb.h"

#include <coronet/coronet.hpp>
#include <coronet/rpc/client.hpp>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdio>
#include <iostream>
#include <string>

namespace http = coronet::http;
namespace rpc = coronet::rpc;

namespace {

const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

asio::awaitable<int> get(std::string url) {
  // Executor first, then the client: GCC 12 mishandles temporaries (here the default
  // client_options) in a full-expression that also contains co_await.
  const auto executor = co_await asio::this_coro::executor;
  http::client client(executor);
  auto res = co_await client.get(url);
  if (!res) {
    std::cerr << "coronet-demo-client: " << url << ": " << res.error().message() << "\n";
    co_return 1;
  }
  const auto code = static_cast<unsigned>(res->status);
  if (code < 200 || code > 299) {
    std::cerr << "coronet-demo-client: " << url << ": " << code << " " << http::reason_phrase(code)
              << (res->body.empty() ? "" : ": ") << res->body;
    if (!res->body.empty() && res->body.back() != '\n') std::cerr << "\n";
    co_return 1;
  }
  std::cout << res->body;
  if (!res->body.empty() && res->body.back() != '\n') std::cout << "\n";
  co_return 0;
}

asio::awaitable<int> say_hello(std::string target, std::string message) {
  auto stub = HelloWorld::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  Greeting greeting;
  greeting.set_message(message);
  auto [status, reply] = co_await rpc::call(&HelloWorld::Stub::async::SayHello, *stub, ctx, greeting);
  if (!status.ok()) {
    std::cerr << "coronet-demo-client: " << code_name(status.error_code()) << ": "
              << status.error_message() << "\n";
    co_return 1;
  }
  std::cout << reply.message() << "\n";
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if ((mode != "http" && mode != "grpc") || argc < 3 || (mode == "http" && argc != 3) || argc > 4) {
    std::cerr << "usage: coronet-demo-client http URL\n"
                 "       coronet-demo-client grpc HOST:PORT [MESSAGE]\n";
    return 2;
  }
  asio::io_context io;
  int exit_code = 1;
  auto work = mode == "http" ? get(argv[2]) : say_hello(argv[2], argc > 3 ? argv[3] : "World");
  asio::co_spawn(io, std::move(work), [&](std::exception_ptr e, int code) {
    exit_code = e ? 1 : code;
  });
  io.run();
  return exit_code;
}
