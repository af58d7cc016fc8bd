// The server metrics_test.py talks to: HTTP routes (one with a parameter, a POST, one whose
// handler throws), the hello.proto greeter and the bench service's streams on one port
// through a coronet::listener, all counting into one coronet::metrics served at GET /metrics.
// SayHello answers NOT_FOUND when asked for "missing". Prints "port N" once listening;
// SIGTERM drains.
#include <coronet/coronet.hpp>
#include <coronet/metrics.hpp>

#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include "../rpc/bench_service.hpp"

#include <cstdio>
#include <stdexcept>
#include <string>

namespace http = coronet::http;
namespace rpc = coronet::rpc;

int main() {
  coronet::runtime rt({.threads = 2});
  coronet::metrics metrics;
  metrics.track(rt);

  http::router routes;
  routes.get("/users/{id}", [](http::request& req) -> asio::awaitable<http::response> {
    co_return http::response::text("user " + std::string(req.param("id")) + "\n");
  });
  routes.post("/echo", [](http::request& req) -> asio::awaitable<http::response> {
    co_return http::response::bytes(std::move(req.body));
  });
  routes.get("/fail", [](http::request&) -> asio::awaitable<http::response> {
    throw std::runtime_error("the handler failed");
  });
  routes.get("/metrics", metrics.endpoint());
  http::server web(rt, std::move(routes), {.metrics = &metrics});

  rpc::service<HelloWorld> hello;
  hello.handle<hello_world::say_hello>([](coronet::rpc::context&, const Greeting& req,
                              Greeting& resp) -> asio::awaitable<grpc::Status> {
    if (req.message() == "missing") co_return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such greeting");
    resp.set_message("hello " + req.message());
    co_return grpc::Status::OK;
  });
  coronet_test::observations seen;
  rpc::service<coronet_test::Bench> bench;
  coronet_test::bind_bench(bench, seen);
  rpc::server grpc_server(rt, {.metrics = &metrics});
  grpc_server.add(hello);
  grpc_server.add(bench);
  grpc_server.start();

  coronet::listener port(rt, web);
  port.on_http2([&grpc_server](asio::ip::tcp::socket s) { grpc_server.adopt(std::move(s)); });
  port.listen("127.0.0.1", 0);
  std::printf("port %u\n", static_cast<unsigned>(port.port()));
  std::fflush(stdout);
  rt.run();  // SIGTERM drains both servers
}
