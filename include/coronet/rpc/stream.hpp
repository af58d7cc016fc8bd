// Server-side stream handles: what a streaming handler reads from and writes to.
//
// A handler receives a server_reader (client streaming), a server_writer (server streaming)
// or a server_stream (bidi, both). Each read or write is an awaitable that completes when
// gRPC has finished with the message, on the handler's own executor:
//
//     for (Greeting msg; co_await reader.read(msg);) total += msg.message().size();
//     co_await writer.write(reply);            // reply may be reused once this returns
//
// At most one read and one write are outstanding at a time; a bidi handler may read in one
// coroutine while it writes in another. A read or write returning false means the stream
// is over: the client half-closed (reads), or the call was cancelled, hit its deadline, or
// the server is shutting down.
#pragma once

#include <coronet/rpc/detail/pending_op.hpp>

#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>

namespace coronet::rpc {

namespace detail {

/// The reading half of a server reactor: implemented by the reactors in service.hpp.
template <class Request>
class read_port {
 public:
  virtual void start_read(Request* message) = 0;
  pending_op<bool> read_op;
  bool read_ended = false;  // touched only by the handler's executor

 protected:
  ~read_port() = default;
};

template <class Response>
class write_port {
 public:
  virtual void start_write(const Response* message) = 0;
  pending_op<bool> write_op;
  bool write_failed = false;  // touched only by the handler's executor

 protected:
  ~write_port() = default;
};

// Completes `handler` with false, through its executor, without touching gRPC: used for a
// read after the end of the stream or a write after a failed one, which gRPC forbids.
template <class Handler>
void complete_false(Handler handler) {
  pending_op<bool> op;
  op.set(std::move(handler));
  op.complete(false);
}

}  // namespace detail

/// Reads the client's messages in a client-streaming or bidi handler.
template <class Request>
class server_reader {
 public:
  explicit server_reader(detail::read_port<Request>& port) noexcept : port_(&port) {}

  /// Reads the next message into `message`. Completes with true when a message was read,
  /// false at the end of the stream (client half-close, cancellation, deadline, shutdown).
  /// `message` must stay alive until the await completes.
  asio::awaitable<bool> read(Request& message) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
        [port = port_, &message](auto handler) {
          if (port->read_ended) return detail::complete_false(std::move(handler));
          port->read_op.set(std::move(handler));
          port->start_read(&message);
        },
        asio::use_awaitable);
  }

 private:
  detail::read_port<Request>* port_;
};

/// Writes messages to the client in a server-streaming or bidi handler.
template <class Response>
class server_writer {
 public:
  explicit server_writer(detail::write_port<Response>& port) noexcept : port_(&port) {}

  /// Sends `message`. Completes once gRPC is done with it (OnWriteDone), so the caller may
  /// reuse or destroy it afterwards and at most one message is buffered per stream: memory
  /// stays bounded however fast the handler produces. False means the call is over.
  asio::awaitable<bool> write(const Response& message) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
        [port = port_, &message](auto handler) {
          if (port->write_failed) return detail::complete_false(std::move(handler));
          port->write_op.set(std::move(handler));
          port->start_write(&message);
        },
        asio::use_awaitable);
  }

 private:
  detail::write_port<Response>* port_;
};

/// Both halves of a bidi call.
template <class Request, class Response>
class server_stream : public server_reader<Request>, public server_writer<Response> {
 public:
  server_stream(detail::read_port<Request>& in, detail::write_port<Response>& out) noexcept
      : server_reader<Request>(in), server_writer<Response>(out) {}
};

}  // namespace coronet::rpc
