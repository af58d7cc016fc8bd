// Runs a command through the shell and collects what it prints: how the rpc tests drive
// their python3-grpcio peers.
#pragma once

#include <cstdio>
#include <string>
#include <utility>

#include <sys/wait.h>

namespace coronet_test {

/// Runs `command`, returns (exit status, stdout); -1 when it could not run or did not exit.
inline std::pair<int, std::string> run_process(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return {-1, out};
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace coronet_test
