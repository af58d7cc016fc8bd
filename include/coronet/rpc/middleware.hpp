// rpc::middleware — code that runs around a service's coroutine handlers, as a gRPC server
// interceptor does: authentication, request ids, access logs, metrics.
//
// A middleware is a coroutine given the call (`call_info`: the method's full name, its kind,
// its rpc::context for metadata, peer and deadline) and `next`, the rest of
// the chain (the middleware after it, then the handler). It continues with `co_await next()`,
// which returns the handler's status, or returns a status without calling it, or adds
// metadata, or catches what `next` throws:
//
//     greeter.use([](rpc::call_info& call, rpc::next_handler next) -> asio::awaitable<grpc::Status> {
//       if (!call.context.metadata("authorization")) {
//         co_return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no credentials");
//       }
//       call.context.add_header("x-served-by", "coronet");
//       co_return co_await next();
//     });
//
// The same chain runs whichever protocol carried the call: gRPC, Connect or gRPC-Web.
// service::use installs one on every method of a service (service.hpp), outer first. A
// method whose service has none calls its handler directly: no frame, no allocation. The
// chain runs where the handler would: on the io thread, or for a method bound with
// `{.inline_start = true}` on the gRPC thread until the first suspension of whichever
// middleware or handler suspends first. Cancellation reaches whatever is suspended. An
// exception leaving the chain finishes the call with UNKNOWN, as a handler's does.
#pragma once

#include <coronet/rpc/context.hpp>
#include <coronet/rpc/method.hpp>

#include <asio/awaitable.hpp>

#include <grpcpp/support/status.h>

#include <cstddef>
#include <functional>
#include <string_view>
#include <vector>

namespace coronet::rpc {

/// The call a middleware runs around. Lives until the call is finished.
struct call_info {
  /// The method's full name, as on the wire: "/HelloWorld/SayHello".
  std::string_view method;
  method_kind kind;
  /// The call's context (context.hpp): metadata, deadline, peer, response headers and
  /// trailers, whichever protocol carried the call.
  rpc::context& context;
};

namespace detail {
class chained_call;
}  // namespace detail

/// The rest of the chain, as a middleware sees it: calling it runs the next middleware, or
/// at the end the handler, and completes with its status. A small reference into the call:
/// valid while the middleware given it runs. Call it at most once: the handler owns the
/// call's one stream.
class next_handler {
 public:
  asio::awaitable<grpc::Status> operator()() const;

 private:
  friend class detail::chained_call;
  next_handler(detail::chained_call& call, std::size_t index) noexcept : call_(&call), index_(index) {}

  detail::chained_call* call_;
  std::size_t index_;  // the layer this call runs; the chain's size is the handler
};

/// Runs around the handlers of the service it is installed on (service::use).
using middleware = std::function<asio::awaitable<grpc::Status>(call_info&, next_handler)>;

namespace detail {

/// A call as its middleware chain sees it (the reactors implement it): what the middleware
/// are told, and the handler at the end.
class chained_call {
 public:
  chained_call(const std::vector<middleware>& chain, call_info info) noexcept
      : chain_(&chain), info_(info) {}
  chained_call(const chained_call&) = delete;
  chained_call& operator=(const chained_call&) = delete;

  /// Whether any middleware is installed: without, the reactor calls the handler directly.
  [[nodiscard]] bool chained() const noexcept { return !chain_->empty(); }
  /// Runs the chain from its outermost middleware.
  asio::awaitable<grpc::Status> run_chain() { return next_handler(*this, 0)(); }

 protected:
  ~chained_call() = default;
  /// Calls the user's handler.
  virtual asio::awaitable<grpc::Status> invoke() = 0;

 private:
  friend class rpc::next_handler;
  const std::vector<middleware>* chain_;
  call_info info_;
};

}  // namespace detail

// Not a coroutine: the call returns the next layer's awaitable, so passing through a chain
// adds no frame beyond each middleware's own.
inline asio::awaitable<grpc::Status> next_handler::operator()() const {
  const auto& chain = *call_->chain_;
  if (index_ == chain.size()) return call_->invoke();
  return chain[index_](call_->info_, next_handler(*call_, index_ + 1));
}

}  // namespace coronet::rpc
