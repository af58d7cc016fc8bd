// coronet client against coronet server over 127.0.0.1: every RPC kind, errors, deadlines,
// cancellation, limits and shutdown.
#include "rpc_fixture.hpp"

#include <coronet/rpc/client.hpp>

#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <grpcpp/server_builder.h>

#include <asio/steady_timer.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using namespace coronet_test;
namespace rpc = coronet::rpc;

namespace {

TEST(rpc_call, unary_call_returns_the_handlers_response) {
  served_bench s;
  auto [status, reply] = s.run([&]() -> asio::awaitable<rpc::call_result<Greeting>> {
    // snippet-begin client_unary
    grpc::ClientContext ctx;
    auto [status, reply] =
        co_await rpc::call(&Bench::Stub::async::Unary, s.stub(), ctx, greeting("hi"));
    // snippet-end client_unary
    co_return rpc::call_result<Greeting>{status, reply};
  }());
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.message(), "hi");
}

TEST(rpc_call, client_awaits_resume_on_the_callers_executor) {
  served_bench s;
  auto same = s.run([&]() -> asio::awaitable<bool> {
    auto ex = co_await asio::this_coro::executor;
    grpc::ClientContext ctx;
    co_await rpc::call(&Bench::Stub::async::Unary, s.stub(), ctx, greeting("x"));
    auto reader = rpc::stream(&Bench::Stub::async::ServerStream, s.stub(), greeting("2"));
    Greeting g;
    co_await reader.read(g);
    const bool ok = ex.target<asio::io_context::executor_type>()->running_in_this_thread();
    while (co_await reader.read(g)) {
    }
    co_await reader.finish();
    co_return ok;
  }());
  EXPECT_TRUE(same);
}

TEST(rpc_call, server_streaming_delivers_every_message_then_ok) {
  served_bench s;
  auto [status, got] = s.run([&]() -> asio::awaitable<std::pair<grpc::Status, std::vector<std::string>>> {
    // snippet-begin client_server_streaming
    auto reader = rpc::stream(&Bench::Stub::async::ServerStream, s.stub(), greeting("100"));
    std::vector<std::string> got;
    for (Greeting g; co_await reader.read(g);) got.push_back(g.message());
    grpc::Status status = co_await reader.finish();
    // snippet-end client_server_streaming
    co_return std::pair{status, got};
  }());
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got.front(), "0");
  EXPECT_EQ(got.back(), "99");
}

TEST(rpc_call, client_streaming_handler_reads_until_half_close) {
  served_bench s;
  auto [status, reply] = s.run([&]() -> asio::awaitable<rpc::call_result<Greeting>> {
    // snippet-begin client_client_streaming
    auto writer = rpc::stream(&Bench::Stub::async::ClientStream, s.stub());
    for (const char* m : {"a", "b", "c"}) co_await writer.write(greeting(m));
    auto [status, reply] = co_await writer.finish();  // half-closes, then the result
    // snippet-end client_client_streaming
    co_return rpc::call_result<Greeting>{status, reply};
  }());
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.message(), "a,b,c");
}

TEST(rpc_call, bidi_reads_and_writes_run_concurrently_on_both_sides) {
  served_bench s;
  auto [status, got] = s.run([&]() -> asio::awaitable<std::pair<grpc::Status, std::vector<std::string>>> {
    using namespace asio::experimental::awaitable_operators;
    // snippet-begin client_bidi
    auto stream = rpc::stream(&Bench::Stub::async::Bidi, s.stub());
    std::vector<std::string> got;
    auto send = [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 50; ++i) co_await stream.write(greeting(std::to_string(i)));
      co_await stream.writes_done();
    };
    auto receive = [&]() -> asio::awaitable<void> {
      for (Greeting g; co_await stream.read(g);) got.push_back(g.message());
    };
    co_await (send() && receive());  // reads and writes from two coroutines
    grpc::Status status = co_await stream.finish();
    // snippet-end client_bidi
    co_return std::pair{status, got};
  }());
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(got.size(), 50u);
  EXPECT_EQ(got[7], "echo: 7");
}

