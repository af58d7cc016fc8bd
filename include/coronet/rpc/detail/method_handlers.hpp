// Binding a coroutine handler into a generated CallbackService: the grpc++ method handler of
// each kind of RPC, which makes one of coronet's reactors (reactors.hpp) per call. These
// name grpc::internal types; rpc::service (service.hpp) calls them and users never do.
#pragma once

#include <coronet/rpc/detail/reactors.hpp>

#include <grpcpp/impl/codegen/server_callback_handlers.h>

namespace coronet::rpc::detail {

/// The generated `Grpc::CallbackService`, with its protected method registration reachable.
template <class Grpc>
struct callback_service final : Grpc::CallbackService {
  void bind(int index, grpc::internal::MethodHandler* handler) {
    this->MarkMethodCallback(index, handler);
  }
};

/// The grpc++ handler for method `m` of `owner`, answered by `h`: every call it delivers
/// becomes a reactor running `h` on the executor `owner` picks next.
template <class Request, class Response, class Handler>
grpc::internal::MethodHandler* make_method_handler(const service_binding& owner, Handler& h,
                                                   const bound_method& m) {
  constexpr auto kind = handler_traits<Handler>::kind;
  const service_binding* s = &owner;
  if constexpr (kind == method_kind::unary) {
    return new grpc::internal::CallbackUnaryHandler<Request, Response>(
        [s, &h, &m](grpc::CallbackServerContext* ctx, const Request* req,
                    Response* resp) -> grpc::ServerUnaryReactor* {
          return new unary_reactor<Request, Response, Handler>(s->next_site(), m, h, ctx, req,
                                                               resp);
        });
  } else if constexpr (kind == method_kind::server_streaming) {
    return new grpc::internal::CallbackServerStreamingHandler<Request, Response>(
        [s, &h, &m](grpc::CallbackServerContext* ctx,
                    const Request* req) -> grpc::ServerWriteReactor<Response>* {
          return new write_reactor<Request, Response, Handler>(s->next_site(), m, h, ctx, req);
        });
  } else if constexpr (kind == method_kind::client_streaming) {
    return new grpc::internal::CallbackClientStreamingHandler<Request, Response>(
        [s, &h, &m](grpc::CallbackServerContext* ctx,
                    Response* resp) -> grpc::ServerReadReactor<Request>* {
          return new read_reactor<Request, Response, Handler>(s->next_site(), m, h, ctx, resp);
        });
  } else {
    return new grpc::internal::CallbackBidiHandler<Request, Response>(
        [s, &h, &m](grpc::CallbackServerContext* ctx)
            -> grpc::ServerBidiReactor<Request, Response>* {
          return new bidi_reactor<Request, Response, Handler>(s->next_site(), m, h, ctx);
        });
  }
}

}  // namespace coronet::rpc::detail
