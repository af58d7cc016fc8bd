// Client-side load balancing over coronet servers: rpc::balanced_channel spreading calls
// over three servers in this process, losing one and getting it back without a failed call;
// python3-grpcio doing the same with its own round_robin; and rpc::server_options'
// max_connection_age moving a long-lived client to new connections, on a port of gRPC's own
// and on the one port coronet::listener shares with HTTP/1.1.
#include <coronet/http/server.hpp>
#include <coronet/listener.hpp>
#include <coronet/rpc/channel.hpp>
#include <coronet/rpc/server.hpp>
#include <coronet/rpc/service.hpp>
#include <coronet/runtime.hpp>

#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"
#include "run_process.hpp"

#include <grpcpp/client_context.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <sys/wait.h>

namespace rpc = coronet::rpc;
using namespace std::chrono_literals;
using coronet_test::run_process;

namespace {

// One coronet gRPC server answering SayHello with its own index, counting the calls it
// served and the client ends (address:port) they came from.
struct backend {
  int index = 0;
  std::uint16_t port = 0;
  std::atomic<int> calls{0};
  std::mutex mutex;
  std::set<std::string> peers;
  std::unique_ptr<rpc::service<HelloWorld>> service;
  std::unique_ptr<rpc::server> server;  // declared after the service it serves

  void start(coronet::runtime& rt, rpc::server_options options = {}) {
    service = std::make_unique<rpc::service<HelloWorld>>();
    service->handle<hello_world::say_hello>([this](coronet::rpc::context& ctx, const Greeting&,
                                       Greeting& reply) -> asio::awaitable<grpc::Status> {
      calls.fetch_add(1, std::memory_order_relaxed);
      {
        std::lock_guard lock(mutex);
        peers.insert(ctx.peer());
      }
      reply.set_message(std::to_string(index));
      co_return grpc::Status::OK;
    });
    server = std::make_unique<rpc::server>(rt, options);
    server->add(*service);
    server->listen("127.0.0.1", port);  // 0 the first time; the same port on a restart
    server->start();
    port = server->port();
  }
  // Stops the way a server leaves a fleet: NOT_SERVING first, so that health-checking
  // clients stop sending it calls, and the shutdown `notice` later.
  void stop(std::chrono::milliseconds notice = 0ms) {
    if (notice > 0ms) {
      server->health().set_serving("", false);
      std::this_thread::sleep_for(notice);
    }
    server->shutdown_blocking(1s);
    server.reset();
    service.reset();
  }
  std::size_t peer_count() {
    std::lock_guard lock(mutex);
    return peers.size();
  }
};

// Three backends on one runtime running in the background.
class fleet : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 3; ++i) {
      servers_[i].index = i;
      servers_[i].start(rt_);
    }
    runner_ = std::thread([this] { rt_.run(); });
  }
  void TearDown() override {
    rt_.stop();  // the stop hooks drain the servers still running
    runner_.join();
  }

  std::string ipv4_target() const {
    std::string target = "ipv4:";
    for (const auto& s : servers_) target += "127.0.0.1:" + std::to_string(s.port) + ",";
    target.pop_back();
    return target;
  }
  int calls(int i) const { return servers_[i].calls.load(); }

  coronet::runtime rt_{{.threads = 2, .handle_signals = false}};
  std::array<backend, 3> servers_;
  std::thread runner_;
};

grpc::Status say_hello(HelloWorld::Stub& stub, std::string* answered_by = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  Greeting request, reply;
  request.set_message("hi");
  auto status = stub.SayHello(&ctx, request, &reply);
  if (answered_by != nullptr) *answered_by = reply.message();
  return status;
}

// round_robin connects to its addresses one by one: calls until each server has had one,
// so what follows measures the steady rotation.
void warm_up(HelloWorld::Stub& stub, const std::function<bool()>& all_seen) {
  for (int i = 0; i < 200 && !all_seen(); ++i) {
    ASSERT_TRUE(say_hello(stub).ok());
    if (i > 20) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(all_seen()) << "not every server was reached";
}

TEST_F(fleet, round_robin_spreads_calls_evenly_over_three_servers) {
  auto stub = HelloWorld::NewStub(rpc::balanced_channel(ipv4_target()));
  warm_up(*stub, [this] { return calls(0) > 0 && calls(1) > 0 && calls(2) > 0; });
  const std::array<int, 3> before{calls(0), calls(1), calls(2)};
  constexpr int total = 300;
  for (int i = 0; i < total; ++i) ASSERT_TRUE(say_hello(*stub).ok());
  for (int i = 0; i < 3; ++i) {
    const int got = calls(i) - before[i];
    // 33% +- 10% of the calls each.
    EXPECT_GE(got, total * 23 / 100) << "server " << i;
    EXPECT_LE(got, total * 43 / 100) << "server " << i;
  }
}

// A server that stops without the notice can drop the one call that reaches it in the
// instant it shuts down (CANCELLED, channel.hpp says why): the notice is what makes it clean.
TEST_F(fleet, a_stopped_server_fails_no_call_and_rejoins_when_it_restarts) {
  auto stub = HelloWorld::NewStub(rpc::balanced_channel(
      ipv4_target(), {.health_check_service = "", .max_reconnect_backoff = 250ms}));
  warm_up(*stub, [this] { return calls(0) > 0 && calls(1) > 0 && calls(2) > 0; });

  std::atomic<bool> done{false};
  std::atomic<int> ok{0}, failed{0};
  std::mutex failure_mutex;
  std::string failure;
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&] {
      while (!done) {
        const auto status = say_hello(*stub);
        if (status.ok()) {
          ++ok;
        } else {
          ++failed;
          std::lock_guard lock(failure_mutex);
          failure = std::to_string(status.error_code()) + " " + status.error_message();
        }
      }
    });
  }
  std::this_thread::sleep_for(200ms);
  servers_[1].stop(200ms);
  const int ok_at_stop = ok;
  std::this_thread::sleep_for(300ms);
  EXPECT_GT(ok - ok_at_stop, 10) << "the other two servers went on serving";

  servers_[1].start(rt_);  // the same port
  const auto restarted = std::chrono::steady_clock::now();
  while (calls(1) < 10 && std::chrono::steady_clock::now() - restarted < 5s) {
    std::this_thread::sleep_for(10ms);
  }
  const auto rejoined_after = std::chrono::steady_clock::now() - restarted;
  done = true;
  for (auto& c : clients) c.join();

  EXPECT_EQ(failed, 0) << failure;
  EXPECT_GE(calls(1), 10) << "the restarted server did not rejoin the rotation";
  // The reconnect back-off is capped at 250 ms (first wait 250 ms): well within 2 s.
  EXPECT_LT(rejoined_after, 2s);
}

