#include <coronet/listener.hpp>

#include "acceptor_set.hpp"

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <utility>
#include <vector>

namespace coronet {

namespace {

using asio::ip::tcp;
using coronet::detail::use_nothrow;

constexpr std::string_view h2_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr std::size_t frame_header_size = 9;
constexpr unsigned char settings_frame = 0x4;
constexpr unsigned char ack_flag = 0x1;

// What a refused HTTP/2 connection is told: the server's preface (an empty SETTINGS frame),
// then GOAWAY with last stream 0, ENHANCE_YOUR_CALM (0xb) and a reason, so a gRPC client
// reports "too many connections" instead of a bare reset.
constexpr std::string_view refusal_reason = "too many connections";
constexpr auto refusal = [] {
  std::array<char, 9 + 9 + 8 + refusal_reason.size()> bytes{};
  std::size_t i = 0;
  const auto frame_header = [&](std::size_t length, unsigned char type) {
    bytes[i++] = static_cast<char>(length >> 16);
    bytes[i++] = static_cast<char>(length >> 8);
    bytes[i++] = static_cast<char>(length);
    bytes[i++] = static_cast<char>(type);
    i += 5;  // flags 0, stream 0
  };
  frame_header(0, settings_frame);
  frame_header(8 + refusal_reason.size(), 0x7);  // GOAWAY
  i += 4;                                         // last stream id 0
  bytes[i + 3] = 0xb;                             // ENHANCE_YOUR_CALM
  i += 4;
  for (char c : refusal_reason) bytes[i++] = c;
  return bytes;
}();

// The HTTP/2 connections one context handed over. Touched only on that context's thread.
struct handed_over {
  // Descriptor and socket inode: a descriptor number reused by another socket after gRPC
  // closed ours has another inode.
  std::vector<std::pair<int, ino_t>> open;
  // The running sweep's timer, to cancel it. The timer lives in the sweep's coroutine frame,
  // on this context: the state is shared by every context and may outlive some of them.
  asio::steady_timer* sweep_timer = nullptr;
  bool sweeping = false;  // a sweep is spawned (its frame may not have started yet)
  bool closed = false;
};

ino_t inode_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

}  // namespace

struct detail::listener_state {
  listener_state(runtime& rt, http::server& h, listener_options o)
      : http(h), options(o), handed(rt.size()) {}
  http::server& http;
  listener_options options;
  listener::socket_handler http2;
  acceptor_set acceptors;
  std::vector<handed_over> handed;  // one per context
  std::atomic<std::size_t> http2_open{0};
  std::atomic<std::size_t> sniffing{0};  // connections accepted, their protocol not yet known
};

namespace {

using state_ptr = std::shared_ptr<detail::listener_state>;

// Forgets the handed-over connections of context `index` whose descriptor is closed (or now
// another socket). On that context's thread.
void prune(detail::listener_state& s, std::size_t index) {
  auto& h = s.handed[index];
  const auto before = h.open.size();
  std::erase_if(h.open, [](const auto& e) { return inode_of(e.first) != e.second; });
  s.http2_open.fetch_sub(before - h.open.size(), std::memory_order_relaxed);
}

// Once a second, forgets the handed-over connections whose descriptor is closed (or now
// another socket). Runs while its context has some and the listener is open; holds the state
// only while it works, so that the state goes with the listener.
asio::awaitable<void> sweep(std::weak_ptr<detail::listener_state> weak, std::size_t index) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  // Unregisters the timer however the frame ends, at shutdown too.
  struct registration {
    std::weak_ptr<detail::listener_state> weak;
    std::size_t index;
    ~registration() {
      if (const auto s = weak.lock()) {
        s->handed[index].sweep_timer = nullptr;
        s->handed[index].sweeping = false;
      }
    }
  } registered{weak, index};
  if (const auto s = weak.lock()) s->handed[index].sweep_timer = &timer;
  for (;;) {
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(use_nothrow);
    const auto s = weak.lock();
    if (!s) co_return;
    auto& h = s->handed[index];
    if (h.closed) co_return;
    prune(*s, index);
    if (h.open.empty()) co_return;
  }
}

void track(const state_ptr& s, std::size_t index, const asio::any_io_executor& ex, int fd) {
  auto& h = s->handed[index];
  h.open.emplace_back(fd, inode_of(fd));
  s->http2_open.fetch_add(1, std::memory_order_relaxed);
  if (h.sweeping || h.closed) return;
  h.sweeping = true;
  asio::co_spawn(ex, sweep(s, index), asio::detached);
}

// Tells a connection over the limit why it goes, then gives its bytes a second to arrive
// and be read, so that closing does not reset the connection before the client reads the
// GOAWAY.
asio::awaitable<void> refuse(tcp::socket socket) {
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(refusal), use_nothrow);
  if (ec) co_return;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  asio::steady_timer timer(socket.get_executor(), std::chrono::seconds(1));
  timer.async_wait([&socket](const std::error_code& e) {
    std::error_code ignored;
    if (!e) socket.cancel(ignored);
  });
  std::array<char, 4096> sink;
  for (;;) {
    auto [rec, got] = co_await socket.async_read_some(asio::buffer(sink), use_nothrow);
    if (rec) break;
  }
  timer.cancel();
}

