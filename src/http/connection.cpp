// One HTTP/1.1 connection: a coroutine that reads, parses, dispatches and writes, on one
// io_context for its whole life.
//
// The loop, in short: read, let the parser cut requests out of the bytes, answer each in
// order, and when the input is drained write every queued answer with one gather write. A
// watchdog timer closes connections whose client is too slow; moving a deadline costs a
// store, not a timer call.
//
// Between requests a connection has no coroutine and no buffer: a reactor read waits for the
// next bytes with only the connection to come back to. When they come, the read borrows the
// worker's per-request state (exchange) to land them in, and one of the worker's parked
// "runner" coroutines serves them (a new one when none is parked), then parks again. An idle
// keep-alive connection is then the connection object, that read, its watchdog and the
// reactor's descriptor state: about 1 KiB, where its coroutine frames alone took 1.1 KiB.
#include "line_bytes.hpp"
#include "server_state.hpp"
#include "watchdog.hpp"

#include <coronet/http/body_writer.hpp>

#include <asio/write.hpp>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>

namespace coronet::http::detail {

namespace {

using asio::ip::tcp;
using coronet::detail::use_nothrow;

constexpr std::string_view continue_100 = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::size_t inline_body_max = 1024;
// The longest framing lines serialize() adds: Content-Length (or Transfer-Encoding), then
// Connection, then the empty line.
constexpr std::size_t framing_max = sizeof "Content-Length: 18446744073709551615\r\n" +
                                    sizeof "Connection: keep-alive\r\n" + sizeof "\r\n";

// "HTTP/1.1 200 OK\r\n" for every code coronet names, built once; empty for the others,
// which serialize() formats itself.
std::string_view status_line(unsigned code) {
  static const auto lines = [] {
    std::array<std::string, 600> t;
    for (unsigned c = 100; c < t.size(); ++c) {
      const auto reason = reason_phrase(c);
      if (reason == "Unknown") continue;
      t[c] = "HTTP/1.1 " + std::to_string(c) + ' ' + std::string(reason) + "\r\n";
    }
    return t;
  }();
  if (code < lines.size() && !lines[code].empty()) return lines[code];
  return {};
}

// Drops the first n bytes of a buffer sequence held in a vector.
void consume(std::vector<asio::const_buffer>& bufs, std::size_t n) {
  std::size_t i = 0;
  while (i < bufs.size() && n >= bufs[i].size()) n -= bufs[i++].size();
  bufs.erase(bufs.begin(), bufs.begin() + static_cast<std::ptrdiff_t>(i));
  if (!bufs.empty()) bufs.front() += n;
}

}  // namespace

class connection;
void serve_on_runner(worker& w, connection* c);
void end_idle_runners(worker& w);

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(std::shared_ptr<server_state> s, worker& w, tcp::socket socket)
      : state_(std::move(s)), worker_(w), socket_(std::move(socket)),
        watchdog_(worker_.ctx.get_executor(), *this) {}

  /// Starts serving: reads the first request, or serves `preread` at once.
  void start(std::string_view preread);

  /// Graceful shutdown: an idle connection closes now, a busy one after its current answer.
  void drain() {
    if (phase_ == phase::idle) {
      std::error_code ignored;
      socket_.cancel(ignored);
    }
  }
  void close_now() {
    std::error_code ignored;
    socket_.close(ignored);
  }
  /// The watchdog's deadline passed: whatever the connection awaits ends with an error.
  void on_deadline() {
    if (done_) return;
    timed_out_ = true;
    std::error_code ignored;
    socket_.cancel(ignored);
  }

 private:
  enum class phase { idle, head, body, handling, writing };
  class chunk_writer;

  // The read buffer of an idle connection: the exchange's, borrowed only when the socket has
  // bytes to read (and given back if it had none after all).
  struct idle_buffer {
    connection* c;
    asio::mutable_buffer acquire() {
      auto& e = c->ex();
      return asio::buffer(e.buffer.get() + e.end, exchange::buffer_size - e.end);
    }
    void release() {
      if (c->ex_ && c->ex_->end == 0) c->worker_.give_back(std::move(c->ex_));
    }
  };

