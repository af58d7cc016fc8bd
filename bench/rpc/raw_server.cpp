// Baseline for the gRPC benchmark: HelloWorld on grpc++'s callback API with no coroutines,
// answering inline on gRPC's thread (DefaultReactor + Finish), the cheapest form it has.
// It configures gRPC as coronet does by default (the idle-connection limit, and abseil's
// mutex deadlock detection off; greeters.hpp), so a comparison measures coroutines and not
// settings; --grpc-defaults runs it with gRPC and abseil as they come instead.
//
//     rpc-raw-server --listen 127.0.0.1:50051 [--grpc-defaults] [--arg NAME=VALUE]...
//                    [--max-threads N]
#include "builder_flags.hpp"
#include "greeters.hpp"

#include <absl/synchronization/mutex.h>
#include <grpc/grpc.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:50051";
  bool grpc_defaults = false;
  bench::builder_flags flags;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--grpc-defaults") == 0) {
      grpc_defaults = true;
    } else if (std::strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
      listen = argv[++i];
    } else if (!flags.parse(argc, argv, i)) {
      std::cerr << "usage: " << argv[0] << " [--listen HOST:PORT] [--grpc-defaults] [--arg NAME=VALUE]..."
                                      " [--max-threads N]\n";
      return 2;
    }
  }
  bench::raw_greeter service;
  grpc::ServerBuilder builder;
  if (!grpc_defaults) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                               static_cast<int>(bench::coronet_idle_default.count()));
  }
  flags.apply(builder);
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "cannot listen on " << listen << "\n";
    return 1;
  }
  std::cout << "listening on port " << port << std::endl;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
  server->Shutdown();
}
