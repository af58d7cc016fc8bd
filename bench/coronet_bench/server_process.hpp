// The server side of coronet-bench: a forked process, pinned to its CPUs, serving HTTP/1.1,
// coronet's coroutine gRPC services and the raw grpc++ callback-API HelloWorld, and
// answering the load side's questions about its CPU time over a pipe.
#pragma once

#include "rpc/greeters.hpp"

#include <sched.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coronet_bench {

/// What every server answers to a Greeting: "hello " + its message.
using bench::reply_text;

/// Where the HTTP/1.1 port takes SayHello as a plain application/proto POST (http-rpc);
/// /HelloWorld/SayHello itself is the greeter's Connect and gRPC-Web route.
constexpr std::string_view plain_rpc_path = "/plain/HelloWorld/SayHello";

/// Writes all of `data` to `fd`; false on an error.
bool write_all(int fd, std::string_view data);

/// The load side's end of the server process.
struct server_link {
  pid_t pid = -1;
  int to_server = -1;
  int from_server = -1;
  std::uint16_t http_port = 0;
  std::uint16_t https_port = 0;  // 0: built without TLS
  int grpc_port = 0;
  int raw_port = 0;
  int hop_port = 0;  // the coroutine HelloWorld with default options (hand-off to io thread)
  std::string error;  // set when the server did not start

  /// The server's CPU time so far; nothing once the server process has gone.
  std::optional<std::uint64_t> cpu_ns() const;
  /// Notices a server process that has died; true once it has.
  bool gone();
  /// Closes the control pipe (the server exits) and waits for the process.
  void stop();
};

/// Forks the server process (call it before this process touches gRPC) and waits until it
/// listens; `error` of the result says why not.
server_link start_server(const cpu_set_t& cpus);

}  // namespace coronet_bench
