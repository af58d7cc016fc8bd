#include "metrics/process.hpp"

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

namespace coronet::detail {

namespace {

// Entries of /proc/self/fd (counting the one this listing opens, as other clients do).
long open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  long n = 0;
  while (const auto* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

// Seconds since the epoch at which the system booted: /proc/stat's btime.
long boot_time() {
  std::ifstream in("/proc/stat");
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(4096, '\n');
  }
  return -1;
}

// The process's start, in clock ticks after boot: field 22 of /proc/self/stat, counted after
// the command name, which is in parentheses and may hold spaces.
long long start_ticks() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  for (int i = 3; i < 22 && fields >> field; ++i) {
  }
  long long ticks = -1;
  fields >> ticks;
  return ticks;
}

}  // namespace

void write_process_metrics(exposition& out) {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) == 0) {
    const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    out.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    out.sample("process_cpu_seconds_total", {}, seconds(usage.ru_utime) + seconds(usage.ru_stime));
  }
  if (const auto fds = open_fds(); fds >= 0) {
    out.family("process_open_fds", "gauge", "Number of open file descriptors.");
    out.sample("process_open_fds", {}, static_cast<std::uint64_t>(fds));
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    out.sample("process_max_fds", {}, static_cast<double>(limit.rlim_cur));
  }
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    std::uint64_t size = 0, resident = 0;
    const bool ok = std::fscanf(f, "%" SCNu64 " %" SCNu64, &size, &resident) == 2;
    std::fclose(f);
    if (ok) {
      const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
      out.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
      out.sample("process_virtual_memory_bytes", {}, size * page);
      out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
      out.sample("process_resident_memory_bytes", {}, resident * page);
    }
  }
  const auto boot = boot_time();
  const auto ticks = start_ticks();
  const auto hz = ::sysconf(_SC_CLK_TCK);
  if (boot >= 0 && ticks >= 0 && hz > 0) {
    out.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
    out.sample("process_start_time_seconds", {},
               static_cast<double>(boot) + static_cast<double>(ticks) / static_cast<double>(hz));
  }
}

}  // namespace coronet::detail
