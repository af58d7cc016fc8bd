// The coroutine side of the gRPC benchmark: the same HelloWorld served by a
// coronet::rpc::service, its handler a coroutine on a coronet::runtime io_context.
//
//     rpc-coroutine-server --listen 127.0.0.1:50051 [--threads 1] [--batch-scheduling]
//                          [--inline-start] [--grpc-defaults] [--arg NAME=VALUE]...
//                          [--max-threads N] [--tls CERT KEY]
//
// --inline-start binds SayHello with {.inline_start = true}: the handler, which never
// suspends, then runs whole on the gRPC thread that delivered the call. --tls serves the
// --listen address with TLS instead, with the PEM certificate chain and key given
// (h2load_tls.sh). --metrics counts the calls into a coronet::metrics (never scraped), to
// measure what counting costs. --grpc-defaults sets max_connection_idle to 0 and keeps
// abseil's deadlock detection, which leaves gRPC and abseil as they come (greeters.hpp says
// what that changes).
#include "builder_flags.hpp"
#include "greeters.hpp"

#include <coronet/metrics.hpp>
#include <coronet/rpc/server.hpp>
#include <coronet/runtime.hpp>

#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <cstring>
#include <iostream>
#include <string>
#include <utility>

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:50051";
  std::size_t threads = 1;
  bool batch = false;
  bool inline_start = false;
  bool with_metrics = false;
  bool grpc_defaults = false;
  std::string tls_cert, tls_key;
  bench::builder_flags flags;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--batch-scheduling") == 0) {
      batch = true;
    } else if (std::strcmp(argv[i], "--metrics") == 0) {
      with_metrics = true;
    } else if (std::strcmp(argv[i], "--inline-start") == 0) {
      inline_start = true;
    } else if (std::strcmp(argv[i], "--grpc-defaults") == 0) {
      grpc_defaults = true;
    } else if (std::strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
      listen = argv[++i];
    } else if (std::strcmp(argv[i], "--tls") == 0 && i + 2 < argc) {
      tls_cert = argv[++i];
      tls_key = argv[++i];
    } else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::stoul(argv[++i]);
    } else if (!flags.parse(argc, argv, i)) {
      std::cerr << "usage: " << argv[0]
                << " [--listen HOST:PORT] [--threads N] [--batch-scheduling] [--inline-start]"
                   " [--grpc-defaults] [--arg NAME=VALUE]..."
                   " [--max-threads N] [--tls CERT KEY]\n";
      return 2;
    }
  }
  coronet::runtime rt(
      {.threads = threads, .batch_scheduling = batch, .absl_deadlock_detection = grpc_defaults});
  coronet::metrics metrics;
  coronet::rpc::service<HelloWorld> greeter;
  greeter.handle<hello_world::say_hello>(&bench::say_hello, {.inline_start = inline_start});
  coronet::rpc::server_options options{.health_service = false,
                                       .reflection = false,
                                       .metrics = with_metrics ? &metrics : nullptr,
                                       .configure = [&](grpc::ServerBuilder& b) { flags.apply(b); }};
  if (options.max_connection_idle != bench::coronet_idle_default) {
    std::cerr << "bench::coronet_idle_default no longer matches rpc::server_options\n";
    return 1;
  }
  if (grpc_defaults) options.max_connection_idle = std::chrono::milliseconds(0);
  coronet::rpc::server server(rt, std::move(options));
  server.add(greeter);
  const auto colon = listen.rfind(':');
  const auto host = listen.substr(0, colon);
  const auto port = static_cast<std::uint16_t>(std::stoul(listen.substr(colon + 1)));
  if (tls_cert.empty()) {
    server.listen(host, port);
  } else {
    server.listen_tls(host, port,
                      {.certificate_chain_file = tls_cert, .private_key_file = tls_key});
  }
  server.start();
  std::cout << "listening on port " << (tls_cert.empty() ? server.port() : server.tls_port())
            << std::endl;
  rt.run();  // SIGINT/SIGTERM drain the server
}
