// The server the Connect and gRPC-Web interop tests talk to: HelloWorld and
// coronet.bench.v1.Bench, each one service object served over gRPC (the HTTP/2 connections of
// the one port), Connect and gRPC-Web (its HTTP/1.1 connections). Bench's handlers take
// their instructions from the request message:
//   Unary         echoes; "fail:<code>:<text>" fails with that gRPC code; "sleep:<ms>" waits
//                 (cancellable) and echoes; "meta" answers the x-echo metadata, adds it as
//                 header x-echo and trailer x-echo-trailer, and echoes x-bin-bin as a header
//   ServerStream  "N" or "N:<ms>" sends "0".."N-1" (that long apart); "fail-after:<n>:<code>"
//                 sends n, then fails with that code; "meta:N" sends N after echoing the
//                 metadata as "meta" does, then adds header x-late after its first message
//   ClientStream  joins the messages with ','; a message "meta" echoes the metadata as "meta"
//                 does                               Bidi  "echo: " + each message
//   Lookup        "found: " + message (no side effects: Connect GET)
// Flags: --cors-origin ORIGIN (repeatable; the "meta" headers are exposed to it). Prints
// "port N" once listening; SIGTERM drains.
#include <coronet/connect/server.hpp>
#include <coronet/coronet.hpp>

#include "bench.coronet.pb.h"
#include "bench.grpc.pb.h"
#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace http = coronet::http;
namespace rpc = coronet::rpc;
namespace bench = coronet::bench::v1::bench;
using coronet::bench::v1::Bench;

namespace {

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

// "<code>:<text>" of "fail:<code>:<text>".
grpc::Status failure(std::string_view spec) {
  const auto colon = spec.find(':');
  const int code = std::stoi(std::string(spec.substr(0, colon)));
  const auto text = colon == std::string_view::npos ? std::string_view() : spec.substr(colon + 1);
  return grpc::Status(static_cast<grpc::StatusCode>(code), std::string(text));
}

// What "meta" does: the x-echo metadata back as header x-echo and trailer x-echo-trailer,
// x-bin-bin back as a header; returns the x-echo value.
std::string echo_metadata(rpc::context& ctx) {
  auto echo = std::string(ctx.metadata("x-echo").value_or(""));
  ctx.add_header("x-echo", echo);
  ctx.add_trailer("x-echo-trailer", echo);
  if (auto bin = ctx.metadata("x-bin-bin")) ctx.add_header("x-bin-bin", *bin);
  return echo;
}

asio::awaitable<grpc::Status> unary(rpc::context& ctx, const Greeting& req, Greeting& resp) {
  const std::string_view m = req.message();
  if (m.starts_with("fail:")) co_return failure(m.substr(5));
  if (m.starts_with("sleep:")) {
    co_await sleep_for(std::chrono::milliseconds(std::stoi(std::string(m.substr(6)))));
  } else if (m == "meta") {
    resp.set_message(echo_metadata(ctx));
    co_return grpc::Status::OK;
  }
  resp.set_message(req.message());
  co_return grpc::Status::OK;
}

asio::awaitable<grpc::Status> server_stream(rpc::context& ctx, const Greeting& req,
                                            rpc::server_writer<Greeting>& out) {
  std::string_view m = req.message();
  int count = 0;
  std::chrono::milliseconds gap{0};
  std::optional<grpc::Status> end;
  const bool meta = m.starts_with("meta:");
  if (meta) {
    (void)echo_metadata(ctx);
    m.remove_prefix(5);
  }
  if (m.starts_with("fail-after:")) {
    const auto spec = m.substr(11);
    count = std::stoi(std::string(spec.substr(0, spec.find(':'))));
    end = grpc::Status(failure(spec.substr(spec.find(':') + 1)).error_code(),
                       "failed after " + std::to_string(count));
  } else {
    count = std::stoi(std::string(m.substr(0, m.find(':'))));
    if (m.find(':') != std::string_view::npos) {
      gap = std::chrono::milliseconds(std::stoi(std::string(m.substr(m.find(':') + 1))));
    }
  }
  Greeting reply;
  for (int i = 0; i < count; ++i) {
    if (i > 0 && gap.count() > 0) co_await sleep_for(gap);
    reply.set_message(std::to_string(i));
    if (!co_await out.write(reply)) co_return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
    if (meta && i == 0) ctx.add_header("x-late", "after the first message");
  }
  co_return end.value_or(grpc::Status::OK);
}

asio::awaitable<grpc::Status> client_stream(rpc::context& ctx, rpc::server_reader<Greeting>& in,
                                            Greeting& resp) {
  std::string joined;
  for (Greeting g; co_await in.read(g);) {
    if (g.message() == "meta") (void)echo_metadata(ctx);
    if (!joined.empty()) joined += ',';
    joined += g.message();
  }
  resp.set_message(joined);
  co_return grpc::Status::OK;
}

asio::awaitable<grpc::Status> bidi(rpc::context&, rpc::server_stream<Greeting, Greeting>& s) {
  Greeting g;
  while (co_await s.read(g)) {
    g.set_message("echo: " + g.message());
    if (!co_await s.write(g)) break;
  }
  co_return grpc::Status::OK;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> origins;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string_view(argv[i]) == "--cors-origin") origins.emplace_back(argv[i + 1]);
  }
  coronet::runtime rt({.threads = 2});

  rpc::service<HelloWorld> hello;
  hello.handle<hello_world::say_hello>(
      [](rpc::context&, const Greeting& req, Greeting& resp) -> asio::awaitable<grpc::Status> {
        resp.set_message("Hello, " + req.message());
        co_return grpc::Status::OK;
      });
  rpc::service<Bench> calls;
  calls.handle<bench::unary>(unary)
      .handle<bench::server_stream>(server_stream)
      .handle<bench::client_stream>(client_stream)
      .handle<bench::bidi>(bidi)
      .handle<bench::lookup>(
          [](rpc::context&, const Greeting& req, Greeting& resp) -> asio::awaitable<grpc::Status> {
            resp.set_message("found: " + req.message());
            co_return grpc::Status::OK;
          });

  rpc::server grpc_server(rt);
  grpc_server.add(hello);
  grpc_server.add(calls);
  grpc_server.start();

  http::router routes;
  const coronet::connect::server_options connect{
      .allowed_origins = origins, .exposed_headers = {"X-Echo", "Trailer-X-Echo-Trailer"}};
  coronet::connect::mount(routes, hello, connect);
  coronet::connect::mount(routes, calls, connect);
  http::server web(rt, std::move(routes));

  coronet::listener port(rt, web);
  port.on_http2([&grpc_server](asio::ip::tcp::socket s) { grpc_server.adopt(std::move(s)); });
  port.listen("127.0.0.1", 0);
  std::printf("port %u\n", static_cast<unsigned>(port.port()));
  std::fflush(stdout);
  rt.run();
}
