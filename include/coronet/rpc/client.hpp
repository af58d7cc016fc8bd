// coronet::rpc client calls — co_await the `async()` interface of generated stubs.
//
// A unary call is one await; streaming calls return a stream object whose reads and
// writes are awaits. Every await resumes on the awaiting coroutine's executor, never on a
// gRPC thread.
//
//     grpc::ClientContext ctx;
//     auto [status, reply] = co_await coronet::rpc::call(&HelloWorld::Stub::async::SayHello,
//                                                        stub, ctx, request);
//
//     auto lines = coronet::rpc::stream(&Bench::Stub::async::ServerStream, stub, request);
//     for (Greeting g; co_await lines.read(g);) use(g);
//     grpc::Status end = co_await lines.finish();
//
// Deadlines: ClientContext::set_deadline (gRPC's own), or cancel the awaiting coroutine,
// e.g. `co_await (call(...) || timer.async_wait(use_awaitable))`. Cancelling an await
// calls ClientContext::TryCancel; the await still completes only once gRPC has let go of
// the call (promptly, with CANCELLED), so no buffer or context is released under gRPC's
// feet. Any cancellation type counts (terminal, partial, total).
#pragma once

#include <coronet/rpc/detail/pending_op.hpp>

#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>

#include <grpcpp/client_context.h>
#include <grpcpp/support/client_callback.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace coronet::rpc {

/// The outcome of a unary or client-streaming call: `response` is meaningful when
/// `status.ok()`. Destructure it: `auto [status, reply] = co_await call(...)`.
template <class Response>
struct call_result {
  grpc::Status status;
  Response response;
};

namespace detail {

// A generated stub (`async()` gives its callback interface) or that interface itself.
template <class Async, class Stub>
Async* async_of(Stub& stub) {
  if constexpr (requires { stub.async(); }) {
    return stub.async();
  } else {
    return &stub;
  }
}

template <class Response>
struct unary_call {
  Response response;
  pending_op<call_result<Response>> done;
};

// The reactor behind every client stream. Reference counted between the stream object
// (its owner) and gRPC (until OnDone); it owns the ClientContext, so the context outlives
// the call however early the owner goes away. The owner holds a gRPC hold until it
// finishes or is destroyed, which keeps the call open for reads and writes started at any
// time from the owner's coroutines.
template <class Reactor, class Request, class Response>
class client_reactor final : public Reactor {
 public:
  explicit client_reactor(std::unique_ptr<grpc::ClientContext> ctx) : ctx_(std::move(ctx)) {}

  grpc::ClientContext& context() noexcept { return *ctx_; }
  Response& response() noexcept { return response_; }
  /// Keeps `request` alive as long as the call: gRPC may serialize it after StartCall.
  template <class Message>
  const Message* keep(const Message& request) {
    auto copy = std::make_shared<const Message>(request);
    kept_ = copy;
    return copy.get();
  }

  void start() {
    this->AddHold();
    this->StartCall();
  }

