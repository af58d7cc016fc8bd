#include "external.hpp"

#include "grpc_load.hpp"
#include "options.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>
#include <utility>

namespace coronet_bench {

namespace {

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

// The number following `key` in `text` (e.g. after "Requests/sec:") and where it ends.
std::optional<std::pair<double, const char*>> parse_after(const std::string& text,
                                                          const std::string& key) {
  const auto at = text.find(key);
  if (at == std::string::npos) return std::nullopt;
  const char* p = text.c_str() + at + key.size();
  while (*p == ' ' || *p == '\t') ++p;
  char* end = nullptr;
  const double v = std::strtod(p, &end);
  if (end == p) return std::nullopt;
  return std::pair<double, const char*>{v, end};
}

std::optional<double> number_after(const std::string& text, const std::string& key) {
  const auto parsed = parse_after(text, key);
  if (!parsed) return std::nullopt;
  return parsed->first;
}

// A duration following `key`, such as "1.23ms", in microseconds.
std::optional<double> duration_after(const std::string& text, const std::string& key) {
  const auto parsed = parse_after(text, key);
  if (!parsed) return std::nullopt;
  const auto [v, end] = *parsed;
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
  // Every byte as a decimal escape: the body is binary.
  std::string out = "\"";
  for (unsigned char c : bytes) {
    char escape[8];
    std::snprintf(escape, sizeof escape, "\\%u", static_cast<unsigned>(c));
    out.append(escape);
  }
  out.push_back('"');
  return out;
}

}  // namespace

// wrk -t1 at the row's connections; its Lua script sends the Greeting POST for http-rpc
// and puts concurrency / connections requests on the wire at once when pipelining.
measurement run_wrk(const run_spec& spec, const server_link& server) {
  const std::size_t depth = std::max<std::size_t>(1, spec.concurrency / spec.connections);
  std::string script;
  std::string path = "/";
  if (spec.transport == "http-rpc") {
    path = plain_rpc_path;
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
      "s --latency" + (script.empty() ? "" : " -s " + lua.path) +
      (spec.transport == "https" ? " https://127.0.0.1:" + std::to_string(server.https_port)
                                 : " http://127.0.0.1:" + std::to_string(server.http_port)) +
      path;
  return run_tool(spec, server, "wrk", arguments, spec.warmup,
                  std::max(0.1, total - spec.warmup - 0.1), total, &parse_wrk);
}

namespace {

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

}  // namespace

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

}  // namespace coronet_bench
