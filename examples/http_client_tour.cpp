// http_client_tour: coronet's HTTP/1.1 client, call by call, against a server with /,
// /echo, /inspect, /big/{kib} and /slow/{ms} (as tests/integration/http_test_server has).
// Prints one line per call; exits 1 if the first GET fails. docs/http-client.md takes its
// code blocks from here.
//
//     http_client_tour BASE_URL        e.g. http://127.0.0.1:8080
#include <coronet/coronet.hpp>

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <cstddef>
#include <iostream>
#include <string>
#include <string_view>

namespace http = coronet::http;
using namespace std::chrono_literals;

namespace {

asio::awaitable<int> tour(std::string base) {
  auto url = [&base](std::string_view path) { return base + std::string(path); };
  // snippet-begin client_get
  auto ex = co_await asio::this_coro::executor;
  http::client c(ex);  // a statement of its own: GCC 12 mishandles temporaries by co_await
  auto res = co_await c.get(url("/"));
  if (!res) {  // res.error() is a std::error_code
    std::cerr << res.error().message() << "\n";
    co_return 1;
  }
  std::cout << static_cast<int>(res->status) << " " << res->body << "\n";
  // headers: res->headers.get("content-type")
  // snippet-end client_get

  // snippet-begin client_methods
  auto posted = co_await c.post(url("/echo"), "payload", "text/x-test");  // Content-Length set
  auto put = co_await c.put(url("/echo"), "data");  // application/octet-stream by default
  auto deleted = co_await c.del(url("/echo"));
  auto head = co_await c.request("HEAD", url("/big/64"));  // any method, headers and body
  http::fields h;
  h.add("X-Trace", "abc");
  auto inspected = co_await c.get(url("/inspect?q=1"), h);
  // snippet-end client_methods
  for (auto* r : {&posted, &put, &deleted, &head, &inspected}) {
    std::cout << (*r ? std::to_string(static_cast<int>((*r)->status)) : r->error().message())
              << "\n";
  }

  // snippet-begin client_stream
  std::size_t total = 0;
  http::client_request req;
  req.url = url("/big/1024");
  auto streamed = co_await c.stream(std::move(req), [&](std::string_view chunk)
                                                        -> asio::awaitable<void> {
    total += chunk.size();
    co_return;
  });
  // snippet-end client_stream
  std::cout << "streamed " << total << " bytes\n";

  // snippet-begin client_cancel
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, 50ms);
  auto v = co_await (c.get(url("/slow/2000")) || timer.async_wait(asio::use_awaitable));
  // v.index() == 1: the timer won, the request was cancelled
  // snippet-end client_cancel
  std::cout << (v.index() == 1 ? "cancelled by the timer" : "answered first") << "\n";

  // snippet-begin client_options
  http::client quick(ex, {.request_timeout = 100ms});
  http::client wide(ex, {.max_connections_per_host = 64});
  // snippet-end client_options
  auto late = co_await quick.get(url("/slow/2000"));
  std::cout << (late ? "answered" : late.error().message()) << "\n";
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: http_client_tour BASE_URL\n";
    return 2;
  }
  asio::io_context ctx;
  auto done = asio::co_spawn(ctx, tour(argv[1]), asio::use_future);
  ctx.run();
  return done.get();
}
