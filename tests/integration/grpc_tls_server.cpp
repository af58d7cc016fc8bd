// The server grpc_tls_test.py talks to: the hello.proto greeter on one TLS port of a
// coronet rpc::server, on 127.0.0.1. Its reply names the client certificate's common name
// (as the handler reads it from auth_context()), "anonymous" without one. Prints
// "tls port N" once listening; SIGTERM drains it.
//
//   grpc_tls_server CERT KEY [CLIENT_CA [optional]]
//
// With CLIENT_CA a client certificate is verified against it and required, unless the
// fourth argument says "optional".
#include <coronet/rpc/server.hpp>
#include <coronet/rpc/service.hpp>
#include <coronet/rpc/tls.hpp>
#include <coronet/runtime.hpp>

#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <grpc/grpc_security_constants.h>

#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

namespace rpc = coronet::rpc;

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: %s CERT KEY [CLIENT_CA [optional]]\n", argv[0]);
    return 2;
  }
  coronet::runtime rt({.threads = 1});
  rpc::service<HelloWorld> hello;
  // snippet-begin grpc-tls-peer
  hello.handle<hello_world::say_hello>([](coronet::rpc::context& ctx, const Greeting& req,
                              Greeting& resp) -> asio::awaitable<grpc::Status> {
    // The verified client certificate's subject (mutual TLS); empty without one.
    std::string who = "anonymous";
    const auto names = ctx.grpc()->auth_context()->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
    if (!names.empty()) who.assign(names.front().data(), names.front().size());
    resp.set_message("hello " + req.message() + " from " + who);
    co_return grpc::Status::OK;
  });
  // snippet-end grpc-tls-peer
  rpc::server server(rt);
  server.add(hello);
  // snippet-begin grpc-tls-listen
  const bool optional = argc == 5 && std::string_view(argv[4]) == "optional";
  server.listen_tls("127.0.0.1", 0,
                    {.certificate_chain_file = argv[1],
                     .private_key_file = argv[2],
                     .client_ca_file = argc > 3 ? argv[3] : "",
                     .require_client_certificate = !optional});
  // snippet-end grpc-tls-listen
  try {
    server.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::printf("tls port %u\n", static_cast<unsigned>(server.tls_port()));
  std::fflush(stdout);
  rt.run();  // SIGTERM drains the server
}