// What a connection's first bytes say.
enum class protocol { undecided, http1, http2, invalid };

protocol classify(std::string_view seen) {
  const auto preface_part = seen.substr(0, h2_preface.size());
  if (preface_part != h2_preface.substr(0, preface_part.size())) return protocol::http1;
  if (seen.size() < h2_preface.size() + frame_header_size) return protocol::undecided;
  // RFC 9113 section 3.4: the preface is followed by a SETTINGS frame (not an ACK) on
  // stream 0 whose length is a multiple of 6.
  const auto* f = reinterpret_cast<const unsigned char*>(seen.data() + h2_preface.size());
  const std::size_t length = (std::size_t{f[0]} << 16) | (std::size_t{f[1]} << 8) | f[2];
  const bool stream0 = (f[5] & 0x7f) == 0 && f[6] == 0 && f[7] == 0 && f[8] == 0;
  if (f[3] != settings_frame || (f[4] & ack_flag) || !stream0 || length % 6 != 0) {
    return protocol::invalid;
  }
  return protocol::http2;
}

// Whether the peer has shut down its sending side, or the connection has failed.
bool peer_closed(tcp::socket& socket) {
  pollfd p{socket.native_handle(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

// Peeks (MSG_PEEK: nothing is consumed) until the bytes either match the HTTP/2 preface and
// a SETTINGS frame header or differ from the preface; usually one peek, since "GET " or
// "POST" differ at once and clients send the preface and SETTINGS together.
asio::awaitable<void> sniff(state_ptr s, std::size_t index, tcp::socket socket) {
  struct counted {
    std::atomic<std::size_t>& n;
    ~counted() { n.fetch_sub(1, std::memory_order_acq_rel); }
  } count{s->sniffing};  // incremented by the accept handler
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex, s->options.sniff_timeout);
  bool expired = false;
  timer.async_wait([&](const std::error_code& ec) {
    if (ec) return;
    expired = true;
    std::error_code ignored;
    socket.cancel(ignored);
  });
  std::array<char, h2_preface.size() + frame_header_size> head{};
  protocol seen = protocol::undecided;
  std::size_t peeked = 0;
  bool watermark_raised = false;
  for (;;) {
    auto [ec, n] = co_await socket.async_receive(asio::buffer(head), tcp::socket::message_peek, use_nothrow);
    if (ec || expired || n == 0) {
      timer.cancel();
      co_return;  // closed, reset or too slow before saying anything useful
    }
    if (n > peeked) {
      peeked = n;
      seen = classify(std::string_view(head.data(), n));
      if (seen != protocol::undecided) break;
      // A prefix of what decides: wait for more bytes. A readiness wait reports the bytes
      // already queued at once (each wait re-arms the socket's epoll registration), so a
      // receive low watermark of one byte more makes the socket readable only when a new
      // byte comes (or at FIN or an error). Without it this loop would spin until
      // sniff_timeout.
      std::error_code lec;
      socket.set_option(asio::socket_base::receive_low_watermark(static_cast<int>(n + 1)), lec);
      if (lec) {
        timer.cancel();
        co_return;
      }
      watermark_raised = true;
    } else if (peer_closed(socket)) {
      // Nothing new and nothing more to come: a FIN (or an error) part way. Otherwise the
      // wake-up was the readiness reported before the watermark was raised.
      timer.cancel();
      co_return;
    }
    auto [wec] = co_await socket.async_wait(tcp::socket::wait_read, use_nothrow);
    if (wec || expired) {
      timer.cancel();
      co_return;
    }
  }
  if (watermark_raised) {
    std::error_code ignored;  // the default, for the server that takes the socket over
    socket.set_option(asio::socket_base::receive_low_watermark(1), ignored);
  }
  timer.cancel();
  switch (seen) {
    case protocol::http1:
      s->http.adopt(std::move(socket));
      co_return;
    case protocol::http2:
      break;
    default:
      co_return;  // not HTTP/2 after all: closed here
  }
  if (!s->http2) co_return;  // without a handler the socket closes here
  if (s->http2_open.load(std::memory_order_relaxed) >= s->options.max_http2_connections) {
    co_await refuse(std::move(socket));
    co_return;
  }
  track(s, index, ex, socket.native_handle());
  s->http2(std::move(socket));
}

// Polls `done` every few milliseconds until it holds or `limit` has passed.
template <typename Predicate>
asio::awaitable<void> wait_for(Predicate done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  asio::steady_timer tick(co_await asio::this_coro::executor);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    tick.expires_after(std::chrono::milliseconds(10));
    co_await tick.async_wait(use_nothrow);
  }
}

// The first stop stage: the port takes its queue and closes; the connections still telling
// their protocol are handed over before the servers start to drain (a connection adopted by
// a server that has finished draining would be cut). A client that sends nothing is waited
// for at most a second, not sniff_timeout: it has no request to lose.
asio::awaitable<void> stop_accepting(state_ptr s) {
  co_await s->acceptors.close_drained();
  co_await wait_for([&] { return s->sniffing.load(std::memory_order_acquire) == 0; },
                    std::min<std::chrono::milliseconds>(s->options.sniff_timeout, std::chrono::seconds(1)));
}

// The lame-duck stage: HTTP/2 connections keep being served until their clients close them
// or http2_drain_grace passes.
asio::awaitable<void> await_http2_closed(state_ptr s, runtime& rt) {
  const auto grace = s->options.http2_drain_grace;
  if (grace.count() <= 0) co_return;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  asio::steady_timer tick(co_await asio::this_coro::executor);
  for (;;) {
    for (std::size_t i = 0; i < s->handed.size(); ++i) {
      co_await asio::co_spawn(rt.context(i), [&s, i]() -> asio::awaitable<void> {
        prune(*s, i);
        co_return;
      }, asio::use_awaitable);
    }
    if (s->http2_open.load(std::memory_order_relaxed) == 0 || std::chrono::steady_clock::now() >= deadline) {
      co_return;
    }
    tick.expires_after(std::chrono::milliseconds(20));
    co_await tick.async_wait(use_nothrow);
  }
}

}  // namespace

