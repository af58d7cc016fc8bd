// coronet-bench — measures coronet's transports against each other on one machine.
//
// A forked server process (pinned to --server-cpus) serves HTTP/1.1 (GET /, and
// POST /HelloWorld/SayHello with an application/proto Greeting), gRPC on coronet's coroutine
// services (HelloWorld, and Bench for streaming), and the raw callback-API HelloWorld as a
// baseline. The load side (this process, pinned to --client-cpus) drives them, then prints
// one row per run: throughput, exact latency percentiles, server and load-side CPU time per
// request, errors.
//
//     coronet-bench [--duration 3] [--scenarios fair,http,grpc,...] [--concurrency 16]
//                   [--rate R] [--server-cpus 0] [--client-cpus 1] [--json FILE]
//                   [--plot FILE.png] [--check-external]
//
// A transport is only as cheap as the load that reaches it: a server that sees one call per
// wake-up spends several times the CPU per call of one that sees dozens. So every transport
// is driven both simply (coronet's own clients, one connection or channel) and in its best
// shape (HTTP/1.1 pipelined; gRPC over N channels, each its own TCP connection, from grpc++'s
// completion-queue client), and --check-external repeats each such row with wrk or h2load
// at the same connections and requests in flight against the same server.
//
// The server is a separate process so that its CPU time (getrusage in the server) counts
// only server work, although gRPC keeps its threads process-wide; it is forked before this
// process touches gRPC, so neither side inherits the other's gRPC state.
#include <coronet/coronet.hpp>
#include <coronet/rpc/client.hpp>
#include <coronet/rpc/server.hpp>

#include "bench.grpc.pb.h"
#include "hello.grpc.pb.h"

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/version.hpp>
#include <asio/write.hpp>
#include <grpcpp/grpcpp.h>
#include <llhttp.h>

#include <fcntl.h>
#include <csignal>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace http = coronet::http;
namespace rpc = coronet::rpc;
using coronet::detail::use_nothrow;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// ---------------------------------------------------------------------------------------
// Command line

struct options {
  double duration = 3;
  std::vector<std::string> scenarios;  // empty: all, in the order of the scenario table
  std::size_t concurrency = 16;
  double rate = 0;  // requests/s over all workers; 0: closed loop
  std::string server_cpus = "0";
  std::string client_cpus = "1";
  std::string json_file;
  std::string plot_file;
  bool check_external = false;
};

constexpr std::size_t pipeline_depth = 16;
constexpr int stream_messages_per_call = 100;
constexpr int max_message_bytes = 8 * 1024 * 1024;

// The names of the scenario table (defined with the scenarios, further down), for parsing.
std::vector<std::string> scenario_names();
std::string scenario_help();

void usage(std::FILE* out) {
  std::fprintf(out,
      "usage: coronet-bench [options]\n"
      "  --duration S         measured seconds per run (default 3; sweeps use S/3)\n"
      "  --scenarios A,B,...  scenarios to run, in the order listed below (default: all)\n"
      "  --concurrency N      requests in flight (connections for http-pipelined, streams for\n"
      "                       grpc-stream) in the scenarios that take it (default 16)\n"
      "  --rate R             open loop: R requests/s, latency from the intended send time\n"
      "  --server-cpus LIST   CPUs of the server process, e.g. 0 or 0-1 (default 0)\n"
      "  --client-cpus LIST   CPUs of the load side (default 1)\n"
      "  --json FILE          every figure, the machine and the versions, as JSON\n"
      "  --plot FILE.png      req/s and p99 across the concurrency sweep (gnuplot)\n"
      "  --check-external     repeat each unary row (not the sweeps) with wrk (HTTP) or h2load\n"
      "                       (gRPC) at the same connections and requests in flight, and compare\n"
      "scenarios:\n%s",
      scenario_help().c_str());
}

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "coronet-bench: %s\n", why.c_str());
  usage(stderr);
  std::exit(2);
}

double parse_double(const std::string& flag, const std::string& text, double min) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(v) || v < min)
    usage_error("invalid value for " + flag + ": '" + text + "'");
  return v;
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto next = text.find(sep, pos);
    if (next == std::string_view::npos) next = text.size();
    parts.emplace_back(text.substr(pos, next - pos));
    pos = next + 1;
  }
  return parts;
}

std::optional<cpu_set_t> parse_cpus(const std::string& text) {
  cpu_set_t set;
  CPU_ZERO(&set);
  const long online = sysconf(_SC_NPROCESSORS_CONF);
  for (const auto& part : split(text, ',')) {
    unsigned lo = 0, hi = 0;
    auto dash = part.find('-');
    auto parse = [](std::string_view s, unsigned& v) {
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      return ec == std::errc{} && end == s.data() + s.size() && !s.empty();
    };
    if (dash == std::string::npos) {
      if (!parse(part, lo)) return std::nullopt;
      hi = lo;
    } else if (!parse(std::string_view(part).substr(0, dash), lo) ||
               !parse(std::string_view(part).substr(dash + 1), hi) || hi < lo) {
      return std::nullopt;
    }
    if (hi >= static_cast<unsigned>(online) || hi >= CPU_SETSIZE) return std::nullopt;
    for (unsigned c = lo; c <= hi; ++c) CPU_SET(c, &set);
  }
  return set;
}

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (flag == "--check-external") {
      o.check_external = true;
      continue;
    }
    if (i + 1 >= argc) usage_error("missing value for " + flag);
    const std::string value = argv[++i];
    if (flag == "--duration") {
      o.duration = parse_double(flag, value, 0.01);
    } else if (flag == "--concurrency") {
      o.concurrency = static_cast<std::size_t>(parse_double(flag, value, 1));
      if (o.concurrency > 4096) usage_error("--concurrency is at most 4096");
    } else if (flag == "--rate") {
      o.rate = parse_double(flag, value, 1);
    } else if (flag == "--scenarios") {
      o.scenarios = split(value, ',');
      const auto known = scenario_names();
      for (const auto& s : o.scenarios) {
        if (std::find(known.begin(), known.end(), s) == known.end())
          usage_error("unknown scenario '" + s + "'");
      }
    } else if (flag == "--server-cpus") {
      o.server_cpus = value;
    } else if (flag == "--client-cpus") {
      o.client_cpus = value;
    } else if (flag == "--json") {
      o.json_file = value;
    } else if (flag == "--plot") {
      o.plot_file = value;
    } else {
      usage_error("unknown flag " + flag);
    }
  }
  if (o.scenarios.empty()) o.scenarios = scenario_names();
  if (!o.plot_file.empty() &&
      std::find(o.scenarios.begin(), o.scenarios.end(), "concurrency-sweep") == o.scenarios.end())
    usage_error("--plot draws the concurrency sweep: select concurrency-sweep");
  if (!parse_cpus(o.server_cpus)) usage_error("invalid --server-cpus '" + o.server_cpus + "'");
  if (!parse_cpus(o.client_cpus)) usage_error("invalid --client-cpus '" + o.client_cpus + "'");
  return o;
}

bool selected(const options& o, std::string_view name) {
  return std::find(o.scenarios.begin(), o.scenarios.end(), name) != o.scenarios.end();
}

// ---------------------------------------------------------------------------------------
// The server process

std::string reply_text(const std::string& message) { return "hello " + message; }

asio::awaitable<grpc::Status> say_hello(grpc::CallbackServerContext&, const Greeting& req,
                                        Greeting& resp) {
  resp.set_message(reply_text(req.message()));
  co_return grpc::Status::OK;
}

