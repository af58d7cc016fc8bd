// coronet-bench — measures coronet's transports against each other on one machine.
//
// A forked server process (pinned to --server-cpus) serves HTTP/1.1 (GET /, and
// POST /plain/HelloWorld/SayHello with an application/proto Greeting; Connect and gRPC-Web
// on /HelloWorld/SayHello, from the gRPC greeter's service object), gRPC on coronet's coroutine
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
//
// The parts: options (command line), server_process, load (one run and its figures),
// http_load and grpc_load (the clients), external (wrk, h2load), scenarios (the table),
// report (rows, comparison, summary, JSON, plot).
#include "external.hpp"
#include "options.hpp"
#include "report.hpp"
#include "scenarios.hpp"
#include "server_process.hpp"

#include <grpcpp/grpcpp.h>
#include <asio/version.hpp>
#include <llhttp.h>

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

using namespace coronet_bench;

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
    std::printf("(only http, http-rpc, connect, grpc, grpc-raw and the concurrency sweep take --rate)\n");
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
              "rpc::call), connect-call (connect::call), pipelined (raw sockets), grpc-cq (grpc++ "
              "completion queue, /Nt: N threads), grpc-cb (grpc++ callbacks), wrk, h2load\n\n");
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

