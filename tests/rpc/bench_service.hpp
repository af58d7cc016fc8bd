// The coroutine implementation of coronet.bench.v1.Bench that the rpc tests serve, with a
// few test-only behaviours driven by the request text (see each handler).
#pragma once

#include <coronet/detail/asio.hpp>
#include <coronet/rpc/service.hpp>

#include "bench.coronet.pb.h"
#include "bench.grpc.pb.h"

#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

namespace coronet_test {

using Bench = coronet::bench::v1::Bench;
using coronet::rpc::server_reader;
using coronet::rpc::server_stream;
using coronet::rpc::server_writer;

/// What handlers observed, for tests to check that cancellation reached them.
struct observations {
  std::atomic<int> handler_cancelled{0};  // a timer in a handler completed with an error
  // Server streams that ended before their last write: a write completed with false, or,
  // when the cancellation arrived between two awaits, the next await threw.
  std::atomic<int> streams_cut_short{0};
  std::atomic<int> finished{0};           // unary handlers that returned
  std::atomic<int> streams_started{0};    // server-streaming handlers that ran
};

// Unary: echoes; "error:<code>:<text>" answers that status; "sleep:<ms>" waits first
// (cancellably); "throw" throws.
inline auto unary_handler(observations& seen) {
  return [&seen](coronet::rpc::context&, const Greeting& req,
                 Greeting& resp) -> asio::awaitable<grpc::Status> {
    const std::string& m = req.message();
    struct count_finish {
      observations& s;
      ~count_finish() { ++s.finished; }
    } guard{seen};
    if (m.starts_with("error:")) {
      const auto colon = m.find(':', 6);
      co_return grpc::Status(static_cast<grpc::StatusCode>(std::stoi(m.substr(6, colon - 6))),
                             m.substr(colon + 1));
    }
    if (m.starts_with("sleep:")) {
      asio::steady_timer timer(co_await asio::this_coro::executor,
                               std::chrono::milliseconds(std::stoi(m.substr(6))));
      auto [ec] = co_await timer.async_wait(coronet::detail::use_nothrow);
      if (ec) {
        ++seen.handler_cancelled;
        co_return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled while sleeping");
      }
    }
    if (m == "throw") throw std::runtime_error("handler failure");
    resp.set_message(m);
    co_return grpc::Status::OK;
  };
}

// Server streaming: `count` greetings "0".."count-1"; "forever" writes until a write fails.
inline auto server_stream_handler(observations& seen) {
  // snippet-begin server_streaming
  return [&seen](coronet::rpc::context&, const Greeting& req,
                 server_writer<Greeting>& writer) -> asio::awaitable<grpc::Status> {
    ++seen.streams_started;
    struct count_cut_short {
      observations& s;
      bool completed = false;
      ~count_cut_short() {
        if (!completed) ++s.streams_cut_short;
      }
    } guard{seen};
    Greeting reply;
    const bool forever = req.message() == "forever";
    const int count = forever ? 0 : std::stoi(req.message());
    for (int i = 0; forever || i < count; ++i) {
      reply.set_message(std::to_string(i));
      if (!co_await writer.write(reply)) {
        co_return grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
      }
    }
    guard.completed = true;
    co_return grpc::Status::OK;
  };
  // snippet-end server_streaming
}

// Client streaming: joins every message with ','.
inline auto client_stream_handler() {
  // snippet-begin client_streaming
  return [](coronet::rpc::context&, server_reader<Greeting>& reader,
            Greeting& resp) -> asio::awaitable<grpc::Status> {
    std::string joined;
    for (Greeting msg; co_await reader.read(msg);) {
      if (!joined.empty()) joined += ',';
      joined += msg.message();
    }
    resp.set_message(joined);
    co_return grpc::Status::OK;
  };
  // snippet-end client_streaming
}

// Bidi: one coroutine reads, another writes "echo: " + message, joined by a channel.
inline auto bidi_handler() {
  // snippet-begin bidi
  return [](coronet::rpc::context&,
            server_stream<Greeting, Greeting>& stream) -> asio::awaitable<grpc::Status> {
    using namespace asio::experimental::awaitable_operators;
    constexpr auto no_throw = asio::experimental::as_tuple(asio::use_awaitable);
    asio::experimental::channel<void(std::error_code, std::string)> queue(
        co_await asio::this_coro::executor, 8);
    auto reader = [&]() -> asio::awaitable<void> {
      for (Greeting msg; co_await stream.read(msg);) {
        co_await queue.async_send(std::error_code{}, msg.message(), no_throw);
      }
      // End of stream as a message: close() would drop what is still buffered.
      co_await queue.async_send(std::error_code(asio::error::eof), std::string{}, no_throw);
    };
    auto writer = [&]() -> asio::awaitable<void> {
      Greeting reply;
      for (;;) {
        auto [ec, text] = co_await queue.async_receive(no_throw);
        if (ec) break;
        reply.set_message("echo: " + text);
        if (!co_await stream.write(reply)) {
          queue.close();
          break;
        }
      }
    };
    co_await (reader() && writer());
    co_return grpc::Status::OK;
  };
  // snippet-end bidi
}

inline void bind_bench(coronet::rpc::service<Bench>& svc, observations& seen) {
  svc.handle<coronet::bench::v1::bench::unary>(unary_handler(seen))
      .handle<coronet::bench::v1::bench::server_stream>(server_stream_handler(seen))
      .handle<coronet::bench::v1::bench::client_stream>(client_stream_handler())
      .handle<coronet::bench::v1::bench::bidi>(bidi_handler());
}

}  // namespace coronet_test
