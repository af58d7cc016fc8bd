// A load generator built on http::client: N coroutines on one io_context (one thread), each
// looping GET on the same URL for D seconds through a pool of N keep-alive connections.
// Prints the request count, req/s and errors.
//
//   http_client_load URL [--connections N] [--duration SECONDS]
#include <coronet/coronet.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace http = coronet::http;
using clock_type = std::chrono::steady_clock;

namespace {

struct counters {
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
};

asio::awaitable<void> worker(http::client& c, std::string url, clock_type::time_point end,
                             counters& n) {
  while (clock_type::now() < end) {
    auto res = co_await c.get(url);
    if (res && res->status == http::status::ok) {
      ++n.ok;
    } else {
      ++n.failed;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s URL [--connections N] [--duration SECONDS]\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  std::size_t connections = 64;
  double seconds = 5;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--connections") {
      connections = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (flag == "--duration") {
      seconds = std::strtod(argv[i + 1], nullptr);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }

  asio::io_context ctx(1);  // one thread: the concurrency hint lets Asio skip its locks
  http::client c(ctx.get_executor(), {.max_connections_per_host = connections});
  counters n;
  const auto start = clock_type::now();
  const auto end = start + std::chrono::duration_cast<clock_type::duration>(
                               std::chrono::duration<double>(seconds));
  for (std::size_t i = 0; i < connections; ++i) {
    asio::co_spawn(ctx, worker(c, url, end, n), asio::detached);
  }
  // Pooled connections keep the context busy; stop once every worker has finished.
  asio::steady_timer stopper(ctx);
  std::function<void()> check = [&] {
    stopper.expires_after(std::chrono::milliseconds(10));
    stopper.async_wait([&](std::error_code) {
      if (clock_type::now() >= end && c.idle_connections() == c.open_connections()) {
        c.close_idle();
        ctx.stop();
        return;
      }
      check();
    });
  };
  check();
  ctx.run();
  const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
  std::printf("requests %llu\nerrors %llu\nreq/s %.0f\n", static_cast<unsigned long long>(n.ok),
              static_cast<unsigned long long>(n.failed), static_cast<double>(n.ok) / elapsed);
  return n.failed == 0 ? 0 : 1;
}
