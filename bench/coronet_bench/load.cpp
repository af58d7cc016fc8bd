#include "load.hpp"

#include "hello.pb.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace coronet_bench {

using namespace std::chrono_literals;

namespace {

double percentile_us(const std::vector<std::uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest sample with at least p of all samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1000.0;
}

}  // namespace

std::uint64_t cpu_ns_of(const rusage& ru) {
  return (static_cast<std::uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1'000'000 +
          static_cast<std::uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) * 1000;
}

std::uint64_t client_cpu_ns() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return cpu_ns_of(ru);
}



measurement summarize(const run_spec& spec, recorder& r, cpu_window& cpu,
                      const server_link& server) {
  measurement m;
  m.spec = spec;
  if (!cpu.server_start) r.fail("the server process has gone");
  // Workers that all failed before the window leave no start sample: not the server's fault.
  if (cpu.server_start && !cpu.server_end) cpu.server_end = server.cpu_ns();
  if (cpu.server_start && !cpu.server_end) r.fail("the server process has gone");
  if (!cpu.client_end) cpu.client_end = client_cpu_ns();
  std::sort(r.samples.begin(), r.samples.end());
  m.completed = r.completed;
  m.per_second = static_cast<double>(r.completed) / spec.duration;
  m.p50_us = percentile_us(r.samples, 0.50);
  m.p90_us = percentile_us(r.samples, 0.90);
  m.p99_us = percentile_us(r.samples, 0.99);
  m.max_us = r.samples.empty() ? 0 : static_cast<double>(r.samples.back()) / 1000.0;
  if (cpu.server_start && cpu.server_end && cpu.client_start && r.completed > 0) {
    const double server_us = static_cast<double>(*cpu.server_end - *cpu.server_start) / 1000.0;
    const double client_us = static_cast<double>(*cpu.client_end - *cpu.client_start) / 1000.0;
    m.server_cpu_us = server_us / static_cast<double>(r.completed);
    m.client_cpu_us = client_us / static_cast<double>(r.completed);
    m.server_busy = server_us / 1e6 / spec.duration;
    m.client_busy = client_us / 1e6 / spec.duration;
  }
  m.errors = r.errors;
  m.first_error = r.first_error;
  if (r.completed == 0 && r.errors == 0) m.first_error = "no request completed";
  m.failed = r.errors > 0 || r.completed == 0;
  return m;
}


measurement drive(asio::io_context& ctx, const run_spec& spec, const server_link& server,
                  std::size_t workers, const worker_fn& worker) {
  recorder r(spec);
  cpu_window cpu;
  // Pooled connections keep the context busy after the workers: stop it once they and the
  // CPU sampler are done (the sampler too: on a loaded machine it may run late).
  std::size_t live = workers + 1;
  bool overran = false;

  for (std::size_t i = 0; i < workers; ++i) {
    asio::co_spawn(ctx, worker(r, i), [&](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          r.fail(std::string("worker: ") + ex.what());
        }
      }
      if (--live == 0) ctx.stop();
    });
  }
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_at(r.measure_start);
        co_await timer.async_wait(use_nothrow);
        cpu.open(server);
        timer.expires_at(r.end);
        co_await timer.async_wait(use_nothrow);
        cpu.close(server);
        if (--live == 0) ctx.stop();
      },
      asio::detached);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        // A worker stuck this long after the end means a request never completed.
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_at(r.end + 15s);
        co_await timer.async_wait(use_nothrow);
        overran = true;
        ctx.stop();
      },
      asio::detached);
  ctx.run();
  if (overran) r.fail("requests still outstanding 15 s after the end");
  return summarize(spec, r, cpu, server);
}

measurement failed_run(const run_spec& spec, std::string why) {
  measurement m;
  m.spec = spec;
  m.failed = true;
  m.first_error = std::move(why);
  return m;
}

std::string payload_text(std::size_t bytes) {
  // The serialized Greeting carries `bytes` of message (plus a few bytes of framing).
  return std::string(bytes, 'x');
}

std::string request_body(std::size_t payload) {
  Greeting request;
  request.set_message(payload_text(payload));
  return request.SerializeAsString();
}


cpu_window sample_window(const recorder& r, const server_link& server) {
  cpu_window cpu;
  std::this_thread::sleep_until(r.measure_start);
  cpu.open(server);
  std::this_thread::sleep_until(r.end);
  cpu.close(server);
  return cpu;
}

}  // namespace coronet_bench
