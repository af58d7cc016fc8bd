// rpc::server_options::max_connection_age: a long-lived client is sent a GOAWAY once its
// connection is that old and goes on over a new one, without a failed call, and a call in
// progress at the time finishes within max_connection_age_grace. Both on a port gRPC listens
// on itself and on the one port coronet::listener shares with HTTP/1.1, whose connections
// reach the server through adopt().
#include <coronet/http/server.hpp>
#include <coronet/listener.hpp>
#include <coronet/rpc/server.hpp>
#include <coronet/rpc/service.hpp>
#include <coronet/runtime.hpp>

#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace rpc = coronet::rpc;
using namespace std::chrono_literals;

namespace {

constexpr auto age = 300ms;

// SayHello answers at once, or after 700 ms for "slow" (longer than `age`); the client
// ends (address:port) calls came from are recorded.
class aged_server {
 public:
  aged_server() : server_(rt_, {.max_connection_age = age, .max_connection_age_grace = 3s}) {
    hello_.handle<hello_world::say_hello>([this](coronet::rpc::context& ctx, const Greeting& request,
                                     Greeting& reply) -> asio::awaitable<grpc::Status> {
      {
        std::lock_guard lock(mutex_);
        peers_.insert(ctx.peer());
      }
      if (request.message() == "slow") {
        asio::steady_timer timer(co_await asio::this_coro::executor, 700ms);
        co_await timer.async_wait(asio::use_awaitable);
      }
      reply.set_message(request.message());
      co_return grpc::Status::OK;
    });
    server_.add(hello_);
  }
  ~aged_server() { stop(); }

  void run() { runner_ = std::thread([this] { rt_.run(); }); }
  /// Stops the runtime (draining the server and the listener) and waits for it.
  void stop() {
    rt_.stop();
    if (runner_.joinable()) runner_.join();
  }
  coronet::runtime& runtime() { return rt_; }
  rpc::server& server() { return server_; }
  std::size_t peers() {
    std::lock_guard lock(mutex_);
    return peers_.size();
  }

 private:
  coronet::runtime rt_{{.threads = 2, .handle_signals = false}};
  rpc::service<HelloWorld> hello_;
  rpc::server server_;
  std::thread runner_;
  std::mutex mutex_;
  std::set<std::string> peers_;
};

grpc::Status say(HelloWorld::Stub& stub, const std::string& text) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  Greeting request, reply;
  request.set_message(text);
  auto status = stub.SayHello(&ctx, request, &reply);
  if (status.ok() && reply.message() != text) return {grpc::StatusCode::INTERNAL, "wrong reply"};
  return status;
}

struct outcome {
  int ok = 0;
  int failed = 0;
  std::string failure;
  grpc::Status slow;
};

// One channel (gRPC's defaults: a single connection, pick_first) calling for 1.5 s, five
// connection ages, with one call spanning two ages running meanwhile.
outcome call_for_a_while(std::uint16_t port) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  auto stub = HelloWorld::NewStub(channel);
  outcome out;
  auto slow = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(200ms);
    return say(*stub, "slow");
  });
  const auto end = std::chrono::steady_clock::now() + 5 * age;
  while (std::chrono::steady_clock::now() < end) {
    const auto status = say(*stub, "hi");
    if (status.ok()) {
      ++out.ok;
    } else {
      ++out.failed;
      out.failure = std::to_string(status.error_code()) + " " + status.error_message();
    }
    std::this_thread::sleep_for(5ms);
  }
  out.slow = slow.get();
  return out;
}

TEST(connection_age, a_long_lived_client_moves_to_new_connections_without_a_failed_call) {
  aged_server s;
  s.server().listen("127.0.0.1", 0);
  s.server().start();
  s.run();

  const auto out = call_for_a_while(s.server().port());
  EXPECT_EQ(out.failed, 0) << out.failure;
  EXPECT_GT(out.ok, 50);
  EXPECT_TRUE(out.slow.ok()) << "a call across the GOAWAY finishes in the grace: "
                             << out.slow.error_message();
  // Five ages: about five connections (each age is +-10%), each from its own client port.
  EXPECT_GE(s.peers(), 3u);
}

TEST(connection_age, applies_to_connections_adopted_from_the_shared_port) {
  aged_server s;
  s.server().start();  // no port of its own: fed by the listener
  coronet::http::server web(s.runtime(), coronet::http::router{});
  coronet::listener shared(s.runtime(), web);
  std::atomic<int> handed{0};
  shared.on_http2([&](asio::ip::tcp::socket socket) {
    ++handed;
    s.server().adopt(std::move(socket));
  });
  shared.listen("127.0.0.1", 0);
  s.run();

  const auto out = call_for_a_while(shared.port());
  EXPECT_EQ(out.failed, 0) << out.failure;
  EXPECT_GT(out.ok, 50);
  EXPECT_TRUE(out.slow.ok()) << out.slow.error_message();
  // Every new connection came through the listener again.
  EXPECT_GE(handed.load(), 3);
  s.stop();  // before the listener and the HTTP server go
}

}  // namespace