// HelloWorld on grpc++'s callback API, answering inline: the same as bench/rpc/raw_server.cpp.
class raw_greeter final : public HelloWorld::CallbackService {
  grpc::ServerUnaryReactor* SayHello(grpc::CallbackServerContext* ctx, const Greeting* req,
                                     Greeting* resp) override {
    resp->set_message(reply_text(req->message()));
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

http::router bench_routes() {
  http::router routes;
  routes.get("/", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("Hello, World!");
  });
  // The unary RPC over plain HTTP/1.1: a serialized Greeting in, a Greeting out.
  routes.post("/HelloWorld/SayHello", [](http::request& req) -> asio::awaitable<http::response> {
    if (req.headers.get("content-type") != "application/proto")
      co_return http::response::empty(http::status::unsupported_media_type);
    Greeting in;
    if (!in.ParseFromString(req.body)) co_return http::response::empty(http::status::bad_request);
    Greeting out;
    out.set_message(reply_text(in.message()));
    co_return http::response::bytes(out.SerializeAsString(), "application/proto");
  });
  return routes;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Runs in the forked child: serves until the parent closes the control pipe (or dies).
// Protocol on the pipes: the child first writes "OK <http> <grpc> <raw>\n" or "ERR <why>\n";
// then each 'c' it reads is answered with its CPU time so far (8 bytes, nanoseconds).
[[noreturn]] void run_server(int ctl_in, int ctl_out, const cpu_set_t& cpus) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) _exit(1);
  try {
    if (sched_setaffinity(0, sizeof cpus, &cpus) != 0)
      throw std::runtime_error(std::string("sched_setaffinity: ") + std::strerror(errno));
    coronet::runtime rt({.threads = 1, .handle_signals = false});

    http::server web(rt, bench_routes(),
                     {.max_body_bytes = max_message_bytes, .max_requests_per_connection = 0});
    web.listen("127.0.0.1", 0);

    rpc::service<HelloWorld> greeter;
    greeter.handle("SayHello", &say_hello);
    rpc::service<coronet::bench::v1::Bench> streams;
    streams.handle("ServerStream",
                   [](grpc::CallbackServerContext&, const Greeting& req,
                      rpc::server_writer<Greeting>& out) -> asio::awaitable<grpc::Status> {
                     int count = 0;
                     const auto& m = req.message();
                     std::from_chars(m.data(), m.data() + m.size(), count);
                     Greeting tick;
                     tick.set_message("tick");
                     for (int i = 0; i < count; ++i) {
                       if (!co_await out.write(tick)) co_return grpc::Status::CANCELLED;
                     }
                     co_return grpc::Status::OK;
                   });
    streams.handle("Bidi",
                   [](grpc::CallbackServerContext&, rpc::server_stream<Greeting, Greeting>& s)
                       -> asio::awaitable<grpc::Status> {
                     Greeting in, out;
                     while (co_await s.read(in)) {
                       out.set_message("echo: " + in.message());
                       if (!co_await s.write(out)) break;
                     }
                     co_return grpc::Status::OK;
                   });
    rpc::server grpc_server(rt, {.address = "127.0.0.1:0",
                                 .max_receive_message_bytes = max_message_bytes,
                                 .health_service = false,
                                 .reflection = false});
    grpc_server.add(greeter);
    grpc_server.add(streams);
    grpc_server.start();

    raw_greeter raw;
    grpc::ServerBuilder builder;
    int raw_port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &raw_port);
    builder.SetMaxReceiveMessageSize(max_message_bytes);
    builder.RegisterService(&raw);
    auto raw_server = builder.BuildAndStart();
    if (!raw_server || raw_port == 0) throw std::runtime_error("raw gRPC server did not start");

    if (!write_all(ctl_out, "OK " + std::to_string(web.port()) + " " +
                                std::to_string(grpc_server.port()) + " " +
                                std::to_string(raw_port) + "\n"))
      _exit(1);
    std::thread control([ctl_in, ctl_out] {
      char c = 0;
      while (::read(ctl_in, &c, 1) == 1) {
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        const std::uint64_t ns =
            (static_cast<std::uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1'000'000 +
             static_cast<std::uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) * 1000;
        if (!write_all(ctl_out, std::string_view(reinterpret_cast<const char*>(&ns), sizeof ns)))
          _exit(1);
      }
      _exit(0);  // the parent is done: no draining needed
    });
    rt.run();
    control.join();
  } catch (const std::exception& e) {
    (void)write_all(ctl_out, std::string("ERR ") + e.what() + "\n");
  }
  _exit(1);
}

struct server_link {
  pid_t pid = -1;
  int to_server = -1;
  int from_server = -1;
  std::uint16_t http_port = 0;
  int grpc_port = 0;
  int raw_port = 0;
  std::string error;  // set when the server did not start

  /// The server's CPU time so far; nothing once the server process has gone.
  std::optional<std::uint64_t> cpu_ns() const {
    std::uint64_t ns = 0;
    if (::write(to_server, "c", 1) != 1) return std::nullopt;
    std::size_t got = 0;
    while (got < sizeof ns) {
      auto n = ::read(from_server, reinterpret_cast<char*>(&ns) + got, sizeof ns - got);
      if (n <= 0) return std::nullopt;
      got += static_cast<std::size_t>(n);
    }
    return ns;
  }

  /// Notices a server process that has died; true once it has.
  bool gone() {
    if (pid <= 0) return true;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) != pid) return false;
    pid = -1;
    return true;
  }

  void stop() {
    if (pid <= 0) return;
    ::close(to_server);
    ::close(from_server);
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
  }
};

server_link start_server(const cpu_set_t& cpus) {
  int down[2], up[2];
  if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0)
    return {.error = std::string("pipe: ") + std::strerror(errno)};
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return {.error = std::string("fork: ") + std::strerror(errno)};
  if (pid == 0) {
    ::close(down[1]);
    ::close(up[0]);
    run_server(down[0], up[1], cpus);
  }
  ::close(down[0]);
  ::close(up[1]);
  server_link link;
  link.pid = pid;
  link.to_server = down[1];
  link.from_server = up[0];
  std::string line;
  char c = 0;
  while (::read(link.from_server, &c, 1) == 1 && c != '\n') line += c;
  if (line.rfind("OK ", 0) != 0) {
    link.error = line.empty() ? "server process exited" : line.substr(line.find(' ') + 1);
    return link;
  }
  std::istringstream in(line.substr(3));
  in >> link.http_port >> link.grpc_port >> link.raw_port;
  return link;
}

// ---------------------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------------------
// Measurement

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

std::uint64_t cpu_ns_of(const rusage& ru) {
  return (static_cast<std::uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1'000'000 +
          static_cast<std::uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) * 1000;
}

std::uint64_t client_cpu_ns() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return cpu_ns_of(ru);
}

double percentile_us(const std::vector<std::uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest sample with at least p of all samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1000.0;
}

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

using worker_fn = std::function<asio::awaitable<void>(recorder&, std::size_t worker)>;

/// Runs `workers` coroutines on `ctx` through warm-up and the measured window, and turns
/// what they recorded into a measurement.
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

/// The serialized Greeting every unary row sends: `payload` bytes of message.
std::string request_body(std::size_t payload) {
  Greeting request;
  request.set_message(payload_text(payload));
  return request.SerializeAsString();
}

// --- HTTP -------------------------------------------------------------------------------

