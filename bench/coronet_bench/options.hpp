// coronet-bench's command line: which scenarios, for how long, on which CPUs.
#pragma once

#include <sched.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coronet_bench {

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

/// The options of argv. Exits with status 2 after the usage on anything invalid, with 0
/// after --help.
options parse_options(int argc, char** argv);

/// `text` cut at every `sep`; empty parts are kept.
std::vector<std::string> split(std::string_view text, char sep);

/// A CPU list such as "0", "0-1" or "0,2"; nothing if invalid or beyond this machine's CPUs.
std::optional<cpu_set_t> parse_cpus(const std::string& text);

bool selected(const options& o, std::string_view name);

}  // namespace coronet_bench
