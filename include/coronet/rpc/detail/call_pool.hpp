// Per-io_context coroutines that serve gRPC calls one after another.
//
// Starting every call with its own asio::co_spawn costs about 3,000 instructions (work
// guards, an entry-point coroutine, executor conversions), as much as a twentieth of what
// gRPC itself spends on a small unary call. A call_pool keeps a few "worker" coroutines per
// io_context instead: a new call resumes a parked worker, which co_awaits the handler as an
// ordinary nested awaitable, finishes the call and parks again. A new worker is spawned
// only when every existing one is busy inside a suspended handler; once the calls are
// over, workers beyond `max_idle` end, and a server that shuts down ends the parked ones.
//
// Each worker has its own cancellation signal, bound to its co_spawn; while it serves a
// call the call's `canceller` points to it, so client cancellation reaches that handler and
// no other. The worker resets its cancellation state before it takes the next call.
//
// A worker's coroutine belongs to the io_context (that is where it resumes after it
// suspends), but a call may also be started on the gRPC thread that delivered it (a method
// with inline_start): the pool's lists are therefore guarded by a mutex, held only to take
// or return a worker. Lives as an Asio service of its io_context: created by
// asio::use_service, destroyed with the io_context.
#pragma once

#include <coronet/detail/parked_coroutine.hpp>

#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>

#include <grpcpp/support/status.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace coronet::rpc::detail {

/// A call as a worker sees it (implemented by the reactors in service.hpp).
class pooled_call {
 public:
  /// Calls the user's handler; runs on the io thread.
  virtual asio::awaitable<grpc::Status> run() = 0;
  /// Ends the call with `status` (Finish) and lets go of the worker's reference; the call
  /// may be freed before this returns.
  virtual void complete(grpc::Status status) noexcept = 0;

  /// The serving worker's signal while a worker serves this call, else null.
  asio::cancellation_signal* canceller = nullptr;

 protected:
  ~pooled_call() = default;
};

class call_pool final : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;

  explicit call_pool(asio::io_context& context);
  ~call_pool() override;
  call_pool(const call_pool&) = delete;
  call_pool& operator=(const call_pool&) = delete;

  /// Serves `call` on a parked worker, or on a new one when none is parked. Callable from
  /// any thread: a parked worker runs `call` inline on the calling thread until the handler
  /// first suspends; a new worker starts it on the io thread.
  void serve(pooled_call& call);

  /// Ends every parked worker. A parked worker counts as outstanding work of the
  /// io_context (as any co_spawned coroutine does): the server calls this once its calls
  /// are over, so a plain io_context::run() can return.
  void end_idle();

  /// Parked workers beyond this many end instead of parking.
  static constexpr std::size_t max_idle = 64;

  /// Workers alive, parked ones included.
  [[nodiscard]] std::size_t workers() const;
  /// Workers parked, waiting for a call.
  [[nodiscard]] std::size_t idle() const;
  /// Worker coroutines ever spawned.
  [[nodiscard]] std::size_t spawned() const;

 private:
  struct worker {
    asio::cancellation_signal cancel;
    coronet::detail::parked_coroutine<pooled_call*> parked;
  };

  void shutdown() override;
  void spawn(pooled_call& call);
  /// Whether a worker that has just finished a call ends rather than parks.
  bool retire() const;
  asio::awaitable<void> work(worker& w, pooled_call* call);

  asio::io_context& context_;
  mutable std::mutex mutex_;                      // guards the members below
  std::vector<std::unique_ptr<worker>> workers_;  // every worker ever made, freed with the pool
  std::vector<worker*> idle_;                     // parked, most recently parked last
  std::vector<worker*> spare_;                    // ended; reused by the next spawn
  std::size_t spawned_ = 0;
  bool shut_down_ = false;
};

}  // namespace coronet::rpc::detail
