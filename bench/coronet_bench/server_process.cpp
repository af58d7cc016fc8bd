#include "server_process.hpp"

#include "options.hpp"

#include <coronet/connect/server.hpp>
#include <coronet/coronet.hpp>
#include <coronet/rpc/server.hpp>
#include <coronet/tls.hpp>

#if CORONET_HAS_TLS
#include "self_signed.hpp"
#endif

#include "bench.coronet.pb.h"
#include "bench.grpc.pb.h"
#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"
#include "rpc/greeters.hpp"

#include <grpcpp/grpcpp.h>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace coronet_bench {

namespace http = coronet::http;
namespace rpc = coronet::rpc;

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

namespace {

using bench::raw_greeter;
using bench::reply_text;
using bench::say_hello;

http::router bench_routes() {
  http::router routes;
  routes.get("/", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("Hello, World!");
  });
  // The unary RPC over plain HTTP/1.1: a serialized Greeting in, a Greeting out. Under its
  // own prefix: /HelloWorld/SayHello is the Connect and gRPC-Web route of the greeter.
  routes.post(std::string(plain_rpc_path), [](http::request& req) -> asio::awaitable<http::response> {
    if (req.headers.get("content-type") != "application/proto")
      co_return http::response::empty(http::status::unsupported_media_type);
    Greeting in;
    if (!in.ParseFromString(req.body)) co_return http::response::empty(http::status::bad_request);
    Greeting out;
    out.set_message(reply_text(in.message()));
    co_return http::response::bytes(out.SerializeAsString(), "application/proto");
  });
  return routes;
}


// Runs in the forked child: serves until the parent closes the control pipe (or dies).
// Protocol on the pipes: the child first writes "OK <http> <grpc> <raw> <hop> <https>\n" or
// "ERR <why>\n";
// then each 'c' it reads is answered with its CPU time so far (8 bytes, nanoseconds).
[[noreturn]] void run_server(int ctl_in, int ctl_out, const cpu_set_t& cpus) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) _exit(1);
  try {
    if (sched_setaffinity(0, sizeof cpus, &cpus) != 0)
      throw std::runtime_error(std::string("sched_setaffinity: ") + std::strerror(errno));
    coronet::runtime rt({.threads = 1, .handle_signals = false});

    // SayHello never suspends: bound inline_start, it runs whole on the gRPC thread that
    // delivered the call (as the demo serves it). The same handler on a second server with
    // default options is handed to the io thread: the grpc-hop transport. The first object
    // also answers Connect and gRPC-Web on the HTTP/1.1 port (the handler on the io thread).
    rpc::service<HelloWorld> greeter;
    greeter.handle<hello_world::say_hello>(&say_hello, {.inline_start = true});
    rpc::service<HelloWorld> greeter_hop;
    greeter_hop.handle<hello_world::say_hello>(&say_hello);

    auto routes = bench_routes();
    coronet::connect::server_options connect_options;
    connect_options.max_message_bytes = max_message_bytes;
    coronet::connect::mount(routes, greeter, connect_options);
    http::server web(rt, std::move(routes),
                     {.max_body_bytes = max_message_bytes, .max_requests_per_connection = 0});
    web.listen("127.0.0.1", 0);
    std::uint16_t https_port = 0;
#if CORONET_HAS_TLS
    // The same routes over TLS, configured as a user's server is (the files are read once).
    std::optional<coronet::tls::server_context> tls;
    {
      const auto dir = write_self_signed_certificate();
      coronet::tls::server_config config;
      config.certificates.push_back({dir + "/cert.pem", dir + "/key.pem"});
      tls.emplace(config);
      std::filesystem::remove_all(dir);
    }
    web.listen_tls("127.0.0.1", 0, *tls);
    https_port = web.tls_port();
#endif

    rpc::service<coronet::bench::v1::Bench> streams;
    streams.handle<coronet::bench::v1::bench::server_stream>(
                   [](coronet::rpc::context&, const Greeting& req,
                      rpc::server_writer<Greeting>& out) -> asio::awaitable<grpc::Status> {
                     int count = 0;
                     const auto& m = req.message();
                     std::from_chars(m.data(), m.data() + m.size(), count);
                     Greeting tick;
                     tick.set_message("tick");
                     for (int i = 0; i < count; ++i) {
                       if (!co_await out.write(tick)) co_return grpc::Status::CANCELLED;
                     }
                     co_return grpc::Status::OK;
                   });
    streams.handle<coronet::bench::v1::bench::bidi>(
                   [](coronet::rpc::context&, rpc::server_stream<Greeting, Greeting>& s)
                       -> asio::awaitable<grpc::Status> {
                     Greeting in, out;
                     while (co_await s.read(in)) {
                       out.set_message("echo: " + in.message());
                       if (!co_await s.write(out)) break;
                     }
                     co_return grpc::Status::OK;
                   });
    rpc::server grpc_server(rt, {.max_receive_message_bytes = max_message_bytes,
                                 .health_service = false,
                                 .reflection = false});
    grpc_server.add(greeter);
    grpc_server.add(streams);
    grpc_server.listen("127.0.0.1", 0);
    grpc_server.start();
    rpc::server hop_server(rt, {.max_receive_message_bytes = max_message_bytes,
                                .health_service = false,
                                .reflection = false});
    hop_server.add(greeter_hop);
    hop_server.listen("127.0.0.1", 0);
    hop_server.start();

    raw_greeter raw;
    grpc::ServerBuilder builder;
    int raw_port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &raw_port);
    builder.SetMaxReceiveMessageSize(max_message_bytes);
    // Configured as coronet's servers are by default (greeters.hpp), so the two compare
    // handlers, not channel settings.
    if (rpc::server_options{}.max_connection_idle != bench::coronet_idle_default) {
      throw std::logic_error("bench::coronet_idle_default no longer matches rpc::server_options");
    }
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                               static_cast<int>(bench::coronet_idle_default.count()));
    builder.RegisterService(&raw);
    auto raw_server = builder.BuildAndStart();
    if (!raw_server || raw_port == 0) throw std::runtime_error("raw gRPC server did not start");

    if (!write_all(ctl_out, "OK " + std::to_string(web.port()) + " " +
                                std::to_string(grpc_server.port()) + " " +
                                std::to_string(raw_port) + " " +
                                std::to_string(hop_server.port()) + " " + std::to_string(https_port) +
                                "\n"))
      _exit(1);
    std::thread control([ctl_in, ctl_out] {
      char c = 0;
      while (::read(ctl_in, &c, 1) == 1) {
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        const std::uint64_t ns =
            (static_cast<std::uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1'000'000 +
             static_cast<std::uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) * 1000;
        if (!write_all(ctl_out, std::string_view(reinterpret_cast<const char*>(&ns), sizeof ns)))
          _exit(1);
      }
      _exit(0);  // the parent is done: no draining needed
    });
    rt.run();
    control.join();
  } catch (const std::exception& e) {
    (void)write_all(ctl_out, std::string("ERR ") + e.what() + "\n");
  }
  _exit(1);
}


}  // namespace

