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

#include <string>

namespace bench {

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
