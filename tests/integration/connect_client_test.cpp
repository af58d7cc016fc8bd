// Integration tests of connect::call over real sockets on 127.0.0.1: against coronet's own
// Connect server (connect::mount of a Bench service, on a runtime thread), against plain
// routes that answer what a proxy or a foreign server might (an HTML error page, the wrong
// content type, a gzip body, a header dump), and against a port nothing listens on.
//
// The client runs on the test thread's io_context.
#include "../support/run_coroutine.hpp"

#include <coronet/connect/client.hpp>
#include <coronet/connect/server.hpp>
#include <coronet/coronet.hpp>

#include "bench.coronet.pb.h"
#include "bench.grpc.pb.h"

#include "../../src/connect/codec.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

// In this namespace, `connect` names coronet's, not the socket call.
namespace http = coronet::http;
namespace rpc = coronet::rpc;
namespace connect = coronet::connect;
namespace bench = coronet::bench::v1::bench;
using coronet::bench::v1::Bench;
using coronet_test::run;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// Bench.Unary's handler: echoes; "fail:<code>:<text>" fails with that code; "sleep:<ms>"
// waits (cancellable); "meta" answers x-echo and x-bin-bin in hex, joined by '|'; "deadline"
// answers the milliseconds left before the call's deadline ("none" without one).
asio::awaitable<grpc::Status> unary(rpc::context& ctx, const Greeting& req, Greeting& resp) {
  const std::string_view m = req.message();
  if (m.starts_with("fail:")) {
    const auto spec = m.substr(5);
    const auto colon = spec.find(':');
    co_return grpc::Status(static_cast<grpc::StatusCode>(std::stoi(std::string(spec.substr(0, colon)))),
                           std::string(spec.substr(colon + 1)));
  }
  if (m.starts_with("sleep:")) {
    asio::steady_timer t(co_await asio::this_coro::executor,
                         std::chrono::milliseconds(std::stoi(std::string(m.substr(6)))));
    co_await t.async_wait(asio::use_awaitable);
  } else if (m == "meta") {
    resp.set_message(std::string(ctx.metadata("x-echo").value_or("")) + "|" +
                     hex(ctx.metadata("x-bin-bin").value_or("")));
    co_return grpc::Status::OK;
  } else if (m == "deadline") {
    if (ctx.deadline() == std::chrono::system_clock::time_point::max()) {
      resp.set_message("none");
    } else {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          ctx.deadline() - std::chrono::system_clock::now());
      resp.set_message(std::to_string(left.count()));
    }
    co_return grpc::Status::OK;
  }
  resp.set_message(req.message());
  co_return grpc::Status::OK;
}

Greeting greeting(std::string text) {
  Greeting g;
  g.set_message(std::move(text));
  return g;
}

// What the /inspect route last received.
struct seen_request {
  http::fields headers;
  std::string body;
};

