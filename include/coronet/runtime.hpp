// coronet::runtime — the threads and io_contexts everything else runs on.
//
// A runtime owns N io_contexts, each run by exactly one thread (thread per core), so a
// connection and its handler never migrate and need no locks. run() blocks until the
// runtime is stopped: by stop(), or by SIGINT/SIGTERM, after the stop hooks (servers
// draining their connections) have finished. The hooks run in stages, so that every port
// has stopped accepting before any server starts to drain (docs/deploy.md).
//
//     coronet::runtime rt;                       // one io_context per hardware thread
//     asio::co_spawn(rt.next_executor(), work(), asio::detached);
//     rt.run();                                  // returns after Ctrl-C, once drained
//
// To embed coronet in a program that already runs an io_context, wrap that context:
// `coronet::runtime rt{my_io_context};` — coronet then never starts a thread of its own.
#pragma once

#include <coronet/detail/asio.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace coronet {

/// When a stop hook runs during a graceful stop. The stages run in this order; the hooks of
/// one stage run concurrently, and the next stage starts when the last of them has finished.
enum class stop_stage {
  /// Listening ports close; connections already queued in them are still taken and served.
  stop_accepting,
  /// Open connections are still served while their clients (a reverse proxy's pools) let go
  /// of them: http::server_options::drain_idle_grace, listener_options::http2_drain_grace.
  lame_duck,
  /// Servers finish what is in flight and close the rest (drain_timeout); gRPC's GOAWAY.
  drain,
};

struct runtime_options {
  /// Number of io_contexts, one thread each. 0 means std::thread::hardware_concurrency().
  std::size_t threads = 0;
  /// Stop gracefully on SIGINT and SIGTERM while run() is executing.
  bool handle_signals = true;
  /// Run the io threads under Linux's SCHED_BATCH policy while run() executes: a thread
  /// that is woken (a post from another thread, a socket becoming readable) then does not
  /// preempt the thread running on its CPU, so work queues up and is taken in batches.
  /// A coronet::rpc::server on this runtime also starts under it, so the threads gRPC
  /// starts while the server is built (its pollers and executors, when the server is the
  /// process's first gRPC user) inherit it. Worth it when io threads share CPUs with other
  /// busy threads, gRPC's above all (see docs/grpc.md); a latency-sensitive server on
  /// cores of its own leaves it off. The calling thread gets its policy back when run()
  /// (or the server's start()) returns. No effect elsewhere.
  bool batch_scheduling = false;
  /// Leave abseil's mutex deadlock detection as the library was built. gRPC locks
  /// absl::Mutex many times per call, and an abseil built without NDEBUG (Debian 12's is)
  /// checks the lock order on every lock by default, which costs about 8% of the
  /// instructions of a unary gRPC call. So by default a runtime turns the check off for
  /// the process when it is constructed, which is what a release build of abseil does
  /// anyway (absl::SetMutexDeadlockDetectionMode(kIgnore)). Set this to keep the check while
  /// hunting a deadlock. No effect in a coronet built without gRPC.
  bool absl_deadlock_detection = false;
};

class runtime {
 public:
  using executor_type = asio::io_context::executor_type;
  /// A graceful-stop step: stop() awaits every registered hook, stage by stage, before
  /// stopping the contexts.
  using stop_hook = std::function<asio::awaitable<void>()>;

  explicit runtime(runtime_options options = {});
  /// Embedding: run on `context`, owned and usually run by the caller. The runtime starts
  /// no thread; run() runs the context on the calling thread if the caller wants it to.
  explicit runtime(asio::io_context& context, runtime_options options = {.threads = 1,
                                                                         .handle_signals = false});
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;
  /// Stops the contexts (without draining) and joins the threads. Coroutines still suspended
  /// are destroyed with their io_context.
  ~runtime();

  /// Runs every io_context, one on the calling thread and the others on their own threads.
  /// Blocks until stop() (or a signal) has run the stop hooks and stopped the contexts.
  /// A runtime runs once.
  void run();

  /// Requests a graceful stop: awaits the stop hooks (concurrently within a stage, one
  /// stage after the other), then stops all contexts.
  /// Thread safe, idempotent; may be called before or during run().
  void stop();

  /// True once stop() has been called.
  [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

  /// Registers a graceful-stop step, run in `stage`; the returned id removes it again.
  std::size_t add_stop_hook(stop_hook hook, stop_stage stage = stop_stage::drain);
  /// Registers several steps under one id, each run in its stage: for an owner that stops
  /// accepting in one stage and drains in a later one. remove_stop_hook(id) removes them all.
  std::size_t add_stop_hooks(std::vector<std::pair<stop_stage, stop_hook>> hooks);
  void remove_stop_hook(std::size_t id);

  [[nodiscard]] const runtime_options& options() const noexcept { return options_; }
  [[nodiscard]] std::size_t size() const noexcept { return contexts_.size(); }
  [[nodiscard]] asio::io_context& context(std::size_t index) noexcept { return *contexts_[index]; }
  [[nodiscard]] executor_type executor(std::size_t index) noexcept {
    return contexts_[index]->get_executor();
  }
  /// Round robin over the contexts: spreads new work evenly.
  [[nodiscard]] executor_type next_executor() noexcept;
  /// The context running on the calling thread, if it is one of this runtime's.
  [[nodiscard]] std::optional<executor_type> current_executor() const noexcept;

 private:
  asio::awaitable<void> drain();
  void halt();

  runtime_options options_;
  std::vector<std::unique_ptr<asio::io_context>> owned_;
  std::vector<asio::io_context*> contexts_;
  std::vector<asio::executor_work_guard<executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> stopping_{false};

  std::mutex hooks_mutex_;
  std::size_t next_hook_id_ = 0;
  struct registered_hook {
    std::size_t id;
    stop_stage stage;
    stop_hook hook;
  };
  std::vector<registered_hook> hooks_;
  std::function<void()> cancel_signals_;  // set while run() listens for signals
};

}  // namespace coronet
