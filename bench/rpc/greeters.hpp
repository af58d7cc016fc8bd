// The HelloWorld implementations every gRPC benchmark serves, so each compares the same work:
// the raw callback-API baseline (no coroutines, answered inline on gRPC's thread with
// DefaultReactor + Finish, the cheapest form grpc++ has) and, for programs built with
// coronet, the coroutine handler. The raw server is built without coronet and links none.
#pragma once

#include "hello.grpc.pb.h"

#include <grpcpp/server_context.h>

#if __has_include(<coronet/detail/asio.hpp>)
#include <coronet/detail/asio.hpp>
#include <coronet/rpc/context.hpp>
#endif

#include <chrono>
#include <string>

namespace bench {

/// coronet::rpc::server_options::max_connection_idle's default. coronet changes gRPC's own
/// work per call in two ways, and the raw servers do the same, so that the coroutine servers
/// are compared with grpc++ configured alike (`--grpc-defaults` leaves both out on both
/// sides; bench/rpc/instructions_compare.sh counts each):
///  - this idle limit: any idle or age limit makes gRPC 1.51 add its max_age filter to every
///    connection, which runs each call through a second promise-filter adapter (about 4,700
///    instructions per unary call, 8% of the call);
///  - abseil's mutex deadlock detection, which a coronet::runtime turns off
///    (runtime_options::absl_deadlock_detection): Debian's abseil checks the lock order on
///    every absl::Mutex lock, about 5,100 instructions of a unary call.
/// coronet-bench and the coroutine server check that the limit still matches coronet's.
inline constexpr std::chrono::milliseconds coronet_idle_default = std::chrono::minutes(5);

/// What SayHello answers in every benchmark.
inline std::string reply_text(const std::string& message) { return "hello " + message; }

class raw_greeter final : public HelloWorld::CallbackService {
  grpc::ServerUnaryReactor* SayHello(grpc::CallbackServerContext* ctx, const Greeting* req,
                                     Greeting* resp) override {
    resp->set_message(reply_text(req->message()));
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

#if __has_include(<coronet/detail/asio.hpp>)
/// The coroutine form of the same method.
inline asio::awaitable<grpc::Status> say_hello(coronet::rpc::context&, const Greeting& req,
                                               Greeting& resp) {
  resp.set_message(reply_text(req.message()));
  co_return grpc::Status::OK;
}
#endif

}  // namespace bench