  asio::awaitable<bool> read(Response& message) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
        [this, &message](auto handler) {
          if (reads_ended_ || finishing_) return failed(std::move(handler));
          read_op_.set(std::move(handler), canceller());
          this->StartRead(&message);
        },
        asio::use_awaitable);
  }

  asio::awaitable<bool> write(const Request& message) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
        [this, &message](auto handler) {
          if (writes_ended_ || finishing_) return failed(std::move(handler));
          write_op_.set(std::move(handler), canceller());
          this->StartWrite(&message);
        },
        asio::use_awaitable);
  }

  asio::awaitable<bool> writes_done() {
    return asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
        [this](auto handler) {
          if (writes_ended_ || finishing_) return failed(std::move(handler));
          writes_ended_ = true;
          write_op_.set(std::move(handler), canceller());
          this->StartWritesDone();
        },
        asio::use_awaitable);
  }

  /// Half-closes if still writing, lets go of the hold and completes with the status.
  asio::awaitable<grpc::Status> finish() {
    return asio::async_initiate<decltype(asio::use_awaitable), void(grpc::Status)>(
        [this](auto handler) {
          std::unique_lock lock(mutex_);
          if (status_) {
            lock.unlock();
            pending_op<grpc::Status> op;
            op.set(std::move(handler));
            op.complete(*status_);
            release_hold();
            return;
          }
          done_op_.set(std::move(handler), canceller());
          lock.unlock();
          if constexpr (requires { this->StartWritesDone(); }) {
            if (!writes_ended_ && !finishing_) {
              writes_ended_ = true;
              this->StartWritesDone();
            }
          }
          release_hold();
        },
        asio::use_awaitable);
  }

  /// The owner goes away: cancel unless finished, give up the hold and our reference.
  void abandon() {
    if (!finishing_) ctx_->TryCancel();
    release_hold();
    release();
  }

  // No `override` on the reactions: each reactor kind has only some of them, and a
  // same-named function overrides a base virtual where there is one.
  void OnReadDone(bool ok) {
    reads_ended_ = reads_ended_ || !ok;
    read_op_.complete(ok);
  }
  void OnWriteDone(bool ok) {
    writes_ended_ = writes_ended_ || !ok;
    write_op_.complete(ok);
  }
  void OnWritesDoneDone(bool ok) {
    // finish() half-closes without parking an operation; writes_done() parks one.
    if (write_op_.pending()) write_op_.complete(ok);
  }
  void OnDone(const grpc::Status& status) {
    std::unique_lock lock(mutex_);
    status_ = status;
    if (done_op_.pending()) done_op_.complete(status);
    lock.unlock();
    release();
  }

 private:
  auto canceller() {
    return [ctx = ctx_.get()] { ctx->TryCancel(); };
  }
  template <class Handler>
  static void failed(Handler handler) {
    pending_op<bool> op;
    op.set(std::move(handler));
    op.complete(false);
  }
  void release_hold() {
    if (!finishing_) {
      finishing_ = true;
      this->RemoveHold();
    }
  }
  void release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  std::unique_ptr<grpc::ClientContext> ctx_;
  std::shared_ptr<const void> kept_;
  Response response_{};
  pending_op<bool> read_op_;
  pending_op<bool> write_op_;  // writes and the half-close never overlap
  std::mutex mutex_;
  pending_op<grpc::Status> done_op_;
  std::optional<grpc::Status> status_;
  std::atomic<int> refs_{2};  // the owner's and gRPC's (until OnDone)
  // Written by reactions before they post the completion the owner then observes.
  std::atomic<bool> reads_ended_{false};
  std::atomic<bool> writes_ended_{false};
  bool finishing_ = false;  // owner side only
};

template <class Reactor>
class stream_owner {
 public:
  explicit stream_owner(Reactor* r) noexcept : r_(r) {}
  stream_owner(stream_owner&& other) noexcept : r_(std::exchange(other.r_, nullptr)) {}
  stream_owner& operator=(stream_owner&& other) noexcept {
    if (this != &other) {
      reset();
      r_ = std::exchange(other.r_, nullptr);
    }
    return *this;
  }
  ~stream_owner() { reset(); }

 protected:
  Reactor& reactor() const noexcept { return *r_; }

 private:
  void reset() {
    if (r_) std::exchange(r_, nullptr)->abandon();
  }
  Reactor* r_;
};

struct no_message {};

}  // namespace detail

/// The client of a server-streaming call. Move-only; destroying it before finish()
/// cancels the call.
template <class Response>
class client_reader
    : detail::stream_owner<
          detail::client_reactor<grpc::ClientReadReactor<Response>, detail::no_message, Response>> {
  using base = detail::stream_owner<
      detail::client_reactor<grpc::ClientReadReactor<Response>, detail::no_message, Response>>;

 public:
  using base::base;
  /// Reads the next message; false once the stream is over (then call finish()).
  asio::awaitable<bool> read(Response& message) { return this->reactor().read(message); }
  /// Completes with the call's status. Read until false first: the server's status arrives
  /// after its messages.
  asio::awaitable<grpc::Status> finish() { return this->reactor().finish(); }
  grpc::ClientContext& context() noexcept { return this->reactor().context(); }
};

/// The client of a client-streaming call.
template <class Request, class Response>
class client_writer
    : detail::stream_owner<
          detail::client_reactor<grpc::ClientWriteReactor<Request>, Request, Response>> {
  using base = detail::stream_owner<
      detail::client_reactor<grpc::ClientWriteReactor<Request>, Request, Response>>;

 public:
  using base::base;
  /// Sends `message`; completes once gRPC is done with it. False: the call is over.
  asio::awaitable<bool> write(const Request& message) { return this->reactor().write(message); }
  /// Half-closes and completes with the status and the server's response.
  asio::awaitable<call_result<Response>> finish() {
    auto status = co_await this->reactor().finish();
    co_return call_result<Response>{std::move(status), std::move(this->reactor().response())};
  }
  grpc::ClientContext& context() noexcept { return this->reactor().context(); }
};