// http::client keeps one pooled keep-alive connection per request in flight.
measurement run_http_get(const run_spec& spec, const server_link& server) {
  asio::io_context ctx(1);
  http::client client(ctx.get_executor(), {.request_timeout = 10s,
                                           .max_connections_per_host = spec.concurrency});
  const std::string url = "http://127.0.0.1:" + std::to_string(server.http_port) + "/";
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
      "http://127.0.0.1:" + std::to_string(server.http_port) + "/HelloWorld/SayHello";
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

/// The raw request of `transport` (http: GET /, http-rpc: the Greeting POST).
std::string raw_request(const run_spec& spec) {
  if (spec.transport != "http-rpc") return "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  const std::string body = request_body(spec.payload);
  return "POST /HelloWorld/SayHello HTTP/1.1\r\nHost: 127.0.0.1\r\n"
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

// `connections` sockets, each with concurrency / connections requests on the wire.
measurement run_http_pipelined(const run_spec& spec, const server_link& server) {
  asio::io_context ctx(1);
  const std::string request = raw_request(spec);
  const std::size_t depth = std::max<std::size_t>(1, spec.concurrency / spec.connections);
  return drive(ctx, spec, server, spec.connections, [&](recorder& r, std::size_t) {
    return pipelined_worker(r, server.http_port, request, depth);
  });
}

// --- gRPC -------------------------------------------------------------------------------

int grpc_port_of(const run_spec& spec, const server_link& server) {
  return spec.transport == "grpc-raw" ? server.raw_port : server.grpc_port;
}

/// `count` channels to `port`, each over a TCP connection of its own: a local subchannel
/// pool per channel, and channel arguments that differ, so grpc++ cannot share one
/// connection between them. `lean` drops what a load generator does not use and pays for
/// on every call: the retry machinery, and the filters the minimal stack leaves out
/// (deadlines among them: lean calls carry none).
std::vector<std::shared_ptr<grpc::Channel>> open_channels(int port, std::size_t count,
                                                          std::string& error,
                                                          bool lean = false) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (std::size_t i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(max_message_bytes);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("coronet_bench.channel", static_cast<int>(i));
    if (lean) {
      args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
      args.SetInt(GRPC_ARG_MINIMAL_STACK, 1);
    }
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                             grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + 5s)) {
      error = "cannot connect to 127.0.0.1:" + std::to_string(port);
      return {};
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

std::shared_ptr<grpc::Channel> open_channel(int port, std::string& error) {
  auto channels = open_channels(port, 1, error);
  return channels.empty() ? nullptr : channels.front();
}

std::string status_text(const grpc::Status& status) {
  return "gRPC status " + std::to_string(status.error_code()) + ": " + status.error_message();
}

// A deadline well past the run's end: a call that never completes fails instead of
// outliving the objects its completion goes to.
std::chrono::system_clock::time_point call_deadline(clock_type::time_point end) {
  return std::chrono::system_clock::now() + (end - clock_type::now()) + 10s;
}

// coronet's rpc::call: each completion goes from gRPC's thread back to the io_context.
measurement run_grpc_unary(const run_spec& spec, const server_link& server) {
  std::string error;
  const auto channels = open_channels(grpc_port_of(spec, server), spec.connections, error);
  if (channels.empty()) return failed_run(spec, error);
  std::vector<std::unique_ptr<HelloWorld::Stub>> stubs;
  for (const auto& channel : channels) stubs.push_back(HelloWorld::NewStub(channel));
  asio::io_context ctx(1);
  Greeting request;
  request.set_message(payload_text(spec.payload));
  const std::size_t expected = reply_text(request.message()).size();
  return drive(ctx, spec, server, spec.concurrency, [&](recorder& r, std::size_t worker) {
    auto& stub = *stubs[worker % stubs.size()];
    return request_loop(r, [&]() -> asio::awaitable<std::string> {
      grpc::ClientContext context;
      context.set_deadline(call_deadline(r.end));
      auto [status, reply] =
          co_await rpc::call(&HelloWorld::Stub::async::SayHello, stub, context, request);
      if (!status.ok()) co_return status_text(status);
      if (reply.message().size() != expected) co_return "unexpected reply";
      co_return std::string();
    });
  });
}

// One unary call slot of the grpc++ clients below: a new call starts as the last one ends.
struct grpc_slot {
  HelloWorld::Stub* stub = nullptr;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Greeting>> reader;
  Greeting reply;
  grpc::Status status;
  clock_type::time_point sent;
};

struct grpc_load {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<HelloWorld::Stub>> stubs;
  std::vector<grpc_slot> slots;
  Greeting request;
  std::size_t expected = 0;
  bool lean = false;

  /// Channels and stubs for `spec`; slot i calls through channel i % connections.
  std::string open(const run_spec& spec, const server_link& server) {
    std::string error;
    lean = !spec.client.ends_with("-stock");
    channels = open_channels(grpc_port_of(spec, server), spec.connections, error, lean);
    if (channels.empty()) return error;
    for (const auto& channel : channels) stubs.push_back(HelloWorld::NewStub(channel));
    slots.resize(spec.concurrency);
    for (std::size_t i = 0; i < slots.size(); ++i) slots[i].stub = stubs[i % stubs.size()].get();
    request.set_message(payload_text(spec.payload));
    expected = reply_text(request.message()).size();
    return {};
  }

  /// Checks a finished call into `r`; true if it succeeded.
  bool check(recorder& r, grpc_slot& s, bool ok) const {
    if (!ok) {
      r.fail("completion queue: the call did not finish");
    } else if (!s.status.ok()) {
      r.fail(status_text(s.status));
    } else if (s.reply.message().size() != expected) {
      r.fail("unexpected reply");
    } else {
      r.record(s.sent, clock_type::now());
      return true;
    }
    return false;
  }
};

/// Sleeps to the window's edges and samples both sides' CPU there, while other threads load.
cpu_window sample_window(const recorder& r, const server_link& server) {
  cpu_window cpu;
  std::this_thread::sleep_until(r.measure_start);
  cpu.open(server);
  std::this_thread::sleep_until(r.end);
  cpu.close(server);
  return cpu;
}

// grpc++'s completion-queue API, the cheapest grpc++ client: the thread that waits on the
// queue runs the completion and starts the next call itself, with no hop to another thread.
// `threads` threads, each with its own queue and every threads-th slot. Closed loop only.
measurement run_grpc_cq(const run_spec& spec, const server_link& server) {
  grpc_load load;
  if (auto error = load.open(spec, server); !error.empty()) return failed_run(spec, error);
  const recorder base(spec);
  std::vector<recorder> recorders(spec.threads, base);
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues;
  for (std::size_t t = 0; t < spec.threads; ++t)
    queues.push_back(std::make_unique<grpc::CompletionQueue>());

  auto start_call = [&](grpc_slot& s, grpc::CompletionQueue& cq) {
    s.context = std::make_unique<grpc::ClientContext>();
    if (!load.lean) s.context->set_deadline(call_deadline(base.end));
    s.reply.Clear();
    s.sent = clock_type::now();
    s.reader = s.stub->AsyncSayHello(s.context.get(), load.request, &cq);
    s.reader->Finish(&s.reply, &s.status, &s);
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < spec.threads; ++t) {
    threads.emplace_back([&, t] {
      auto& r = recorders[t];
      auto& cq = *queues[t];
      std::size_t outstanding = 0;
      for (std::size_t i = t; i < load.slots.size(); i += spec.threads, ++outstanding)
        start_call(load.slots[i], cq);
      void* tag = nullptr;
      bool ok = false;
      // Without deadlines on the calls, a call that never completes is cancelled here.
      const auto give_up = std::chrono::system_clock::now() + (base.end - clock_type::now()) + 15s;
      bool cancelled = false;
      while (outstanding > 0) {
        const auto next = cq.AsyncNext(&tag, &ok, cancelled ? gpr_inf_future(GPR_CLOCK_REALTIME)
                                                            : grpc::TimePoint(give_up).raw_time());
        if (next == grpc::CompletionQueue::SHUTDOWN) break;
        if (next == grpc::CompletionQueue::TIMEOUT) {
          r.fail("calls still outstanding 15 s after the end");
          for (std::size_t i = t; i < load.slots.size(); i += spec.threads)
            if (load.slots[i].context) load.slots[i].context->TryCancel();
          cancelled = true;
          continue;
        }
        auto& s = *static_cast<grpc_slot*>(tag);
        // A failed slot stops rather than spinning on errors.
        if (load.check(r, s, ok) && r.running()) {
          start_call(s, cq);
        } else {
          --outstanding;
        }
      }
      cq.Shutdown();
      while (cq.Next(&tag, &ok)) {
      }
    });
  }
  auto cpu = sample_window(base, server);
  for (auto& t : threads) t.join();
  recorder all = base;
  for (auto& r : recorders) all.merge(r);
  return summarize(spec, all, cpu, server);
}

// grpc++'s callback API without coronet: each completion runs on a gRPC thread and starts
// the next call from there.
measurement run_grpc_callback(const run_spec& spec, const server_link& server) {
  grpc_load load;
  if (auto error = load.open(spec, server); !error.empty()) return failed_run(spec, error);
  recorder r(spec);
  std::mutex mutex;  // guards r and outstanding: callbacks run on several gRPC threads
  std::condition_variable idle;
  std::size_t outstanding = load.slots.size();

  std::function<void(grpc_slot&)> start_call = [&](grpc_slot& s) {
    s.context = std::make_unique<grpc::ClientContext>();
    if (!load.lean) s.context->set_deadline(call_deadline(r.end));
    s.reply.Clear();
    s.sent = clock_type::now();
    s.stub->async()->SayHello(s.context.get(), &load.request, &s.reply,
                              [&, slot = &s](grpc::Status status) {
                                bool again = false;
                                {
                                  std::lock_guard lock(mutex);
                                  slot->status = std::move(status);
                                  again = load.check(r, *slot, true) && r.running();
                                  if (!again && --outstanding == 0) idle.notify_all();
                                }
                                if (again) start_call(*slot);
                              });
  };
  for (auto& s : load.slots) start_call(s);
  auto cpu = sample_window(r, server);
  std::unique_lock lock(mutex);
  if (!idle.wait_until(lock, r.end + 15s, [&] { return outstanding == 0; })) {
    r.fail("calls still outstanding 15 s after the end");
    for (auto& s : load.slots) s.context->TryCancel();
    // The callbacks refer to this frame: wait for every one of them.
    idle.wait(lock, [&] { return outstanding == 0; });
  }
  return summarize(spec, r, cpu, server);
}

// Each worker asks for streams of `stream_messages_per_call` Greetings; a message's latency
// is the gap since the previous one (or since the call started).
measurement run_grpc_server_stream(const run_spec& spec, const server_link& server) {
  std::string error;
  auto channel = open_channel(server.grpc_port, error);
  if (!channel) return failed_run(spec, error);
  auto stub = coronet::bench::v1::Bench::NewStub(channel);
  asio::io_context ctx(1);
  Greeting request;
  request.set_message(std::to_string(stream_messages_per_call));
  return drive(ctx, spec, server, spec.concurrency,
               [&](recorder& r, std::size_t) -> asio::awaitable<void> {
    while (r.running()) {
      auto context = std::make_unique<grpc::ClientContext>();
      context->set_deadline(call_deadline(r.end));
      auto call = rpc::stream(&coronet::bench::v1::Bench::Stub::async::ServerStream, *stub,
                              request, std::move(context));
      int received = 0;
      auto last = clock_type::now();
      for (Greeting g; co_await call.read(g);) {
        const auto now = clock_type::now();
        r.record(last, now);
        last = now;
        ++received;
      }
      auto status = co_await call.finish();
      if (!status.ok() || received != stream_messages_per_call) {
        r.fail("server stream: status " + std::to_string(status.error_code()) + ", " +
               std::to_string(received) + " messages");
        co_return;
      }
    }
  });
}

// One bidi stream per worker, ping-pong: write a Greeting, read its echo.
measurement run_grpc_bidi(const run_spec& spec, const server_link& server) {
  std::string error;
  auto channel = open_channel(server.grpc_port, error);
  if (!channel) return failed_run(spec, error);
  auto stub = coronet::bench::v1::Bench::NewStub(channel);
  asio::io_context ctx(1);
  Greeting ping;
  ping.set_message("ping");
  return drive(ctx, spec, server, spec.concurrency,
               [&](recorder& r, std::size_t) -> asio::awaitable<void> {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(call_deadline(r.end));
    auto call = rpc::stream(&coronet::bench::v1::Bench::Stub::async::Bidi, *stub,
                            std::move(context));
    Greeting echo;
    while (r.running()) {
      const auto sent = clock_type::now();
      if (!co_await call.write(ping) || !co_await call.read(echo)) {
        r.fail("bidi stream ended early");
        break;
      }
      if (echo.message() != "echo: ping") {
        r.fail("unexpected echo");
        break;
      }
      r.record(sent, clock_type::now());
    }
    co_await call.writes_done();
    while (co_await call.read(echo)) {
    }
    auto status = co_await call.finish();
    if (!status.ok()) r.fail("bidi status " + std::to_string(status.error_code()));
  });
}

// ---------------------------------------------------------------------------------------
// External load generators: wrk (HTTP/1.1) and h2load (gRPC), as rows of their own

std::optional<std::string> find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (!path) return std::nullopt;
  for (const auto& dir : split(path, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

std::string run_command(const std::string& command) {
  std::string output;
  if (std::FILE* p = ::popen(command.c_str(), "r")) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
    ::pclose(p);
  }
  return output;
}

// A number following `key` in `text`, e.g. after "Requests/sec:".
std::optional<double> number_after(const std::string& text, const std::string& key) {
  const auto at = text.find(key);
  if (at == std::string::npos) return std::nullopt;
  const char* p = text.c_str() + at + key.size();
  while (*p == ' ' || *p == '\t') ++p;
  char* end = nullptr;
  const double v = std::strtod(p, &end);
  if (end == p) return std::nullopt;
  return v;
}

// A duration following `key`, such as "1.23ms", in microseconds.
std::optional<double> duration_after(const std::string& text, const std::string& key) {
  const auto at = text.find(key);
  if (at == std::string::npos) return std::nullopt;
  const char* p = text.c_str() + at + key.size();
  while (*p == ' ' || *p == '\t') ++p;
  char* end = nullptr;
  const double v = std::strtod(p, &end);
  if (end == p) return std::nullopt;
  const std::string_view unit(end, std::min<std::size_t>(2, std::strlen(end)));
  if (unit == "us") return v;
  if (unit == "ms") return v * 1e3;
  if (unit.starts_with("s")) return v * 1e6;
  if (unit == "m") return v * 60e6;
  return std::nullopt;
}

/// A file in /tmp holding `data`, removed when it goes out of scope.
struct temp_file {
  std::string path;
  explicit temp_file(std::string_view data) {
    char name[] = "/tmp/coronet-bench-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd < 0) return;
    const bool written = write_all(fd, data);
    ::close(fd);
    if (written) {
      path = name;
    } else {
      ::unlink(name);
    }
  }
  ~temp_file() {
    if (!path.empty()) ::unlink(path.c_str());
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
};

struct tool_result {
  double per_second = 0;
  double p50_us = unknown, p90_us = unknown, p99_us = unknown, max_us = unknown;
  std::string error;
};

/// Runs `command` (inheriting this process's CPU pinning), samples the server's CPU over
/// [from, from + length] seconds after the start, and makes a row of what `parse` read.
/// Server CPU per request: CPU time in that window over the tool's requests in it (its
/// rate times the window). Load side: the tool's whole CPU time over all its requests
/// (warm-up included, both ways).
measurement run_tool(const run_spec& spec, const server_link& server, const std::string& tool,
                     const std::string& arguments, double from, double length, double total,
                     tool_result (*parse)(const std::string&)) {
  const auto program = find_program(tool);
  if (!program) return failed_run(spec, tool + " is not installed");
  rusage before{};
  getrusage(RUSAGE_CHILDREN, &before);
  const auto start = clock_type::now();
  auto at = [&](double seconds) {
    return start + std::chrono::duration_cast<clock_type::duration>(
                       std::chrono::duration<double>(seconds));
  };
  std::optional<std::uint64_t> server_start, server_end;
  std::thread sampler([&] {
    std::this_thread::sleep_until(at(from));
    server_start = server.cpu_ns();
    std::this_thread::sleep_until(at(from + length));
    server_end = server.cpu_ns();
  });
  const std::string out = run_command(*program + " " + arguments + " 2>&1");
  sampler.join();
  rusage after{};
  getrusage(RUSAGE_CHILDREN, &after);

  const tool_result t = parse(out);
  measurement m;
  m.spec = spec;
  m.per_second = t.per_second;
  m.completed = static_cast<std::uint64_t>(std::llround(t.per_second * spec.duration));
  m.p50_us = t.p50_us;
  m.p90_us = t.p90_us;
  m.p99_us = t.p99_us;
  m.max_us = t.max_us;
  if (!t.error.empty() || t.per_second <= 0) {
    m.failed = true;
    m.first_error = t.error.empty() ? tool + " completed nothing" : t.error;
    return m;
  }
  if (!server_start || !server_end) return failed_run(spec, "the server process has gone");
  const double server_us = static_cast<double>(*server_end - *server_start) / 1000.0;
  m.server_busy = server_us / 1e6 / length;
  m.server_cpu_us = m.server_busy * 1e6 / t.per_second;
  const double client_us = static_cast<double>(cpu_ns_of(after) - cpu_ns_of(before)) / 1000.0;
  m.client_cpu_us = client_us / (t.per_second * total);
  m.client_busy = client_us / 1e6 / total;
  return m;
}

tool_result parse_wrk(const std::string& out) {
  tool_result t;
  if (auto v = number_after(out, "Requests/sec:")) {
    t.per_second = *v;
  } else {
    t.error = "no Requests/sec in wrk output: " + out.substr(0, 200);
  }
  // "Latency   1.23ms  0.50ms  12.00ms   90.00%": average, deviation, maximum.
  if (const auto at = out.find("Latency "); at != std::string::npos) {
    std::istringstream line(out.substr(at + 8, out.find('\n', at) - at - 8));
    std::string avg, dev, max;
    line >> avg >> dev >> max;
    if (auto v = duration_after(max, "")) t.max_us = *v;
  }
  if (auto v = duration_after(out, " 50% ")) t.p50_us = *v;
  if (auto v = duration_after(out, " 90% ")) t.p90_us = *v;
  if (auto v = duration_after(out, " 99% ")) t.p99_us = *v;
  if (out.find("Non-2xx") != std::string::npos || out.find("Socket errors") != std::string::npos)
    t.error = "wrk reported errors";
  return t;
}

std::string lua_string(std::string_view bytes) {
  std::string out = "\"";
  for (unsigned char c : bytes) out += "\\" + std::to_string(c);
  return out + "\"";
}

// wrk -t1 at the row's connections; its Lua script sends the Greeting POST for http-rpc
// and puts concurrency / connections requests on the wire at once when pipelining.
measurement run_wrk(const run_spec& spec, const server_link& server) {
  const std::size_t depth = std::max<std::size_t>(1, spec.concurrency / spec.connections);
  std::string script;
  std::string path = "/";
  if (spec.transport == "http-rpc") {
    path = "/HelloWorld/SayHello";
    script += "wrk.method = \"POST\"\nwrk.body = " + lua_string(request_body(spec.payload)) +
              "\nwrk.headers[\"Content-Type\"] = \"application/proto\"\n";
  }
  if (depth > 1) {
    script += "init = function(args)\n  local r = {}\n  for i = 1, " + std::to_string(depth) +
              " do r[i] = wrk.format() end\n  batch = table.concat(r)\nend\n"
              "request = function() return batch end\n";
  }
  temp_file lua(script);
  if (!script.empty() && lua.path.empty()) return failed_run(spec, "cannot write the wrk script");
  // wrk takes whole seconds and has no warm-up: the window skips the first spec.warmup.
  const double total = std::max(1.0, std::ceil(spec.warmup + spec.duration));
  const std::string arguments =
      "-t1 -c" + std::to_string(spec.connections) + " -d" + std::to_string(std::lround(total)) +
      "s --latency" + (script.empty() ? "" : " -s " + lua.path) + " http://127.0.0.1:" +
      std::to_string(server.http_port) + path;
  return run_tool(spec, server, "wrk", arguments, spec.warmup,
                  std::max(0.1, total - spec.warmup - 0.1), total, &parse_wrk);
}

tool_result parse_h2load(const std::string& out) {
  tool_result t;
  // "finished in 3.00s, 12345.67 req/s, ..."
  if (const auto at = out.find("finished in"); at != std::string::npos) {
    const auto comma = out.find(',', at);
    if (comma != std::string::npos) {
      if (auto rps = number_after(out.substr(comma), ",")) t.per_second = *rps;
    }
  }
  if (t.per_second == 0) t.error = "no req/s in h2load output: " + out.substr(0, 200);
  // "time for request:    123us   4.56ms   789us   ..."
  if (const auto at = out.find("time for request:"); at != std::string::npos) {
    std::istringstream line(out.substr(at + 17, out.find('\n', at) - at - 17));
    std::string min, max;
    line >> min >> max;
    if (auto v = duration_after(max, "")) t.max_us = *v;
  }
  if (auto failed = number_after(out, "succeeded,"); failed && *failed > 0)
    t.error = "h2load reported failed requests";
  return t;
}

// h2load -t1 with the row's connections and concurrency / connections streams each,
// sending SayHello with gRPC framing from a body file. h2load does not read trailers, so
// grpc-status is not checked; the coronet-bench row against the same server is.
measurement run_h2load(const run_spec& spec, const server_link& server) {
  // gRPC framing: uncompressed flag, 4-byte big-endian length, the protobuf bytes.
  const std::string body = request_body(spec.payload);
  std::string frame(5, '\0');
  for (int i = 0; i < 4; ++i) frame[static_cast<std::size_t>(1 + i)] =
      static_cast<char>((body.size() >> (8 * (3 - i))) & 0xff);
  frame += body;
  temp_file file(frame);
  if (file.path.empty()) return failed_run(spec, "cannot write the request body file");
  const std::size_t streams = std::max<std::size_t>(1, spec.concurrency / spec.connections);
  const auto warmup_ms = std::max<long>(100, std::lround(spec.warmup * 1000));
  const auto seconds = std::max<long>(1, std::lround(spec.duration));
  const std::string arguments =
      "-t1 -c" + std::to_string(spec.connections) + " -m" + std::to_string(streams) + " -D" +
      std::to_string(seconds) + " --warm-up-time=" + std::to_string(warmup_ms) + "ms -d " +
      file.path + " -H 'content-type: application/grpc' -H 'te: trailers' http://127.0.0.1:" +
      std::to_string(grpc_port_of(spec, server)) + "/HelloWorld/SayHello";
  const double warm = static_cast<double>(warmup_ms) / 1000.0;
  return run_tool(spec, server, "h2load", arguments, warm + 0.05,
                  std::max(0.1, static_cast<double>(seconds) - 0.1),
                  warm + static_cast<double>(seconds), &parse_h2load);
}

/// The external row that repeats `ours` at its shape, with the tool as the client.
run_spec external_spec(const run_spec& ours) {
  run_spec e = ours;
  e.client = ours.external == &run_wrk ? "wrk" : "h2load";
  e.threads = 1;
  e.rate = 0;
  e.duration = std::max(1.0, std::round(ours.duration));
  e.run = ours.external;
  e.external = nullptr;
  return e;
}

// ---------------------------------------------------------------------------------------
// Scenarios: each adds its runs to the plan

struct planner {
  const options& o;
  std::vector<run_spec> plan{};
  double warmup = 0.5, sweep_warmup = 0.2, sweep_duration = 1;

  void add(run_spec s, bool sweep = false) {
    s.warmup = sweep ? sweep_warmup : warmup;
    s.duration = sweep ? sweep_duration : o.duration;
    plan.push_back(std::move(s));
  }
};

struct scenario {
  std::string_view name;
  std::string_view description;
  void (*plan)(planner&);
};

// The shapes the summary compares: one request in flight, 16, and 512 (16 connections of
// 32, the shape h2load loads gRPC servers with).
struct level_shape {
  const char* level;
  std::size_t in_flight;
  std::size_t connections;  // the multiplexed shape: pipelined HTTP/1.1, gRPC channels
};
constexpr level_shape levels[] = {{"low", 1, 1}, {"medium", 16, 16}, {"high", 512, 16}};

void plan_fair(planner& p) {
  for (const auto& l : levels) {
    const std::size_t n = l.in_flight;
    // The completion-queue client needs several threads to keep a server busy (see the
    // grpc-clients scenario); one call in flight needs one.
    const std::size_t cq_threads = std::min<std::size_t>(4, n);
    auto row = [&](std::string transport, std::string client, std::size_t connections,
                   runner run, runner external) {
      const std::size_t threads = run == &run_grpc_cq ? cq_threads : 1;
      p.add({.scenario = "fair", .transport = std::move(transport), .client = std::move(client),
             .payload = 16, .connections = connections, .concurrency = n, .threads = threads,
             .level = l.level, .run = run, .external = external});
    };
    // HTTP/1.1 keep-alive: a connection per request in flight. Pipelined: all of them on
    // one connection at 16, 32 on each of 16 connections at 512.
    row("http-rpc", "coronet", n, &run_http_rpc, &run_wrk);
    if (n > 1) row("http-rpc", "pipelined", n == 16 ? 1 : l.connections, &run_http_pipelined, &run_wrk);
    for (const char* transport : {"grpc", "grpc-raw"}) {
      // Simple: coronet's rpc::call over one channel. Best: grpc++'s completion queue over
      // one channel and over 16 (each its own connection), compared with h2load's figure.
      row(transport, "coronet", 1, &run_grpc_unary, nullptr);
      row(transport, "grpc-cq", 1, &run_grpc_cq, &run_h2load);
      if (n > 1) row(transport, "grpc-cq", l.connections, &run_grpc_cq, &run_h2load);
    }
  }
}

// Which grpc++ client configuration loads a server most cheaply, at 16 channels x 32.
void plan_grpc_clients(planner& p) {
  auto row = [&](std::string client, std::size_t channels, std::size_t threads, runner run,
                 runner external = nullptr) {
    p.add({.scenario = "grpc-clients", .transport = "grpc-raw", .client = std::move(client),
           .payload = 16, .connections = channels, .concurrency = 512, .threads = threads,
           .run = run, .external = external});
  };
  row("coronet", 1, 1, &run_grpc_unary);
  row("coronet", 16, 1, &run_grpc_unary);
  row("grpc-cb-stock", 16, 1, &run_grpc_callback);
  row("grpc-cb", 16, 1, &run_grpc_callback);
  row("grpc-cq-stock", 16, 4, &run_grpc_cq);
  row("grpc-cq", 1, 1, &run_grpc_cq);
  row("grpc-cq", 16, 1, &run_grpc_cq);
  row("grpc-cq", 16, 2, &run_grpc_cq);
  row("grpc-cq", 1, 4, &run_grpc_cq);
  row("grpc-cq", 16, 4, &run_grpc_cq, &run_h2load);
  row("grpc-cq", 16, 8, &run_grpc_cq);
}

const std::vector<scenario>& scenario_table() {
  static const std::vector<scenario> table = {
      {"fair", "the unary Greeting over HTTP/1.1 (keep-alive, pipelined) and gRPC (coroutine "
               "and raw server; rpc::call on one channel, grpc++ completion queues on 1 and 16 "
               "channels) at 1, 16 and 512 in flight; feeds the summary",
       &plan_fair},
      {"http", "GET / over keep-alive connections, --concurrency of them",
       [](planner& p) {
         const auto c = p.o.concurrency;
         p.add({.scenario = "http", .transport = "http", .connections = c, .concurrency = c,
                .rate = p.o.rate, .run = &run_http_get, .external = &run_wrk});
       }},
      {"http-pipelined", "GET /, --concurrency connections with 16 requests on the wire each",
       [](planner& p) {
         const auto c = p.o.concurrency;
         p.add({.scenario = "http-pipelined", .transport = "http", .client = "pipelined",
                .connections = c, .concurrency = c * pipeline_depth, .run = &run_http_pipelined,
                .external = &run_wrk});
       }},
      {"http-rpc", "the unary Greeting as an application/proto POST, keep-alive",
       [](planner& p) {
         const auto c = p.o.concurrency;
         p.add({.scenario = "http-rpc", .transport = "http-rpc", .payload = 16, .connections = c,
                .concurrency = c, .rate = p.o.rate, .run = &run_http_rpc, .external = &run_wrk});
       }},
      {"grpc", "SayHello on the coroutine service, rpc::call over one channel",
       [](planner& p) {
         p.add({.scenario = "grpc", .transport = "grpc", .payload = 16, .connections = 1,
                .concurrency = p.o.concurrency, .rate = p.o.rate, .run = &run_grpc_unary,
                .external = &run_h2load});
       }},
      {"grpc-raw", "SayHello on the raw callback-API server, rpc::call over one channel",
       [](planner& p) {
         p.add({.scenario = "grpc-raw", .transport = "grpc-raw", .payload = 16, .connections = 1,
                .concurrency = p.o.concurrency, .rate = p.o.rate, .run = &run_grpc_unary,
                .external = &run_h2load});
       }},
      {"grpc-stream", "server streaming and bidi ping-pong, --concurrency streams",
       [](planner& p) {
         const auto c = p.o.concurrency;
         p.add({.scenario = "grpc-stream", .transport = "server-stream", .concurrency = c,
                .unit = "msg", .run = &run_grpc_server_stream});
         p.add({.scenario = "grpc-stream", .transport = "bidi", .concurrency = c, .unit = "msg",
                .run = &run_grpc_bidi});
       }},
      {"grpc-clients", "grpc++ client configurations against the raw server at 16 x 32",
       &plan_grpc_clients},
      {"payload-sweep", "http-rpc and grpc (one channel) with 16 B to 1 MiB messages",
       [](planner& p) {
         const auto c = p.o.concurrency;
         for (std::size_t bytes : {16u, 1024u, 64u * 1024u, 1024u * 1024u}) {
           p.add({.scenario = "payload-sweep", .transport = "http-rpc", .payload = bytes,
                  .connections = c, .concurrency = c, .run = &run_http_rpc}, true);
           p.add({.scenario = "payload-sweep", .transport = "grpc", .payload = bytes,
                  .connections = 1, .concurrency = c, .run = &run_grpc_unary}, true);
         }
       }},
      {"concurrency-sweep", "http, http-rpc, grpc, grpc-raw (coronet's clients, one channel) "
                            "at 1 to 256 in flight",
       [](planner& p) {
         for (std::size_t n : {1u, 4u, 16u, 64u, 256u}) {
           p.add({.scenario = "concurrency-sweep", .transport = "http", .connections = n,
                  .concurrency = n, .rate = p.o.rate, .run = &run_http_get}, true);
           p.add({.scenario = "concurrency-sweep", .transport = "http-rpc", .payload = 16,
                  .connections = n, .concurrency = n, .rate = p.o.rate, .run = &run_http_rpc},
                 true);
           for (const char* t : {"grpc", "grpc-raw"})
             p.add({.scenario = "concurrency-sweep", .transport = t, .payload = 16,
                    .connections = 1, .concurrency = n, .rate = p.o.rate,
                    .run = &run_grpc_unary}, true);
         }
       }},
  };
  return table;
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  for (const auto& s : scenario_table()) names.emplace_back(s.name);
  return names;
}

std::string scenario_help() {
  std::string text;
  for (const auto& s : scenario_table()) {
    char line[64];
    std::snprintf(line, sizeof line, "  %-20s ", std::string(s.name).c_str());
    text += line;
    // Wrapped at 90 columns under the description's start.
    std::size_t column = 23;
    for (const auto& word : split(s.description, ' ')) {
      if (column + word.size() + 1 > 90) {
        text += "\n" + std::string(23, ' ');
        column = 23;
      }
      text += (column > 23 ? " " : "") + word;
      column += word.size() + 1;
    }
    text += "\n";
  }
  return text;
}

// ---------------------------------------------------------------------------------------
// Output

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string format_bytes(std::size_t n) {
  if (n == 0) return "-";
  if (n >= 1024 * 1024 && n % (1024 * 1024) == 0) return std::to_string(n >> 20) + "Mi";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + "Ki";
  return std::to_string(n);
}

std::string format_us(double us) {
  if (us < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", us);
  return buf;
}

/// The client column: grpc-cq with several threads says how many.
std::string client_label(const run_spec& s) {
  return s.threads > 1 ? s.client + "/" + std::to_string(s.threads) + "t" : s.client;
}

void print_header() {
  std::printf("%-17s %-13s %-16s %7s %4s %4s %9s %8s %8s %8s %9s %9s %5s %9s %5s %6s  %s\n",
              "scenario", "transport", "client", "payload", "conn", "conc", "rate/s", "p50 us",
              "p90 us", "p99 us", "max us", "srv us/op", "srv%", "cli us/op", "cli%", "errors",
              "result");
}

void print_row(const measurement& m) {
  std::printf("%-17s %-13s %-16s %7s %4zu %4zu %9.0f %8s %8s %8s %9s %9.2f %5.0f %9.2f %5.0f "
              "%6llu  %s\n",
              m.spec.scenario.c_str(), m.spec.transport.c_str(), client_label(m.spec).c_str(),
              format_bytes(m.spec.payload).c_str(), m.spec.connections, m.spec.concurrency,
              m.per_second, format_us(m.p50_us).c_str(), format_us(m.p90_us).c_str(),
              format_us(m.p99_us).c_str(), format_us(m.max_us).c_str(), m.server_cpu_us,
              m.server_busy * 100, m.client_cpu_us, m.client_busy * 100,
              static_cast<unsigned long long>(m.errors),
              m.failed ? ("FAILED: " + m.first_error).c_str() : "ok");
  std::fflush(stdout);
}

std::string read_cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

// A row of coronet-bench and the external tool's row at the same shape against the same
// server, run right after it.
struct comparison {
  std::size_t ours = 0, theirs = 0;  // indices into the rows

  double rate_ratio(const std::vector<measurement>& rows) const {
    return rows[theirs].per_second > 0 ? rows[ours].per_second / rows[theirs].per_second : 0;
  }
  double cpu_ratio(const std::vector<measurement>& rows) const {
    return rows[theirs].server_cpu_us > 0
               ? rows[ours].server_cpu_us / rows[theirs].server_cpu_us : 0;
  }
  bool usable(const std::vector<measurement>& rows) const {
    return !rows[ours].failed && !rows[theirs].failed;
  }
  /// Within 1.1x of the tool: at least 1/1.1 of its rate, at most 1.1x its server CPU.
  bool close(const std::vector<measurement>& rows) const {
    return usable(rows) && rate_ratio(rows) >= 1 / 1.1 && cpu_ratio(rows) <= 1.1;
  }
};

std::string row_label(const run_spec& s) {
  return s.scenario + " " + s.transport + " " + client_label(s) + " " +
         std::to_string(s.connections) + "x" +
         std::to_string(std::max<std::size_t>(1, s.concurrency / s.connections));
}

void print_comparisons(const std::vector<measurement>& rows,
                       const std::vector<comparison>& pairs) {
  if (pairs.empty()) return;
  std::printf("\nexternal load generators (same server and CPUs, same connections x requests "
              "in flight each, run right after the row):\n"
              "  %-44s %9s %9s %6s  %9s %9s %6s  %9s\n", "row (conn x in flight each)", "rate/s",
              "tool", "ratio", "srv us/op", "tool", "ratio", "srv% both");
  for (const auto& p : pairs) {
    const auto& a = rows[p.ours];
    const auto& b = rows[p.theirs];
    if (!p.usable(rows)) {
      std::printf("  %-44s %s\n", row_label(a.spec).c_str(),
                  (b.spec.client + ": " + (b.failed ? b.first_error : "the row failed")).c_str());
      continue;
    }
    const bool slow = p.rate_ratio(rows) < 1 / 1.1;
    const bool costly = p.cpu_ratio(rows) > 1.1;
    std::printf("  %-44s %9.0f %9.0f %5.2fx  %9.2f %9.2f %5.2fx  %4.0f %4.0f  %s\n",
                row_label(a.spec).c_str(), a.per_second, b.per_second, p.rate_ratio(rows),
                a.server_cpu_us, b.server_cpu_us, p.cpu_ratio(rows), a.server_busy * 100,
                b.server_busy * 100,
                !slow && !costly ? "within 1.1x"
                : slow && costly ? "rate and CPU outside 1.1x"
                : slow           ? "rate outside 1.1x"
                                 : "CPU outside 1.1x");
  }
}

// The summary reads the fair rows: for each level and transport, the row of least server
// CPU per call among the coronet-bench clients, beside the external tool's figure there.
struct summary_group {
  const char* label;
  const char* transport;
  const char* client;  // nullptr: any coronet-bench client
};
constexpr summary_group summary_groups[] = {
    {"HTTP/1.1 keep-alive", "http-rpc", "coronet"},
    {"HTTP/1.1 pipelined", "http-rpc", "pipelined"},
    {"gRPC, coroutine server", "grpc", nullptr},
    {"gRPC, raw grpc++ server", "grpc-raw", nullptr},
};

bool is_external(const run_spec& s) { return s.client == "wrk" || s.client == "h2load"; }

const measurement* best_row(const std::vector<measurement>& rows, const char* level,
                            const summary_group& g) {
  const measurement* best = nullptr;
  for (const auto& m : rows) {
    if (m.failed || m.spec.level != level || m.spec.transport != g.transport ||
        is_external(m.spec) || (g.client && m.spec.client != g.client))
      continue;
    if (!best || m.server_cpu_us < best->server_cpu_us) best = &m;
  }
  return best;
}

const measurement* external_at(const std::vector<measurement>& rows, const run_spec& s) {
  for (const auto& m : rows) {
    if (!m.failed && is_external(m.spec) && m.spec.scenario == s.scenario &&
        m.spec.transport == s.transport && m.spec.connections == s.connections &&
        m.spec.concurrency == s.concurrency)
      return &m;
  }
  return nullptr;
}

void print_summary(const std::vector<measurement>& rows) {
  if (std::none_of(rows.begin(), rows.end(), [](const auto& m) { return !m.spec.level.empty(); }))
    return;
  std::printf("\nsummary (fair rows): per transport and level, the shape and client of least "
              "server CPU per call;\nsrv%%: the server's CPU use (100 = one core), so below "
              "100 the load side was the limit\n"
              "  %-7s %-24s %-6s %-10s %9s %9s %5s %9s   %-7s %9s %9s\n", "level",
              "transport", "shape", "client", "rate/s", "srv us/op", "srv%", "cli us/op", "tool",
              "rate/s", "srv us/op");
  for (const auto& l : levels) {
    for (const auto& g : summary_groups) {
      const auto* m = best_row(rows, l.level, g);
      if (!m) continue;
      const auto& s = m->spec;
      const std::string shape = std::to_string(s.connections) + "x" +
                                std::to_string(std::max<std::size_t>(1, s.concurrency / s.connections));
      std::printf("  %-7s %-24s %-6s %-10s %9.0f %9.2f %5.0f %9.2f", l.level, g.label,
                  shape.c_str(), client_label(s).c_str(), m->per_second, m->server_cpu_us,
                  m->server_busy * 100, m->client_cpu_us);
      if (const auto* e = external_at(rows, s)) {
        std::printf("   %-7s %9.0f %9.2f\n", e->spec.client.c_str(), e->per_second,
                    e->server_cpu_us);
      } else {
        std::printf("\n");
      }
    }
  }
  std::printf("\nratios of server CPU per call, same run (below 1: the first is cheaper):\n");
  auto ratio = [&](const char* level, const summary_group& a, const summary_group& b) {
    const auto* x = best_row(rows, level, a);
    const auto* y = best_row(rows, level, b);
    if (!x || !y || y->server_cpu_us <= 0) return;
    std::printf("  %-7s %-24s / %-24s %5.2fx  (rate %5.2fx)\n", level, a.label, b.label,
                x->server_cpu_us / y->server_cpu_us,
                y->per_second > 0 ? x->per_second / y->per_second : 0.0);
  };
  for (const auto& l : levels) {
    ratio(l.level, summary_groups[3], summary_groups[0]);
    ratio(l.level, summary_groups[2], summary_groups[0]);
    ratio(l.level, summary_groups[2], summary_groups[3]);
    ratio(l.level, summary_groups[1], summary_groups[0]);
    ratio(l.level, summary_groups[3], summary_groups[1]);
  }
}

void write_json(const std::string& file, const options& o, const std::vector<measurement>& rows,
                const std::vector<comparison>& pairs) {
  std::ofstream out(file);
  utsname u{};
  uname(&u);
  out << "{\n  \"machine\": {\"cpu_model\": \"" << json_escape(read_cpu_model())
      << "\", \"cores\": " << sysconf(_SC_NPROCESSORS_ONLN) << ", \"kernel\": \""
      << json_escape(std::string(u.sysname) + " " + u.release) << "\", \"server_cpus\": \""
      << json_escape(o.server_cpus) << "\", \"client_cpus\": \"" << json_escape(o.client_cpus)
      << "\"},\n";
  out << "  \"versions\": {\"coronet\": \"" << CORONET_VERSION << "\", \"grpc\": \""
      << GRPC_CPP_VERSION_STRING << "\", \"asio\": " << ASIO_VERSION << ", \"llhttp\": \""
      << LLHTTP_VERSION_MAJOR << "." << LLHTTP_VERSION_MINOR << "." << LLHTTP_VERSION_PATCH
      << "\", \"protobuf\": " << GOOGLE_PROTOBUF_VERSION << "},\n";
  out << "  \"settings\": {\"duration_s\": " << o.duration << ", \"concurrency\": " << o.concurrency
      << ", \"rate\": " << o.rate << ", \"loop\": \"" << (o.rate > 0 ? "open" : "closed")
      << "\", \"pipeline_depth\": " << pipeline_depth
      << ", \"stream_messages_per_call\": " << stream_messages_per_call << "},\n";
  auto number = [](double v) { return v < 0 ? std::string("null") : std::to_string(v); };
  out << "  \"results\": [";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& m = rows[i];
    out << (i ? ",\n" : "\n") << "    {\"scenario\": \"" << m.spec.scenario
        << "\", \"transport\": \"" << m.spec.transport << "\", \"client\": \"" << m.spec.client
        << "\", \"level\": \"" << m.spec.level << "\", \"unit\": \"" << m.spec.unit
        << "\", \"payload_bytes\": " << m.spec.payload << ", \"connections\": "
        << m.spec.connections << ", \"concurrency\": " << m.spec.concurrency
        << ", \"client_threads\": " << m.spec.threads << ", \"rate\": " << m.spec.rate
        << ", \"warmup_s\": " << m.spec.warmup << ", \"duration_s\": " << m.spec.duration
        << ", \"completed\": " << m.completed << ", \"per_second\": " << m.per_second
        << ", \"latency_us\": {\"p50\": " << number(m.p50_us) << ", \"p90\": " << number(m.p90_us)
        << ", \"p99\": " << number(m.p99_us) << ", \"max\": " << number(m.max_us)
        << "}, \"server_cpu_us_per_op\": " << m.server_cpu_us
        << ", \"client_cpu_us_per_op\": " << m.client_cpu_us
        << ", \"server_busy\": " << m.server_busy << ", \"client_busy\": " << m.client_busy
        << ", \"errors\": " << m.errors << ", \"failed\": " << (m.failed ? "true" : "false")
        << ", \"error\": \"" << json_escape(m.first_error) << "\"}";
  }
  out << "\n  ],\n  \"external\": [";
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& p = pairs[i];
    const auto& a = rows[p.ours];
    const auto& b = rows[p.theirs];
    out << (i ? ",\n" : "\n") << "    {\"tool\": \"" << b.spec.client
        << "\", \"compared_with\": \"" << json_escape(row_label(a.spec))
        << "\", \"row\": " << p.ours << ", \"tool_row\": " << p.theirs
        << ", \"per_second\": " << b.per_second << ", \"coronet_per_second\": " << a.per_second
        << ", \"ratio\": " << (a.per_second > 0 ? b.per_second / a.per_second : 0)
        << ", \"server_cpu_us_per_op\": " << b.server_cpu_us
        << ", \"coronet_server_cpu_us_per_op\": " << a.server_cpu_us
        << ", \"within_1_1x\": " << (p.close(rows) ? "true" : "false") << ", \"error\": \""
        << json_escape(b.failed ? b.first_error : a.failed ? "the row failed" : "") << "\"}";
  }
  out << "\n  ]\n}\n";
}

bool write_plot(const std::string& file, const std::vector<measurement>& rows) {
  std::vector<std::string> transports;
  for (const auto& m : rows) {
    if (m.spec.scenario == "concurrency-sweep" &&
        std::find(transports.begin(), transports.end(), m.spec.transport) == transports.end())
      transports.push_back(m.spec.transport);
  }
  if (transports.empty()) {
    std::fprintf(stderr, "coronet-bench: --plot needs the concurrency-sweep scenario\n");
    return false;
  }
  std::ostringstream script;
  script << "set terminal pngcairo size 1100,450 font ',10'\nset output '" << file << "'\n";
  for (std::size_t t = 0; t < transports.size(); ++t) {
    script << "$d" << t << " << EOD\n";
    for (const auto& m : rows) {
      if (m.spec.scenario == "concurrency-sweep" && m.spec.transport == transports[t] && !m.failed)
        script << m.spec.concurrency << " " << m.per_second << " " << m.p99_us << "\n";
    }
    script << "EOD\n";
  }
  script << "set multiplot layout 1,2 title 'coronet-bench: concurrency sweep'\n"
            "set logscale x 2\nset xlabel 'requests in flight'\nset grid\nset key top left\n"
            "set ylabel 'requests/s'\nset yrange [0:*]\nplot ";
  for (std::size_t t = 0; t < transports.size(); ++t)
    script << (t ? ", " : "") << "$d" << t << " using 1:2 with linespoints title '"
           << transports[t] << "'";
  script << "\nset ylabel 'p99 latency (us)'\nset logscale y\nset yrange [*:*]\nplot ";
  for (std::size_t t = 0; t < transports.size(); ++t)
    script << (t ? ", " : "") << "$d" << t << " using 1:3 with linespoints title '"
           << transports[t] << "'";
  script << "\nunset multiplot\n";
  std::FILE* gp = ::popen("gnuplot", "w");
  if (!gp) return false;
  const std::string text = script.str();
  std::fwrite(text.data(), 1, text.size(), gp);
  return ::pclose(gp) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse_options(argc, argv);
  const cpu_set_t server_cpus = *parse_cpus(o.server_cpus);
  const cpu_set_t client_cpus = *parse_cpus(o.client_cpus);
  const bool progress = ::isatty(STDERR_FILENO) != 0;

  // Fork the server first: this process has not touched gRPC yet.
  server_link server = start_server(server_cpus);
  std::signal(SIGPIPE, SIG_IGN);  // a server that has gone is reported, not fatal
  // The external tools inherit this pinning.
  if (sched_setaffinity(0, sizeof client_cpus, &client_cpus) != 0) {
    std::fprintf(stderr, "coronet-bench: cannot pin the load side to CPUs %s: %s\n",
                 o.client_cpus.c_str(), std::strerror(errno));
    server.stop();
    return 2;
  }

  // The plan: every run of the selected scenarios, in the table's order.
  planner p{.o = o};
  p.warmup = std::min(0.5, o.duration / 2);
  p.sweep_duration = o.duration / 3;
  p.sweep_warmup = std::min(0.2, p.sweep_duration / 2);
  for (const auto& s : scenario_table())
    if (selected(o, s.name)) s.plan(p);
  const auto& plan = p.plan;

  std::printf("coronet-bench: server on CPUs %s, load on CPUs %s, %s loop%s; %.2f s measured "
              "after %.2f s warm-up",
              o.server_cpus.c_str(), o.client_cpus.c_str(), o.rate > 0 ? "open" : "closed",
              o.rate > 0 ? (" at " + std::to_string(static_cast<long>(o.rate)) + " req/s").c_str()
                         : "",
              o.duration, p.warmup);
  if (selected(o, "payload-sweep") || selected(o, "concurrency-sweep"))
    std::printf("; sweeps %.2f s after %.2f s", p.sweep_duration, p.sweep_warmup);
  std::printf("\n");
  if (o.rate > 0)
    std::printf("(only http, http-rpc, grpc, grpc-raw and the concurrency sweep take --rate)\n");
  {
    utsname u{};
    uname(&u);
    std::printf("machine: %s, %ld cores, %s %s; grpc %s, asio %d.%d.%d, llhttp %d.%d.%d\n",
                read_cpu_model().c_str(), sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release,
                GRPC_CPP_VERSION_STRING, ASIO_VERSION / 100000, ASIO_VERSION / 100 % 1000,
                ASIO_VERSION % 100, LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR,
                LLHTTP_VERSION_PATCH);
  }
  std::printf("rate/s: requests (grpc-stream: messages) per second; srv/cli us/op: CPU time of "
              "the server process / the load side per request or message;\nsrv%%/cli%%: their "
              "CPU use over the window (100 = one core); conn: TCP connections (gRPC channels); "
              "conc: requests in flight over all of them;\nclient: coronet (http::client, "
              "rpc::call), pipelined (raw sockets), grpc-cq (grpc++ completion queue, /Nt: N "
              "threads), grpc-cb (grpc++ callbacks), wrk, h2load\n\n");
  print_header();

  std::vector<measurement> rows;
  std::vector<comparison> pairs;
  auto run = [&](const run_spec& spec, std::size_t i) {
    if (progress) {
      std::fprintf(stderr, "\r\033[K[%zu/%zu] %s: %s %s, %s%zu x %zu in flight, %.1f s...", i + 1,
                   plan.size(), spec.scenario.c_str(), spec.transport.c_str(),
                   spec.client.c_str(),
                   spec.payload ? (format_bytes(spec.payload) + " B, ").c_str() : "",
                   spec.connections, spec.concurrency / spec.connections,
                   spec.warmup + spec.duration);
    }
    measurement m;
    if (server.error.empty() && server.gone()) server.error = "the server process exited";
    m = server.error.empty() ? spec.run(spec, server)
                             : failed_run(spec, "no server: " + server.error);
    if (progress) std::fprintf(stderr, "\r\033[K");
    print_row(m);
    rows.push_back(std::move(m));
  };
  for (std::size_t i = 0; i < plan.size(); ++i) {
    run(plan[i], i);
    // The external tool runs right after its peer row, under the same conditions.
    if (o.check_external && plan[i].external) {
      const std::size_t ours = rows.size() - 1;
      run(external_spec(plan[i]), i);
      pairs.push_back({.ours = ours, .theirs = rows.size() - 1});
    }
  }

  print_comparisons(rows, pairs);
  print_summary(rows);
  server.stop();

  bool ok = std::none_of(rows.begin(), rows.end(), [](const auto& m) { return m.failed; });
  if (!o.json_file.empty()) {
    write_json(o.json_file, o, rows, pairs);
    std::printf("\nJSON: %s\n", o.json_file.c_str());
  }
  if (!o.plot_file.empty()) {
    if (write_plot(o.plot_file, rows)) {
      std::printf("plot: %s\n", o.plot_file.c_str());
    } else {
      std::fprintf(stderr, "coronet-bench: gnuplot could not write %s\n", o.plot_file.c_str());
      ok = false;
    }
  }
  if (!ok) std::printf("\nFAILED: at least one scenario had errors (see the result column)\n");
  return ok ? 0 : 1;
}
