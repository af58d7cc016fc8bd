// The machinery behind coronet::rpc::service: the reactors that run a coroutine handler
// for each kind of RPC, the traits that read a handler's kind and message types from its
// parameter list, and the binding the server sees. Users never name anything here.
#pragma once

#include <coronet/rpc/context.hpp>
#include <coronet/rpc/detail/call_pool.hpp>
#include <coronet/rpc/detail/erased_method.hpp>
#include <coronet/rpc/detail/pending_op.hpp>
#include <coronet/rpc/method_options.hpp>
#include <coronet/rpc/middleware.hpp>
#include <coronet/rpc/stream.hpp>

#include <asio/awaitable.hpp>
#include <asio/bind_allocator.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <grpcpp/impl/service_type.h>
#include <grpcpp/support/server_callback.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace google::protobuf {
class Descriptor;
}
namespace grpc {
class CallbackServerContext;
}

namespace coronet::rpc {

namespace detail {

using rpc::method_kind;

/// Where a new call's handler runs: an executor of the server's runtime and the call pool
/// of that executor's io_context.
struct call_site {
  asio::io_context::executor_type executor;
  call_pool* pool;
};

/// Supplies each new call with its call_site (set by the server).
using call_site_source = std::function<call_site()>;

/// Where a method's calls are counted into a coronet::metrics by the reactors themselves
/// (src/rpc/metrics_interceptor.cpp): set by a server with metrics for the methods of its
/// coroutine services, so that grpc++'s interception machinery stays off for their calls.
struct method_counter;
void count_started(method_counter& c) noexcept;
void count_received(method_counter& c) noexcept;
void count_sent(method_counter& c) noexcept;
/// The call's status and duration; `message`: Finish sends the response message (a unary
/// or client-streaming call that ends OK).
void count_finished(method_counter& c, const grpc::Status& status, bool message,
                    std::chrono::steady_clock::time_point started) noexcept;

/// What a service knows of one of its bound methods, for each call of it. Owned by the
/// service, so it outlives the calls.
struct bound_method {
  std::string name;  // "/HelloWorld/SayHello"
  method_kind kind;
  method_options options;
  const std::vector<middleware>* chain;  // the service's middleware, empty when none
  bool no_side_effects = false;          // idempotency_level = NO_SIDE_EFFECTS
  erased_method erased;                  // how the HTTP protocols call the handler
  method_counter* counter = nullptr;     // set by a server that counts the calls here
};

/// An rpc::context over grpc++'s: what a call's handler sees when it came over gRPC.
class grpc_call_context final : public context {
 public:
  grpc_call_context(std::string_view method, grpc::CallbackServerContext& ctx);
  std::optional<std::string_view> metadata(std::string_view key) const override;
  std::vector<std::pair<std::string_view, std::string_view>> all_metadata() const override;
  std::string peer() const override;
  bool cancelled() const noexcept override;
  void add_header(std::string_view key, std::string_view value) override;
  void add_trailer(std::string_view key, std::string_view value) override;
};

// What the four reactors share: starting the handler on its io thread (a call_pool worker
// runs it), behind its service's middleware if any; its cancellation; and the reference
// count that keeps the reactor alive until gRPC (OnDone), the handler's worker (complete)
// and every posted cancellation step have all let go. The reactor is thus never freed
// before OnDone.
template <class Reactor>
class call_reactor : public Reactor, public pooled_call, public chained_call {
 public:
  call_reactor(call_site site, const bound_method& method, grpc::CallbackServerContext& ctx)
      : chained_call(*method.chain, call_info{method.name, method.kind, context_}),
        context_(method.name, ctx),
        ex_(std::move(site.executor)),
        pool_(site.pool),
        inline_start_(method.options.inline_start),
        counter_(method.counter),
        finish_sends_(method.kind == method_kind::unary || method.kind == method_kind::client_streaming) {
    if (counter_) {
      started_ = std::chrono::steady_clock::now();
      count_started(*counter_);
      // The one request message of a unary or server-streaming call has arrived.
      if (method.kind == method_kind::unary || method.kind == method_kind::server_streaming) {
        count_received(*counter_);
      }
    }
  }
  call_reactor(const call_reactor&) = delete;
  call_reactor& operator=(const call_reactor&) = delete;

