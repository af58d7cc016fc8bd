// The reading half of a server connection and its life: wait for bytes with no coroutine,
// serve them on a runner, plan each request once when its head arrives, dispatch it, and
// close with a lingering half-close when the client may still be sending. See
// connection.hpp for the whole picture.
#include "connection.hpp"
#include "serializer.hpp"

#if CORONET_HAS_TLS
#include "tls/io.hpp"
#endif

#include <coronet/metrics.hpp>

#include <asio/post.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <tuple>
#include <utility>

namespace coronet::http::detail {

using asio::ip::tcp;
using coronet::detail::use_nothrow;
using coronet::detail::http_error;

// The read buffer of an idle connection: the exchange's, borrowed only when the socket has
// bytes to read (and given back if it had none after all).
struct connection::idle_buffer {
  connection* c;
  asio::mutable_buffer acquire() {
    auto& e = c->ex();
    return asio::buffer(e.buffer.get() + e.end, exchange::buffer_size - e.end);
  }
  void release() {
    if (c->ex_ && c->ex_->end == 0) c->worker_.give_back(std::move(c->ex_));
  }
};

#if CORONET_HAS_TLS
// The same for TLS: ciphertext lands in the session's input buffer.
struct connection::tls_idle_input {
  connection* c;
  asio::mutable_buffer acquire() { return c->tls_->session.input_space(); }
  void release() { c->tls_->session.release_buffers(); }
};
#endif

void connection::start(std::string_view preread) {
  worker_.connections.insert(this);
  std::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(tcp::no_delay(true), ec);
  remote_ = socket_.remote_endpoint(ec);
  // A new connection must deliver its first request head in time, like any other.
  set_timeout(state_->options.read_header_timeout);
  if (preread.empty()) {
    wait_idle(shared_from_this());
    return;
  }
  auto& e = ex();
  const auto n = std::min(preread.size(), exchange::buffer_size);
  std::copy_n(preread.data(), n, e.buffer.get());
  e.end = n;
  count_received(n);
  phase_ = phase::head;
  fresh_ = false;
  serve_on_runner(worker_, shared_from_this());
}

void connection::drain() {
  if (phase_ == phase::idle) {
    std::error_code ignored;
    socket_.cancel(ignored);
  }
}

void connection::close_now() {
  std::error_code ignored;
  socket_.close(ignored);
}

void connection::on_deadline() {
  if (done_) return;
  timed_out_ = true;
  std::error_code ignored;
  socket_.cancel(ignored);
}

// Between requests: waits for the next bytes with no coroutine; false if it must close.
bool connection::park(std::shared_ptr<connection>& self) {
  if (state_->draining.load(std::memory_order_relaxed)) return false;
  phase_ = phase::idle;
  set_timeout(fresh_ ? state_->options.read_header_timeout : state_->options.idle_timeout);
  wait_idle(std::move(self));
  return true;
}

// A read rather than async_wait: Asio 1.22 re-arms epoll (one epoll_ctl) for every wait, but
// not for a read; and a read that drained the socket lets the next one wait for readiness
// without trying recv first (drained_read.hpp).
void connection::wait_idle(std::shared_ptr<connection> self) {
#if CORONET_HAS_TLS
  // TLS: the same read without a coroutine, into the session's input buffer (taken only when
  // bytes are there); the runner decrypts. Unless the session already holds input (a record
  // that came with the previous one).
  if (tls_) {
    if (tls_->session.has_buffered_input()) {
      asio::post(worker_.ctx, [self = std::move(self)]() mutable {
        auto* c = self.get();
        c->on_readable(std::move(self), {}, 0);
      });
      return;
    }
    tls_->session.release_buffers();
    async_read_drained(worker_.io_reactor, socket_, tls_idle_input{this},
                       [self = std::move(self)](std::error_code ec, std::size_t n) mutable {
                         auto* c = self.get();
                         c->on_readable(std::move(self), ec, n);
                       });
    return;
  }
#endif
  async_read_drained(worker_.io_reactor, socket_, idle_buffer{this},
                     [self = std::move(self)](std::error_code ec, std::size_t n) mutable {
                       auto* c = self.get();
                       c->on_idle_read(std::move(self), ec, n);
                     });
}

void connection::on_idle_read(std::shared_ptr<connection> self, std::error_code ec, std::size_t n) {
  // A timeout, the peer closing or resetting, shutdown: an idle connection closes silently.
  if (timed_out_ || (ec && ec != asio::error::would_block)) {
    finish();
    return;
  }
  if (n == 0) {
    wait_idle(std::move(self));
    return;
  }
  ex_->end += n;
  count_received(n);
  phase_ = phase::head;
  fresh_ = false;
  set_timeout(state_->options.read_header_timeout);
  serve_on_runner(worker_, std::move(self));
}

void connection::on_readable(std::shared_ptr<connection> self, std::error_code ec, std::size_t n) {
  if (timed_out_ || (ec && ec != asio::error::would_block)) {
    finish();
    return;
  }
#if CORONET_HAS_TLS
  if (n > 0) tls_->session.commit_input(n);
  if (!tls_->session.has_buffered_input()) {
    wait_idle(std::move(self));
    return;
  }
#else
  (void)n;
#endif
  ex();
  readable_ = true;
  phase_ = phase::head;
  set_timeout(state_->options.read_header_timeout);
  serve_on_runner(worker_, std::move(self));
}

void connection::finish() {
  done_ = true;
  watchdog_.cancel();
  worker_.connections.erase(this);
  if (ex_) worker_.give_back(std::move(ex_));
#if CORONET_HAS_TLS
  // Graceful closes end with close_notify, so the client can tell them from truncation.
  if (tls_ && tls_->established && !timed_out_) tls::detail::send_close_notify(socket_, tls_->session);
#endif
  std::error_code ec;
  socket_.close(ec);
  state_->live.fetch_sub(1, std::memory_order_acq_rel);
  if (auto* m = worker_.metrics) coronet::detail::bump(m->closed);
}

// Serves until the connection is idle (true) or must close (false).
asio::awaitable<bool> connection::serve() {
  const auto& opt = state_->options;
#if CORONET_HAS_TLS
  if (tls_ && !tls_->established && !co_await establish()) co_return false;
#endif
  for (;;) {
    if (!ex_ || ex_->buffered() == 0) {
      // The answers so far, written without a coroutine when one write takes them (as it
      // does for nearly every keep-alive answer).
      if (const auto f = flush_now(); f == flushed::failed) {
        co_return false;
      } else if (f == flushed::pending) {
        const bool ok = co_await flush_rest();
        if (!ok) co_return false;
      }
      if (closing_) co_return false;
      if (ex_ && ex_->parser.idle() && !readable_) worker_.give_back(std::move(ex_));
      if (!ex_) co_return true;  // between requests: park() waits without this coroutine
      // A request in pieces: read the rest into the buffer that holds its beginning. (After
      // a pipelined answer, the next head's deadline runs from its first byte.)
      if (phase_ != phase::head && phase_ != phase::body) {
        phase_ = phase::head;
        set_timeout(opt.read_header_timeout);
      }
      // Plaintext reads the socket straight into the buffer (no coroutine frame of its own:
      // this is the body and split-head path); TLS decrypts into it.
      const auto into = asio::buffer(ex_->buffer.get() + ex_->end, exchange::buffer_size - ex_->end);
      std::error_code ec;
      std::size_t n = 0;
#if CORONET_HAS_TLS
      if (tls_) {
        std::tie(ec, n) = co_await tls::detail::read_some(socket_, tls_->session, into);
      } else
#endif
      {
        // Mid-request the socket is tried first. The read before may have been short with
        // the peer's FIN already taken from epoll (data and FIN arriving together): a read
        // that waited for readiness would then wait for the timeout, the connection left in
        // CLOSE-WAIT. Only a request in pieces pays for this recv.
        const auto got = into.size() == 0
                             ? -1
                             : ::recv(socket_.native_handle(), into.data(), into.size(), MSG_DONTWAIT);
        if (got > 0) {
          n = static_cast<std::size_t>(got);
        } else if (got == 0) {
          ec = asio::error::eof;
        } else if (into.size() != 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          ec = std::error_code(errno, asio::error::get_system_category());
        } else {
          std::tie(ec, n) = co_await async_read_drained(worker_.io_reactor, socket_, into, use_nothrow);
        }
      }
      readable_ = false;
      if (n > 0) fresh_ = false;
      if (timed_out_ || (ec && ec != asio::error::would_block)) {
        if (timed_out_) co_await send_error(http::status::request_timeout, "request timeout");
        co_return false;  // also: the peer closed or reset, there is no one to answer
      }
      ex_->end += n;
      count_received(n);
      if (phase_ == phase::body) set_timeout(opt.body_read_timeout);
      continue;
    }

    auto& e = *ex_;
    const auto r = e.parser.feed({e.buffer.get() + e.begin, e.buffered()});
    e.begin += r.consumed;
    if (e.begin == e.end) e.begin = e.end = 0;
    switch (r.ev) {
      case request_parser::event::need_more:
        break;
      case request_parser::event::error:
        co_await send_error(status_for(e.parser.error()), e.parser.error_reason());
        co_return false;
      case request_parser::event::head_done: {
        // A head that a body follows. Most need nothing more; only those that do pay for a
        // coroutine call.
        phase_ = phase::body;
        set_timeout(opt.body_read_timeout);
        const auto p = plan_request();
        if (p.what != plan::action::serve && !co_await on_planned(p)) co_return false;
        break;
      }
      case request_parser::event::message_done:
        if (!e.planned) {  // a bodiless request, planned now
          const auto p = plan_request();
          if (p.what != plan::action::serve && !co_await on_planned(p)) co_return false;
        }
        {
          // The request is answered in this frame, not in a coroutine of its own: one frame
          // fewer a request. Mind this frame's size: Asio recycles frames of up to 1,020
          // bytes (255 chunks of 4) and allocates larger ones with malloc, every activation.
          // It is 992 bytes with GCC 12 (-O3); at 1,105 (with a std::optional<response> for
          // the hooks' answer) every keep-alive request paid ~430 instructions in malloc.
          // tests/integration/http_alloc_test.cpp fails when a request allocates.
          auto& req = e.parser.message();
          bool keep = begin_message(req);
          response res;
          if (e.route == router::match::kind::found) {
            try {
              if (const auto* chain = e.chain) {
                // Hooks lead the route's chain: run here rather than in a frame of the
                // chain's own.
                bool early = false;  // a before hook answered
                const auto entered = chain->enter(req, res, early);
                if (!early) res = co_await chain->rest(req);
                chain->leave(req, res, entered);
              } else {
                res = co_await (*e.target)(req);
              }
            } catch (...) {
              // A handler's failure is this request's 500; the connection stays healthy.
              res = response::text("Internal Server Error\n", http::status::internal_server_error);
              count_error(http_error::handler_exception);
            }
          } else {
            res = unrouted_answer(req);
          }
          bool more = true;
          if (!answered(req, res, keep)) {
            more = co_await stream(req, res, keep);
            if (!more) closing_ = true;
          } else if (!keep) {
            closing_ = true;
            more = false;
          } else if (ex_->out_bytes > opt.max_pending_output_bytes) {
            // A client that pipelines without reading must not grow our memory without bound.
            more = co_await flush();
          }
          if (!more) {
            if (ex_ && ex_->buffered() > 0) linger_ = true;  // pipelined input we will not read
            co_await flush();
            co_return false;
          }
        }
        break;
    }
  }
}

// Plans the request whose head is complete, once: finds its handler, and checks its
// expectation and announced body size.
connection::plan connection::plan_request() {
  auto& e = *ex_;
  auto& p = e.parser;
  auto& req = p.message();
  const auto m = state_->routes.find(req.method, req.path(), req.params);
  e.target = m.target;
  e.chain = m.chain;
  e.route = m.result;
  e.planned = true;
  if (worker_.metrics) {
    e.pattern = m.pattern;
    e.route_index = m.route_index;
    e.started = e.read_at;
  }
  if (p.has_body() && !p.chunked() && p.content_length() > state_->options.max_body_bytes) {
    return {plan::action::refuse, http::status::payload_too_large, "request body too large"};
  }
  const auto expect = req.headers.get("expect");
  if (expect && !iequals(*expect, "100-continue")) {
    return {plan::action::refuse, http::status::expectation_failed, "unsupported expectation"};
  }
  plan ok;
  if (expect && req.version >= 11 && p.has_body()) ok.what = plan::action::expect_continue;
  return ok;
}

// Acts on a plan that is not plain serving; false when the connection must end.
asio::awaitable<bool> connection::on_planned(const plan& p) {
  if (p.what == plan::action::refuse) {
    co_await send_error(p.refusal, p.why);
    co_return false;
  }
  // Expect: 100-continue. 100 only when a handler will read the body; otherwise the final
  // answer right away, and the body is never read.
  auto& req = ex_->parser.message();
  if (ex_->route != router::match::kind::found) {
    closing_ = true;
    linger_ = true;
    auto res = unrouted_answer(req);
    queue(req, res, false, false);
    co_await flush();
    co_return false;
  }
  // Earlier pipelined answers go first, then the interim one.
  ex_->next_out().head.assign(continue_response);
  ex_->out_bytes += continue_response.size();
  co_return co_await flush();
}

response connection::unrouted_answer(request& req) {
  if (ex_->route == router::match::kind::not_found) {
    return response::text("Not Found\n", http::status::not_found);
  }
  // A 405 is rare: its Allow list is looked up again here rather than kept for every request.
  auto res = response::text("Method Not Allowed\n", http::status::method_not_allowed);
  res.headers.set("Allow", state_->routes.find(req.method, req.path(), req.params).allow);
  return res;
}

// A request is complete: what its answer needs before the handler runs. Returns whether
// the connection may stay open after it.
bool connection::begin_message(request& req) {
  const auto& opt = state_->options;
  phase_ = phase::handling;
  watchdog_.disarm();
  ++requests_;
  ex_->planned = false;
#if CORONET_HAS_TLS
  req.tls_peer = tls_ ? &tls_->session.peer() : nullptr;
#endif
  req.remote = remote_;
  return ex_->parser.keep_alive() && !state_->draining.load(std::memory_order_relaxed) &&
         (opt.max_requests_per_connection == 0 || requests_ < opt.max_requests_per_connection);
}

// The handler has answered: settles `keep`, and queues the answer unless it is streamed
// (false: serve() streams it).
bool connection::answered(const request& req, response& res, bool& keep) {
  // Shutdown may have begun while the handler ran.
  if (state_->draining.load(std::memory_order_relaxed)) keep = false;
  if (const auto conn = res.headers.get("connection"); conn && iequals(*conn, "close")) keep = false;
  if (res.stream) return false;
  queue(req, res, keep, false);
  return true;
}

// Answers input the server will not serve, then ends the connection.
asio::awaitable<void> connection::send_error(http::status s, std::string_view why) {
  if (worker_.metrics) {
    switch (s) {
      case http::status::request_header_fields_too_large: count_error(http_error::header_too_large); break;
      case http::status::payload_too_large: count_error(http_error::body_too_large); break;
      case http::status::expectation_failed: count_error(http_error::unsupported_expectation); break;
      case http::status::request_timeout:
        count_error(phase_ == phase::body ? http_error::body_timeout : http_error::header_timeout);
        break;
      default: count_error(http_error::bad_request); break;
    }
  }
  closing_ = true;
  linger_ = true;
  auto& e = ex();
  auto& out = e.next_out();
  write_error_response(out.head, s, worker_.preamble(state_->options.server_name), why);
  e.out_bytes += out.head.size();
  co_await flush();
}

// After an answer that ends the connection, the client may still be sending (a body we did
// not read). Closing with unread input makes the kernel send RST, which can destroy the
// answer before the client reads it; so half-close, then drain briefly (bounded in bytes and
// time) before closing.
asio::awaitable<void> connection::linger() {
#if CORONET_HAS_TLS
  if (tls_ && tls_->established) tls::detail::send_close_notify(socket_, tls_->session);
#endif
  std::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  set_timeout(std::chrono::seconds(2));
  phase_ = phase::writing;
  char sink[4096];
  std::size_t drained = 0;
  while (drained < 1024 * 1024 && !timed_out_) {
    auto [wec] = co_await socket_.async_wait(tcp::socket::wait_read, use_nothrow);
    if (wec || timed_out_) co_return;
    const auto n = socket_.read_some(asio::buffer(sink), ec);
    if (ec == asio::error::would_block) continue;
    if (ec) co_return;
    drained += n;
  }
}

asio::awaitable<bool> connection::establish() {
#if CORONET_HAS_TLS
  auto& t = tls_->session;
  std::error_code ec;
  if (t.unread_input().empty()) ec = co_await tls::detail::receive(socket_, t);
  // A TLS connection opens with a handshake record (22). Plain HTTP sent to this port is
  // told so in plain HTTP, as nginx does, instead of failing in the TLS parser.
  if (!ec && t.unread_input()[0] != 22) {
    const char c = t.unread_input()[0];
    if (c >= 'A' && c <= 'Z') {
      std::string answer;
      write_error_response(answer, http::status::bad_request, worker_.preamble(state_->options.server_name),
                           "plain HTTP request sent to HTTPS port");
      std::error_code ignored;
      socket_.write_some(asio::buffer(answer), ignored);
      linger_ = true;
    }
    ec = std::make_error_code(std::errc::protocol_error);
  }
  if (!ec) ec = co_await tls::detail::handshake(socket_, t);
  if (!ec) {
    tls_->established = true;
    co_return true;
  }
  count_error(timed_out_ ? http_error::header_timeout : http_error::tls_handshake);
  if (!timed_out_ && tls_->contexts->on_failure) {
    try {
      tls_->contexts->on_failure(ec, remote_.port() == 0 ? std::string()
                                                         : remote_.address().to_string() + ":" +
                                                               std::to_string(remote_.port()));
    } catch (...) {
    }
  }
#endif
  co_return false;
}

void start_connection(std::shared_ptr<server_state> s, worker& w, tcp::socket socket,
                      std::string_view preread, bool tls) {
  if (s->options.metrics && !w.metrics) {
    // This context's shard, kept by the worker: its counters have no other writer.
    w.metrics_owner = coronet::detail::metrics_access::state(*s->options.metrics);
    w.metrics_owner->http_used.store(true, std::memory_order_relaxed);
    w.metrics = &w.metrics_owner->acquire();
  }
  if (w.metrics) coronet::detail::bump(w.metrics->accepted);
  if (s->live.fetch_add(1, std::memory_order_acq_rel) >= s->options.max_connections) {
    s->live.fetch_sub(1, std::memory_order_acq_rel);
    if (w.metrics) coronet::detail::bump(w.metrics->refused);
    // Over the limit: tell the client at once rather than let it wait in a backlog.
    std::string busy;
    write_error_response(busy, http::status::service_unavailable,
                         w.preamble(s->options.server_name), "Server overloaded.");
    std::error_code ec;
    socket.non_blocking(true, ec);
    const auto sent = socket.write_some(asio::buffer(busy), ec);
    if (w.metrics) coronet::detail::bump(w.metrics->sent_bytes, sent);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    return;
  }
  std::unique_ptr<tls_link> link;
#if CORONET_HAS_TLS
  if (tls) {
    try {
      link = std::make_unique<tls_link>(s->tls->current());
    } catch (...) {
      s->live.fetch_sub(1, std::memory_order_acq_rel);
      if (w.metrics) coronet::detail::bump(w.metrics->closed);
      return;  // OpenSSL out of memory: this connection closes, the server goes on
    }
  }
#else
  (void)tls;
#endif
  std::make_shared<connection>(std::move(s), w, std::move(socket), std::move(link))->start(preread);
}

void drain_connections(worker& w) {
  // Parked runners are work the io_context waits for: end them, so it can run out of work.
  end_idle_runners(w);
  // drain() may close a connection, which erases it from the set: iterate over a copy.
  const std::vector<connection*> all(w.connections.begin(), w.connections.end());
  for (auto* c : all) c->drain();
}

void close_connections(worker& w) {
  end_idle_runners(w);
  const std::vector<connection*> all(w.connections.begin(), w.connections.end());
  for (auto* c : all) c->close_now();
}

}  // namespace coronet::http::detail