  friend asio::awaitable<void> runner(worker& w, parked_runner& slot, connection* c);
  static asio::awaitable<void> run(std::shared_ptr<connection> self);
  /// Serves until the connection is idle (true) or must close (false).
  asio::awaitable<bool> serve();
  /// Between requests: waits for the next bytes with no coroutine; false if it must close.
  bool park();
  void wait_idle();
  void on_idle_read(std::error_code ec, std::size_t n);
  void finish();
  bool head_is_plain();
  asio::awaitable<bool> on_head();
  asio::awaitable<bool> on_message();
  /// The handler for req, or nullptr with the 404/405 answer in res.
  const handler* route(request& req, response& res);
  asio::awaitable<bool> stream(request& req, response& res, bool keep);
  asio::awaitable<bool> flush();
  asio::awaitable<std::error_code> write_now(std::vector<asio::const_buffer>& bufs);
  asio::awaitable<void> send_error(http::status s, std::string_view why);
  asio::awaitable<void> linger();
  void serialize(exchange::pending& out, const request& req, response& res, bool keep,
                 bool streamed);
  exchange& ex() {
    if (!ex_) ex_ = worker_.borrow(state_->limits());
    return *ex_;
  }
  void set_timeout(std::chrono::milliseconds t) { watchdog_.expires_after(t); }

  std::shared_ptr<server_state> state_;
  worker& worker_;
  tcp::socket socket_;
  watchdog<connection> watchdog_;
  std::unique_ptr<exchange> ex_;
  std::size_t requests_ = 0;
  phase phase_ = phase::idle;
  bool fresh_ = true;       // no request seen yet
  bool closing_ = false;    // the last answer is queued: flush, then close
  bool linger_ = false;     // input may still be arriving: drain it before closing
  bool timed_out_ = false;  // the watchdog fired
  bool done_ = false;
};

// A runner serves one connection until it is idle or closed, then parks until the next.
asio::awaitable<void> runner(worker& w, parked_runner& slot, connection* c) {
  while (c != nullptr) {
    {
      // The worker lives in the server's state; the connection may be its last owner.
      const auto keep = c->state_;
      co_await connection::run(c->shared_from_this());
      if (w.runners_closed || w.idle_runners.size() >= worker::max_idle_runners) {
        w.spare_runners.push_back(&slot);
        co_return;
      }
    }
    // Not the last owner: a server being destroyed has closed the runners (above) first.
    c = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(connection*)>(
        [&w, &slot](auto handler) {
          slot.park(std::move(handler));
          w.idle_runners.push_back(&slot);
        },
        asio::use_awaitable);
  }
}

void serve_on_runner(worker& w, connection* c) {
  if (!w.idle_runners.empty()) {
    auto* r = w.idle_runners.back();
    w.idle_runners.pop_back();
    r->resume(c);
    return;
  }
  parked_runner* slot;
  if (w.spare_runners.empty()) {
    slot = w.runners.emplace_back(std::make_unique<parked_runner>()).get();
  } else {
    slot = w.spare_runners.back();
    w.spare_runners.pop_back();
  }
  // runner() catches nothing but returns its slot itself: the worker may be gone by the end.
  asio::co_spawn(w.ctx, runner(w, *slot, c), asio::detached);
}

void end_idle_runners(worker& w) {
  w.runners_closed = true;
  auto idle = std::move(w.idle_runners);
  w.idle_runners.clear();
  for (auto* r : idle) r->resume(nullptr);
}

void connection::start(std::string_view preread) {
  worker_.connections.insert(this);
  std::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(tcp::no_delay(true), ec);
  // A new connection must deliver its first request head in time, like any other.
  set_timeout(state_->options.read_header_timeout);
  if (preread.empty()) {
    wait_idle();
    return;
  }
  auto& e = ex();
  const auto n = std::min(preread.size(), exchange::buffer_size);
  std::copy_n(preread.data(), n, e.buffer.get());
  e.end = n;
  phase_ = phase::head;
  fresh_ = false;
  serve_on_runner(worker_, this);
}

asio::awaitable<void> connection::run(std::shared_ptr<connection> self) {
  auto& c = *self;
  bool idle = false;
  try {
    idle = co_await c.serve();
    if (!idle && c.linger_ && !c.timed_out_) co_await c.linger();
  } catch (...) {
    // Nothing a connection does should throw; if it does, this connection alone ends.
  }
  if (!idle || !c.park()) c.finish();
}

bool connection::park() {
  if (state_->draining.load(std::memory_order_relaxed)) return false;
  phase_ = phase::idle;
  set_timeout(fresh_ ? state_->options.read_header_timeout : state_->options.idle_timeout);
  wait_idle();
  return true;
}

// A read rather than async_wait: Asio 1.22 re-arms epoll (one epoll_ctl) for every wait, but
// not for a read; and a read that drained the socket lets the next one wait for readiness
// without trying recv first (drained_read.hpp).
void connection::wait_idle() {
  async_read_drained(worker_.io_reactor, socket_, idle_buffer{this},
                     [self = shared_from_this()](std::error_code ec, std::size_t n) {
                       self->on_idle_read(ec, n);
                     });
}

