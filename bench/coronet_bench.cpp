// coronet-bench — measures coronet's transports against each other on one machine.
//
// A forked server process (pinned to --server-cpus) serves HTTP/1.1 (GET /, and
// POST /HelloWorld/SayHello with an application/proto Greeting), gRPC on coronet's coroutine
// services (HelloWorld, and Bench for streaming), and the raw callback-API HelloWorld as a
// baseline. The load side (this process, pinned to --client-cpus) drives them with coronet's
// own HTTP and gRPC clients, then prints one row per scenario: throughput, exact latency
// percentiles, server CPU time per request, errors.
//
//     coronet-bench [--duration 3] [--scenarios http,grpc,...] [--concurrency 16]
//                   [--rate R] [--server-cpus 0] [--client-cpus 1] [--json FILE]
//                   [--plot FILE.png] [--check-external]
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
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
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
  std::vector<std::string> scenarios;
  std::size_t concurrency = 16;
  double rate = 0;  // requests/s over all workers; 0: closed loop
  std::string server_cpus = "0";
  std::string client_cpus = "1";
  std::string json_file;
  std::string plot_file;
  bool check_external = false;
};

const std::vector<std::string> all_scenarios = {
    "http", "http-pipelined", "http-rpc", "grpc", "grpc-raw", "grpc-stream",
    "payload-sweep", "concurrency-sweep"};

constexpr std::size_t pipeline_depth = 16;
constexpr int stream_messages_per_call = 100;
constexpr int max_message_bytes = 8 * 1024 * 1024;

