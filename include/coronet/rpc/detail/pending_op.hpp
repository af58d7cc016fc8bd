// One outstanding asynchronous operation whose completion arrives on a gRPC thread.
//
// An awaiting coroutine parks its completion handler here; the gRPC reaction calls
// complete() from whatever thread it runs on, and the handler is posted back to its own
// executor, so coroutines never resume on a gRPC thread. While the operation is pending,
// the handler's executor counts outstanding work: an io_context does not run out of work
// under a suspended call.
#pragma once

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>

#include <cassert>
#include <memory>
#include <utility>

namespace coronet::rpc::detail {

template <class... Args>
class pending_op {
 public:
  /// Parks `handler`. `on_cancel` (may be a no-op) runs when the handler's cancellation slot
  /// is emitted; it must make gRPC complete the operation soon (e.g. TryCancel), because the
  /// operation still completes only through complete().
  template <class Handler, class OnCancel>
  void set(Handler handler, OnCancel on_cancel) {
    assert(!op_ && "one operation of a kind at a time");
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      slot.assign([on_cancel](asio::cancellation_type type) {
        if (type != asio::cancellation_type::none) on_cancel();
      });
    }
    op_ = std::make_unique<impl<Handler>>(std::move(handler));
  }

  template <class Handler>
  void set(Handler handler) {
    set(std::move(handler), [] {});
  }

  [[nodiscard]] bool pending() const noexcept { return op_ != nullptr; }

  /// Posts the parked handler with `args` to its executor. Callable from any thread, once
  /// per set(); the caller orders it after set() (gRPC reacts only after the Start* call
  /// that follows set()).
  void complete(Args... args) {
    auto op = std::move(op_);
    assert(op && "complete() without a pending operation");
    op->post(std::move(args)...);
  }

 private:
  struct base {
    virtual ~base() = default;
    virtual void post(Args&&... args) = 0;
  };

  template <class Handler>
  struct impl final : base {
    explicit impl(Handler&& h)
        : handler(std::move(h)),
          work(asio::prefer(asio::get_associated_executor(handler),
                            asio::execution::outstanding_work.tracked)) {}

    void post(Args&&... args) override {
      // The work count moves into the posted function and ends with it, on the handler's
      // own thread. Released here on the gRPC thread, after posting, it could reach an
      // io_context that the resumed coroutine had already let finish and be destroyed.
      // The post itself is counted as work until the function has run.
      auto ex = asio::prefer(work, asio::execution::outstanding_work.untracked);
      asio::post(ex, [h = std::move(handler), w = std::move(work), ... a = std::move(args)]() mutable {
        // The slot belongs to the awaiting coroutine: only its own thread may touch it.
        auto slot = asio::get_associated_cancellation_slot(h);
        if (slot.is_connected()) slot.clear();
        std::move(h)(std::move(a)...);
      });
    }

    Handler handler;
    std::decay_t<decltype(asio::prefer(asio::get_associated_executor(std::declval<Handler&>()),
                                       asio::execution::outstanding_work.tracked))>
        work;
  };

  std::unique_ptr<base> op_;
};

}  // namespace coronet::rpc::detail
