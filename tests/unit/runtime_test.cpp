#include <coronet/config.hpp>
#include <coronet/runtime.hpp>

#include <gtest/gtest.h>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if CORONET_HAS_GRPC && __has_include(<absl/synchronization/mutex.h>)
#include <absl/synchronization/mutex.h>
#define CORONET_TEST_ABSL 1
#else
#define CORONET_TEST_ABSL 0
#endif

using namespace std::chrono_literals;

namespace {

TEST(runtime, defaults_to_one_thread_per_hardware_thread) {
  coronet::runtime rt({.handle_signals = false});
  std::mutex m;
  std::set<std::thread::id> ids;
  std::atomic<std::size_t> done{0};
  for (std::size_t i = 0; i < rt.size(); ++i) {
    asio::post(rt.executor(i), [&] {
      {
        std::lock_guard lock(m);
        ids.insert(std::this_thread::get_id());
      }
      if (++done == rt.size()) rt.stop();
    });
  }
  rt.run();
  EXPECT_EQ(ids.size(), std::max(1u, std::thread::hardware_concurrency()));
}

TEST(runtime, work_posted_to_every_context_runs_on_its_own_thread) {
  coronet::runtime rt({.threads = 4, .handle_signals = false});
  std::mutex m;
  std::set<std::thread::id> ids;
  std::atomic<int> done{0};
  for (std::size_t i = 0; i < rt.size(); ++i) {
    asio::post(rt.executor(i), [&, i] {
      EXPECT_TRUE(rt.executor(i).running_in_this_thread());
      {
        std::lock_guard lock(m);
        ids.insert(std::this_thread::get_id());
      }
      if (++done == static_cast<int>(rt.size())) rt.stop();
    });
  }
  rt.run();
  EXPECT_EQ(ids.size(), 4u);
}

TEST(runtime, next_executor_visits_every_context_in_turn) {
  coronet::runtime rt({.threads = 3, .handle_signals = false});
  std::set<asio::io_context*> seen;
  for (int i = 0; i < 3; ++i) seen.insert(&rt.next_executor().context());
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(&rt.next_executor().context(), &rt.context(0));
}

TEST(runtime, current_executor_is_the_context_running_this_thread) {
  coronet::runtime rt({.threads = 2, .handle_signals = false});
  EXPECT_FALSE(rt.current_executor().has_value());
  asio::post(rt.executor(1), [&] {
    auto ex = rt.current_executor();
    EXPECT_TRUE(ex.has_value());
    if (ex) {
      EXPECT_EQ(&ex->context(), &rt.context(1));
    }
    rt.stop();
  });
  rt.run();
}

TEST(runtime, sigterm_stops_run_gracefully) {
  coronet::runtime rt({.threads = 2});
  bool hook_ran = false;
  rt.add_stop_hook([&]() -> asio::awaitable<void> {
    hook_ran = true;
    co_return;
  });
  // Raised from inside run(), once the signal handler is installed.
  asio::post(rt.executor(0), [] { std::raise(SIGTERM); });
  rt.run();
  EXPECT_TRUE(rt.stopping());
  EXPECT_TRUE(hook_ran);
}

TEST(runtime, stop_awaits_every_hook_before_contexts_stop) {
  coronet::runtime rt({.threads = 2, .handle_signals = false});
  std::atomic<int> finished{0};
  for (int i = 0; i < 3; ++i) {
    rt.add_stop_hook([&, i]() -> asio::awaitable<void> {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(10 * i));
      co_await t.async_wait(asio::use_awaitable);
      ++finished;
    });
  }
  const auto removed = rt.add_stop_hook([]() -> asio::awaitable<void> {
    ADD_FAILURE() << "a removed hook must not run";
    co_return;
  });
  rt.remove_stop_hook(removed);
  asio::post(rt.executor(1), [&] { rt.stop(); });
  rt.run();
  EXPECT_EQ(finished.load(), 3);
}

TEST(runtime, stop_runs_the_stages_in_order_and_a_stage_waits_for_its_slowest_hook) {
  coronet::runtime rt({.threads = 2, .handle_signals = false});
  std::mutex m;
  std::vector<std::string> order;
  const auto hook = [&](std::string name, int delay_ms) {
    return [&, name, delay_ms]() -> asio::awaitable<void> {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(delay_ms));
      co_await t.async_wait(asio::use_awaitable);
      std::lock_guard lock(m);
      order.push_back(name);
    };
  };
  // Registered out of order; the drain hook is the quickest, the first stage's the slowest.
  rt.add_stop_hook(hook("drain", 0));
  const auto both = rt.add_stop_hooks({{coronet::stop_stage::lame_duck, hook("lame_duck", 10)},
                                       {coronet::stop_stage::stop_accepting, hook("stop_accepting", 30)}});
  rt.add_stop_hook(hook("stop_accepting 2", 0), coronet::stop_stage::stop_accepting);
  const auto removed = rt.add_stop_hooks({{coronet::stop_stage::drain, hook("removed", 0)},
                                          {coronet::stop_stage::lame_duck, hook("removed", 0)}});
  rt.remove_stop_hook(removed);
  (void)both;
  asio::post(rt.executor(1), [&] { rt.stop(); });
  rt.run();
  EXPECT_EQ(order, (std::vector<std::string>{"stop_accepting 2", "stop_accepting", "lame_duck", "drain"}));
}

