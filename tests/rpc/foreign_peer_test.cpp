// coronet against peers written without it: a Python grpcio client calling a coronet server,
// and the coronet client calling a plain grpc++ callback-API server.
#include "rpc_fixture.hpp"
#include "run_process.hpp"

#include <coronet/rpc/client.hpp>
#include <coronet/rpc/service.hpp>

#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <cstdio>
#include <string>
#include <sys/wait.h>

using namespace coronet_test;
namespace rpc = coronet::rpc;

namespace {

TEST(foreign_peer, python_grpcio_client_calls_unary_streaming_health_and_reflection) {
  coronet::runtime rt({.threads = 2, .handle_signals = false});
  rpc::service<HelloWorld> hello;
  hello.handle<hello_world::say_hello>([](coronet::rpc::context&, const Greeting& req,
                              Greeting& resp) -> asio::awaitable<grpc::Status> {
    resp.set_message("hello " + req.message());
    co_return grpc::Status::OK;
  });
  observations seen;
  rpc::service<Bench> bench;
  bind_bench(bench, seen);
  rpc::server server(rt);
  server.add(hello);
  server.add(bench);
  server.listen("127.0.0.1", 0);
  server.start();
  std::thread runner([&] { rt.run(); });

  auto [code, out] = run_process(CORONET_TEST_PYTHON " " CORONET_TEST_DIR "/python_client.py " +
                                 std::to_string(server.port()) + " 2>&1");
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "ok\n");
  rt.stop();
  runner.join();
}

// A plain grpc++ callback service: the kind of server coronet's client must talk to.
class plain_bench final : public Bench::CallbackService {
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, const Greeting* req,
                                  Greeting* resp) override {
    resp->set_message("plain " + req->message());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerWriteReactor<Greeting>* ServerStream(grpc::CallbackServerContext*,
                                                   const Greeting* req) override {
    class writer final : public grpc::ServerWriteReactor<Greeting> {
     public:
      explicit writer(int count) : left_(count) { next(); }
      void OnWriteDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::CANCELLED);
        next();
      }
      void OnDone() override { delete this; }

     private:
      void next() {
        if (left_-- == 0) return Finish(grpc::Status::OK);
        msg_.set_message(std::to_string(left_));
        StartWrite(&msg_);
      }
      int left_;
      Greeting msg_;
    };
    return new writer(std::stoi(req->message()));
  }
};

TEST(foreign_peer, coronet_client_calls_a_plain_grpcpp_callback_server) {
  plain_bench service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  ASSERT_NE(port, 0);
  auto stub = Bench::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                 grpc::InsecureChannelCredentials()));
  asio::io_context io;
  std::string unary, streamed;
  grpc::Status unary_status, stream_status, missing_status;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    grpc::ClientContext ctx;
    auto [status, reply] = co_await rpc::call(&Bench::Stub::async::Unary, *stub, ctx,
                                              greeting("x"));
    unary_status = status;
    unary = reply.message();
    auto reader = rpc::stream(&Bench::Stub::async::ServerStream, *stub, greeting("3"));
    for (Greeting g; co_await reader.read(g);) streamed += g.message();
    stream_status = co_await reader.finish();
    auto writer = rpc::stream(&Bench::Stub::async::ClientStream, *stub);
    co_await writer.write(greeting("a"));
    missing_status = (co_await writer.finish()).status;
  }, asio::detached);
  io.run();  // returns when the coroutine is done: pending calls count as work
  EXPECT_TRUE(unary_status.ok());
  EXPECT_EQ(unary, "plain x");
  EXPECT_TRUE(stream_status.ok());
  EXPECT_EQ(streamed, "210");
  EXPECT_EQ(missing_status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  server->Shutdown();
}

}  // namespace
