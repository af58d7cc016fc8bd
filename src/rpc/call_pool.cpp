#include <coronet/rpc/detail/call_pool.hpp>

#include <asio/async_result.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <exception>

namespace coronet::rpc::detail {

namespace {

// Finishes the call should the worker's frame be destroyed while the handler is suspended
// (its io_context destroyed first), so a server shutdown is never left waiting for it.
struct unfinished {
  pooled_call* call;
  explicit unfinished(pooled_call* c) noexcept : call(c) {}
  unfinished(const unfinished&) = delete;
  unfinished& operator=(const unfinished&) = delete;
  ~unfinished() {
    if (call) {
      call->canceller = nullptr;
      call->complete(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server stopped"));
    }
  }
};

}  // namespace

call_pool::call_pool(asio::io_context& context)
    : asio::execution_context::service(context), context_(context) {}

call_pool::~call_pool() = default;

void call_pool::shutdown() {
  // Parked workers are suspended in an operation only this pool can complete: destroying
  // their handlers destroys their coroutines (Asio does that through the io_context).
  std::vector<worker*> idle;
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
    idle.swap(idle_);
  }
  for (auto* w : idle) w->parked.reset();
}

void call_pool::end_idle() {
  std::vector<worker*> idle;
  {
    std::lock_guard lock(mutex_);
    idle.swap(idle_);
  }
  for (auto* w : idle) w->parked.resume(nullptr);
}

void call_pool::serve(pooled_call& call) {
  worker* w = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      w = idle_.back();
      idle_.pop_back();
    }
  }
  if (w == nullptr) {
    spawn(call);
    return;
  }
  call.canceller = &w->cancel;
  w->parked.resume(&call);
}

void call_pool::spawn(pooled_call& call) {
  worker* w;
  {
    std::lock_guard lock(mutex_);
    if (spare_.empty()) {
      w = workers_.emplace_back(std::make_unique<worker>()).get();
    } else {
      w = spare_.back();
      spare_.pop_back();
    }
    ++spawned_;
  }
  call.canceller = &w->cancel;
  asio::co_spawn(context_, work(*w, &call),
                 asio::bind_cancellation_slot(w->cancel.slot(), [this, w](std::exception_ptr) {
                   // work() catches everything: this is its normal end.
                   std::lock_guard lock(mutex_);
                   if (!shut_down_) spare_.push_back(w);
                 }));
}

bool call_pool::retire() const {
  std::lock_guard lock(mutex_);
  return idle_.size() >= max_idle || shut_down_;
}

std::size_t call_pool::workers() const {
  std::lock_guard lock(mutex_);
  return workers_.size() - spare_.size();
}

std::size_t call_pool::idle() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

std::size_t call_pool::spawned() const {
  std::lock_guard lock(mutex_);
  return spawned_;
}

asio::awaitable<void> call_pool::work(worker& w, pooled_call* call) {
  while (call != nullptr) {
    grpc::Status status;
    {
      unfinished guard{call};
      try {
        auto handler = call->run();
        status = co_await std::move(handler);
      } catch (...) {
        status = grpc::Status(grpc::StatusCode::UNKNOWN, "handler threw an exception");
      }
      guard.call = nullptr;
    }
    call->canceller = nullptr;
    // A cancellation meant for that call must not reach the next one.
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
      co_await asio::this_coro::reset_cancellation_state();
    }
    if (retire()) {
      call->complete(std::move(status));
      co_return;
    }
    // The worker parks first and finishes the call after: a client that sends its next call
    // as soon as it has the answer then finds this worker parked and needs no new one.
    // Parked, the worker may be resumed by another thread as soon as the lock is released
    // (Asio has detached the coroutine from this thread before the initiation runs), and
    // the initiation object may be gone with it: what Finish needs is moved to the stack.
    call = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(pooled_call*)>(
        [this, &w, &call, &status](auto handler) {
          pooled_call* finished = call;
          grpc::Status final_status = std::move(status);
          {
            std::lock_guard lock(mutex_);
            w.parked.park(std::move(handler));
            idle_.push_back(&w);
          }
          finished->complete(std::move(final_status));
        },
        asio::use_awaitable);
  }
}

}  // namespace coronet::rpc::detail
