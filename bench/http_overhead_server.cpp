// What features cost per request: GET / answers "Hello, World!" (as http_plaintext_server
// does), with N trivial middlewares around it. bench/http_overhead.sh runs it with each set of
// flags side by side and compares server CPU per request.
//   http_overhead_server [--listen HOST:PORT] [--threads N] [--middlewares N] [--hooks N]
//                        [--pass-through N] [--handler-work] [--metrics]
// The middlewares, outer first, repeat in turn: one adds a response header, one reads a request
// header, one counts requests. --hooks does the same work with hooks (an after hook, two
// before hooks; installed first, outside any middleware). --pass-through adds middlewares
// (inside those) that only await next: the cost of a layer itself. --handler-work has the
// handler itself do what the three do (no middleware): the work without the layers. --metrics counts every request into a coronet::metrics
// (GET /metrics is mounted but never scraped during a run): what counting costs. Prints
// "port N" once listening; SIGINT/SIGTERM stop it.
#include <coronet/coronet.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace http = coronet::http;

namespace {

// What the reading and counting middlewares saw, as a metrics middleware would count it.
std::atomic<std::uint64_t> counted{0};
std::atomic<std::uint64_t> with_user_agent{0};

http::middleware trivial(std::size_t which) {
  switch (which % 3) {
    case 0:
      return [](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
        auto res = co_await next(req);
        res.headers.set("X-Frame-Options", "DENY");
        co_return res;
      };
    case 1:
      return [](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
        if (req.headers.get("user-agent")) with_user_agent.fetch_add(1, std::memory_order_relaxed);
        co_return co_await next(req);
      };
    default:
      return [](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
        counted.fetch_add(1, std::memory_order_relaxed);
        co_return co_await next(req);
      };
  }
}

// The same three as hooks.
void add_hook(http::router& routes, std::size_t which) {
  switch (which % 3) {
    case 0:
      routes.after([](const http::request&, http::response& res) { res.headers.set("X-Frame-Options", "DENY"); });
      break;
    case 1:
      routes.before([](http::request& req) -> std::optional<http::response> {
        if (req.headers.get("user-agent")) with_user_agent.fetch_add(1, std::memory_order_relaxed);
        return std::nullopt;
      });
      break;
    default:
      routes.before([](http::request&) -> std::optional<http::response> {
        counted.fetch_add(1, std::memory_order_relaxed);
        return std::nullopt;
      });
      break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  unsigned port = 0;
  std::size_t threads = 1;
  std::size_t middlewares = 0;
  std::size_t hooks = 0;
  std::size_t pass_through = 0;
  bool with_metrics = false;
  bool handler_work = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--metrics") {
      with_metrics = true;
      continue;
    }
    if (flag == "--handler-work") {
      handler_work = true;
      continue;
    }
    const std::string value = i + 1 < argc ? argv[++i] : "";
    if (flag == "--listen" && !value.empty()) {
      const auto colon = value.rfind(':');
      host = value.substr(0, colon);
      port = static_cast<unsigned>(std::stoul(value.substr(colon + 1)));
    } else if (flag == "--threads" && !value.empty()) {
      threads = std::stoul(value);
    } else if (flag == "--middlewares" && !value.empty()) {
      middlewares = std::stoul(value);
    } else if (flag == "--hooks" && !value.empty()) {
      hooks = std::stoul(value);
    } else if (flag == "--pass-through" && !value.empty()) {
      pass_through = std::stoul(value);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--listen HOST:PORT] [--threads N] [--middlewares N] [--hooks N] "
                   "[--pass-through N] [--handler-work] [--metrics]\n",
                   argv[0]);
      return 2;
    }
  }
  coronet::runtime rt({.threads = threads});
  coronet::metrics metrics;  // outlives the router and the server, which refer to it
  http::router routes;
  for (std::size_t i = 0; i < hooks; ++i) add_hook(routes, i);
  for (std::size_t i = 0; i < middlewares; ++i) routes.use(trivial(i));
  for (std::size_t i = 0; i < pass_through; ++i) {
    routes.use([](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
      co_return co_await next(req);
    });
  }
  if (handler_work) {
    routes.get("/", [](http::request& req) -> asio::awaitable<http::response> {
      counted.fetch_add(1, std::memory_order_relaxed);
      if (req.headers.get("user-agent")) with_user_agent.fetch_add(1, std::memory_order_relaxed);
      auto res = http::response::text("Hello, World!");
      res.headers.set("X-Frame-Options", "DENY");
      co_return res;
    });
  } else {
    routes.get("/", [](http::request&) -> asio::awaitable<http::response> {
      co_return http::response::text("Hello, World!");
    });
  }
  if (with_metrics) {
    metrics.track(rt);
    routes.get("/metrics", metrics.endpoint());
  }
  http::server server(rt, std::move(routes),
                      {.max_connections = 100'000, .metrics = with_metrics ? &metrics : nullptr});
  server.listen(host, static_cast<std::uint16_t>(port));
  std::printf("port %u\n", server.port());
  std::fflush(stdout);
  rt.run();
  if (middlewares + hooks > 0 || handler_work) {
    std::fprintf(stderr, "counted %llu requests, %llu with a User-Agent\n",
                 static_cast<unsigned long long>(counted.load()),
                 static_cast<unsigned long long>(with_user_agent.load()));
  }
}