/// The client of a bidi call. One read and one write may be outstanding at once, from
/// two coroutines on the same executor.
template <class Request, class Response>
class client_stream
    : detail::stream_owner<detail::client_reactor<grpc::ClientBidiReactor<Request, Response>,
                                                  Request, Response>> {
  using base = detail::stream_owner<
      detail::client_reactor<grpc::ClientBidiReactor<Request, Response>, Request, Response>>;

 public:
  using base::base;
  asio::awaitable<bool> read(Response& message) { return this->reactor().read(message); }
  asio::awaitable<bool> write(const Request& message) { return this->reactor().write(message); }
  /// Half-closes the sending side (no write may be outstanding).
  asio::awaitable<bool> writes_done() { return this->reactor().writes_done(); }
  /// Half-closes if not done yet and completes with the status; read until false first.
  asio::awaitable<grpc::Status> finish() { return this->reactor().finish(); }
  grpc::ClientContext& context() noexcept { return this->reactor().context(); }
};

/// Unary call: completes with the status and the response. `ctx` and `request` must stay
/// alive until the await completes (they do, in the awaiting coroutine).
template <class Async, class Request, class Response, class Stub>
asio::awaitable<call_result<Response>> call(
    void (Async::*method)(grpc::ClientContext*, const Request*, Response*,
                          std::function<void(grpc::Status)>),
    Stub& stub, grpc::ClientContext& ctx, const Request& request) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(call_result<Response>)>(
      [method, async = detail::async_of<Async>(stub), &ctx, &request](auto handler) {
        auto* c = new detail::unary_call<Response>;
        c->done.set(std::move(handler), [&ctx] { ctx.TryCancel(); });
        (async->*method)(&ctx, &request, &c->response, [c](grpc::Status status) {
          c->done.complete(call_result<Response>{std::move(status), std::move(c->response)});
          delete c;
        });
      },
      asio::use_awaitable);
}

/// Server-streaming call, started at once. `ctx` (optional) carries deadline and metadata;
/// the stream owns it.
template <class Async, class Request, class Response, class Stub>
client_reader<Response> stream(
    void (Async::*method)(grpc::ClientContext*, const Request*,
                          grpc::ClientReadReactor<Response>*),
    Stub& stub, const Request& request,
    std::unique_ptr<grpc::ClientContext> ctx = std::make_unique<grpc::ClientContext>()) {
  using reactor =
      detail::client_reactor<grpc::ClientReadReactor<Response>, detail::no_message, Response>;
  auto* r = new reactor(std::move(ctx));
  (detail::async_of<Async>(stub)->*method)(&r->context(), r->keep(request), r);
  r->start();
  return client_reader<Response>(r);
}

/// Client-streaming call, started at once.
template <class Async, class Request, class Response, class Stub>
client_writer<Request, Response> stream(
    void (Async::*method)(grpc::ClientContext*, Response*, grpc::ClientWriteReactor<Request>*),
    Stub& stub,
    std::unique_ptr<grpc::ClientContext> ctx = std::make_unique<grpc::ClientContext>()) {
  using reactor = detail::client_reactor<grpc::ClientWriteReactor<Request>, Request, Response>;
  auto* r = new reactor(std::move(ctx));
  (detail::async_of<Async>(stub)->*method)(&r->context(), &r->response(), r);
  r->start();
  return client_writer<Request, Response>(r);
}

/// Bidi call, started at once.
template <class Async, class Request, class Response, class Stub>
client_stream<Request, Response> stream(
    void (Async::*method)(grpc::ClientContext*, grpc::ClientBidiReactor<Request, Response>*),
    Stub& stub,
    std::unique_ptr<grpc::ClientContext> ctx = std::make_unique<grpc::ClientContext>()) {
  using reactor =
      detail::client_reactor<grpc::ClientBidiReactor<Request, Response>, Request, Response>;
  auto* r = new reactor(std::move(ctx));
  (detail::async_of<Async>(stub)->*method)(&r->context(), r);
  r->start();
  return client_stream<Request, Response>(r);
}

}  // namespace coronet::rpc
