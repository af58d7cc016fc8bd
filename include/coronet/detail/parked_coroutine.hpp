// A coroutine suspended until some other code hands it the next piece of work.
//
// A parked coroutine is kept as the completion handler of the operation it awaits, stored
// in place: resuming it is a plain call, where starting a coroutine with asio::co_spawn
// costs work guards, an entry-point frame and two dispatches. The gRPC call pool
// (rpc/detail/call_pool.hpp) and the HTTP server's connection runners park their workers
// this way between calls and between connections.
//
//     T* next = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(T*)>(
//         [&](auto handler) { slot.park(std::move(handler)); }, asio::use_awaitable);
//     ...
//     slot.resume(item);   // elsewhere, on a thread allowed to run the coroutine
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace coronet::detail {

template <class Arg, std::size_t Bytes = 128>
class parked_coroutine {
 public:
  parked_coroutine() = default;
  parked_coroutine(const parked_coroutine&) = delete;
  parked_coroutine& operator=(const parked_coroutine&) = delete;
  ~parked_coroutine() { reset(); }

  /// Keeps `handler` (the awaiting coroutine's use_awaitable handler) until resume().
  template <class Handler>
  void park(Handler&& handler) {
    using H = std::decay_t<Handler>;
    static_assert(sizeof(H) <= Bytes && alignof(H) <= alignof(std::max_align_t),
                  "a use_awaitable handler no longer fits the parking space");
    new (storage_) H(std::forward<Handler>(handler));
    resume_ = [](void* p, Arg arg) {
      auto* stored = std::launder(static_cast<H*>(p));
      H h = std::move(*stored);
      stored->~H();
      std::move(h)(std::move(arg));
    };
    destroy_ = [](void* p) { std::launder(static_cast<H*>(p))->~H(); };
  }

  /// Resumes the coroutine inline on the calling thread with `arg`.
  void resume(Arg arg) {
    auto r = std::exchange(resume_, nullptr);
    destroy_ = nullptr;
    r(storage_, std::move(arg));
  }

  /// Destroys the parked coroutine without resuming it.
  void reset() noexcept {
    if (destroy_) std::exchange(destroy_, nullptr)(storage_);
    resume_ = nullptr;
  }

 private:
  alignas(std::max_align_t) std::byte storage_[Bytes];
  void (*resume_)(void*, Arg) = nullptr;
  void (*destroy_)(void*) = nullptr;
};

}  // namespace coronet::detail
