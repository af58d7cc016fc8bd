// How a protocol other than gRPC calls a bound method's handler: through protobuf's Message
// base class instead of the generated types, so the Connect and gRPC-Web adapter (compiled
// once, in the library) can serve any service. The service fills one in for each method it
// binds (service.hpp); the adapter supplies the messages and, for streams, a sink or source.
#pragma once

#include <coronet/rpc/context.hpp>
#include <coronet/rpc/detail/pending_op.hpp>
#include <coronet/rpc/method.hpp>
#include <coronet/rpc/stream.hpp>

#include <asio/awaitable.hpp>

#include <grpcpp/support/status.h>

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace coronet::rpc::detail {

using message = google::protobuf::Message;

/// Where a server-streaming handler's messages go when the call is not gRPC. start_write
/// begins sending `m` and completes `done` with true once it is sent (the handler may then
/// reuse it), false when the call is over; it sets `failed` with false.
class message_sink {
 public:
  virtual void start_write(const message& m, pending_op<bool>& done, bool& failed) = 0;

 protected:
  ~message_sink() = default;
};

/// Where a client-streaming handler's messages come from when the call is not gRPC:
/// start_read fills `m` and completes `done` with true, or with false at the end (setting
/// `ended`).
class message_source {
 public:
  virtual void start_read(message& m, pending_op<bool>& done, bool& ended) = 0;

 protected:
  ~message_source() = default;
};

/// The typed stream ports of stream.hpp, forwarding to an untyped sink or source.
template <class Response>
class sink_port final : public write_port<Response> {
 public:
  explicit sink_port(message_sink& sink) noexcept : sink_(sink) {}
  void start_write(const Response* m) override {
    sink_.start_write(*m, this->write_op, this->write_failed);
  }

 private:
  message_sink& sink_;
};

template <class Request>
class source_port final : public read_port<Request> {
 public:
  explicit source_port(message_source& source) noexcept : source_(source) {}
  void start_read(Request* m) override { source_.start_read(*m, this->read_op, this->read_ended); }

 private:
  message_source& source_;
};

/// One bound method, callable with untyped messages. Exactly one of the call functions is set,
/// the one of the method's kind; bidi methods have none (HTTP/1.1 cannot carry them).
struct erased_method {
  void* handler = nullptr;  // the user's handler, owned by the service
  const message* request_prototype = nullptr;   // Request::default_instance()
  const message* response_prototype = nullptr;  // Response::default_instance()
  asio::awaitable<grpc::Status> (*unary)(void* handler, context&, const message& request,
                                         message& response) = nullptr;
  asio::awaitable<grpc::Status> (*server_streaming)(void* handler, context&,
                                                    const message& request,
                                                    message_sink& out) = nullptr;
  asio::awaitable<grpc::Status> (*client_streaming)(void* handler, context&, message_source& in,
                                                    message& response) = nullptr;
};

/// The erased_method of `Handler`, which serves a method of `Kind` from Request to Response.
template <method_kind Kind, class Request, class Response, class Handler>
erased_method erase(Handler& h) {
  erased_method e;
  e.handler = &h;
  e.request_prototype = &Request::default_instance();
  e.response_prototype = &Response::default_instance();
  if constexpr (Kind == method_kind::unary) {
    // Not a coroutine: the handler's own awaitable is returned, no frame added.
    e.unary = [](void* f, context& ctx, const message& req, message& resp) {
      return (*static_cast<Handler*>(f))(ctx, static_cast<const Request&>(req),
                                         static_cast<Response&>(resp));
    };
  } else if constexpr (Kind == method_kind::server_streaming) {
    e.server_streaming = [](void* f, context& ctx, const message& req,
                            message_sink& out) -> asio::awaitable<grpc::Status> {
      sink_port<Response> port(out);
      server_writer<Response> writer(port);
      co_return co_await (*static_cast<Handler*>(f))(ctx, static_cast<const Request&>(req),
                                                     writer);
    };
  } else if constexpr (Kind == method_kind::client_streaming) {
    e.client_streaming = [](void* f, context& ctx, message_source& in,
                            message& resp) -> asio::awaitable<grpc::Status> {
      source_port<Request> port(in);
      server_reader<Request> reader(port);
      co_return co_await (*static_cast<Handler*>(f))(ctx, reader, static_cast<Response&>(resp));
    };
  }
  return e;
}

}  // namespace coronet::rpc::detail
