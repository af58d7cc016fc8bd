// The writing half of a server connection: answers are serialized into the exchange's queue
// as they are made, and the queue goes out with one gather write once the input is drained
// (or a streamed answer, or the pending-output limit, needs it sooner).
#include "connection.hpp"
#include "serializer.hpp"

#if CORONET_HAS_TLS
#include "tls/io.hpp"
#endif

#include <coronet/http/body_writer.hpp>

#include <asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace coronet::http::detail {

namespace {

using coronet::detail::use_nothrow;

// A small body is cheaper to copy behind its head than to give its own iovec; a large one is
// moved and gathered without a copy.
constexpr std::size_t inline_body_max = 1024;

// Drops the first n bytes of a buffer sequence held in a vector.
void consume(std::vector<asio::const_buffer>& bufs, std::size_t n) {
  std::size_t i = 0;
  while (i < bufs.size() && n >= bufs[i].size()) n -= bufs[i++].size();
  bufs.erase(bufs.begin(), bufs.begin() + static_cast<std::ptrdiff_t>(i));
  if (!bufs.empty()) bufs.front() += n;
}

}  // namespace

bool connection::queue(const request& req, response& res, bool keep, bool streamed) {
  using body_kind = framing::body_kind;
  const auto code = static_cast<unsigned>(res.status);
  framing f{.keep_alive = keep, .http10 = req.version == 10};
  if (code < 200 || code == 204 || code == 304) {
    f.body = body_kind::none;
  } else if (streamed) {
    // HTTP/1.0 has no chunked coding: the body ends when the connection does.
    f.body = req.version >= 11 ? body_kind::chunked : body_kind::until_close;
  } else {
    f.content_length = res.body.size();
  }
  const bool with_body = f.body == body_kind::length && req.method != "HEAD";
  const bool inline_body = with_body && res.body.size() <= inline_body_max;

  auto& out = ex_->next_out();
  if (!write_response_head(out.head, code, worker_.preamble(state_->options.server_name), res.headers,
                           f, inline_body ? std::string_view(res.body) : std::string_view())) {
    // A field that could split the response: send none of it. (`res` stays as it is: a
    // streamed one's producer may be running.)
    --ex_->out_count;
    count_error(coronet::detail::http_error::invalid_response_header);
    auto error = response::text("Internal Server Error\n", http::status::internal_server_error);
    queue(req, error, keep, false);
    return false;
  }
  ex_->out_bytes += out.head.size();
  if (with_body && !inline_body) {
    out.body = std::move(res.body);
    ex_->out_bytes += out.body.size();
  }
  if (!streamed) count_answer(req, code, &out);  // a streamed one is counted at its end
  return true;
}

void connection::count_answer(const request& req, unsigned code, exchange::pending* queued) {
  auto* m = worker_.metrics;
  if (!m) return;
  auto& series = m->http_route(ex_->route_index, ex_->pattern, coronet::detail::http_method_index(req.method));
  const auto status_class = std::clamp(code / 100, 1u, 5u) - 1;
  coronet::detail::bump(series.by_class[status_class]);
  if (queued) {
    queued->timed = &series;
    queued->started = ex_->started;
    return;
  }
  const auto took = std::chrono::steady_clock::now() - ex_->started;
  series.duration.observe(coronet::detail::duration_bounds_ns,
                          static_cast<std::uint64_t>(std::chrono::nanoseconds(took).count()));
}

// The durations of the queued answers, up to the write that sends them: one clock reading.
void connection::observe_queued() {
  std::chrono::steady_clock::time_point now;
  for (std::size_t i = 0; i < ex_->out_count; ++i) {
    auto& p = ex_->out[i];
    if (!p.timed) continue;
    if (now == std::chrono::steady_clock::time_point{}) now = std::chrono::steady_clock::now();
    p.timed->duration.observe(coronet::detail::duration_bounds_ns,
                              static_cast<std::uint64_t>(std::chrono::nanoseconds(now - p.started).count()));
    p.timed = nullptr;
  }
}

asio::awaitable<bool> connection::flush() {
  switch (flush_now()) {
    case flushed::done: co_return true;
    case flushed::failed: co_return false;
    case flushed::pending: break;
  }
  co_return co_await flush_rest();
}