TEST_F(fleet, wait_for_ready_holds_a_call_until_a_server_is_back) {
  const auto target = "ipv4:127.0.0.1:" + std::to_string(servers_[0].port);
  servers_[0].stop();
  auto fail_fast = HelloWorld::NewStub(rpc::balanced_channel(target, {.max_attempts = 1}));
  EXPECT_EQ(say_hello(*fail_fast).error_code(), grpc::StatusCode::UNAVAILABLE);

  auto waiting = HelloWorld::NewStub(
      rpc::balanced_channel(target, {.wait_for_ready = true, .max_reconnect_backoff = 200ms}));
  std::thread restart([this] {
    std::this_thread::sleep_for(300ms);
    servers_[0].start(rt_);
  });
  std::string answered_by;
  const auto status = say_hello(*waiting, &answered_by);  // deadline 5 s
  restart.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answered_by, "0");
}

TEST_F(fleet, local_subchannel_pool_gives_each_channel_its_own_connection) {
  const auto target = "ipv4:127.0.0.1:" + std::to_string(servers_[0].port);
  auto shared_a = HelloWorld::NewStub(rpc::balanced_channel(target));
  auto shared_b = HelloWorld::NewStub(rpc::balanced_channel(target));
  ASSERT_TRUE(say_hello(*shared_a).ok());
  ASSERT_TRUE(say_hello(*shared_b).ok());
  EXPECT_EQ(servers_[0].peer_count(), 1u) << "equal channels share gRPC's subchannel pool";

  auto own_a = HelloWorld::NewStub(rpc::balanced_channel(target, {.local_subchannel_pool = true}));
  auto own_b = HelloWorld::NewStub(rpc::balanced_channel(target, {.local_subchannel_pool = true}));
  ASSERT_TRUE(say_hello(*own_a).ok());
  ASSERT_TRUE(say_hello(*own_b).ok());
  EXPECT_EQ(servers_[0].peer_count(), 3u);
}

TEST_F(fleet, a_service_config_in_args_replaces_the_one_the_options_make) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(R"({"loadBalancingConfig":[{"pick_first":{}}]})");
  auto stub = HelloWorld::NewStub(rpc::balanced_channel(ipv4_target(), {.args = args}));
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(say_hello(*stub).ok());
  EXPECT_EQ(std::max({calls(0), calls(1), calls(2)}), 30) << "pick_first: one server only";
}

TEST(balanced_channel, refuses_bad_options_with_a_clear_error) {
  EXPECT_THROW(rpc::balanced_channel(""), std::invalid_argument);
  EXPECT_THROW(rpc::balanced_channel("ipv4:127.0.0.1:1", {.max_attempts = 0}),
               std::invalid_argument);
  EXPECT_THROW(rpc::balanced_channel("ipv4:127.0.0.1:1", {.load_balancing_policy = "x\"}"}),
               std::invalid_argument);
}

TEST_F(fleet, python_grpcio_round_robin_spreads_over_coronet_servers) {
  constexpr int total = 300;
  auto [code, out] = run_process(CORONET_TEST_PYTHON " " CORONET_TEST_DIR
                                 "/balancing_client.py " + ipv4_target() + " " +
                                 std::to_string(total) + " 2>&1");
  ASSERT_EQ(code, 0) << out;
  // The client prints how many of its measured calls each server answered.
  std::istringstream in(out);
  std::array<int, 3> answered{};
  in >> answered[0] >> answered[1] >> answered[2];
  ASSERT_TRUE(in) << out;
  for (int i = 0; i < 3; ++i) {
    EXPECT_GE(answered[i], total * 23 / 100) << "server " << i << ": " << out;
    EXPECT_LE(answered[i], total * 43 / 100) << "server " << i << ": " << out;
    EXPECT_GE(calls(i), answered[i]) << "counted on the server too";
  }
}

}  // namespace
