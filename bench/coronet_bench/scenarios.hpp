// coronet-bench's scenarios: a table of {name, description, plan}, each plan adding its
// runs (run_spec) to the run list in the table's order.
#pragma once

#include "load.hpp"
#include "options.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace coronet_bench {

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

const std::vector<scenario>& scenario_table();
/// The names of the table, in its order.
std::vector<std::string> scenario_names();
/// The table as --help prints it: a name and its description a line each, wrapped.
std::string scenario_help();

}  // namespace coronet_bench
