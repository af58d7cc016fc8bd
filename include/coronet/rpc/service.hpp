// coronet::rpc::service — serve a generated gRPC service with coroutine handlers.
//
// Wraps the generated `CallbackService` of a service class (e.g. `HelloWorld`) and binds
// each method, by name, to a coroutine. The handler's parameters say which kind of RPC it
// serves and are checked against the .proto at registration; no reactor class in sight:
//
//     coronet::rpc::service<HelloWorld> greeter;
//     greeter.handle("SayHello", [](grpc::CallbackServerContext&, const Greeting& req,
//                                   Greeting& resp) -> asio::awaitable<grpc::Status> {
//       resp.set_message("hello " + req.message());
//       co_return grpc::Status::OK;
//     });
//     server.add(greeter);                    // coronet::rpc::server, see server.hpp
//
// Handler signatures (all return asio::awaitable<grpc::Status>; the status ends the call):
//   unary             (grpc::CallbackServerContext&, const Request&, Response&)
//   server streaming  (grpc::CallbackServerContext&, const Request&, server_writer<Response>&)
//   client streaming  (grpc::CallbackServerContext&, server_reader<Request>&, Response&)
//   bidi              (grpc::CallbackServerContext&, server_stream<Request, Response>&)
//
// Each call's handler runs on one executor of the server's runtime (round robin) and never
// on a gRPC thread. Client cancellation, deadline expiry and shutdown emit a terminal
// cancellation into the handler coroutine (pending timers and client calls complete with
// operation_aborted) and make pending reads and writes complete with false. An exception
// leaving a handler finishes the call with UNKNOWN. Methods without a handler answer
// UNIMPLEMENTED. Methods are bound before the service is added to a server.
#pragma once

#include <coronet/rpc/detail/pending_op.hpp>
#include <coronet/rpc/stream.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>

#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace google::protobuf {
class Descriptor;
}

namespace coronet::rpc {

namespace detail {

enum class method_kind { unary, server_streaming, client_streaming, bidi };

/// Index of `method` in the generated service `service_name`, after checking that the
/// .proto declares it with this kind and these message types. Throws std::invalid_argument.
int method_index(const char* service_name, std::string_view method, method_kind kind,
                 const google::protobuf::Descriptor* request,
                 const google::protobuf::Descriptor* response);

/// Supplies each new call with the executor its handler runs on (set by the server).
using executor_source = std::function<asio::any_io_executor()>;

// What the four reactors share: the handler coroutine, its cancellation, and the reference
// count that keeps the reactor alive until gRPC (OnDone), the coroutine (Finish) and every
// posted cancellation step have all let go. The reactor is thus never freed before OnDone.
template <class Reactor>
class call_reactor : public Reactor {
 public:
  explicit call_reactor(asio::any_io_executor ex) : ex_(std::move(ex)) {}

  void OnCancel() override {
    asio::post(ex_, [ref = hold()] {
      if (ref.self->running_) ref.self->cancel_.emit(asio::cancellation_type::terminal);
    });
  }
  void OnDone() override { release(); }
  // Every reaction of a coronet reactor only counts down or posts to the handler's
  // executor; none blocks or runs user code. That is what grpc++ asks of a reactor whose
  // reactions may run inline on the thread that completes an operation, rather than
  // being handed to gRPC's executor threads (one more thread wake-up per call: for unary
  // calls 1.51 schedules every OnDone that way otherwise). grpc++'s own DefaultReactor
  // says the same of itself.
  bool InternalInlineable() override { return true; }

 protected:
  template <class Awaitable>
  void spawn(Awaitable coro) {
    asio::co_spawn(ex_, std::move(coro),
                   asio::bind_cancellation_slot(cancel_.slot(), finisher{this}));
  }

 private:
  struct reference {
    call_reactor* self;
    explicit reference(call_reactor* s) noexcept : self(s) {}
    reference(reference&& other) noexcept : self(std::exchange(other.self, nullptr)) {}
    reference& operator=(reference&&) = delete;
    ~reference() {
      if (self) self->release();
    }
  };

