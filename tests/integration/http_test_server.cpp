// The server the HTTP integration tests talk to: routes that exercise every feature, small
// limits so each breach is cheap to provoke. Prints "port N" once listening; SIGTERM drains.
//
//   http_test_server [--threads N] [--max-body N] [--max-header N] [--header-timeout MS]
//                    [--body-timeout MS] [--idle-timeout MS] [--max-connections N]
//                    [--max-requests N] [--drain-timeout MS]
#include <coronet/coronet.hpp>

#include <asio/steady_timer.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace http = coronet::http;
using namespace std::chrono_literals;

namespace {

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

http::router routes(std::atomic<int>& counter) {
  http::router r;
  r.get("/", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("Hello, World!");
  });
  r.get("/status/299", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("odd\n", static_cast<http::status>(299));
  });
  r.get("/users/{id}", [](http::request& req) -> asio::awaitable<http::response> {
    co_return http::response::text("user " + std::string(req.param("id")));
  });
  r.get("/users/me", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("the current user");
  });
  r.get("/files/*", [](http::request& req) -> asio::awaitable<http::response> {
    co_return http::response::text("file " + std::string(req.param("*")));
  });
  r.post("/echo", [](http::request& req) -> asio::awaitable<http::response> {
    auto res = http::response::bytes(std::move(req.body));
    if (auto t = req.headers.get("content-type")) res.headers.set("Content-Type", *t);
    co_return res;
  });
  r.put("/echo", [](http::request& req) -> asio::awaitable<http::response> {
    co_return http::response::text("put " + std::to_string(req.body.size()));
  });
  r.get("/inspect", [](http::request& req) -> asio::awaitable<http::response> {
    std::string out = req.method + " " + req.target + " HTTP/" + std::to_string(req.version / 10) +
                      "." + std::to_string(req.version % 10) + "\npath=" + std::string(req.path()) +
                      "\nquery=" + std::string(req.query()) + "\n";
    for (const auto& f : req.headers) out += f.name + ": " + f.value + "\n";
    co_return http::response::text(std::move(out));
  });
  r.get("/count", [&counter](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text(std::to_string(++counter));
  });
  r.get("/slow/{ms}", [](http::request& req) -> asio::awaitable<http::response> {
    co_await sleep_for(std::chrono::milliseconds(std::atoi(std::string(req.param("ms")).c_str())));
    co_return http::response::text("slow " + std::string(req.param("ms")));
  });
  r.get("/throw", [](http::request&) -> asio::awaitable<http::response> {
    throw std::runtime_error("handler failed");
    co_return http::response::empty(http::status::ok);
  });
  r.get("/json", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::json(R"({"ok":true})", http::status::created);
  });
  // "n" chunks; with ?delay=MS, that long before the first (the head is out already).
  r.get("/stream/{n}", [](http::request& req) -> asio::awaitable<http::response> {
    const int n = std::atoi(std::string(req.param("n")).c_str());
    const auto q = req.query();
    const int delay = q.starts_with("delay=") ? std::atoi(std::string(q.substr(6)).c_str()) : 0;
    co_return http::response::streamed([n, delay](http::body_writer& w) -> asio::awaitable<void> {
      if (!w.head_sent()) std::abort();  // stream_head::immediate: out before the producer runs
      if (delay > 0) co_await sleep_for(std::chrono::milliseconds(delay));
      for (int i = 0; i < n; ++i) {
        if (co_await w.write("chunk " + std::to_string(i) + "\n")) co_return;
      }
    }, "text/plain");
  });
  // A deferred head: "n" chunks after "delay" ms (query), with headers the producer sets before
  // its first write (X-Chunks, and whether the head was out then), and one it sets after it
  // (X-Late, never sent). The body reports what head_sent() said after the first write.
  r.get("/deferred/{n}", [](http::request& req) -> asio::awaitable<http::response> {
    const int n = std::atoi(std::string(req.param("n")).c_str());
    const auto q = req.query();
    const int delay = q.starts_with("delay=") ? std::atoi(std::string(q.substr(6)).c_str()) : 0;
    co_return http::response::streamed(
        [n, delay](http::body_writer& w) -> asio::awaitable<void> {
          w.headers().set("X-Head-Sent", w.head_sent() ? "yes" : "no");
          if (delay > 0) co_await sleep_for(std::chrono::milliseconds(delay));
          w.headers().set("X-Chunks", std::to_string(n));
          for (int i = 0; i < n; ++i) {
            if (co_await w.write("chunk " + std::to_string(i) + "\n")) co_return;
            if (i == 0) {
              w.headers().set("X-Late", "1");
              if (co_await w.write(w.head_sent() ? "head sent\n" : "head waiting\n")) co_return;
            }
          }
        },
        "text/plain", http::status::ok, http::stream_head::deferred);
  });
  // A deferred producer that fails: "before" its first write, or "after" it.
  r.get("/deferred-throw/{when}", [](http::request& req) -> asio::awaitable<http::response> {
    const bool after = req.param("when") == "after";
    co_return http::response::streamed(
        [after](http::body_writer& w) -> asio::awaitable<void> {
          if (after) (void)co_await w.write("partial\n");
          throw std::runtime_error("producer failed");
        },
        "text/plain", http::status::ok, http::stream_head::deferred);
  });
  // A deferred producer that sets a field that would split the response, then writes: the
  // write must fail (operation_aborted), and the body says so if it ever reached the wire.
  r.get("/deferred-bad-header", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::streamed(
        [](http::body_writer& w) -> asio::awaitable<void> {
          w.headers().add("X-Injected", "a\r\nSet-Cookie: evil=1");
          const auto ec = co_await w.write("must not be sent\n");
          if (ec != asio::error::operation_aborted) std::abort();
        },
        "text/plain", http::status::ok, http::stream_head::deferred);
  });
  r.get("/big/{kib}", [](http::request& req) -> asio::awaitable<http::response> {
    const auto kib = std::strtoul(std::string(req.param("kib")).c_str(), nullptr, 10);
    co_return http::response::bytes(std::string(kib * 1024, 'x'));
  });
  r.get("/no-content", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::empty(http::status::no_content);
  });
  r.get("/bad-header", [](http::request&) -> asio::awaitable<http::response> {
    auto res = http::response::text("x");
    res.headers.add("X-Injected", "a\r\nSet-Cookie: evil=1");
    co_return res;
  });
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  http::server_options options{
      .max_header_bytes = 4096,
      .max_body_bytes = 64 * 1024,
      .read_header_timeout = 2s,
      .body_read_timeout = 2s,
      .idle_timeout = 5s,
      .drain_timeout = 5s,
  };
  std::size_t threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const auto value = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--threads") threads = value;
    else if (flag == "--max-body") options.max_body_bytes = value;
    else if (flag == "--max-header") options.max_header_bytes = value;
    else if (flag == "--header-timeout") options.read_header_timeout = std::chrono::milliseconds(value);
    else if (flag == "--body-timeout") options.body_read_timeout = std::chrono::milliseconds(value);
    else if (flag == "--idle-timeout") options.idle_timeout = std::chrono::milliseconds(value);
    else if (flag == "--max-connections") options.max_connections = value;
    else if (flag == "--max-requests") options.max_requests_per_connection = value;
    else if (flag == "--drain-timeout") options.drain_timeout = std::chrono::milliseconds(value);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  coronet::runtime rt({.threads = threads});
  std::atomic<int> counter{0};
  http::server server(rt, routes(counter), options);
  server.listen("127.0.0.1", 0);
  std::printf("port %u\n", server.port());
  std::fflush(stdout);
  rt.run();
  std::printf("stopped\n");
  return 0;
}