void usage(std::FILE* out) {
  std::fprintf(out,
      "usage: coronet-bench [options]\n"
      "  --duration S         measured seconds per scenario (default 3; sweeps use S/3)\n"
      "  --scenarios A,B,...  of: http, http-pipelined, http-rpc, grpc, grpc-raw, grpc-stream,\n"
      "                       payload-sweep, concurrency-sweep (default: all)\n"
      "  --concurrency N      requests in flight (connections for http-pipelined, streams for\n"
      "                       grpc-stream) outside the concurrency sweep (default 16)\n"
      "  --rate R             open loop: R requests/s, latency from the intended send time\n"
      "  --server-cpus LIST   CPUs of the server process, e.g. 0 or 0-1 (default 0)\n"
      "  --client-cpus LIST   CPUs of the load side (default 1)\n"
      "  --json FILE          every figure, the machine and the versions, as JSON\n"
      "  --plot FILE.png      req/s and p99 across the concurrency sweep (gnuplot)\n"
      "  --check-external     also measure http with wrk and grpc with h2load, and compare\n");
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
  o.scenarios = all_scenarios;
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
      for (const auto& s : o.scenarios) {
        if (std::find(all_scenarios.begin(), all_scenarios.end(), s) == all_scenarios.end())
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

struct run_spec {
  std::string scenario;   // as selected on the command line
  std::string transport;  // one line of the plot: http, http-rpc, grpc, grpc-raw, ...
  std::size_t payload = 0;
  std::size_t concurrency = 1;
  double warmup = 0.5;
  double duration = 3;
  double rate = 0;
  std::string unit = "req";
};

struct measurement {
  run_spec spec;
  std::uint64_t completed = 0;  // in the measured window
  double per_second = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
  double server_cpu_us = 0;  // per request (message)
  double client_cpu_us = 0;
  std::uint64_t errors = 0;
  std::string first_error;
  bool failed = false;
};

// What the workers of one run share. Everything runs on one thread (the run's io_context).
struct recorder {
  clock_type::time_point start, measure_start, end;
  double rate = 0;
  std::uint64_t next_index = 0;  // open loop: the next intended send
  std::vector<std::uint64_t> samples;
  std::uint64_t completed = 0;
  std::uint64_t errors = 0;
  std::string first_error;

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

std::uint64_t client_cpu_ns() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (static_cast<std::uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1'000'000 +
          static_cast<std::uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) * 1000;
}

double percentile_us(const std::vector<std::uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest sample with at least p of all samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1000.0;
}

using worker_fn = std::function<asio::awaitable<void>(recorder&, std::size_t worker)>;

/// Runs `spec.concurrency` workers on `ctx` through warm-up and the measured window, and
/// turns what they recorded into a measurement.
measurement drive(asio::io_context& ctx, const run_spec& spec, const server_link& server,
                  const worker_fn& worker) {
  recorder r;
  r.rate = spec.rate;
  r.start = clock_type::now();
  r.measure_start = r.start + std::chrono::duration_cast<clock_type::duration>(
                                  std::chrono::duration<double>(spec.warmup));
  r.end = r.measure_start + std::chrono::duration_cast<clock_type::duration>(
                                std::chrono::duration<double>(spec.duration));
  r.samples.reserve(1 << 16);

  std::optional<std::uint64_t> server_cpu_start, server_cpu_end, client_cpu_start,
      client_cpu_end;
  std::size_t live = spec.concurrency;
  bool overran = false;

  // Pooled connections keep the context busy after the workers: stop it once they are done.
  for (std::size_t i = 0; i < spec.concurrency; ++i) {
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
        server_cpu_start = server.cpu_ns();
        client_cpu_start = client_cpu_ns();
        if (!server_cpu_start) r.fail("the server process has gone");
        timer.expires_at(r.end);
        co_await timer.async_wait(use_nothrow);
        server_cpu_end = server.cpu_ns();
        client_cpu_end = client_cpu_ns();
        // A worker stuck this long after the end means a request never completed.
        timer.expires_at(r.end + 15s);
        co_await timer.async_wait(use_nothrow);
        overran = true;
        ctx.stop();
      },
      asio::detached);
  ctx.run();

  measurement m;
  m.spec = spec;
  if (overran) r.fail("requests still outstanding 15 s after the end");
  // Workers that all failed before the window leave no start sample: not the server's fault.
  if (server_cpu_start && !server_cpu_end) server_cpu_end = server.cpu_ns();
  if (server_cpu_start && !server_cpu_end) r.fail("the server process has gone");
  if (!client_cpu_end) client_cpu_end = client_cpu_ns();
  std::sort(r.samples.begin(), r.samples.end());
  m.completed = r.completed;
  m.per_second = static_cast<double>(r.completed) / spec.duration;
  m.p50_us = percentile_us(r.samples, 0.50);
  m.p90_us = percentile_us(r.samples, 0.90);
  m.p99_us = percentile_us(r.samples, 0.99);
  m.max_us = r.samples.empty() ? 0 : static_cast<double>(r.samples.back()) / 1000.0;
  if (server_cpu_start && server_cpu_end && r.completed > 0) {
    m.server_cpu_us = static_cast<double>(*server_cpu_end - *server_cpu_start) / 1000.0 /
                      static_cast<double>(r.completed);
    m.client_cpu_us = static_cast<double>(*client_cpu_end - *client_cpu_start) / 1000.0 /
                      static_cast<double>(r.completed);
  }
  m.errors = r.errors;
  m.first_error = r.first_error;
  if (r.completed == 0 && r.errors == 0) m.first_error = "no request completed";
  m.failed = r.errors > 0 || r.completed == 0;
  return m;
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

// --- HTTP -------------------------------------------------------------------------------

measurement run_http_get(const run_spec& spec, const server_link& server) {
  asio::io_context ctx(1);
  http::client client(ctx.get_executor(), {.request_timeout = 10s,
                                           .max_connections_per_host = spec.concurrency});
  const std::string url = "http://127.0.0.1:" + std::to_string(server.http_port) + "/";
  return drive(ctx, spec, server, [&](recorder& r, std::size_t) {
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
  Greeting request;
  request.set_message(payload_text(spec.payload));
  const std::string body = request.SerializeAsString();
  const std::size_t expected = reply_text(request.message()).size();
  return drive(ctx, spec, server, [&](recorder& r, std::size_t) {
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

// Pipelining needs several requests on the wire before the first answer, which
// http::client never does; so a raw socket writes `depth` requests at once and reads their
// answers, each answer's latency counted from the batch's send.
asio::awaitable<void> pipelined_worker(recorder& r, std::uint16_t port) {
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
  for (std::size_t i = 0; i < pipeline_depth; ++i)
    batch += "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
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
    while (answered < pipeline_depth) {
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
      if (answered == pipeline_depth) break;
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

measurement run_http_pipelined(const run_spec& spec, const server_link& server) {
  asio::io_context ctx(1);
  return drive(ctx, spec, server, [&](recorder& r, std::size_t) {
    return pipelined_worker(r, server.http_port);
  });
}

// --- gRPC -------------------------------------------------------------------------------

std::shared_ptr<grpc::Channel> open_channel(int port, std::string& error) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own per run
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                           grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + 5s)) {
    error = "cannot connect to 127.0.0.1:" + std::to_string(port);
    return nullptr;
  }
  return channel;
}

measurement run_grpc_unary(const run_spec& spec, const server_link& server, int port) {
  std::string error;
  auto channel = open_channel(port, error);
  if (!channel) return failed_run(spec, error);
  auto stub = HelloWorld::NewStub(channel);
  asio::io_context ctx(1);
  Greeting request;
  request.set_message(payload_text(spec.payload));
  const std::size_t expected = reply_text(request.message()).size();
  return drive(ctx, spec, server, [&](recorder& r, std::size_t) {
    return request_loop(r, [&]() -> asio::awaitable<std::string> {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 10s);
      auto [status, reply] =
          co_await rpc::call(&HelloWorld::Stub::async::SayHello, *stub, context, request);
      if (!status.ok()) co_return "gRPC status " + std::to_string(status.error_code()) + ": " +
                                  status.error_message();
      if (reply.message().size() != expected) co_return "unexpected reply";
      co_return std::string();
    });
  });
}

// A deadline well past the run's end: a call that never completes fails instead of
// outliving the io_context its completions go to.
std::unique_ptr<grpc::ClientContext> call_context(
    clock_type::time_point end = clock_type::now()) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + (end - clock_type::now()) + 10s);
  return context;
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
  return drive(ctx, spec, server, [&](recorder& r, std::size_t) -> asio::awaitable<void> {
    while (r.running()) {
      auto call = rpc::stream(&coronet::bench::v1::Bench::Stub::async::ServerStream, *stub,
                              request, call_context());
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
  return drive(ctx, spec, server, [&](recorder& r, std::size_t) -> asio::awaitable<void> {
    auto call = rpc::stream(&coronet::bench::v1::Bench::Stub::async::Bidi, *stub,
                            call_context(r.end));
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
// External load generators

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

struct external_result {
  std::string tool;
  std::string compared_with;  // the scenario row it is compared to
  double per_second = 0;
  double coronet_per_second = 0;
  double ratio = 0;  // external / coronet
  bool differs = false;
  std::string error;
};

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

external_result run_wrk(const std::string& wrk, const server_link& server, std::size_t connections,
                        double seconds) {
  external_result e;
  e.tool = "wrk";
  e.compared_with = "http";
  const auto secs = std::max<long>(1, std::lround(seconds));
  const std::string out = run_command(
      wrk + " -t1 -c" + std::to_string(connections) + " -d" + std::to_string(secs) +
      "s http://127.0.0.1:" + std::to_string(server.http_port) + "/ 2>&1");
  if (auto v = number_after(out, "Requests/sec:")) {
    e.per_second = *v;
  } else {
    e.error = "no Requests/sec in wrk output";
  }
  if (out.find("Non-2xx") != std::string::npos || out.find("Socket errors") != std::string::npos)
    e.error = "wrk reported errors";
  return e;
}

external_result run_h2load(const std::string& h2load, const server_link& server,
                           std::size_t streams, double seconds) {
  external_result e;
  e.tool = "h2load";
  e.compared_with = "grpc";
  // gRPC framing: uncompressed flag, 4-byte big-endian length, the protobuf bytes.
  Greeting request;
  request.set_message(payload_text(16));
  const std::string body = request.SerializeAsString();
  std::string frame(5, '\0');
  for (int i = 0; i < 4; ++i) frame[static_cast<std::size_t>(1 + i)] =
      static_cast<char>((body.size() >> (8 * (3 - i))) & 0xff);
  frame += body;
  char path[] = "/tmp/coronet-bench-grpc-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) {
    e.error = "mkstemp failed";
    return e;
  }
  const bool written = write_all(fd, frame);
  ::close(fd);
  if (!written) {
    ::unlink(path);
    e.error = "cannot write the request body file";
    return e;
  }
  const auto secs = std::max<long>(1, std::lround(seconds));
  const std::string out = run_command(
      h2load + " -c1 -t1 -m" + std::to_string(streams) + " -D" + std::to_string(secs) +
      " --warm-up-time=500ms -d " + path +
      " -H 'content-type: application/grpc' -H 'te: trailers' http://127.0.0.1:" +
      std::to_string(server.grpc_port) + "/HelloWorld/SayHello 2>&1");
  ::unlink(path);
  // "finished in 3.00s, 12345.67 req/s, ..."
  if (const auto at = out.find("finished in"); at != std::string::npos) {
    const auto comma = out.find(',', at);
    if (comma != std::string::npos) {
      if (auto rps = number_after(out.substr(comma), ",")) e.per_second = *rps;
    }
  }
  if (e.per_second == 0) e.error = "no req/s in h2load output";
  if (auto failed = number_after(out, "succeeded,"); failed && *failed > 0)
    e.error = "h2load reported failed requests";
  return e;
}

/// Measures with `tool` (wrk against GET /, h2load against gRPC SayHello) what `ours`
/// measured with coronet's client, and compares the two.
external_result measure_external(const std::string& tool, const server_link& server,
                                 const measurement& ours, double seconds) {
  external_result e;
  e.tool = tool;
  e.compared_with = ours.spec.scenario;
  const auto path = find_program(tool);
  if (!path) {
    e.error = "not installed: skipped";
    return e;
  }
  e = tool == "wrk" ? run_wrk(*path, server, ours.spec.concurrency, seconds)
                    : run_h2load(*path, server, ours.spec.concurrency, seconds);
  if (!e.error.empty()) return e;
  if (ours.failed || ours.per_second <= 0) {
    e.error = "the " + e.compared_with + " row failed: nothing to compare with";
    return e;
  }
  e.coronet_per_second = ours.per_second;
  e.ratio = e.per_second / ours.per_second;
  e.differs = std::abs(e.ratio - 1.0) > 0.15;
  return e;
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

void print_header() {
  std::printf("%-17s %-13s %7s %4s %9s %9s %9s %9s %9s %9s %9s %6s  %s\n", "scenario",
              "transport", "payload", "conc", "rate/s", "p50 us", "p90 us", "p99 us", "max us",
              "srv us/op", "cli us/op", "errors", "result");
}

void print_row(const measurement& m) {
  std::printf("%-17s %-13s %7s %4zu %9.0f %9.1f %9.1f %9.1f %9.1f %9.2f %9.2f %6llu  %s\n",
              m.spec.scenario.c_str(), m.spec.transport.c_str(), format_bytes(m.spec.payload).c_str(),
              m.spec.concurrency, m.per_second, m.p50_us, m.p90_us, m.p99_us, m.max_us,
              m.server_cpu_us, m.client_cpu_us, static_cast<unsigned long long>(m.errors),
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

void write_json(const std::string& file, const options& o, const std::vector<measurement>& rows,
                const std::vector<external_result>& externals) {
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
  out << "  \"results\": [";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& m = rows[i];
    out << (i ? ",\n" : "\n") << "    {\"scenario\": \"" << m.spec.scenario
        << "\", \"transport\": \"" << m.spec.transport << "\", \"unit\": \"" << m.spec.unit
        << "\", \"payload_bytes\": " << m.spec.payload << ", \"concurrency\": "
        << m.spec.concurrency << ", \"rate\": " << m.spec.rate << ", \"warmup_s\": "
        << m.spec.warmup << ", \"duration_s\": " << m.spec.duration
        << ", \"completed\": " << m.completed << ", \"per_second\": " << m.per_second
        << ", \"latency_us\": {\"p50\": " << m.p50_us << ", \"p90\": " << m.p90_us
        << ", \"p99\": " << m.p99_us << ", \"max\": " << m.max_us
        << "}, \"server_cpu_us_per_op\": " << m.server_cpu_us
        << ", \"client_cpu_us_per_op\": " << m.client_cpu_us << ", \"errors\": " << m.errors
        << ", \"failed\": " << (m.failed ? "true" : "false") << ", \"error\": \""
        << json_escape(m.first_error) << "\"}";
  }
  out << "\n  ],\n  \"external\": [";
  for (std::size_t i = 0; i < externals.size(); ++i) {
    const auto& e = externals[i];
    out << (i ? ",\n" : "\n") << "    {\"tool\": \"" << e.tool << "\", \"compared_with\": \""
        << e.compared_with << "\", \"per_second\": " << e.per_second
        << ", \"coronet_per_second\": " << e.coronet_per_second << ", \"ratio\": " << e.ratio
        << ", \"differs_over_15_percent\": " << (e.differs ? "true" : "false")
        << ", \"error\": \"" << json_escape(e.error) << "\"}";
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
  if (sched_setaffinity(0, sizeof client_cpus, &client_cpus) != 0) {
    std::fprintf(stderr, "coronet-bench: cannot pin the load side to CPUs %s: %s\n",
                 o.client_cpus.c_str(), std::strerror(errno));
    server.stop();
    return 2;
  }

  // The plan: every run, in order.
  const double warmup = std::min(0.5, o.duration / 2);
  const double sweep_duration = o.duration / 3;
  const double sweep_warmup = std::min(0.2, sweep_duration / 2);
  std::vector<run_spec> plan;
  auto add = [&](std::string scenario, std::string transport, std::size_t payload,
                 std::size_t concurrency, bool sweep, double rate, std::string unit = "req") {
    plan.push_back({.scenario = std::move(scenario), .transport = std::move(transport),
                    .payload = payload, .concurrency = concurrency,
                    .warmup = sweep ? sweep_warmup : warmup,
                    .duration = sweep ? sweep_duration : o.duration, .rate = rate,
                    .unit = std::move(unit)});
  };
  const std::size_t c = o.concurrency;
  if (selected(o, "http")) add("http", "http", 0, c, false, o.rate);
  if (selected(o, "http-pipelined")) add("http-pipelined", "http", 0, c, false, 0);
  if (selected(o, "http-rpc")) add("http-rpc", "http-rpc", 16, c, false, o.rate);
  if (selected(o, "grpc")) add("grpc", "grpc", 16, c, false, o.rate);
  if (selected(o, "grpc-raw")) add("grpc-raw", "grpc-raw", 16, c, false, o.rate);
  if (selected(o, "grpc-stream")) {
    add("grpc-stream", "server-stream", 0, c, false, 0, "msg");
    add("grpc-stream", "bidi", 0, c, false, 0, "msg");
  }
  if (selected(o, "payload-sweep")) {
    for (std::size_t bytes : {16u, 1024u, 64u * 1024u, 1024u * 1024u}) {
      add("payload-sweep", "http-rpc", bytes, c, true, 0);
      add("payload-sweep", "grpc", bytes, c, true, 0);
    }
  }
  if (selected(o, "concurrency-sweep")) {
    for (std::size_t n : {1u, 4u, 16u, 64u, 256u}) {
      for (const char* t : {"http", "http-rpc", "grpc", "grpc-raw"})
        add("concurrency-sweep", t, std::string_view(t) == "http" ? 0 : 16, n, true, o.rate);
    }
  }

  std::printf("coronet-bench: server on CPUs %s, load on CPUs %s, %s loop%s; %.2f s measured "
              "after %.2f s warm-up",
              o.server_cpus.c_str(), o.client_cpus.c_str(), o.rate > 0 ? "open" : "closed",
              o.rate > 0 ? (" at " + std::to_string(static_cast<long>(o.rate)) + " req/s").c_str()
                         : "",
              o.duration, warmup);
  if (selected(o, "payload-sweep") || selected(o, "concurrency-sweep"))
    std::printf("; sweeps %.2f s after %.2f s", sweep_duration, sweep_warmup);
  std::printf("\n");
  if (o.rate > 0)
    std::printf("(http-pipelined, grpc-stream and payload-sweep stay closed loop)\n");
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
              "the server process / the load side per request or message;\nconc: requests in flight (http-pipelined: connections, "
              "%zu requests each; grpc-stream: streams)\n\n", pipeline_depth);
  print_header();

  std::vector<measurement> rows;
  std::vector<external_result> externals;
  if (o.check_external && !selected(o, "http"))
    externals.push_back({.tool = "wrk", .compared_with = "http", .error = "skipped: needs the http scenario"});
  if (o.check_external && !selected(o, "grpc"))
    externals.push_back({.tool = "h2load", .compared_with = "grpc", .error = "skipped: needs the grpc scenario"});
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& spec = plan[i];
    if (progress) {
      std::fprintf(stderr, "\r\033[K[%zu/%zu] %s: %s, %s%zu in flight, %.1f s...", i + 1,
                   plan.size(), spec.scenario.c_str(), spec.transport.c_str(),
                   spec.payload ? (format_bytes(spec.payload) + " B, ").c_str() : "",
                   spec.concurrency, spec.warmup + spec.duration);
    }
    measurement m;
    if (server.error.empty() && server.gone()) server.error = "the server process exited";
    if (!server.error.empty()) {
      m = failed_run(spec, "no server: " + server.error);
    } else if (spec.scenario == "http-pipelined") {
      m = run_http_pipelined(spec, server);
    } else if (spec.transport == "http") {
      m = run_http_get(spec, server);
    } else if (spec.transport == "http-rpc") {
      m = run_http_rpc(spec, server);
    } else if (spec.transport == "grpc") {
      m = run_grpc_unary(spec, server, server.grpc_port);
    } else if (spec.transport == "grpc-raw") {
      m = run_grpc_unary(spec, server, server.raw_port);
    } else if (spec.transport == "server-stream") {
      m = run_grpc_server_stream(spec, server);
    } else {
      m = run_grpc_bidi(spec, server);
    }
    if (progress) std::fprintf(stderr, "\r\033[K");
    print_row(m);
    // The external generators run right after their peer row, under the same conditions.
    if (o.check_external && server.error.empty() && (spec.scenario == "http" || spec.scenario == "grpc")) {
      const bool is_http = spec.scenario == "http";
      if (progress) std::fprintf(stderr, "\r\033[K%s...", is_http ? "wrk" : "h2load");
      externals.push_back(measure_external(is_http ? "wrk" : "h2load", server, m, o.duration));
      if (progress) std::fprintf(stderr, "\r\033[K");
    }
    rows.push_back(std::move(m));
  }

  // Ratios between peers of the same run.
  auto find_row = [&](std::string_view scenario, std::string_view transport) -> const measurement* {
    for (const auto& m : rows)
      if (m.spec.scenario == scenario && m.spec.transport == transport && !m.failed) return &m;
    return nullptr;
  };
  bool ratio_heading = false;
  auto ratio = [&](const char* label, const measurement* a, const measurement* b) {
    if (a && b && b->per_second > 0 && !std::exchange(ratio_heading, true))
      std::printf("\nratios (same run):\n");
    if (a && b && b->per_second > 0)
      std::printf("  %-44s %.2fx throughput, %.2fx server CPU per op\n", label,
                  a->per_second / b->per_second,
                  b->server_cpu_us > 0 ? a->server_cpu_us / b->server_cpu_us : 0.0);
  };
  ratio("grpc (coroutine service) / grpc-raw", find_row("grpc", "grpc"), find_row("grpc-raw", "grpc-raw"));
  ratio("http-rpc / grpc", find_row("http-rpc", "http-rpc"), find_row("grpc", "grpc"));
  ratio("http-pipelined / http", find_row("http-pipelined", "http"), find_row("http", "http"));
  ratio("http / grpc", find_row("http", "http"), find_row("grpc", "grpc"));

  if (o.check_external) {
    std::printf("\nexternal load generators (same servers and CPUs, %zu in flight, run right "
                "after the row they are compared with):\n", c);
    if (!server.error.empty()) std::printf("  skipped: the server did not start\n");
    for (const auto& e : externals) {
      if (e.error.empty()) {
        std::printf("  %-7s %12.0f req/s vs coronet %-5s %12.0f req/s: ratio %.2f%s\n",
                    e.tool.c_str(), e.per_second, e.compared_with.c_str(),
                    e.coronet_per_second, e.ratio, e.differs ? "  DIFFERS by more than 15%" : "");
      } else {
        std::printf("  %-7s %s\n", e.tool.c_str(), e.error.c_str());
      }
    }
  }
  server.stop();

  bool ok = std::none_of(rows.begin(), rows.end(), [](const auto& m) { return m.failed; });
  if (!o.json_file.empty()) {
    write_json(o.json_file, o, rows, externals);
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