listener::listener(runtime& rt, http::server& http, listener_options options)
    : runtime_(rt), state_(std::make_shared<detail::listener_state>(rt, http, options)) {
  stop_hook_ = rt.add_stop_hooks({
      {stop_stage::stop_accepting, [s = state_] { return stop_accepting(s); }},
      {stop_stage::lame_duck,
       [this]() -> asio::awaitable<void> {
         co_await await_http2_closed(state_, runtime_);
         close();  // ends the sweeps
       }},
  });
}

listener::~listener() {
  runtime_.remove_stop_hook(stop_hook_);
  close();
}

void listener::on_http2(socket_handler handler) { state_->http2 = std::move(handler); }

void listener::listen(std::string_view host, std::uint16_t port) {
  // The accept loops must not keep the state alive: it owns them.
  state_->acceptors.listen(runtime_, host, port, state_->options.backlog,
                           [weak = std::weak_ptr(state_)](std::size_t index, tcp::socket socket) {
                             const auto s = weak.lock();
                             if (!s) return;
                             std::error_code ignored;
                             socket.set_option(tcp::no_delay(true), ignored);
                             s->sniffing.fetch_add(1, std::memory_order_acq_rel);
                             const auto ex = socket.get_executor();
                             asio::co_spawn(ex, sniff(s, index, std::move(socket)), asio::detached);
                           });
}

std::uint16_t listener::port() const noexcept { return state_->acceptors.port(); }

std::size_t listener::http2_connections() const noexcept {
  return state_->http2_open.load(std::memory_order_relaxed);
}

void listener::close() {
  state_->acceptors.close();
  // The sweeps end too: nothing new is handed over, and a pending timer would keep its
  // context running.
  for (std::size_t i = 0; i < state_->handed.size(); ++i) {
    asio::post(runtime_.context(i), [weak = std::weak_ptr(state_), i] {
      const auto s = weak.lock();
      if (!s) return;
      auto& h = s->handed[i];
      h.closed = true;
      if (h.sweep_timer) h.sweep_timer->cancel();
    });
  }
}

}  // namespace coronet
