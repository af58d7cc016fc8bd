// A socket read that tells the reactor when it drained the socket, so the next read waits for
// readiness instead of trying the socket first.
//
// Asio 1.22's reactor starts every read with a "speculative" recv unless the descriptor's
// last read reported the socket exhausted, and its own read operation reports that only at end
// of stream. A keep-alive connection's next request has almost never arrived when its read
// starts (the client is still reading the answer), so for nearly every request that recv fails
// with EAGAIN: one system call in three of a keep-alive request. This operation reports
// "exhausted" when recv returned fewer bytes than it asked for (the kernel had no more) and the
// reactor then queues the next read until epoll reports the socket readable. That is safe with
// Asio's edge-triggered registration: any byte that arrives after the short recv raises a new
// event, and the reactor sets the descriptor back to "try first" on every event. nginx decides
// the same way (a short read clears its `ready` flag).
//
// The operation relies on the reactor internals of Asio 1.22 (Debian 12's, which meson finds
// first). With any other Asio, such as the subproject wrap's, or with CORONET_NO_DRAINED_READ
// defined, the server reads with plain async_read_some.
#pragma once

#include <coronet/detail/asio.hpp>

#include <asio/ip/tcp.hpp>
#include <asio/version.hpp>

#include <cerrno>
#include <cstddef>
#include <system_error>
#include <utility>

#if !defined(CORONET_NO_DRAINED_READ) && !defined(ASIO_HAS_IOCP) && \
    !defined(ASIO_HAS_IO_URING_AS_DEFAULT) && defined(ASIO_HAS_EPOLL) && ASIO_VERSION >= 102200 && \
    ASIO_VERSION < 102300
#define CORONET_DRAINED_READ 1
#include <asio/detail/reactor.hpp>
#include <asio/detail/reactor_op.hpp>
#include <asio/recycling_allocator.hpp>

#include <sys/socket.h>
#else
#define CORONET_DRAINED_READ 0
#endif

namespace coronet::http::detail {

#if CORONET_DRAINED_READ

using reactor = asio::detail::reactor;

/// The reactor of an io_context; look it up once (use_service takes a lock).
inline reactor& reactor_of(asio::io_context& ctx) { return asio::use_service<reactor>(ctx); }

namespace drained {

// The socket's descriptor and reactor registration, which basic_socket keeps protected.
class socket_internals : asio::ip::tcp::socket {
 public:
  static auto& of(asio::ip::tcp::socket& s) {
    return (s.*(&socket_internals::impl_)).get_implementation();
  }
};

template <class Handler>
class read_op : public asio::detail::reactor_op {
 public:
  read_op(int fd, asio::mutable_buffer buf, Handler&& h)
      : reactor_op(std::error_code(), &perform, &complete), fd_(fd), buf_(buf), handler_(std::move(h)) {}

  using allocator = asio::recycling_allocator<read_op>;

 private:
  static status perform(reactor_op* base) {
    auto* o = static_cast<read_op*>(base);
    for (;;) {
      const auto n = ::recv(o->fd_, o->buf_.data(), o->buf_.size(), 0);
      if (n > 0) {
        o->bytes_transferred_ = static_cast<std::size_t>(n);
        return o->bytes_transferred_ < o->buf_.size() ? done_and_exhausted : done;
      }
      if (n == 0) {
        o->ec_ = asio::error::eof;
        return done_and_exhausted;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
      o->ec_ = std::error_code(errno, asio::error::get_system_category());
      return done;
    }
  }

  // owner is null when the io_context is destroyed with the read still queued: free, no call.
  static void complete(void* owner, asio::detail::operation* base, const std::error_code&,
                       std::size_t) {
    auto* o = static_cast<read_op*>(base);
    Handler h = std::move(o->handler_);
    const auto ec = o->ec_;
    const auto n = o->bytes_transferred_;
    allocator a;
    o->~read_op();
    a.deallocate(o, 1);
    // The reactor runs on the socket's io_context thread, which is the awaiting coroutine's.
    if (owner) std::move(h)(ec, n);
  }

  int fd_;
  asio::mutable_buffer buf_;
  Handler handler_;
};

}  // namespace drained

/// async_read_some on a non-blocking socket of `r`'s io_context, leaving the socket marked
/// drained after a short read. The awaiting coroutine must run on that io_context.
template <class Token>
auto async_read_drained(reactor& r, asio::ip::tcp::socket& s, asio::mutable_buffer buf, Token&& token) {
  return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
      [&r, &s, buf](auto handler) {
        using op = drained::read_op<decltype(handler)>;
        auto& impl = drained::socket_internals::of(s);
        typename op::allocator a;
        auto* o = new (a.allocate(1)) op(impl.socket_, buf, std::move(handler));
        namespace ops = asio::detail::socket_ops;
        // An empty buffer completes at once, as Asio's own read does; so does a socket that
        // cannot be made non-blocking (the read would block the io_context).
        if (buf.size() == 0 || (!(impl.state_ & ops::non_blocking) &&
                                !ops::set_internal_non_blocking(impl.socket_, impl.state_, true, o->ec_))) {
          r.post_immediate_completion(o, false);
          return;
        }
        r.start_op(reactor::read_op, impl.socket_, impl.reactor_data_, o, false, true);
      },
      token);
}

#else

struct reactor {};
inline reactor& reactor_of(asio::io_context&) {
  static reactor none;
  return none;
}

template <class Token>
auto async_read_drained(reactor&, asio::ip::tcp::socket& s, asio::mutable_buffer buf, Token&& token) {
  return s.async_read_some(buf, std::forward<Token>(token));
}

#endif

}  // namespace coronet::http::detail
