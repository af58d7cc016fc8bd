#include "report.hpp"

#include "scenarios.hpp"

#include <grpcpp/grpcpp.h>
#include <google/protobuf/stubs/common.h>
#include <asio/version.hpp>
#include <llhttp.h>

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace coronet_bench {

namespace {

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

}  // namespace

std::string format_bytes(std::size_t n) {
  if (n == 0) return "-";
  if (n >= 1024 * 1024 && n % (1024 * 1024) == 0) return std::to_string(n >> 20) + "Mi";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + "Ki";
  return std::to_string(n);
}

namespace {

std::string format_us(double us) {
  if (us < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", us);
  return buf;
}

}  // namespace

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

namespace {

std::string row_label(const run_spec& s) {
  return s.scenario + " " + s.transport + " " + client_label(s) + " " +
         std::to_string(s.connections) + "x" +
         std::to_string(std::max<std::size_t>(1, s.concurrency / s.connections));
}

}  // namespace

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

namespace {

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
    {"gRPC, raw grpc++ server", "grpc-raw", nullptr},
    {"gRPC, coroutine inline", "grpc", nullptr},
    {"gRPC, coroutine hand-off", "grpc-hop", nullptr},
    {"Connect, proto", "connect-proto", "coronet"},
    {"Connect, JSON", "connect-json", "coronet"},
    {"gRPC-Web", "grpc-web", "coronet"},
};
// The summary_groups entries, by name, for the ratios.
enum group {
  http_keep_alive, http_pipelined, grpc_raw, grpc_inline, grpc_hop, connect_proto, connect_json,
  grpc_web
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

}  // namespace

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
  constexpr std::pair<group, group> pairs[] = {
      {grpc_raw, http_keep_alive},    {grpc_inline, http_keep_alive}, {grpc_inline, grpc_raw},
      {grpc_hop, grpc_raw},           {http_pipelined, http_keep_alive},
      {grpc_raw, http_pipelined},     {connect_proto, http_keep_alive},
      {connect_json, connect_proto},  {grpc_web, connect_proto},
  };
  for (const auto& l : levels) {
    for (const auto& [a, b] : pairs) ratio(l.level, summary_groups[a], summary_groups[b]);
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

}  // namespace coronet_bench