void connection::on_idle_read(std::error_code ec, std::size_t n) {
  // A timeout, the peer closing or resetting, shutdown: an idle connection closes silently.
  if (timed_out_ || (ec && ec != asio::error::would_block)) {
    finish();
    return;
  }
  if (n == 0) {
    wait_idle();
    return;
  }
  ex_->end += n;
  phase_ = phase::head;
  fresh_ = false;
  set_timeout(state_->options.read_header_timeout);
  serve_on_runner(worker_, this);
}

void connection::finish() {
  done_ = true;
  watchdog_.cancel();
  worker_.connections.erase(this);
  if (ex_) worker_.give_back(std::move(ex_));
  std::error_code ec;
  socket_.close(ec);
  state_->live.fetch_sub(1, std::memory_order_acq_rel);
}

asio::awaitable<bool> connection::serve() {
  const auto& opt = state_->options;
  for (;;) {
    if (!ex_ || ex_->buffered() == 0) {
      if (!co_await flush()) co_return false;
      if (closing_) co_return false;
      if (ex_ && ex_->parser.idle()) worker_.give_back(std::move(ex_));
      if (!ex_) co_return true;  // between requests: park() waits without this coroutine
      // A request in pieces: read the rest into the buffer that holds its beginning. (After
      // a pipelined answer, the next head's deadline runs from its first byte.)
      if (phase_ != phase::head && phase_ != phase::body) {
        phase_ = phase::head;
        set_timeout(opt.read_header_timeout);
      }
      auto [ec, n] = co_await async_read_drained(
          worker_.io_reactor, socket_,
          asio::buffer(ex_->buffer.get() + ex_->end, exchange::buffer_size - ex_->end), use_nothrow);
      if (timed_out_ || (ec && ec != asio::error::would_block)) {
        if (timed_out_) co_await send_error(http::status::request_timeout, "request timeout");
        co_return false;  // also: the peer closed or reset, there is no one to answer
      }
      ex_->end += n;
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
      case request_parser::event::head_done:
        // Most heads need nothing more; only those that do pay for a coroutine call.
        if (!head_is_plain() && !co_await on_head()) co_return false;
        break;
      case request_parser::event::message_done:
        if (!co_await on_message()) {
          if (ex_ && ex_->buffered() > 0) linger_ = true;  // pipelined input we will not read
          co_await flush();
          co_return false;
        }
        break;
    }
  }
}

// A head with a body to read (a bodiless request goes straight to message_done).
bool connection::head_is_plain() {
  auto& p = ex_->parser;
  const auto& opt = state_->options;
  phase_ = phase::body;
  set_timeout(opt.body_read_timeout);
  return (p.chunked() || p.content_length() <= opt.max_body_bytes) &&
         !p.message().headers.contains("expect");
}

asio::awaitable<bool> connection::on_head() {
  auto& p = ex_->parser;
  auto& req = p.message();
  const auto& opt = state_->options;
  if (!p.chunked() && p.content_length() > opt.max_body_bytes) {
    co_await send_error(http::status::payload_too_large, "request body too large");
    co_return false;
  }
  if (const auto expect = req.headers.get("expect")) {
    if (!iequals(*expect, "100-continue")) {
      co_await send_error(http::status::expectation_failed, "unsupported expectation");
      co_return false;
    }
    if (req.version >= 11 && p.has_body()) {
      // 100 only when a handler will read the body; otherwise the final answer right away.
      response res;
      if (!route(req, res)) {
        closing_ = true;
        linger_ = true;
        serialize(ex_->next_out(), req, res, false, false);
        co_await flush();
        co_return false;
      }
      // Earlier pipelined answers go first, then the interim one.
      auto& out = ex_->next_out();
      out.head.assign(continue_100);
      if (!co_await flush()) co_return false;
    }
  }
  co_return true;
}