TEST(rpc_call, every_error_code_and_message_reach_the_client) {
  served_bench s;
  for (int code = 1; code <= 16; ++code) {
    auto [status, reply] = s.run([&]() -> asio::awaitable<rpc::call_result<Greeting>> {
      grpc::ClientContext ctx;
      co_return co_await rpc::call(&Bench::Stub::async::Unary, s.stub(), ctx,
                                   greeting("error:" + std::to_string(code) + ":bad " +
                                            std::to_string(code)));
    }());
    EXPECT_EQ(status.error_code(), code);
    EXPECT_EQ(status.error_message(), "bad " + std::to_string(code));
  }
}

TEST(rpc_call, handler_exception_finishes_the_call_with_unknown) {
  served_bench s;
  auto [status, reply] = s.run([&]() -> asio::awaitable<rpc::call_result<Greeting>> {
    grpc::ClientContext ctx;
    co_return co_await rpc::call(&Bench::Stub::async::Unary, s.stub(), ctx, greeting("throw"));
  }());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNKNOWN);
}

TEST(rpc_call, unknown_method_is_unimplemented) {
  served_bench s;
  auto stub = HelloWorld::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(s.server().port()), grpc::InsecureChannelCredentials()));
  auto [status, reply] = s.run([&]() -> asio::awaitable<rpc::call_result<Greeting>> {
    grpc::ClientContext ctx;
    co_return co_await rpc::call(&HelloWorld::Stub::async::SayHello, *stub, ctx, greeting("x"));
  }());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST(rpc_call, deadline_exceeded_reaches_the_client_and_cancels_the_handler) {
  served_bench s;
  auto [status, reply] = s.run([&]() -> asio::awaitable<rpc::call_result<Greeting>> {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 100ms);
    co_return co_await rpc::call(&Bench::Stub::async::Unary, s.stub(), ctx,
                                 greeting("sleep:10000"));
  }());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  for (int i = 0; i < 200 && s.seen().handler_cancelled == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(s.seen().handler_cancelled, 1);
}