  // The co_spawn completion: finishes the call with the handler's status. Should the
  // coroutine be destroyed without completing (its io_context destroyed first), the
  // destructor still finishes the call, so the server's shutdown is never left waiting.
  struct finisher {
    call_reactor* self;
    explicit finisher(call_reactor* s) noexcept : self(s) {}
    finisher(finisher&& other) noexcept : self(std::exchange(other.self, nullptr)) {}
    finisher& operator=(finisher&&) = delete;
    ~finisher() {
      if (self) self->finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server stopped"));
    }
    void operator()(std::exception_ptr error, grpc::Status status) {
      auto* s = std::exchange(self, nullptr);
      s->finish(error ? grpc::Status(grpc::StatusCode::UNKNOWN, "handler threw an exception")
                      : std::move(status));
    }
  };

  reference hold() noexcept {
    refs_.fetch_add(1, std::memory_order_relaxed);
    return reference(this);
  }
  void finish(grpc::Status status) {
    running_ = false;
    this->Finish(std::move(status));
    release();
  }
  void release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  asio::any_io_executor ex_;
  asio::cancellation_signal cancel_;
  std::atomic<int> refs_{2};  // gRPC's until OnDone, the coroutine's until Finish
  bool running_ = true;       // touched only on ex_
};

template <class Request, class Response, class Handler>
class unary_reactor final : public call_reactor<grpc::ServerUnaryReactor> {
 public:
  unary_reactor(asio::any_io_executor ex, Handler& handler, grpc::CallbackServerContext* ctx,
                const Request* request, Response* response)
      : call_reactor(std::move(ex)) {
    spawn(handler(*ctx, *request, *response));
  }
};

template <class Request, class Response, class Handler>
class write_reactor final : public call_reactor<grpc::ServerWriteReactor<Response>>,
                            public write_port<Response> {
 public:
  write_reactor(asio::any_io_executor ex, Handler& handler, grpc::CallbackServerContext* ctx,
                const Request* request)
      : call_reactor<grpc::ServerWriteReactor<Response>>(std::move(ex)), writer_(*this) {
    this->spawn(handler(*ctx, *request, writer_));
  }
  void start_write(const Response* message) override { this->StartWrite(message); }
  void OnWriteDone(bool ok) override {
    this->write_failed = !ok;
    this->write_op.complete(ok);
  }

 private:
  server_writer<Response> writer_;
};

template <class Request, class Response, class Handler>
class read_reactor final : public call_reactor<grpc::ServerReadReactor<Request>>,
                           public read_port<Request> {
 public:
  read_reactor(asio::any_io_executor ex, Handler& handler, grpc::CallbackServerContext* ctx,
               Response* response)
      : call_reactor<grpc::ServerReadReactor<Request>>(std::move(ex)), reader_(*this) {
    this->spawn(handler(*ctx, reader_, *response));
  }
  void start_read(Request* message) override { this->StartRead(message); }
  void OnReadDone(bool ok) override {
    this->read_ended = !ok;
    this->read_op.complete(ok);
  }

 private:
  server_reader<Request> reader_;
};

template <class Request, class Response, class Handler>
class bidi_reactor final : public call_reactor<grpc::ServerBidiReactor<Request, Response>>,
                           public read_port<Request>,
                           public write_port<Response> {
 public:
  bidi_reactor(asio::any_io_executor ex, Handler& handler, grpc::CallbackServerContext* ctx)
      : call_reactor<grpc::ServerBidiReactor<Request, Response>>(std::move(ex)),
        stream_(*this, *this) {
    this->spawn(handler(*ctx, stream_));
  }
  void start_read(Request* message) override { this->StartRead(message); }
  void start_write(const Response* message) override { this->StartWrite(message); }
  void OnReadDone(bool ok) override {
    this->read_ended = !ok;
    this->read_op.complete(ok);
  }
  void OnWriteDone(bool ok) override {
    this->write_failed = !ok;
    this->write_op.complete(ok);
  }

 private:
  server_stream<Request, Response> stream_;
};

// What a handler's parameter list says about the RPC it serves.
template <class... Params>
struct handler_shape;

template <class Request, class Response>
struct handler_shape<grpc::CallbackServerContext&, const Request&, Response&> {
  static constexpr auto kind = method_kind::unary;
  using request = Request;
  using response = Response;
};
template <class Request, class Response>
struct handler_shape<grpc::CallbackServerContext&, const Request&, server_writer<Response>&> {
  static constexpr auto kind = method_kind::server_streaming;
  using request = Request;
  using response = Response;
};
template <class Request, class Response>
struct handler_shape<grpc::CallbackServerContext&, server_reader<Request>&, Response&> {
  static constexpr auto kind = method_kind::client_streaming;
  using request = Request;
  using response = Response;
};
template <class Request, class Response>
struct handler_shape<grpc::CallbackServerContext&, server_stream<Request, Response>&> {
  static constexpr auto kind = method_kind::bidi;
  using request = Request;
  using response = Response;
};

template <class F>
struct handler_traits : handler_traits<decltype(&F::operator())> {};
template <class C, class R, class... P>
struct handler_traits<R (C::*)(P...) const> : handler_shape<P...> {};
template <class C, class R, class... P>
struct handler_traits<R (C::*)(P...)> : handler_shape<P...> {};
template <class R, class... P>
struct handler_traits<R (*)(P...)> : handler_shape<P...> {};

/// The part of a service the server sees: the grpc::Service to register, and where to take
/// executors from.
class service_binding {
 public:
  virtual grpc::Service& native() noexcept = 0;
  void set_executor_source(executor_source source) { next_executor_ = std::move(source); }