asio::awaitable<bool> connection::on_message() {
  auto& p = ex_->parser;
  auto& req = p.message();
  const auto& opt = state_->options;
  phase_ = phase::handling;
  watchdog_.disarm();
  ++requests_;
  // A request with a body had its expectation checked after its head; this covers the rest.
  if (const auto expect = req.headers.get("expect"); expect && !iequals(*expect, "100-continue")) {
    co_await send_error(http::status::expectation_failed, "unsupported expectation");
    co_return false;
  }
  bool keep = p.keep_alive() && !state_->draining.load(std::memory_order_relaxed) &&
              (opt.max_requests_per_connection == 0 || requests_ < opt.max_requests_per_connection);

  response res;
  if (const auto* h = route(req, res)) {
    try {
      res = co_await (*h)(req);
    } catch (...) {
      // A handler's failure is this request's 500; the connection stays healthy.
      res = response::text("Internal Server Error\n", http::status::internal_server_error);
    }
  }
  // Shutdown may have begun while the handler ran.
  if (state_->draining.load(std::memory_order_relaxed)) keep = false;
  if (const auto conn = res.headers.get("connection"); conn && iequals(*conn, "close")) keep = false;
  if (res.stream) {
    const bool more = co_await stream(req, res, keep);
    if (!more) closing_ = true;
    co_return more;
  }
  serialize(ex_->next_out(), req, res, keep, false);
  if (!keep) {
    closing_ = true;
    co_return false;  // serve() flushes, then closes
  }
  // A client that pipelines without reading must not grow our memory without bound.
  if (ex_->out_bytes > opt.max_pending_output_bytes) co_return co_await flush();
  co_return true;
}

const handler* connection::route(request& req, response& res) {
  const auto m = state_->routes.find(req.method, req.path(), req.params);
  switch (m.result) {
    case router::match::kind::found:
      return m.target;
    case router::match::kind::not_found:
      res = response::text("Not Found\n", http::status::not_found);
      break;
    case router::match::kind::method_not_allowed:
      res = response::text("Method Not Allowed\n", http::status::method_not_allowed);
      res.headers.set("Allow", m.allow);
      break;
  }
  return nullptr;
}

void connection::serialize(exchange::pending& out, const request& req, response& res, bool keep,
                           bool streamed) {
  const auto code = static_cast<unsigned>(res.status);
  const bool bodiless = code < 200 || code == 204 || code == 304;
  const bool with_body = !streamed && !bodiless && req.method != "HEAD";
  // A small body is cheaper to copy behind its head than to give its own iovec; a large one
  // is moved and gathered without a copy.
  const bool inline_body = with_body && res.body.size() <= inline_body_max;

  // First pass: refuse header fields that could split the response, and size the head.
  char unknown[32];
  auto line = status_line(code);
  if (line.empty()) {
    const auto n = std::snprintf(unknown, sizeof unknown, "HTTP/1.1 %u Unknown\r\n", code);
    line = {unknown, static_cast<std::size_t>(n)};
  }
  const auto preamble = worker_.preamble(state_->options.server_name);  // Server and Date
  std::size_t size = line.size() + preamble.size() + framing_max + (inline_body ? res.body.size() : 0);
  for (const auto& f : res.headers) {
    if (f.name.empty() || has_line_byte(f.name) || has_line_byte(f.value)) {
      // A CR or LF would let a header value split the response: refuse to send it.
      res = response::text("Internal Server Error\n", http::status::internal_server_error);
      serialize(out, req, res, keep, false);
      return;
    }
    size += f.name.size() + f.value.size() + 4;
  }

  // Second pass: write it, with one size change for the whole head instead of an append
  // (and its capacity check) per piece.
  auto& h = out.head;
  const auto start = h.size();
  h.resize(start + size);
  char* p = h.data() + start;
  const auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(line);
  put(preamble);
  for (const auto& f : res.headers) {
    if (iequals(f.name, "content-length") || iequals(f.name, "transfer-encoding") ||
        iequals(f.name, "connection")) {
      continue;  // framing is coronet's to decide
    }
    put(f.name);
    put(": ");
    put(f.value);
    put("\r\n");
  }
  if (streamed) {
    if (req.version >= 11) put("Transfer-Encoding: chunked\r\n");
  } else if (!bodiless) {
    put("Content-Length: ");
    p = std::to_chars(p, p + 20, res.body.size()).ptr;
    put("\r\n");
  }
  if (!keep) {
    put("Connection: close\r\n");
  } else if (req.version == 10) {
    put("Connection: keep-alive\r\n");
  }
  put("\r\n");
  if (inline_body) put(res.body);
  h.resize(static_cast<std::size_t>(p - h.data()));
  ex_->out_bytes += h.size() - start;
  if (with_body && !inline_body) {
    out.body = std::move(res.body);
    ex_->out_bytes += out.body.size();
  }
}

