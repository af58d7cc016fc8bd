// One run of coronet-bench: what it loads and how (run_spec), what the workers record
// (recorder), and the figures it comes to (measurement), with the CPU time of both sides
// sampled at the edges of the measured window.
#pragma once

#include "server_process.hpp"

#include <coronet/coronet.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace coronet_bench {

using clock_type = std::chrono::steady_clock;
using coronet::detail::use_nothrow;

struct measurement;
struct run_spec;
using runner = measurement (*)(const run_spec&, const server_link&);

struct run_spec {
  std::string scenario{};   // as selected on the command line
  std::string transport{};  // what is carried: http (GET /), http-rpc, grpc, grpc-raw, ...
  // Who loads it: coronet (http::client, rpc::call), pipelined (raw sockets), grpc-cq (grpc++
  // completion queues), grpc-cb (grpc++ callbacks), wrk, h2load.
  std::string client = "coronet";
  std::size_t payload = 0;
  std::size_t connections = 1;  // TCP connections (gRPC: channels, each its own connection)
  std::size_t concurrency = 1;  // requests in flight over all connections
  std::size_t threads = 1;      // grpc-cq: threads, each with its own completion queue
  double warmup = 0.5;
  double duration = 3;
  double rate = 0;
  std::string unit = "req";
  std::string level{};  // low, medium, high: the rows the summary compares
  runner run = nullptr;
  runner external = nullptr;  // with --check-external: wrk or h2load at the same shape
};

constexpr double unknown = -1;  // a latency an external tool does not report

struct measurement {
  run_spec spec;
  std::uint64_t completed = 0;  // in the measured window
  double per_second = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
  double server_cpu_us = 0;  // per request (message)
  double client_cpu_us = 0;
  double server_busy = 0;  // CPU time over wall time in the window: 1.0 is one core
  double client_busy = 0;
  std::uint64_t errors = 0;
  std::string first_error;
  bool failed = false;
};

// What the workers of one run record. Not thread-safe: one per thread, merged at the end.
struct recorder {
  clock_type::time_point start, measure_start, end;
  double rate = 0;
  std::uint64_t next_index = 0;  // open loop: the next intended send
  std::vector<std::uint64_t> samples;
  std::uint64_t completed = 0;
  std::uint64_t errors = 0;
  std::string first_error;

  explicit recorder(const run_spec& spec) : rate(spec.rate) {
    start = clock_type::now();
    measure_start = start + std::chrono::duration_cast<clock_type::duration>(
                                std::chrono::duration<double>(spec.warmup));
    end = measure_start + std::chrono::duration_cast<clock_type::duration>(
                              std::chrono::duration<double>(spec.duration));
    samples.reserve(1 << 16);
  }

  bool running() const { return clock_type::now() < end; }

  /// One request completed: counted if it ended inside the window; its latency is kept if it
  /// was (meant to be) sent inside it, so slow tails past the end are not dropped.
  void record(clock_type::time_point sent, clock_type::time_point done) {
    if (done >= measure_start && done <= end) ++completed;
    if (sent >= measure_start && sent < end)
      samples.push_back(static_cast<std::uint64_t>((done - sent).count()));
  }
  void fail(std::string why) {
    if (errors++ == 0) first_error = std::move(why);
  }
  /// Open loop: the next intended send time, shared by all workers.
  clock_type::time_point next_send() {
    const auto offset = std::chrono::duration<double>(static_cast<double>(next_index++) / rate);
    return start + std::chrono::duration_cast<clock_type::duration>(offset);
  }
  void merge(recorder& other) {
    samples.insert(samples.end(), other.samples.begin(), other.samples.end());
    completed += other.completed;
    if (other.errors > 0 && errors == 0) first_error = other.first_error;
    errors += other.errors;
  }
};

/// Sends requests one after another until the end: back to back (closed loop), or at the
/// intended times of the schedule (open loop), latency then counting from the intended time
/// so a stalled server is charged for the requests it delayed. `call` returns an error
/// description, empty on success.
template <class Call>
asio::awaitable<void> request_loop(recorder& r, Call call) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    clock_type::time_point intended;
    if (r.rate > 0) {
      intended = r.next_send();
      if (intended >= r.end) break;
      if (intended > clock_type::now()) {
        timer.expires_at(intended);
        co_await timer.async_wait(use_nothrow);
      }
    } else {
      intended = clock_type::now();
      if (intended >= r.end) break;
    }
    std::string error = co_await call();
    if (error.empty()) {
      r.record(intended, clock_type::now());
    } else {
      r.fail(std::move(error));
    }
  }
}

std::uint64_t cpu_ns_of(const rusage& ru);
/// CPU time of this process (the load side) so far, every thread.
std::uint64_t client_cpu_ns();

// CPU time of both sides at the edges of the measured window.
struct cpu_window {
  std::optional<std::uint64_t> server_start, server_end, client_start, client_end;

  void open(const server_link& server) {
    server_start = server.cpu_ns();
    client_start = client_cpu_ns();
  }
  void close(const server_link& server) {
    server_end = server.cpu_ns();
    client_end = client_cpu_ns();
  }
};

/// Turns what the workers recorded over the window into a measurement.
measurement summarize(const run_spec& spec, recorder& r, cpu_window& cpu,
                      const server_link& server);

using worker_fn = std::function<asio::awaitable<void>(recorder&, std::size_t worker)>;

/// Runs `workers` coroutines on `ctx` through warm-up and the measured window, and turns
/// what they recorded into a measurement.
measurement drive(asio::io_context& ctx, const run_spec& spec, const server_link& server,
                  std::size_t workers, const worker_fn& worker);

/// Sleeps to the window's edges and samples both sides' CPU there, while other threads load.
cpu_window sample_window(const recorder& r, const server_link& server);

measurement failed_run(const run_spec& spec, std::string why);

/// `bytes` of message text.
std::string payload_text(std::size_t bytes);

/// The serialized Greeting every unary row sends: `payload` bytes of message.
std::string request_body(std::size_t payload);

}  // namespace coronet_bench
