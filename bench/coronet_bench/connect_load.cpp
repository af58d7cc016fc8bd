#include "connect_load.hpp"

#include <coronet/connect/client.hpp>

#include "hello.coronet.pb.h"
#include "hello.pb.h"
#include "rpc/greeters.hpp"

#include <cstdint>

namespace coronet_bench {

namespace http = coronet::http;
namespace connect = coronet::connect;
using namespace std::chrono_literals;

namespace {

http::client_options client_options(const run_spec& spec) {
  return {.request_timeout = 10s, .max_connections_per_host = spec.concurrency};
}

std::string base_url(const server_link& server) {
  return "http://127.0.0.1:" + std::to_string(server.http_port);
}

/// The payload of the gRPC-Web frame at `at` with the given flags, advancing `at`; nullopt
/// when there is none.
std::optional<std::string_view> frame(std::string_view body, std::size_t& at, std::uint8_t flags) {
  if (body.size() < at + 5 || static_cast<std::uint8_t>(body[at]) != flags) return std::nullopt;
  std::uint32_t length = 0;
  for (int i = 1; i <= 4; ++i) length = (length << 8) | static_cast<std::uint8_t>(body[at + i]);
  if (body.size() < at + 5 + length) return std::nullopt;
  const auto payload = body.substr(at + 5, length);
  at += 5 + length;
  return payload;
}

}  // namespace

measurement run_connect_unary(const run_spec& spec, const server_link& server) {
  asio::io_context ctx(1);
  http::client client(ctx.get_executor(), client_options(spec));
  const std::string url = base_url(server);
  Greeting request;
  request.set_message(payload_text(spec.payload));
  const std::size_t expected = bench::reply_text(request.message()).size();
  const connect::call_options options{
      .codec = spec.transport == "connect-json" ? connect::encoding::json : connect::encoding::proto};
  return drive(ctx, spec, server, spec.concurrency, [&](recorder& r, std::size_t) {
    return request_loop(r, [&]() -> asio::awaitable<std::string> {
      auto [status, reply] =
          co_await connect::call<hello_world::say_hello>(client, url, request, options);
      if (!status.ok()) co_return "status " + std::to_string(status.error_code()) + ": " +
                                  status.error_message();
      if (reply.message().size() != expected) co_return "unexpected reply";
      co_return std::string();
    });
  });
}

measurement run_connect_raw(const run_spec& spec, const server_link& server) {
  asio::io_context ctx(1);
  http::client client(ctx.get_executor(), client_options(spec));
  const std::string url = base_url(server) + std::string(hello_world::say_hello::path);
  const bool json = spec.transport == "connect-json";
  const std::string text = payload_text(spec.payload);
  // The request and the answer's body as connect::call would send and expect them.
  const std::string body = json ? R"({"message":")" + text + R"("})" : request_body(spec.payload);
  Greeting reply;
  reply.set_message(bench::reply_text(text));
  const std::string expected =
      json ? R"({"message":")" + reply.message() + R"("})" : reply.SerializeAsString();
  const std::string_view type = json ? "application/json" : "application/proto";
  return drive(ctx, spec, server, spec.concurrency, [&](recorder& r, std::size_t) {
    return request_loop(r, [&]() -> asio::awaitable<std::string> {
      http::fields headers;
      headers.add("Content-Type", type);
      headers.add("Connect-Protocol-Version", "1");
      headers.add("Accept-Encoding", "gzip");
      auto res = co_await client.request("POST", url, std::move(headers), body);
      if (!res) co_return res.error().message();
      if (res->status != http::status::ok)
        co_return "HTTP " + std::to_string(static_cast<int>(res->status));
      if (res->headers.get("content-type") != type || res->body != expected)
        co_return "unexpected reply";
      co_return std::string();
    });
  });
}

measurement run_grpc_web(const run_spec& spec, const server_link& server) {
  asio::io_context ctx(1);
  http::client client(ctx.get_executor(), client_options(spec));
  const std::string url = base_url(server) + std::string(hello_world::say_hello::path);
  const std::string message = request_body(spec.payload);
  std::string body;
  const auto length = static_cast<std::uint32_t>(message.size());
  body += '\0';
  for (int shift = 24; shift >= 0; shift -= 8) body += static_cast<char>((length >> shift) & 0xff);
  body += message;
  const std::size_t expected = bench::reply_text(payload_text(spec.payload)).size();
  return drive(ctx, spec, server, spec.concurrency, [&](recorder& r, std::size_t) {
    return request_loop(r, [&]() -> asio::awaitable<std::string> {
      http::fields headers;
      headers.add("Content-Type", "application/grpc-web+proto");
      headers.add("X-Grpc-Web", "1");
      auto res = co_await client.request("POST", url, std::move(headers), body);
      if (!res) co_return res.error().message();
      if (res->status != http::status::ok)
        co_return "HTTP " + std::to_string(static_cast<int>(res->status));
      std::size_t at = 0;
      const auto data = frame(res->body, at, 0x00);
      const auto trailers = frame(res->body, at, 0x80);
      if (!data || !trailers) co_return "malformed gRPC-Web answer";
      if (trailers->find("grpc-status:0\r\n") != 0) co_return "trailers: " + std::string(*trailers);
      Greeting reply;
      if (!reply.ParseFromArray(data->data(), static_cast<int>(data->size())) ||
          reply.message().size() != expected)
        co_return "unexpected reply";
      co_return std::string();
    });
  });
}

}  // namespace coronet_bench