class connect_client_test : public ::testing::Test {
 protected:
  void SetUp() override {
    service_.handle<bench::unary>(unary);
    http::router routes;
    connect::mount(routes, service_);
    const std::string path(bench::unary::path);
    // Records the request, answers a valid Connect message.
    routes.post("/inspect" + path, [this](http::request& req) -> asio::awaitable<http::response> {
      {
        std::lock_guard lock(mutex_);
        seen_ = seen_request{req.headers, req.body};
      }
      co_return http::response::bytes(greeting("seen").SerializeAsString(), "application/proto");
    });
    // A proxy's error page: not a Connect error.
    routes.post("/proxy" + path, [](http::request&) -> asio::awaitable<http::response> {
      co_return http::response::bytes("<html>upstream down</html>", "text/html",
                                      http::status::service_unavailable);
    });
    routes.post("/wrongtype" + path, [](http::request&) -> asio::awaitable<http::response> {
      co_return http::response::text("hello");
    });
    // A gzip-compressed message of 1 MiB.
    routes.post("/gzip" + path, [](http::request&) -> asio::awaitable<http::response> {
      auto res = http::response::bytes(
          connect::detail::gzip_compress(greeting(std::string(1 << 20, 'z')).SerializeAsString()),
          "application/proto");
      res.headers.set("Content-Encoding", "gzip");
      co_return res;
    });
    server_.emplace(rt_, std::move(routes));
    server_->listen("127.0.0.1", 0);
    thread_ = std::thread([this] { rt_.run(); });
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  void TearDown() override {
    rt_.stop();
    thread_.join();
  }

  std::pair<grpc::Status, Greeting> call_at(std::string base, const std::string& message,
                                         connect::call_options options = {}) {
    return run(ctx_, connect::call<bench::unary>(client_, base, greeting(message),
                                                 std::move(options)));
  }
  std::pair<grpc::Status, Greeting> call(const std::string& message,
                                         connect::call_options options = {}) {
    return call_at(base_, message, std::move(options));
  }

  seen_request seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  coronet::runtime rt_{{.threads = 1, .handle_signals = false}};
  rpc::service<Bench> service_;
  std::optional<http::server> server_;
  std::thread thread_;
  std::string base_;
  asio::io_context ctx_;
  http::client client_{ctx_.get_executor()};
  std::mutex mutex_;
  seen_request seen_;
};

TEST(connect_mount, an_exposed_header_that_is_not_a_field_name_is_refused) {
  rpc::service<Bench> service;
  http::router routes;
  EXPECT_THROW(connect::mount(routes, service, {.allowed_origins = {"*"},
                                                .exposed_headers = {"X-Ok", "X-Bad\r\nSet-Cookie: a"}}),
               std::invalid_argument);
}

TEST_F(connect_client_test, unary_call_in_proto_returns_the_response) {
  auto [status, reply] = call("hello");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.message(), "hello");
}

TEST_F(connect_client_test, unary_call_in_json_returns_the_response) {
  auto [status, reply] = call("h\u00e9llo \"quoted\"", {.codec = connect::encoding::json});
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.message(), "h\u00e9llo \"quoted\"");
}

TEST_F(connect_client_test, request_carries_the_connect_headers) {
  call_at(base_ + "/inspect/", "x", {.timeout = 5s});
  auto req = seen();
  EXPECT_EQ(req.headers.get("content-type").value_or(""), "application/proto");
  EXPECT_EQ(req.headers.get("connect-protocol-version").value_or(""), "1");
  EXPECT_EQ(req.headers.get("accept-encoding").value_or(""), "gzip");
  EXPECT_EQ(req.headers.get("connect-timeout-ms").value_or(""), "5000");
  EXPECT_FALSE(req.headers.contains("content-encoding"));
  EXPECT_EQ(req.body, greeting("x").SerializeAsString());

  call_at(base_ + "/inspect", "x", {.codec = connect::encoding::json});
  req = seen();
  EXPECT_EQ(req.headers.get("content-type").value_or(""), "application/json");
  EXPECT_FALSE(req.headers.contains("connect-timeout-ms"));
  EXPECT_EQ(req.body, R"({"message":"x"})");
}

TEST_F(connect_client_test, error_codes_and_messages_round_trip) {
  const std::pair<grpc::StatusCode, std::string> cases[] = {
      {grpc::StatusCode::NOT_FOUND, "no such user"},
      {grpc::StatusCode::INVALID_ARGUMENT, "bad \"name\"\nline two \u00e9"},
      {grpc::StatusCode::PERMISSION_DENIED, "nope"},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "slow down"},
      {grpc::StatusCode::UNAVAILABLE, "try later"},
      {grpc::StatusCode::UNAUTHENTICATED, ""},
      {grpc::StatusCode::DATA_LOSS, "lost"},
  };
  for (const auto& [code, text] : cases) {
    for (auto codec : {connect::encoding::proto, connect::encoding::json}) {
      auto [status, reply] = call("fail:" + std::to_string(code) + ":" + text, {.codec = codec});
      EXPECT_EQ(status.error_code(), code) << text;
      EXPECT_EQ(status.error_message(), text);
    }
  }
}

