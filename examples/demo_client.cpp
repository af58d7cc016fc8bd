// coronet-demo-client: the two clients of the demo: an HTTP GET and a HelloWorld.SayHello call.
//   coronet-demo-client http URL               prints the body (non-2xx: message, exit 1);
//                                              http:// or https://
//   coronet-demo-client grpc HOST:PORT [MSG]   calls HelloWorld.SayHello(MSG, default "World")
// TLS options, after the arguments: --ca FILE (trust these CAs instead of the system's; for
// grpc it also means TLS), --cert FILE --key FILE (a client certificate), --tls (grpc over
// TLS with the system's CAs).
#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <coronet/coronet.hpp>
#include <coronet/rpc/client.hpp>
#include <coronet/rpc/tls.hpp>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

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

struct tls_flags {
  bool on = false;
  std::string ca, cert, key;
};

asio::awaitable<int> get(std::string url, tls_flags tls) {
  // Executor first, then the client: GCC 12 mishandles temporaries (here the default
  // client_options) in a full-expression that also contains co_await.
  const auto executor = co_await asio::this_coro::executor;
  http::client_options options;
  options.tls.ca_file = tls.ca;
  options.tls.client_certificate = {tls.cert, tls.key};
  http::client client(executor, options);
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

asio::awaitable<int> say_hello(std::string target, std::string message, tls_flags tls) {
  auto channel = tls.on ? rpc::secure_channel(target, {.ca_file = tls.ca, .certificate_file = tls.cert,
                                                      .private_key_file = tls.key})
                        : grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = HelloWorld::NewStub(channel);
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

int main(int argc, char** argv) try {
  std::vector<std::string> args;
  tls_flags tls;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--tls") {
      tls.on = true;
    } else if ((a == "--ca" || a == "--cert" || a == "--key") && i + 1 < argc) {
      (a == "--ca" ? tls.ca : a == "--cert" ? tls.cert : tls.key) = argv[++i];
      tls.on = true;
    } else {
      args.push_back(a);
    }
  }
  const std::string mode = args.empty() ? "" : args[0];
  if ((mode != "http" && mode != "grpc") || args.size() < 2 || (mode == "http" && args.size() != 2) ||
      args.size() > 3) {
    std::cerr << "usage: coronet-demo-client http URL [--ca FILE] [--cert FILE --key FILE]\n"
                 "       coronet-demo-client grpc HOST:PORT [MESSAGE] [--tls] [--ca FILE] [--cert FILE --key FILE]\n";
    return 2;
  }
  asio::io_context io;
  int exit_code = 1;
  auto work = mode == "http" ? get(args[1], tls) : say_hello(args[1], args.size() > 2 ? args[2] : "World", tls);
  asio::co_spawn(io, std::move(work), [&](std::exception_ptr e, int code) {
    exit_code = e ? 1 : code;
  });
  io.run();
  return exit_code;
} catch (const std::exception& e) {
  std::cerr << "coronet-demo-client: " << e.what() << "\n";
  return 1;
}
