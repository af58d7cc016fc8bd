#include "options.hpp"

#include "scenarios.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace coronet_bench {
namespace {



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

}  // namespace

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

}  // namespace coronet_bench