TEST(runtime, stop_before_run_runs_each_hook_once_and_run_returns) {
  coronet::runtime rt({.threads = 2, .handle_signals = false});
  std::atomic<int> hook_runs{0};
  rt.add_stop_hook([&]() -> asio::awaitable<void> {
    ++hook_runs;
    co_return;
  });
  rt.stop();
  rt.stop();  // idempotent: the hooks run once
  rt.run();   // would block forever if the early stop were lost
  EXPECT_EQ(hook_runs.load(), 1);
  EXPECT_TRUE(rt.stopping());
}

TEST(runtime, stop_while_coroutines_are_suspended_leaks_nothing) {
  // Each coroutine owns heap memory and waits far longer than the test: destroying the
  // runtime must destroy the frames (AddressSanitizer's leak check fails the test otherwise).
  coronet::runtime rt({.threads = 2, .handle_signals = false});
  for (std::size_t i = 0; i < 100; ++i) {
    asio::co_spawn(rt.next_executor(), []() -> asio::awaitable<void> {
      auto buffer = std::make_unique<char[]>(1024);
      asio::steady_timer t(co_await asio::this_coro::executor, 1h);
      co_await t.async_wait(asio::use_awaitable);
      buffer[0] = 1;
    }, asio::detached);
  }
  asio::post(rt.executor(0), [&] { rt.stop(); });
  rt.run();
}

TEST(runtime, embeds_in_a_caller_supplied_io_context) {
  asio::io_context io;
  coronet::runtime rt(io);
  EXPECT_EQ(rt.size(), 1u);
  EXPECT_EQ(&rt.context(0), &io);
  bool ran = false;
  asio::post(rt.next_executor(), [&] { ran = true; });
  io.run();  // the caller runs its own context; coronet started no thread
  EXPECT_TRUE(ran);
}

TEST(runtime, batch_scheduling_applies_to_io_threads_while_running_only) {
  const int before = ::sched_getscheduler(0);
  coronet::runtime rt({.threads = 3, .handle_signals = false, .batch_scheduling = true});
  std::mutex m;
  std::vector<int> policies;
  for (std::size_t i = 0; i < rt.size(); ++i) {
    asio::post(rt.context(i), [&] {
      std::lock_guard lock(m);
      policies.push_back(::sched_getscheduler(0));
      if (policies.size() == rt.size()) rt.stop();
    });
  }
  rt.run();
  EXPECT_EQ(policies, std::vector<int>(3, SCHED_BATCH));
  EXPECT_EQ(::sched_getscheduler(0), before);  // the caller's thread got its policy back
}

TEST(runtime, io_threads_keep_the_default_policy_unless_asked) {
  coronet::runtime rt({.threads = 2, .handle_signals = false});
  std::atomic<int> batch{0};
  std::atomic<std::size_t> seen{0};
  for (std::size_t i = 0; i < rt.size(); ++i) {
    asio::post(rt.context(i), [&] {
      if (::sched_getscheduler(0) == SCHED_BATCH) ++batch;
      if (++seen == rt.size()) rt.stop();
    });
  }
  rt.run();
  EXPECT_EQ(batch, 0);
}

#if CORONET_TEST_ABSL
// Locks two mutexes in both orders: the lock-order inversion abseil's deadlock detection
// reports, and with kAbort dies of.
void invert_lock_order() {
  absl::Mutex a, b;
  {
    absl::MutexLock la(&a);
    absl::MutexLock lb(&b);
  }
  {
    absl::MutexLock lb(&b);
    absl::MutexLock la(&a);
  }
}

// Runs `f` in a child process with abseil set to abort on a lock-order inversion; true if
// the child ended normally. The runtimes made there start no thread.
template <class F>
bool survives_with_abort_on_inversion(F f) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kAbort);
    f();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(runtime, turns_off_abseil_deadlock_detection_unless_told_to_keep_it) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "forks; not under ThreadSanitizer";
#endif
  if (survives_with_abort_on_inversion([] { invert_lock_order(); })) {
    GTEST_SKIP() << "this abseil never checks lock order (built with NDEBUG)";
  }
  // gRPC's mutexes are abseil's: with the check off they cost what a release build's do.
  EXPECT_TRUE(survives_with_abort_on_inversion([] {
    coronet::runtime rt({.threads = 1, .handle_signals = false});
    invert_lock_order();
  }));
  EXPECT_TRUE(survives_with_abort_on_inversion([] {
    asio::io_context context;
    coronet::runtime rt(context);
    invert_lock_order();
  }));
  EXPECT_FALSE(survives_with_abort_on_inversion([] {
    coronet::runtime rt({.threads = 1, .handle_signals = false, .absl_deadlock_detection = true});
    invert_lock_order();
  }));
}
#endif

}  // namespace
