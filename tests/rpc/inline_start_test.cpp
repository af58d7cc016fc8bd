// Where a handler runs: by default on its io thread from the first line; with
// {.inline_start = true} on the gRPC thread that delivered the call until it first
// suspends, then on its io thread; and inline calls reuse the pool's parked workers.
// Every other behaviour (all kinds, errors, deadlines, cancellation, stress) is covered by
// the rpc_call_inline and rpc_stress_inline programs. Over 127.0.0.1.
#include "bench_service.hpp"

#include <coronet/rpc/detail/call_pool.hpp>
#include <coronet/rpc/server.hpp>
#include <coronet/runtime.hpp>

#include <asio/steady_timer.hpp>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using namespace coronet_test;
namespace rpc = coronet::rpc;

namespace {

// Where the handler found itself: on one of the runtime's io threads or not, before and
// after it suspended (after: only for "sleep").
struct placement {
  std::atomic<bool> before_on_io_thread{false};
  std::atomic<bool> after_on_own_executor{false};
};

class placement_server {
 public:
  explicit placement_server(rpc::method_options options) : server_(rt_, {}) {
    bench_.handle<coronet::bench::v1::bench::unary>(
        [this](coronet::rpc::context&, const Greeting& req,
               Greeting& resp) -> asio::awaitable<grpc::Status> {
          seen_.before_on_io_thread = rt_.current_executor().has_value();
          if (req.message() == "sleep") {
            auto ex = co_await asio::this_coro::executor;
            asio::steady_timer timer(ex, 1ms);
            co_await timer.async_wait(asio::use_awaitable);
            seen_.after_on_own_executor =
                ex.target<asio::io_context::executor_type>()->running_in_this_thread();
          }
          resp.set_message(req.message());
          co_return grpc::Status::OK;
        },
        options);
    server_.add(bench_);
    server_.listen("127.0.0.1", 0);
    server_.start();
    runner_ = std::thread([this] { rt_.run(); });
    stub_ = Bench::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(server_.port()),
                                               grpc::InsecureChannelCredentials()));
  }
  ~placement_server() {
    rt_.stop();
    runner_.join();
  }

  grpc::Status call(const std::string& text) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    Greeting request, reply;
    request.set_message(text);
    auto status = stub_->Unary(&ctx, request, &reply);
    if (status.ok() && reply.message() != text) ADD_FAILURE() << "reply " << reply.message();
    return status;
  }

  placement& seen() { return seen_; }
  rpc::detail::call_pool& pool() {
    return asio::use_service<rpc::detail::call_pool>(rt_.context(0));
  }

 private:
  coronet::runtime rt_{{.threads = 1, .handle_signals = false}};
  placement seen_;
  rpc::service<Bench> bench_;
  rpc::server server_;
  std::thread runner_;
  std::unique_ptr<Bench::Stub> stub_;
};

TEST(rpc_inline_start, by_default_a_handler_runs_on_its_io_thread) {
  placement_server s({});
  for (int i = 0; i < 3; ++i) {  // the first call spawns a worker, the next reuse it
    ASSERT_TRUE(s.call("x").ok());
    EXPECT_TRUE(s.seen().before_on_io_thread);
  }
}

TEST(rpc_inline_start, a_handler_that_never_suspends_runs_whole_on_the_grpc_thread) {
  placement_server s({.inline_start = true});
  ASSERT_TRUE(s.call("warm-up").ok());  // spawns the first worker, on the io thread
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(s.call("x").ok());
    EXPECT_FALSE(s.seen().before_on_io_thread);
  }
}

TEST(rpc_inline_start, an_inline_handler_resumes_on_its_io_thread_after_it_suspends) {
  placement_server s({.inline_start = true});
  ASSERT_TRUE(s.call("warm-up").ok());
  for (int i = 0; i < 3; ++i) {
    s.seen().after_on_own_executor = false;
    ASSERT_TRUE(s.call("sleep").ok());
    EXPECT_FALSE(s.seen().before_on_io_thread);
    EXPECT_TRUE(s.seen().after_on_own_executor);
  }
}

TEST(rpc_inline_start, inline_calls_reuse_the_parked_worker) {
  placement_server s({.inline_start = true});
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(s.call(i % 10 == 0 ? "sleep" : "x").ok());
  // Sequential calls need one worker, whichever thread each call ended on.
  EXPECT_EQ(s.pool().spawned(), 1u);
  EXPECT_EQ(s.pool().idle(), 1u);
}

}  // namespace