TEST_F(connect_client_test, an_answer_that_is_not_a_connect_error_gets_the_code_of_its_status) {
  auto [unavailable, r1] = call_at(base_ + "/proxy", "x");
  EXPECT_EQ(unavailable.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(unavailable.error_message().find("503"), std::string::npos);
  // No route: the router's 404, which Connect reads as unimplemented.
  auto [unimplemented, r2] = call_at(base_ + "/nowhere", "x");
  EXPECT_EQ(unimplemented.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  // 200 with another content type is not an answer to this call.
  auto [internal, r3] = call_at(base_ + "/wrongtype", "x");
  EXPECT_EQ(internal.error_code(), grpc::StatusCode::INTERNAL);
}

TEST_F(connect_client_test, deadline_reaches_the_server_and_expires_on_a_slow_handler) {
  auto [status, reply] = call("deadline", {.timeout = 3s});
  ASSERT_TRUE(status.ok()) << status.error_message();
  const int left = std::stoi(reply.message());
  EXPECT_GT(left, 2000);
  EXPECT_LE(left, 3000);

  const auto start = clock_type::now();
  auto [late, r2] = call("sleep:3000", {.timeout = 200ms});
  EXPECT_EQ(late.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << late.error_message();
  EXPECT_LT(clock_type::now() - start, 2s);
  // The client still works afterwards.
  auto [after, r3] = call("again", {.timeout = 3s});
  EXPECT_TRUE(after.ok()) << after.error_message();
  EXPECT_EQ(r3.message(), "again");
}

TEST_F(connect_client_test, metadata_reaches_the_handler) {
  const std::string raw("\x00\xff\x10 bytes", 9);
  auto [status, reply] =
      call("meta", {.metadata = {{"X-Echo", "hello there"}, {"x-bin-bin", raw}}});
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.message(), "hello there|" + hex(raw));
}

TEST_F(connect_client_test, gzip_request_is_compressed_and_understood) {
  const std::string big(64 * 1024, 'a');
  auto [status, reply] = call(big, {.gzip_request = true});
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.message(), big);

  call_at(base_ + "/inspect", big, {.gzip_request = true});
  auto req = seen();
  EXPECT_EQ(req.headers.get("content-encoding").value_or(""), "gzip");
  EXPECT_LT(req.body.size(), big.size() / 10);
  std::string inflated;
  ASSERT_EQ(connect::detail::gzip_decompress(req.body, 1 << 20, inflated),
            connect::detail::inflate_status::ok);
  EXPECT_EQ(inflated, greeting(big).SerializeAsString());
}

TEST_F(connect_client_test, gzip_response_is_decompressed_within_the_limit) {
  auto [status, reply] = call_at(base_ + "/gzip", "x");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.message(), std::string(1 << 20, 'z'));

  auto [limited, r2] = call_at(base_ + "/gzip", "x", {.max_message_bytes = 64 * 1024});
  EXPECT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // The server compresses a large echo (the client accepts gzip): same limit.
  auto [echo, r3] = call(std::string(128 * 1024, 'e'), {.max_message_bytes = 64 * 1024});
  EXPECT_EQ(echo.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(connect_client_test, awaitable_outlives_the_arguments_it_was_made_from) {
  std::optional<asio::awaitable<std::pair<grpc::Status, Greeting>>> later;
  {
    std::string base = base_;
    connect::call_options options{.metadata = {{"x-echo", "kept"}}};
    later.emplace(connect::call<bench::unary>(client_, base, greeting("meta"), options));
  }
  auto [status, reply] = run(ctx_, std::move(*later));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.message(), "kept|");
}

// The example of docs/connect.md, compiled and run here.
asio::awaitable<std::string> documented_call(http::client& web, std::string base_url) {
  // snippet-begin connect_call
  Greeting hi;
  hi.set_message("x");
  coronet::connect::call_options options{.timeout = std::chrono::seconds(2)};
  options.metadata.emplace_back("authorization", "Bearer t");
  auto [status, reply] =
      co_await coronet::connect::call<bench::unary>(web, base_url, hi, std::move(options));
  if (!status.ok()) std::cerr << status.error_code() << " " << status.error_message() << "\n";
  // snippet-end connect_call
  co_return status.ok() ? reply.message() : status.error_message();
}

TEST_F(connect_client_test, documented_example_works) {
  EXPECT_EQ(run(ctx_, documented_call(client_, base_)), "x");
}

TEST_F(connect_client_test, refused_connection_is_unavailable) {
  // A port that was free a moment ago: nothing listens there.
  asio::ip::tcp::acceptor a(ctx_, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = a.local_endpoint().port();
  a.close();
  auto [status, reply] = call_at("http://127.0.0.1:" + std::to_string(port), "x");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(status.error_message().empty());
}

}  // namespace