connection::flushed connection::flush_now() {
  if (!ex_ || ex_->out_count == 0) return flushed::done;
  auto& gather = ex_->gather;
  gather.clear();
  gather_queued(gather);
  if (auto* m = worker_.metrics) {
    m->per_write.observe(coronet::detail::per_write_bounds, ex_->out_count);
    observe_queued();
  }
#if CORONET_HAS_TLS
  if (tls_) return flushed::pending;  // encrypted and written by write_now()
#endif
  std::error_code ec;
  if (!write_at_once(gather, worker_.metrics ? ex_->out_bytes : 0, ec)) return flushed::pending;
  ex_->out_count = 0;
  ex_->out_bytes = 0;
  return ec ? flushed::failed : flushed::done;
}

asio::awaitable<bool> connection::flush_rest() {
  std::error_code ec;
#if CORONET_HAS_TLS
  if (tls_) {
    ec = co_await write_now(ex_->gather);
  } else
#endif
  {
    ec = co_await write_rest(ex_->gather, worker_.metrics ? ex_->out_bytes : 0);
  }
  ex_->out_count = 0;
  ex_->out_bytes = 0;
  co_return !ec;
}

// Writes a buffer sequence: first one non-blocking writev (usually all of it, without
// suspending), then an async write for what the socket did not take, under write_timeout.
asio::awaitable<std::error_code> connection::write_now(std::vector<asio::const_buffer>& bufs) {
  // With metrics, what this write sends; counted once it is all sent.
  const std::size_t counted = worker_.metrics ? asio::buffer_size(bufs) : 0;
#if CORONET_HAS_TLS
  if (tls_) {
    // Encrypted into the session's output (small answers packed into full records), then
    // the same: one non-blocking write, and a wait under write_timeout for the rest.
    auto& t = tls_->session;
    if (!t.write(bufs)) co_return t.error();
    std::error_code ec;
    const auto n = socket_.write_some(t.output(), ec);
    if (ec && ec != asio::error::would_block) co_return ec;
    t.consume_output(n);
    if (t.output().size() == 0) co_return sent(counted);
    const auto before = phase_;
    const auto deadline = watchdog_.deadline();
    phase_ = phase::writing;
    set_timeout(state_->options.write_timeout);
    const auto wec = co_await tls::detail::flush(socket_, t);
    if (timed_out_) co_return write_timed_out();
    phase_ = before;
    watchdog_.expires_at(deadline);
    co_return wec ? wec : sent(counted);
  }
#endif
  std::error_code ec;
  if (write_at_once(bufs, counted, ec)) co_return ec;
  co_return co_await write_rest(bufs, counted);
}

bool connection::write_at_once(std::vector<asio::const_buffer>& bufs, std::size_t counted, std::error_code& ec) {
  std::size_t total = 0;
  for (const auto& b : bufs) total += b.size();
  // One buffer goes out with send(), cheaper than sendmsg() with a one-entry iovec.
  const auto n = bufs.size() == 1 ? socket_.write_some(bufs.front(), ec) : socket_.write_some(bufs, ec);
  if (ec && ec != asio::error::would_block) return true;
  ec.clear();
  if (n == total) {
    ec = sent(counted);
    return true;
  }
  consume(bufs, n);
  return false;
}

asio::awaitable<std::error_code> connection::write_rest(std::vector<asio::const_buffer>& bufs,
                                                        std::size_t counted) {
  const auto before = phase_;
  const auto deadline = watchdog_.deadline();
  phase_ = phase::writing;
  set_timeout(state_->options.write_timeout);
  auto [wec, written] = co_await asio::async_write(socket_, bufs, use_nothrow);
  (void)written;
  if (timed_out_) co_return write_timed_out();
  phase_ = before;
  watchdog_.expires_at(deadline);
  co_return wec ? wec : sent(counted);
}

// The writer a producer gets. It sends the head too: before the producer runs
// (stream_head::immediate), or with the first piece of the body, or at the end when there was
// none (deferred). Every write goes out as one gather write: any queued head, then the piece
// in its chunk framing.
class connection::chunk_writer final : public body_writer {
 public:
  chunk_writer(connection& c, const request& req, response& res, bool keep)
      : c_(c), req_(req), res_(res), keep_(keep), chunked_(req.version >= 11) {
    const auto code = static_cast<unsigned>(res.status);
    has_body_ = req.method != "HEAD" && code >= 200 && code != 204 && code != 304;
  }

  asio::awaitable<std::error_code> write(std::string_view data) override {
    if (stopped_) co_return stopped_;
    if (data.empty()) co_return std::error_code{};
    auto& bufs = c_.ex_->gather;
    bufs.clear();
    if (!head_sent_ && !queue_head(bufs)) co_return co_await send(bufs);
    char size_line[24];
    const int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
    if (chunked_) bufs.emplace_back(size_line, static_cast<std::size_t>(n));
    bufs.emplace_back(data.data(), data.size());
    if (chunked_) bufs.emplace_back("\r\n", 2);
    co_return co_await send(bufs);
  }
  fields& headers() noexcept override { return res_.headers; }
  bool head_sent() const noexcept override { return head_sent_; }