TEST(rpc_call, cancelling_the_awaiting_coroutine_cancels_the_call) {
  served_bench s;
  const auto start = std::chrono::steady_clock::now();
  auto winner = s.run([&]() -> asio::awaitable<std::size_t> {
    using namespace asio::experimental::awaitable_operators;
    grpc::ClientContext ctx;
    // snippet-begin cancel_with_timer
    asio::steady_timer timer(co_await asio::this_coro::executor, 100ms);
    auto result = co_await (
        rpc::call(&Bench::Stub::async::Unary, s.stub(), ctx, greeting("sleep:10000")) ||
        timer.async_wait(asio::use_awaitable));
    // snippet-end cancel_with_timer
    co_return result.index();
  }());
  EXPECT_EQ(winner, 1u);  // the timer won, the call was cancelled and its await completed
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  for (int i = 0; i < 200 && s.seen().handler_cancelled == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(s.seen().handler_cancelled, 1);
}

TEST(rpc_call, client_cancel_mid_stream_ends_the_servers_writes) {
  served_bench s;
  auto status = s.run([&]() -> asio::awaitable<grpc::Status> {
    auto reader = rpc::stream(&Bench::Stub::async::ServerStream, s.stub(), greeting("forever"));
    Greeting g;
    for (int i = 0; i < 10; ++i) co_await reader.read(g);
    reader.context().TryCancel();
    while (co_await reader.read(g)) {
    }
    co_return co_await reader.finish();
  }());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  for (int i = 0; i < 200 && s.seen().streams_cut_short == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(s.seen().streams_cut_short, 1);
}

TEST(rpc_call, abandoning_a_stream_object_cancels_the_call) {
  served_bench s;
  s.run([&]() -> asio::awaitable<int> {
    auto reader = rpc::stream(&Bench::Stub::async::ServerStream, s.stub(), greeting("forever"));
    Greeting g;
    co_await reader.read(g);
    co_return 0;  // reader destroyed without finish()
  }());
  for (int i = 0; i < 200 && s.seen().streams_cut_short == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(s.seen().streams_cut_short, 1);
}

TEST(rpc_call, message_over_the_size_limit_is_resource_exhausted) {
  served_bench s({.max_receive_message_bytes = 1024});
  auto [status, reply] = s.run([&]() -> asio::awaitable<rpc::call_result<Greeting>> {
    grpc::ClientContext ctx;
    co_return co_await rpc::call(&Bench::Stub::async::Unary, s.stub(), ctx,
                                 greeting(std::string(4096, 'x')));
  }());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(rpc_server, configure_hook_gets_the_builder_after_the_options) {
  // The hook runs last, so what it sets wins over the fields (here: a smaller limit).
  bool called = false;
  served_bench s({.max_receive_message_bytes = 1 << 20,
                  .configure = [&](grpc::ServerBuilder& b) {
                    called = true;
                    b.SetMaxReceiveMessageSize(1024);
                    b.AddChannelArgument(GRPC_ARG_OPTIMIZATION_TARGET, std::string("throughput"));
                  }});
  EXPECT_TRUE(called);
  auto [big, _] = s.run([&]() -> asio::awaitable<rpc::call_result<Greeting>> {
    grpc::ClientContext ctx;
    co_return co_await rpc::call(&Bench::Stub::async::Unary, s.stub(), ctx,
                                 greeting(std::string(4096, 'x')));
  }());
  EXPECT_EQ(big.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  auto [small, reply] = s.run([&]() -> asio::awaitable<rpc::call_result<Greeting>> {
    grpc::ClientContext ctx;
    co_return co_await rpc::call(&Bench::Stub::async::Unary, s.stub(), ctx, greeting("x"));
  }());
  EXPECT_TRUE(small.ok()) << small.error_message();
}

TEST(rpc_call, shutdown_during_a_stream_ends_it_and_refuses_new_calls) {
  served_bench s;
  auto [stream_status, later] = s.run([&]() -> asio::awaitable<std::pair<grpc::Status, grpc::Status>> {
    auto reader = rpc::stream(&Bench::Stub::async::ServerStream, s.stub(), greeting("forever"));
    Greeting g;
    for (int i = 0; i < 5; ++i) co_await reader.read(g);
    co_await s.server().shutdown(200ms);
    while (co_await reader.read(g)) {
    }
    auto stream_status = co_await reader.finish();
    grpc::ClientContext ctx;
    auto [later, reply] =
        co_await rpc::call(&Bench::Stub::async::Unary, s.stub(), ctx, greeting("late"));
    co_return std::pair{stream_status, later};
  }());
  EXPECT_FALSE(stream_status.ok());
  EXPECT_EQ(later.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.seen().streams_cut_short, 1);
}

TEST(rpc_server, channel_args_and_configure_apply_to_the_server) {
  coronet::runtime rt({.threads = 1, .handle_signals = false});
  coronet::rpc::service<Bench> bench;
  observations seen;
  bind_bench(bench, seen);
  // snippet-begin server_options
  coronet::rpc::server server(rt, {
      .channel_args = {{GRPC_ARG_MAX_CONCURRENT_STREAMS, 256}},
      .configure = [](grpc::ServerBuilder& b) {
        b.AddChannelArgument(GRPC_ARG_OPTIMIZATION_TARGET, std::string("throughput"));
      }});
  // snippet-end server_options
  server.add(bench);
  server.listen("127.0.0.1", 0);
  server.start();
  std::thread runner([&] { rt.run(); });
  auto stub = Bench::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                                                 grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  Greeting reply;
  EXPECT_TRUE(stub->Unary(&ctx, greeting("options"), &reply).ok());
  EXPECT_EQ(reply.message(), "options");
  rt.stop();
  runner.join();
}

}  // namespace