  void OnCancel() override {
    asio::post(ex_, [ref = hold()] {
      if (auto* c = ref.self->canceller) c->emit(asio::cancellation_type::terminal);
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

  void complete(grpc::Status status) noexcept override {
    if (counter_) count_finished(*counter_, status, finish_sends_ && status.ok(), started_);
    this->Finish(std::move(status));
    release();
  }

 protected:
  grpc_call_context context_;  // what the handler sees of the call

  // Starts the handler: inline (a parked worker runs it on this gRPC thread until it
  // suspends) or by handing the call to a worker on the handler's io thread. Called last
  // in the reactor's constructor: gRPC binds the reactor, and only then may call OnCancel
  // or OnDone, after this returns, so the inline part never races them. When handed over,
  // the handler is called on the io thread, so its coroutine frame is allocated and freed
  // there; the one allocation made here, the posted operation, lives in the reactor
  // (launch_allocator).
  void launch() {
    if (inline_start_) {
      pool_->serve(*this);
      return;
    }
    asio::post(ex_, asio::bind_allocator(launch_allocator<void>{launch_storage_},
                                         [start = starter{this}]() mutable {
                                           auto* self = std::exchange(start.self, nullptr);
                                           self->pool_->serve(*self);
                                         }));
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

  // The posted start of the call. Should it be destroyed without running (its io_context
  // destroyed first), it still finishes the call, so the server's shutdown is never left
  // waiting.
  struct starter {
    call_reactor* self;
    explicit starter(call_reactor* s) noexcept : self(s) {}
    starter(starter&& other) noexcept : self(std::exchange(other.self, nullptr)) {}
    starter& operator=(starter&&) = delete;
    ~starter() {
      if (self) self->complete(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server stopped"));
    }
  };

  // Storage for the one posted operation that starts the call; the allocator falls back to
  // the heap should a larger or a second operation ask for it.
  struct alignas(std::max_align_t) launch_buffer {
    std::byte bytes[128];
    bool used = false;
  };
  template <class T>
  struct launch_allocator {
    using value_type = T;
    launch_buffer& buffer;
    template <class U>
    launch_allocator(const launch_allocator<U>& other) noexcept : buffer(other.buffer) {}
    explicit launch_allocator(launch_buffer& b) noexcept : buffer(b) {}
    T* allocate(std::size_t n) {
      if (!buffer.used && n * sizeof(T) <= sizeof(buffer.bytes) &&
          alignof(T) <= alignof(launch_buffer)) {
        buffer.used = true;
        return reinterpret_cast<T*>(buffer.bytes);
      }
      return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) noexcept {
      if (reinterpret_cast<std::byte*>(p) == buffer.bytes) {
        buffer.used = false;
      } else {
        std::allocator<T>().deallocate(p, n);
      }
    }
    template <class U>
    bool operator==(const launch_allocator<U>& other) const noexcept {
      return &buffer == &other.buffer;
    }
  };

  reference hold() noexcept {
    refs_.fetch_add(1, std::memory_order_relaxed);
    return reference(this);
  }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  asio::io_context::executor_type ex_;  // concrete: posting through it needs no type erasure
  call_pool* pool_;
  bool inline_start_;
  launch_buffer launch_storage_;
  std::atomic<int> refs_{2};  // gRPC's until OnDone, the handler's worker's until complete

 protected:
  method_counter* const counter_;  // null: not counted here
  const bool finish_sends_;
  std::chrono::steady_clock::time_point started_{};
};

template <class Request, class Response, class Handler>
class unary_reactor final : public call_reactor<grpc::ServerUnaryReactor> {
 public:
  unary_reactor(call_site site, const bound_method& method, Handler& handler,
                grpc::CallbackServerContext* ctx, const Request* request, Response* response)
      : call_reactor(std::move(site), method, *ctx),
        handler_(handler),
        request_(*request),
        response_(*response) {
    launch();
  }
  asio::awaitable<grpc::Status> run() override {
    if (this->chained()) return this->run_chain();
    return handler_(this->context_, request_, response_);
  }
  asio::awaitable<grpc::Status> invoke() override { return handler_(this->context_, request_, response_); }

 private:
  Handler& handler_;
  const Request& request_;
  Response& response_;
};

template <class Request, class Response, class Handler>
class write_reactor final : public call_reactor<grpc::ServerWriteReactor<Response>>,
                            public write_port<Response> {
 public:
  write_reactor(call_site site, const bound_method& method, Handler& handler,
                grpc::CallbackServerContext* ctx, const Request* request)
      : call_reactor<grpc::ServerWriteReactor<Response>>(std::move(site), method, *ctx),
        handler_(handler),
        request_(*request),
        writer_(*this) {
    this->launch();
  }
  asio::awaitable<grpc::Status> run() override {
    if (this->chained()) return this->run_chain();
    return handler_(this->context_, request_, writer_);
  }
  asio::awaitable<grpc::Status> invoke() override { return handler_(this->context_, request_, writer_); }
  void start_write(const Response* message) override {
    if (this->counter_) count_sent(*this->counter_);
    this->StartWrite(message);
  }
  void OnWriteDone(bool ok) override {
    this->write_failed = !ok;
    this->write_op.complete(ok);
  }

 private:
  Handler& handler_;
  const Request& request_;
  server_writer<Response> writer_;
};

template <class Request, class Response, class Handler>
class read_reactor final : public call_reactor<grpc::ServerReadReactor<Request>>,
                           public read_port<Request> {
 public:
  read_reactor(call_site site, const bound_method& method, Handler& handler,
               grpc::CallbackServerContext* ctx, Response* response)
      : call_reactor<grpc::ServerReadReactor<Request>>(std::move(site), method, *ctx),
        handler_(handler),
        response_(*response),
        reader_(*this) {
    this->launch();
  }
  asio::awaitable<grpc::Status> run() override {
    if (this->chained()) return this->run_chain();
    return handler_(this->context_, reader_, response_);
  }
  asio::awaitable<grpc::Status> invoke() override { return handler_(this->context_, reader_, response_); }
  void start_read(Request* message) override { this->StartRead(message); }
  void OnReadDone(bool ok) override {
    if (ok && this->counter_) count_received(*this->counter_);
    this->read_ended = !ok;
    this->read_op.complete(ok);
  }

 private:
  Handler& handler_;
  Response& response_;
  server_reader<Request> reader_;
};

template <class Request, class Response, class Handler>
class bidi_reactor final : public call_reactor<grpc::ServerBidiReactor<Request, Response>>,
                           public read_port<Request>,
                           public write_port<Response> {
 public:
  bidi_reactor(call_site site, const bound_method& method, Handler& handler,
               grpc::CallbackServerContext* ctx)
      : call_reactor<grpc::ServerBidiReactor<Request, Response>>(std::move(site), method, *ctx),
        handler_(handler),
        stream_(*this, *this) {
    this->launch();
  }
  asio::awaitable<grpc::Status> run() override {
    if (this->chained()) return this->run_chain();
    return handler_(this->context_, stream_);
  }
  asio::awaitable<grpc::Status> invoke() override { return handler_(this->context_, stream_); }
  void start_read(Request* message) override { this->StartRead(message); }
  void start_write(const Response* message) override {
    if (this->counter_) count_sent(*this->counter_);
    this->StartWrite(message);
  }
  void OnReadDone(bool ok) override {
    if (ok && this->counter_) count_received(*this->counter_);
    this->read_ended = !ok;
    this->read_op.complete(ok);
  }
  void OnWriteDone(bool ok) override {
    this->write_failed = !ok;
    this->write_op.complete(ok);
  }

 private:
  Handler& handler_;
  server_stream<Request, Response> stream_;
};

// What a handler's parameter list says about the RPC it serves.
template <class... Params>
struct handler_shape;

template <class Request, class Response>
struct handler_shape<context&, const Request&, Response&> {
  static constexpr auto kind = method_kind::unary;
  using request = Request;
  using response = Response;
};
template <class Request, class Response>
struct handler_shape<context&, const Request&, server_writer<Response>&> {
  static constexpr auto kind = method_kind::server_streaming;
  using request = Request;
  using response = Response;
};
template <class Request, class Response>
struct handler_shape<context&, server_reader<Request>&, Response&> {
  static constexpr auto kind = method_kind::client_streaming;
  using request = Request;
  using response = Response;
};
template <class Request, class Response>
struct handler_shape<context&, server_stream<Request, Response>&> {
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
  void set_call_site_source(call_site_source source) { next_site_ = std::move(source); }
  /// Where the next call runs (the server's runtime, round robin).
  call_site next_site() const { return next_site_(); }
  /// Sets where each bound method's calls are counted (`counter_of(method)`, null for none).
  /// Before the service serves calls.
  template <class F>
  void set_counters(F&& counter_of) {
    for (auto& m : methods_) m.counter = counter_of(m);
  }
  /// Puts `outer` around the service's own middleware, e.g. a server's, for every service
  /// added to it. Before the service serves calls.
  void wrap_middleware(const std::vector<middleware>& outer) {
    middleware_.insert(middleware_.begin(), outer.begin(), outer.end());
  }

 protected:
  ~service_binding() = default;

  std::vector<middleware> middleware_;  // outer first; every call of the service refers to it
  std::deque<bound_method> methods_;    // a deque: calls refer to its elements

 public:
  /// The methods bound so far, for the HTTP protocols' adapter.
  [[nodiscard]] const std::deque<bound_method>& methods() const noexcept { return methods_; }
  /// The service's middleware, outer first.
  [[nodiscard]] const std::vector<middleware>& chain() const noexcept { return middleware_; }

 private:
  call_site_source next_site_;
};

}  // namespace detail

}  // namespace coronet::rpc
