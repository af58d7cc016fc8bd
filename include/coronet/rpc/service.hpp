// coronet::rpc::service — serve a generated gRPC service with coroutine handlers.
//
// Wraps the generated `CallbackService` of a service class (e.g. `HelloWorld`) and binds
// each method, named by the tag protoc-gen-coronet generates for it (method.hpp), to a
// coroutine. The handler's parameters say which kind of RPC it serves and are checked
// against the .proto when the program compiles; no reactor class in sight:
//
//     #include "hello.coronet.pb.h"
//
//     coronet::rpc::service<HelloWorld> greeter;
//     greeter.handle<hello_world::say_hello>([](rpc::context&, const Greeting& req,
//                                               Greeting& resp) -> asio::awaitable<grpc::Status> {
//       resp.set_message("Hello, " + req.message());
//       co_return grpc::Status::OK;
//     });
//     server.add(greeter);                    // gRPC: coronet::rpc::server, see server.hpp
//     connect::mount(routes, greeter);        // Connect and gRPC-Web: connect/server.hpp
//
// Handler signatures (all return asio::awaitable<grpc::Status>; the status ends the call):
//   unary             (rpc::context&, const Request&, Response&)
//   server streaming  (rpc::context&, const Request&, server_writer<Response>&)
//   client streaming  (rpc::context&, server_reader<Request>&, Response&)
//   bidi              (rpc::context&, server_stream<Request, Response>&)
// The same handler serves every protocol; rpc::context (context.hpp) is the call's metadata,
// deadline, peer and response headers whichever carried it.
//
// Over gRPC:
// Each call's handler runs on one executor of the server's runtime (round robin), inside one
// of that io_context's pooled worker coroutines (detail/call_pool.hpp) rather than a
// co_spawn of its own. By default it never runs on a gRPC thread: the thread that delivers
// the call hands it to the io thread. A method bound with `{.inline_start = true}` starts
// on the gRPC thread instead and runs there until it first suspends (method_options). Client
// cancellation, deadline
// expiry and shutdown emit a terminal cancellation into the handler coroutine (pending
// timers and client calls complete with operation_aborted) and make pending reads and
// writes complete with false. An exception leaving a handler finishes the call with
// UNKNOWN. Methods without a handler answer UNIMPLEMENTED. Methods are bound before the
// service is added to a server. Over Connect and gRPC-Web a call's handler runs on the io
// thread of the HTTP connection that carried it.
//
// Middleware (middleware.hpp) runs around every handler of the service, outer first:
//
//     greeter.use(log_calls).use(authenticate);   // log_calls, authenticate, then the handler
#pragma once

#include <coronet/rpc/context.hpp>
#include <coronet/rpc/detail/method_handlers.hpp>
#include <coronet/rpc/detail/reactors.hpp>
#include <coronet/rpc/method.hpp>
#include <coronet/rpc/method_options.hpp>
#include <coronet/rpc/middleware.hpp>
#include <coronet/rpc/stream.hpp>

#include <asio/awaitable.hpp>

#include <grpcpp/support/status.h>

#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace coronet::rpc {

/// A generated service (`Grpc` is the class protoc emits, e.g. `HelloWorld`) served by
/// coroutine handlers. Not copyable or movable: the server refers to it; it must outlive
/// the server it is added to.
template <class Grpc>
class service final : public detail::service_binding {
 public:
  /// `defaults` apply to every method bound without options of its own.
  explicit service(method_options defaults = {}) : defaults_(defaults) {}
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  /// Binds the method named by the generated tag `Method` (see method.hpp) to `handler`, a
  /// non-generic callable with one of the signatures listed at the top of this header. A
  /// method of another service, or a handler of the wrong kind or message types, does not
  /// compile. Call before the service is added to a server or mounted.
  template <method_tag Method, class Handler>
  service& handle(Handler handler) {
    return handle<Method>(std::move(handler), defaults_);
  }

  /// As above, with options for this method's calls (e.g. `{.inline_start = true}`).
  template <method_tag Method, class Handler>
  service& handle(Handler handler, method_options options) {
    static_assert(std::is_same_v<typename Method::service, Grpc>,
                  "coronet::rpc::service::handle: the method belongs to another service");
    using traits = detail::handler_traits<Handler>;
    static_assert(traits::kind == Method::kind,
                  "coronet::rpc::service::handle: the handler's parameters are not of the "
                  "method's kind (unary: (rpc::context&, const Request&, Response&); server "
                  "streaming: (rpc::context&, const Request&, server_writer<Response>&); "
                  "client streaming: (rpc::context&, server_reader<Request>&, Response&); "
                  "bidi: (rpc::context&, server_stream<Request, Response>&))");
    static_assert(std::is_same_v<typename traits::request, typename Method::request>,
                  "coronet::rpc::service::handle: the handler's request type is not the "
                  "method's");
    static_assert(std::is_same_v<typename traits::response, typename Method::response>,
                  "coronet::rpc::service::handle: the handler's response type is not the "
                  "method's");
    bind<typename Method::request, typename Method::response>(
        Method::index, std::string(Method::path), Method::no_side_effects, std::move(handler),
        options);
    return *this;
  }

  /// Installs `m` around every method of the service, bound before or after, inside the
  /// middleware installed before it. Call before the service is added to a server. Throws
  /// std::invalid_argument for an empty function.
  service& use(middleware m) {
    if (!m) throw std::invalid_argument("coronet::rpc::service::use: empty middleware");
    this->middleware_.push_back(std::move(m));
    return *this;
  }

  grpc::Service& native() noexcept override { return native_; }

 private:
  template <class Request, class Response, class Handler>
  void bind(int index, std::string path, bool no_side_effects, Handler handler,
            method_options options) {
    using traits = detail::handler_traits<Handler>;
    auto owned = std::make_shared<Handler>(std::move(handler));
    Handler& h = *owned;
    handlers_.push_back(std::move(owned));
    const auto& bound = this->methods_.emplace_back(detail::bound_method{
        std::move(path), traits::kind, options, &this->middleware_, no_side_effects,
        detail::erase<traits::kind, Request, Response>(h)});
    native_.bind(index, detail::make_method_handler<Request, Response>(*this, h, bound));
  }

  method_options defaults_;
  detail::callback_service<Grpc> native_;
  std::vector<std::shared_ptr<void>> handlers_;
};

}  // namespace coronet::rpc