asio::awaitable<bool> connection::flush() {
  if (!ex_ || ex_->out_count == 0) co_return true;
  auto& gather = ex_->gather;
  gather.clear();
  for (std::size_t i = 0; i < ex_->out_count; ++i) {
    const auto& p = ex_->out[i];
    gather.emplace_back(p.head.data(), p.head.size());
    if (!p.body.empty()) gather.emplace_back(p.body.data(), p.body.size());
  }
  const auto ec = co_await write_now(gather);
  ex_->out_count = 0;
  ex_->out_bytes = 0;
  co_return !ec;
}

// Writes a buffer sequence: first one non-blocking writev (usually all of it, without
// suspending), then an async write for what the socket did not take, under write_timeout.
asio::awaitable<std::error_code> connection::write_now(std::vector<asio::const_buffer>& bufs) {
  std::size_t total = 0;
  for (const auto& b : bufs) total += b.size();
  std::error_code ec;
  // One buffer goes out with send(), cheaper than sendmsg() with a one-entry iovec.
  const auto n = bufs.size() == 1 ? socket_.write_some(bufs.front(), ec) : socket_.write_some(bufs, ec);
  if (ec && ec != asio::error::would_block) co_return ec;
  if (n == total) co_return std::error_code{};
  consume(bufs, n);
  const auto before = phase_;
  const auto deadline = watchdog_.deadline();
  phase_ = phase::writing;
  set_timeout(state_->options.write_timeout);
  auto [wec, written] = co_await asio::async_write(socket_, bufs, use_nothrow);
  (void)written;
  if (timed_out_) co_return asio::error::timed_out;
  phase_ = before;
  watchdog_.expires_at(deadline);
  co_return wec;
}

class connection::chunk_writer final : public body_writer {
 public:
  chunk_writer(connection& c, bool chunked) : c_(c), chunked_(chunked) {}
  asio::awaitable<std::error_code> write(std::string_view data) override {
    if (failed_) co_return failed_;
    if (data.empty()) co_return std::error_code{};
    char size_line[24];
    const int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
    std::vector<asio::const_buffer> bufs;
    if (chunked_) bufs.emplace_back(size_line, static_cast<std::size_t>(n));
    bufs.emplace_back(data.data(), data.size());
    if (chunked_) bufs.emplace_back("\r\n", 2);
    failed_ = co_await c_.write_now(bufs);
    c_.phase_ = phase::handling;
    c_.watchdog_.disarm();
    co_return failed_;
  }
  std::error_code failed_;

 private:
  connection& c_;
  bool chunked_;
};

asio::awaitable<bool> connection::stream(request& req, response& res, bool keep) {
  // HTTP/1.0 has no chunked coding: the body ends when the connection does.
  const bool chunked = req.version >= 11;
  if (!chunked) keep = false;
  serialize(ex_->next_out(), req, res, keep, true);
  if (!co_await flush()) co_return false;
  if (req.method == "HEAD") co_return keep;
  chunk_writer writer(*this, chunked);
  try {
    co_await res.stream(writer);
  } catch (...) {
    // The head is gone already: ending without the last chunk tells the client it failed.
    co_return false;
  }
  if (writer.failed_) co_return false;
  if (chunked) {
    std::vector<asio::const_buffer> last{asio::buffer("0\r\n\r\n", 5)};
    if (co_await write_now(last)) co_return false;
  }
  co_return keep;
}

asio::awaitable<void> connection::send_error(http::status s, std::string_view why) {
  closing_ = true;
  linger_ = true;
  auto& e = ex();
  request blank;  // answers to bad input are HTTP/1.1, close-delimited by `Connection: close`
  blank.method = "GET";
  auto res = response::text(std::string(why) + "\n", s);
  serialize(e.next_out(), blank, res, false, false);
  co_await flush();
}

// After an answer that ends the connection, the client may still be sending (a body we did
// not read). Closing with unread input makes the kernel send RST, which can destroy the
// answer before the client reads it; so half-close, then drain briefly (bounded in bytes and
// time) before closing.
asio::awaitable<void> connection::linger() {
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

void start_connection(std::shared_ptr<server_state> s, worker& w, tcp::socket socket,
                      std::string_view preread) {
  if (s->live.fetch_add(1, std::memory_order_acq_rel) >= s->options.max_connections) {
    s->live.fetch_sub(1, std::memory_order_acq_rel);
    // Over the limit: tell the client at once rather than let it wait in a backlog.
    static constexpr std::string_view busy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n"
        "Connection: close\r\n\r\nServer overloaded.\r\n";
    std::error_code ec;
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(busy), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    return;
  }
  std::make_shared<connection>(std::move(s), w, std::move(socket))->start(preread);
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
