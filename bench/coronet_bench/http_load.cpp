#include "http_load.hpp"

#include "hello.pb.h"

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <charconv>

namespace coronet_bench {

namespace http = coronet::http;
using namespace std::chrono_literals;

// http::client keeps one pooled keep-alive connection per request in flight.
measurement run_http_get(const run_spec& spec, const server_link& server) {
  asio::io_context ctx(1);
  http::client_options options{.request_timeout = 10s, .max_connections_per_host = spec.concurrency};
  options.tls.verify = false;  // the server's certificate is a throw-away self-signed one
  http::client client(ctx.get_executor(), options);
  const bool tls = spec.transport == "https";
  if (tls && server.https_port == 0) return failed_run(spec, "built without TLS");
  const std::string url = (tls ? "https://127.0.0.1:" : "http://127.0.0.1:") +
                          std::to_string(tls ? server.https_port : server.http_port) + "/";
  return drive(ctx, spec, server, spec.concurrency, [&](recorder& r, std::size_t) {
    return request_loop(r, [&]() -> asio::awaitable<std::string> {
      auto res = co_await client.get(url);
      if (!res) co_return res.error().message();
      if (res->status != http::status::ok)
        co_return "HTTP " + std::to_string(static_cast<int>(res->status));
      if (res->body != "Hello, World!") co_return "unexpected body";
      co_return std::string();
    });
  });
}

measurement run_http_rpc(const run_spec& spec, const server_link& server) {
  asio::io_context ctx(1);
  http::client client(ctx.get_executor(), {.request_timeout = 10s,
                                           .max_connections_per_host = spec.concurrency});
  const std::string url =
      "http://127.0.0.1:" + std::to_string(server.http_port) + std::string(plain_rpc_path);
  const std::string body = request_body(spec.payload);
  const std::size_t expected = reply_text(payload_text(spec.payload)).size();
  return drive(ctx, spec, server, spec.concurrency, [&](recorder& r, std::size_t) {
    return request_loop(r, [&]() -> asio::awaitable<std::string> {
      auto res = co_await client.post(url, body, "application/proto");
      if (!res) co_return res.error().message();
      if (res->status != http::status::ok)
        co_return "HTTP " + std::to_string(static_cast<int>(res->status));
      Greeting reply;
      if (!reply.ParseFromString(res->body) || reply.message().size() != expected)
        co_return "unexpected reply";
      co_return std::string();
    });
  });
}

namespace {

/// The raw request of `transport` (http: GET /, http-rpc: the Greeting POST).
std::string raw_request(const run_spec& spec) {
  if (spec.transport != "http-rpc") return "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  const std::string body = request_body(spec.payload);
  return "POST " + std::string(plain_rpc_path) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
         "Content-Type: application/proto\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Pipelining needs several requests on the wire before the first answer, which
// http::client never does; so a raw socket writes `depth` requests at once and reads their
// answers, each answer's latency counted from the batch's send.
asio::awaitable<void> pipelined_worker(recorder& r, std::uint16_t port, std::string request,
                                       std::size_t depth) {
  auto ex = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(ex);
  auto [connect_error] = co_await socket.async_connect(
      {asio::ip::make_address("127.0.0.1"), port}, use_nothrow);
  if (connect_error) {
    r.fail("connect: " + connect_error.message());
    co_return;
  }
  socket.set_option(asio::ip::tcp::no_delay(true));
  std::string batch;
  for (std::size_t i = 0; i < depth; ++i) batch += request;
  std::string in;
  std::vector<char> chunk(64 * 1024);
  while (r.running()) {
    const auto sent = clock_type::now();
    auto [write_error, written] = co_await asio::async_write(socket, asio::buffer(batch), use_nothrow);
    if (write_error) {
      r.fail("write: " + write_error.message());
      co_return;
    }
    std::size_t answered = 0;
    std::size_t pos = 0;
    while (answered < depth) {
      // Take every complete response already buffered.
      for (;;) {
        const auto head_end = in.find("\r\n\r\n", pos);
        if (head_end == std::string::npos) break;
        const std::string_view head(in.data() + pos, head_end - pos);
        if (head.substr(0, 12) != "HTTP/1.1 200") {
          r.fail("unexpected response: " + std::string(head.substr(0, 40)));
          co_return;
        }
        std::size_t length = 0;
        for (std::size_t at = head.find("\r\n"); at != std::string_view::npos;
             at = head.find("\r\n", at + 2)) {
          const auto line = head.substr(at + 2, head.find("\r\n", at + 2) - (at + 2));
          if (line.size() > 15 && http::iequals(line.substr(0, 15), "content-length:")) {
            auto value = line.substr(15);
            while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
            std::from_chars(value.data(), value.data() + value.size(), length);
          }
        }
        if (in.size() < head_end + 4 + length) break;
        pos = head_end + 4 + length;
        r.record(sent, clock_type::now());
        ++answered;
      }
      if (answered == depth) break;
      auto [read_error, n] = co_await socket.async_read_some(asio::buffer(chunk), use_nothrow);
      if (read_error) {
        r.fail("read: " + read_error.message());
        co_return;
      }
      in.append(chunk.data(), n);
    }
    in.erase(0, pos);
  }
}

}  // namespace

// `connections` sockets, each with concurrency / connections requests on the wire.
measurement run_http_pipelined(const run_spec& spec, const server_link& server) {
  asio::io_context ctx(1);
  const std::string request = raw_request(spec);
  const std::size_t depth = std::max<std::size_t>(1, spec.concurrency / spec.connections);
  return drive(ctx, spec, server, spec.connections, [&](recorder& r, std::size_t) {
    return pipelined_worker(r, server.http_port, request, depth);
  });
}

}  // namespace coronet_bench