std::optional<std::uint64_t> server_link::cpu_ns() const {
  std::uint64_t ns = 0;
  if (::write(to_server, "c", 1) != 1) return std::nullopt;
  std::size_t got = 0;
  while (got < sizeof ns) {
    auto n = ::read(from_server, reinterpret_cast<char*>(&ns) + got, sizeof ns - got);
    if (n <= 0) return std::nullopt;
    got += static_cast<std::size_t>(n);
  }
  return ns;
}

bool server_link::gone() {
  if (pid <= 0) return true;
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) != pid) return false;
  pid = -1;
  return true;
}

void server_link::stop() {
  if (pid <= 0) return;
  ::close(to_server);
  ::close(from_server);
  int status = 0;
  waitpid(pid, &status, 0);
  pid = -1;
}
server_link start_server(const cpu_set_t& cpus) {
  int down[2], up[2];
  if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0)
    return {.error = std::string("pipe: ") + std::strerror(errno)};
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return {.error = std::string("fork: ") + std::strerror(errno)};
  if (pid == 0) {
    ::close(down[1]);
    ::close(up[0]);
    run_server(down[0], up[1], cpus);
  }
  ::close(down[0]);
  ::close(up[1]);
  server_link link;
  link.pid = pid;
  link.to_server = down[1];
  link.from_server = up[0];
  std::string line;
  char c = 0;
  while (::read(link.from_server, &c, 1) == 1 && c != '\n') line += c;
  if (line.rfind("OK ", 0) != 0) {
    link.error = line.empty() ? "server process exited" : line.substr(line.find(' ') + 1);
    return link;
  }
  std::istringstream in(line.substr(3));
  in >> link.http_port >> link.grpc_port >> link.raw_port >> link.hop_port >> link.https_port;
  return link;
}


}  // namespace coronet_bench
