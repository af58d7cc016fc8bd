// What coronet-bench prints and writes: the rows, the comparison with wrk and h2load,
// the summary of the fair rows, JSON and the concurrency-sweep plot.
#pragma once

#include "load.hpp"
#include "options.hpp"

#include <string>
#include <vector>

namespace coronet_bench {

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

std::string format_bytes(std::size_t n);
/// The client column: grpc-cq with several threads says how many.
std::string client_label(const run_spec& s);
std::string read_cpu_model();

void print_header();
void print_row(const measurement& m);
/// Each row beside the external tool's row at its shape, and whether it is within 1.1x.
void print_comparisons(const std::vector<measurement>& rows,
                       const std::vector<comparison>& pairs);
/// Server CPU per call for each transport at low, medium and high concurrency, from the
/// fair rows, and their ratios.
void print_summary(const std::vector<measurement>& rows);
void write_json(const std::string& file, const options& o, const std::vector<measurement>& rows,
                const std::vector<comparison>& pairs);
/// Requests/s and p99 across the concurrency sweep, drawn by gnuplot; false if it failed.
bool write_plot(const std::string& file, const std::vector<measurement>& rows);

}  // namespace coronet_bench
