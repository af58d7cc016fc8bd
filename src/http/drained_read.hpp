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
#include <type_traits>
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

/// A fixed buffer, for reads into memory the caller already holds.
struct fixed_buffer {
  asio::mutable_buffer buf;
  asio::mutable_buffer acquire() const noexcept { return buf; }
  void release() const noexcept {}
};

// Source: acquire() returns the buffer to read into, called only when the socket is about to
// be read (so an idle connection holds none); release() is called after a read that found
// nothing. Both run on the io_context's thread.
template <class Handler, class Source>
class read_op : public asio::detail::reactor_op {
 public:
  read_op(int fd, Source src, Handler&& h)
      : reactor_op(std::error_code(), &perform, &complete), fd_(fd), src_(std::move(src)), handler_(std::move(h)) {}

  using allocator = asio::recycling_allocator<read_op>;

  [[nodiscard]] bool empty() const noexcept { return src_.acquire().size() == 0; }

 private:
  static status perform(reactor_op* base) {
    auto* o = static_cast<read_op*>(base);
    const auto buf = o->src_.acquire();
    if (buf.size() == 0) return done;  // as Asio's own read: complete at once, 0 bytes
    for (;;) {
      const auto n = ::recv(o->fd_, buf.data(), buf.size(), 0);
      if (n > 0) {
        o->bytes_transferred_ = static_cast<std::size_t>(n);
        return o->bytes_transferred_ < buf.size() ? done_and_exhausted : done;
      }
      if (n == 0) {
        o->ec_ = asio::error::eof;
        return done_and_exhausted;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        o->src_.release();
        return not_done;
      }
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
  Source src_;
  Handler handler_;
};

}  // namespace drained

/// async_read_some on a non-blocking socket of `r`'s io_context into the buffer `src` gives
/// when the socket is read (see drained::read_op), leaving the socket marked drained after a
/// short read. Completes on that io_context's thread, which must be the caller's.
template <class Source, class Token>
auto async_read_drained(reactor& r, asio::ip::tcp::socket& s, Source src, Token&& token) {
  return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
      [&r, &s](auto handler, Source src) {
        using op = drained::read_op<decltype(handler), Source>;
        auto& impl = drained::socket_internals::of(s);
        typename op::allocator a;
        auto* o = new (a.allocate(1)) op(impl.socket_, std::move(src), std::move(handler));
        namespace ops = asio::detail::socket_ops;
        // An empty buffer completes at once, as Asio's own read does; so does a socket that
        // cannot be made non-blocking (the read would block the io_context).
        bool empty = false;
        if constexpr (std::is_same_v<Source, drained::fixed_buffer>) empty = o->empty();
        if (empty || (!(impl.state_ & ops::non_blocking) &&
                      !ops::set_internal_non_blocking(impl.socket_, impl.state_, true, o->ec_))) {
          r.post_immediate_completion(o, false);
          return;
        }
        r.start_op(reactor::read_op, impl.socket_, impl.reactor_data_, o, false, true);
      },
      token, std::move(src));
}

/// The same, into a buffer the caller holds.
template <class Token>
auto async_read_drained(reactor& r, asio::ip::tcp::socket& s, asio::mutable_buffer buf, Token&& token) {
  return async_read_drained(r, s, drained::fixed_buffer{buf}, std::forward<Token>(token));
}

#else

struct reactor {};
inline reactor& reactor_of(asio::io_context&) {
  static reactor none;
  return none;
}

namespace drained {

struct fixed_buffer {
  asio::mutable_buffer buf;
  asio::mutable_buffer acquire() const noexcept { return buf; }
  void release() const noexcept {}
};

// Waits for readability, then reads into what src gives; waits again if the read finds nothing.
template <class Source, class Handler>
struct wait_then_read {
  asio::ip::tcp::socket& s;
  Source src;
  Handler handler;
  void operator()(std::error_code ec) {
    if (ec) return std::move(handler)(ec, std::size_t{0});
    const auto n = s.read_some(src.acquire(), ec);
    if (ec == asio::error::would_block) {
      src.release();
      auto& sock = s;
      return sock.async_wait(asio::ip::tcp::socket::wait_read, std::move(*this));
    }
    std::move(handler)(ec, n);
  }
};

}  // namespace drained

template <class Source, class Token>
auto async_read_drained(reactor&, asio::ip::tcp::socket& s, Source src, Token&& token) {
  return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
      [&s](auto handler, Source src) {
        using op = drained::wait_then_read<Source, decltype(handler)>;
        s.async_wait(asio::ip::tcp::socket::wait_read, op{s, std::move(src), std::move(handler)});
      },
      token, std::move(src));
}

template <class Token>
auto async_read_drained(reactor&, asio::ip::tcp::socket& s, asio::mutable_buffer buf, Token&& token) {
  return s.async_read_some(buf, std::forward<Token>(token));
}

#endif

}  // namespace coronet::http::detail