 protected:
  ~service_binding() = default;
  asio::any_io_executor next_executor() const { return next_executor_(); }

 private:
  executor_source next_executor_;
};

}  // namespace detail

/// A generated service (`Grpc` is the class protoc emits, e.g. `HelloWorld`) served by
/// coroutine handlers. Not copyable or movable: the server refers to it; it must outlive
/// the server it is added to.
template <class Grpc>
class service final : public detail::service_binding {
 public:
  service() = default;
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  /// Binds `method` (its name in the .proto, e.g. "SayHello") to `handler`, a non-generic
  /// callable with one of the signatures listed at the top of this header. Throws
  /// std::invalid_argument when the service has no such method or its kind or message types
  /// differ from the handler's. Call before the service is added to a server.
  template <class Handler>
  service& handle(std::string_view method, Handler handler) {
    using traits = detail::handler_traits<Handler>;
    using request = typename traits::request;
    using response = typename traits::response;
    const int index = detail::method_index(Grpc::service_full_name(), method, traits::kind,
                                           request::descriptor(), response::descriptor());
    auto owned = std::make_shared<Handler>(std::move(handler));
    Handler& h = *owned;
    handlers_.push_back(std::move(owned));
    native_.bind(index, make_method_handler<request, response>(h));
    return *this;
  }

  grpc::Service& native() noexcept override { return native_; }

 private:
  struct native_service final : Grpc::CallbackService {
    void bind(int index, grpc::internal::MethodHandler* handler) {
      this->MarkMethodCallback(index, handler);
    }
  };

  template <class Request, class Response, class Handler>
  grpc::internal::MethodHandler* make_method_handler(Handler& h) {
    using traits = detail::handler_traits<Handler>;
    if constexpr (traits::kind == detail::method_kind::unary) {
      return new grpc::internal::CallbackUnaryHandler<Request, Response>(
          [this, &h](grpc::CallbackServerContext* ctx, const Request* req, Response* resp)
              -> grpc::ServerUnaryReactor* {
            return new detail::unary_reactor<Request, Response, Handler>(next_executor(), h, ctx,
                                                                         req, resp);
          });
    } else if constexpr (traits::kind == detail::method_kind::server_streaming) {
      return new grpc::internal::CallbackServerStreamingHandler<Request, Response>(
          [this, &h](grpc::CallbackServerContext* ctx,
                     const Request* req) -> grpc::ServerWriteReactor<Response>* {
            return new detail::write_reactor<Request, Response, Handler>(next_executor(), h, ctx,
                                                                         req);
          });
    } else if constexpr (traits::kind == detail::method_kind::client_streaming) {
      return new grpc::internal::CallbackClientStreamingHandler<Request, Response>(
          [this, &h](grpc::CallbackServerContext* ctx,
                     Response* resp) -> grpc::ServerReadReactor<Request>* {
            return new detail::read_reactor<Request, Response, Handler>(next_executor(), h, ctx,
                                                                        resp);
          });
    } else {
      return new grpc::internal::CallbackBidiHandler<Request, Response>(
          [this, &h](grpc::CallbackServerContext* ctx)
              -> grpc::ServerBidiReactor<Request, Response>* {
            return new detail::bidi_reactor<Request, Response, Handler>(next_executor(), h, ctx);
          });
    }
  }

  native_service native_;
  std::vector<std::shared_ptr<void>> handlers_;
};

}  // namespace coronet::rpc