  /// Sends the head now (stream_head::immediate). False when the body must not follow: the
  /// connection failed, or the answer is complete without one.
  asio::awaitable<bool> send_head() {
    auto& bufs = c_.ex_->gather;
    bufs.clear();
    const bool body = queue_head(bufs);
    co_await send(bufs);
    co_return body && !failed_;
  }

  /// After the producer returned: ends the body, with the head when it is still waiting.
  /// True when the connection may serve another request.
  asio::awaitable<bool> end() {
    if (stopped_) co_return !failed_ && keep_;
    auto& bufs = c_.ex_->gather;
    bufs.clear();
    if (!head_sent_ && !queue_head(bufs)) {
      co_await send(bufs);
      co_return !failed_ && keep_;
    }
    if (chunked_) bufs.emplace_back("0\r\n\r\n", 5);
    if (!bufs.empty()) co_await send(bufs);  // HTTP/1.0: the close ends the body
    co_return !failed_ && keep_;
  }

  /// The producer threw. A head still waiting becomes a complete 500; after the head, ending
  /// without the last chunk tells the client the body failed. True when the connection may
  /// serve another request.
  asio::awaitable<bool> fail() {
    if (head_sent_) co_return !failed_ && stopped_ && keep_;  // the answer was complete
    head_sent_ = true;
    replaced_ = true;
    c_.count_error(coronet::detail::http_error::handler_exception);
    auto error = response::text("Internal Server Error\n", http::status::internal_server_error);
    c_.queue(req_, error, keep_, false);
    co_return co_await c_.flush() && keep_;
  }

  /// Whether the producer's status went out (rather than a 500 in its place).
  [[nodiscard]] bool counts() const noexcept { return head_sent_ && !replaced_; }

 private:
  // Queues the head and gathers it (behind any answers still queued) into `bufs`. False when
  // no body may follow it: the answer has none, or a field could split it and a 500 went in
  // its place; later writes then complete with operation_aborted.
  bool queue_head(std::vector<asio::const_buffer>& bufs) {
    head_sent_ = true;
    // A deferred head's fields may have changed since the handler returned.
    if (auto conn = res_.headers.get("connection"); conn && iequals(*conn, "close")) keep_ = false;
    if (!chunked_) keep_ = false;
    replaced_ = !c_.queue(req_, res_, keep_, true);
    if (c_.worker_.metrics) c_.observe_queued();  // the pipelined answers ahead of this one
    c_.gather_queued(bufs);
    if (!replaced_ && has_body_) return true;
    stopped_ = asio::error::operation_aborted;
    return false;
  }

  asio::awaitable<std::error_code> send(std::vector<asio::const_buffer>& bufs) {
    const auto ec = co_await c_.write_now(bufs);
    c_.ex_->out_count = 0;
    c_.ex_->out_bytes = 0;
    c_.phase_ = phase::handling;
    c_.watchdog_.disarm();
    if (ec) failed_ = stopped_ = ec;
    co_return stopped_;
  }

  connection& c_;
  const request& req_;
  response& res_;
  bool keep_;
  bool chunked_;
  bool has_body_;
  bool head_sent_ = false;
  bool replaced_ = false;     // a 500 went instead of the producer's head
  std::error_code failed_;    // the connection failed: it closes
  std::error_code stopped_;   // what writes now complete with: failed_, or operation_aborted
};

asio::awaitable<bool> connection::stream(request& req, response& res, bool keep) {
  chunk_writer writer(*this, req, res, keep);
  bool more = false;
  bool run = true;
  if (res.head == stream_head::immediate) {
    run = co_await writer.send_head();
  } else {
    // Earlier pipelined answers go now rather than wait for the producer's first write.
    run = co_await flush();
    if (!run) co_return false;
  }
  bool threw = false;
  if (run) {
    try {
      co_await res.stream(writer);
    } catch (...) {
      threw = true;
    }
    more = threw ? co_await writer.fail() : co_await writer.end();
  } else {
    more = co_await writer.end();
  }
  // Counted once its status is out, whatever followed (a 500 in its place is counted apart).
  if (writer.counts()) count_answer(req, static_cast<unsigned>(res.status), nullptr);
  co_return more;
}

}  // namespace coronet::http::detail
