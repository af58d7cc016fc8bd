// runtime_options::batch_scheduling with a gRPC server: the threads gRPC starts while the
// server is built run under SCHED_BATCH like the io threads, the thread that started the
// server gets its own policy back, and calls are served. A program of its own, so the
// server is the first gRPC object of the process and its build starts gRPC's threads.
#include "bench_service.hpp"

#include <coronet/rpc/server.hpp>
#include <coronet/runtime.hpp>

#include <asio/post.hpp>
#include <asio/use_future.hpp>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <gtest/gtest.h>

#include <dirent.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>

using namespace coronet_test;
namespace rpc = coronet::rpc;

namespace {

// The process's threads: id -> name.
std::map<pid_t, std::string> threads() {
  std::map<pid_t, std::string> out;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return out;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const pid_t tid = std::stoi(entry->d_name);
    std::ifstream comm("/proc/self/task/" + std::string(entry->d_name) + "/comm");
    std::string name;
    std::getline(comm, name);
    out.emplace(tid, name);
  }
  ::closedir(dir);
  return out;
}

pid_t this_thread_id() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

}  // namespace

TEST(rpc_batch_scheduling, grpc_threads_started_by_the_server_follow_the_runtime) {
  if (::sched_getscheduler(0) != SCHED_OTHER) {
    GTEST_SKIP() << "started under a policy other than SCHED_OTHER: nothing to tell apart";
  }
  const auto before = threads();

  coronet::runtime rt{{.threads = 1, .handle_signals = false, .batch_scheduling = true}};
  observations seen;
  rpc::service<Bench> bench;
  bind_bench(bench, seen);
  rpc::server server(rt);
  server.add(bench);
  server.listen("127.0.0.1", 0);
  server.start();

  EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER) << "start() must restore its caller's policy";
  // gRPC 1.51's callback API polls on its "nexting" threads: they must be among the threads
  // started. A thread names itself once it runs, so wait (boundedly) for the names.
  std::map<pid_t, std::string> started;
  bool nexting = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!nexting && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    started = threads();
    std::erase_if(started, [&](const auto& thread) { return before.contains(thread.first); });
    nexting = std::ranges::any_of(started, [](const auto& t) { return t.second == "nexting_thread"; });
  }
  EXPECT_TRUE(nexting) << started.size() << " threads started";
  for (const auto& [tid, name] : started) {
    EXPECT_EQ(::sched_getscheduler(tid), SCHED_BATCH) << name << " (" << tid << ")";
  }

  std::thread runner([&rt] { rt.run(); });
  const int io_policy = asio::post(rt.executor(0), asio::use_future([] {
                                     return ::sched_getscheduler(this_thread_id());
                                   })).get();
  EXPECT_EQ(io_policy, SCHED_BATCH);

  auto stub = Bench::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                                                 grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    Greeting request;
    request.set_message("batch");
    Greeting reply;
    const auto status = stub->Unary(&ctx, request, &reply);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(reply.message(), "batch");
  }
  rt.stop();
  runner.join();
  EXPECT_EQ(seen.finished, 20);
}
