// The call pool that runs handlers: workers are reused across calls, a cancellation
// reaches only the call it was meant for, idle workers are bounded, and a server that
// shuts down leaves its io_context free to run out of work. Over 127.0.0.1.
#include "bench_service.hpp"

#include <coronet/rpc/client.hpp>
#include <coronet/rpc/detail/call_pool.hpp>
#include <coronet/rpc/server.hpp>
#include <coronet/runtime.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/use_future.hpp>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace coronet_test;
namespace rpc = coronet::rpc;

namespace {

Greeting greeting(std::string text) {
  Greeting g;
  g.set_message(std::move(text));
  return g;
}

// One io thread, so every call lands in the same pool.
class one_thread_server {
 public:
  one_thread_server() : server_(rt_) {
    bind_bench(bench_, seen_);
    server_.add(bench_);
    server_.listen("127.0.0.1", 0);
    server_.start();
    runner_ = std::thread([this] { rt_.run(); });
    stub_ = Bench::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(server_.port()),
                                               grpc::InsecureChannelCredentials()));
  }
  ~one_thread_server() {
    rt_.stop();
    runner_.join();
  }

  grpc::Status unary(const std::string& text, std::chrono::milliseconds deadline = 10s) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    Greeting reply;
    return stub_->Unary(&ctx, greeting(text), &reply);
  }

  struct pool_state {
    std::size_t workers, idle, spawned;
    bool operator==(const pool_state&) const = default;
  };
  /// The pool's counts, read on its io thread.
  pool_state pool() {
    auto& p = asio::use_service<rpc::detail::call_pool>(rt_.context(0));
    return asio::post(rt_.executor(0), asio::use_future([&p] {
                        return pool_state{p.workers(), p.idle(), p.spawned()};
                      }))
        .get();
  }

  observations& seen() { return seen_; }

 private:
  coronet::runtime rt_{{.threads = 1, .handle_signals = false}};
  observations seen_;
  rpc::service<Bench> bench_;
  rpc::server server_;
  std::thread runner_;
  std::unique_ptr<Bench::Stub> stub_;
};

TEST(rpc_call_pool, sequential_calls_reuse_one_worker) {
  one_thread_server s;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(s.unary("x").ok());
  EXPECT_EQ(s.pool(), (one_thread_server::pool_state{.workers = 1, .idle = 1, .spawned = 1}));
}

TEST(rpc_call_pool, a_cancellation_reaches_only_the_call_it_was_meant_for) {
  one_thread_server s;
  EXPECT_EQ(s.unary("sleep:10000", 100ms).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  for (int i = 0; i < 200 && s.seen().handler_cancelled == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(s.seen().handler_cancelled, 1);
  // The same worker coroutine serves the next calls: they must not see the old
  // cancellation (it would fail their first co_await, or the worker's own wait for work).
  for (int i = 0; i < 3; ++i) {
    auto status = s.unary("sleep:20");
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(s.seen().handler_cancelled, 1);
  EXPECT_EQ(s.pool(), (one_thread_server::pool_state{.workers = 1, .idle = 1, .spawned = 1}));
}

TEST(rpc_call_pool, suspended_handlers_get_their_own_workers_and_idle_ones_are_bounded) {
  one_thread_server s;
  constexpr int calls = 100;  // more than call_pool::max_idle, all suspended at once
  static_assert(calls > rpc::detail::call_pool::max_idle);
  std::vector<std::future<grpc::Status>> pending;
  for (int i = 0; i < calls; ++i) {
    pending.push_back(std::async(std::launch::async, [&s] { return s.unary("sleep:300"); }));
  }
  for (auto& f : pending) EXPECT_TRUE(f.get().ok());
  EXPECT_EQ(s.seen().finished, calls);
  const auto after_burst = s.pool();
  EXPECT_EQ(after_burst.spawned, std::size_t{calls});
  EXPECT_EQ(after_burst.idle, rpc::detail::call_pool::max_idle);
  EXPECT_EQ(after_burst.workers, after_burst.idle);
  // Later calls run on the parked workers: nothing new is spawned.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(s.unary("x").ok());
  EXPECT_EQ(s.pool(), after_burst);
}

TEST(rpc_call_pool, a_plain_run_returns_once_the_server_has_shut_down) {
  asio::io_context io;
  coronet::runtime rt{io};
  observations seen;
  rpc::service<Bench> bench;
  bind_bench(bench, seen);
  rpc::server server(rt);
  server.add(bench);
  server.listen("127.0.0.1", 0);
  server.start();
  auto guard = asio::make_work_guard(io);
  auto runner = std::async(std::launch::async, [&io] { io.run(); });
  auto stub = Bench::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                                                 grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext ctx;
    Greeting reply;
    ASSERT_TRUE(stub->Unary(&ctx, greeting("x"), &reply).ok());
  }
  guard.reset();
  server.shutdown_blocking(1s);
  // Only the pool's parked worker kept the context busy; the shutdown ended it.
  const bool returned = runner.wait_for(5s) == std::future_status::ready;
  EXPECT_TRUE(returned);
  if (!returned) io.stop();
}

}  // namespace
