// A coronet server serving Bench on 127.0.0.1 (runtime of two threads running in the
// background) and a channel to it, for the rpc tests. With CORONET_TEST_INLINE_START=1 in
// the environment every method is bound with {.inline_start = true}, so the same behaviour
// tests cover both ways a call starts (meson runs them both ways).
#pragma once

#include "bench_service.hpp"

#include <coronet/rpc/server.hpp>
#include <coronet/runtime.hpp>

#include <asio/use_future.hpp>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace coronet_test {

inline coronet::rpc::method_options bench_methods() {
  const char* inline_start = std::getenv("CORONET_TEST_INLINE_START");
  return {.inline_start = inline_start != nullptr && std::string_view(inline_start) == "1"};
}

class served_bench {
 public:
  /// `before_add` may install middleware on the service and the server before the one is
  /// added to the other.
  using setup = std::function<void(coronet::rpc::service<Bench>&, coronet::rpc::server&)>;
  explicit served_bench(coronet::rpc::server_options options = {}, const setup& before_add = {})
      : server_(rt_, options) {
    bind_bench(bench_, seen_);
    if (before_add) before_add(bench_, server_);
    server_.add(bench_);
    server_.listen("127.0.0.1", 0);
    server_.start();
    runner_ = std::thread([this] { rt_.run(); });
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_.port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = Bench::NewStub(channel_);
  }
  ~served_bench() {
    rt_.stop();  // the stop hook drains the server
    runner_.join();
  }

  /// Runs `work` on one of the runtime's executors and returns its result.
  template <class T>
  T run(asio::awaitable<T> work) {
    return asio::co_spawn(rt_.next_executor(), std::move(work), asio::use_future).get();
  }

  coronet::runtime& runtime() { return rt_; }
  coronet::rpc::server& server() { return server_; }
  std::uint16_t port() const { return server_.port(); }
  Bench::Stub& stub() { return *stub_; }
  observations& seen() { return seen_; }

 private:
  coronet::runtime rt_{{.threads = 2, .handle_signals = false}};
  observations seen_;
  coronet::rpc::service<Bench> bench_{bench_methods()};
  coronet::rpc::server server_;
  std::thread runner_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Bench::Stub> stub_;
};

inline Greeting greeting(std::string text) {
  Greeting g;
  g.set_message(std::move(text));
  return g;
}

}  // namespace coronet_test
