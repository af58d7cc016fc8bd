// One HTTP/1.1 server connection, on one io_context for its whole life.
//
// connection.cpp holds the loop: read, let the parser cut requests out of the bytes, plan
// each request once when its head arrives (its handler, its expectation, its body limit),
// answer in order, and when the input is drained write every queued answer with one gather
// write. connection_write.cpp holds the writing: heads through the serializer, the gather
// write, streamed bodies. runners.cpp holds the pooled coroutines that serve connections.
//
// Between requests a connection has no coroutine and no buffer: a reactor read waits for the
// next bytes with only the connection to come back to. When they come, the read borrows the
// worker's per-request state (exchange) to land them in, and one of the worker's parked
// runner coroutines serves them (a new one when none is parked), then parks again. An idle
// keep-alive connection is then the connection object, that read, its watchdog and the
// reactor's descriptor state: about 1 KiB.
#pragma once

#include "server_state.hpp"
#include "tls_link.hpp"
#include "watchdog.hpp"

#include <asio/ip/tcp.hpp>

#include <memory>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace coronet::http::detail {

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(std::shared_ptr<server_state> s, worker& w, asio::ip::tcp::socket socket,
             std::unique_ptr<tls_link> tls = nullptr)
      : state_(std::move(s)), worker_(w), socket_(std::move(socket)), tls_(std::move(tls)),
        watchdog_(worker_.ctx.get_executor(), *this) {}

  /// Starts serving: waits for the first request, or serves `preread` at once.
  void start(std::string_view preread);
  /// A runner (runners.cpp): serves `c` until it is idle again or closed, then the
  /// connection the worker hands it next, until there is none.
  static asio::awaitable<void> runner(worker& w, parked_runner& slot, std::shared_ptr<connection> c);

  /// Graceful shutdown: an idle connection closes now, a busy one after its current answer.
  void drain();
  void close_now();
  /// The watchdog's deadline passed: whatever the connection awaits ends with an error.
  void on_deadline();

  [[nodiscard]] const std::shared_ptr<server_state>& state() const noexcept { return state_; }

 private:
  enum class phase { idle, head, body, handling, writing };
  class chunk_writer;
  struct idle_buffer;
  struct tls_idle_input;

  /// What planning a request decided.
  struct plan {
    enum class action { serve, expect_continue, refuse } what = action::serve;
    http::status refusal = http::status::bad_request;
    std::string_view why;
  };

  // connection.cpp: the loop.
  // Between requests the connection's owner is the read that waits for the next bytes (or
  // the post that stands in for it): `self` moves from the runner to that read, and back to
  // a runner when bytes come.
  asio::awaitable<bool> serve();
  /// Waits for the next request, taking `self` (false, leaving it, when the connection must
  /// close instead).
  bool park(std::shared_ptr<connection>& self);
  void wait_idle(std::shared_ptr<connection> self);
  void on_idle_read(std::shared_ptr<connection> self, std::error_code ec, std::size_t n);
  void finish();
  plan plan_request();
  asio::awaitable<bool> on_planned(const plan& p);
  /// The 404 or 405 (with Allow) for a request no route serves.
  response unrouted_answer(request& req);
  /// A complete request, before its handler: returns whether the connection may stay open.
  bool begin_message(request& req);
  /// After the handler: settles `keep`; queues the answer unless it is streamed (false).
  bool answered(const request& req, response& res, bool& keep);
  asio::awaitable<void> send_error(http::status s, std::string_view why);
  asio::awaitable<void> linger();
  /// TLS: the handshake, within the head timeout; false when the connection must close.
  asio::awaitable<bool> establish();
  void on_readable(std::shared_ptr<connection> self, std::error_code ec, std::size_t n);
  exchange& ex() {
    if (!ex_) ex_ = worker_.borrow(state_->limits());
    return *ex_;
  }
  void set_timeout(std::chrono::milliseconds t) { watchdog_.expires_after(t); }
  /// With metrics: counts an answer to the current request, and its duration.
  /// With metrics: counts an answer; its duration when `queued` is written (observe_queued),
  /// or now when there is no such entry (a streamed answer, at its end).
  void count_answer(const request& req, unsigned code, exchange::pending* queued);
  void observe_queued();
  void count_error(coronet::detail::http_error e) {
    if (auto* m = worker_.metrics) coronet::detail::bump(m->errors[static_cast<std::size_t>(e)]);
  }
  void count_received(std::size_t n) {
    if (auto* m = worker_.metrics) {
      coronet::detail::bump(m->received_bytes, n);
      ex_->read_at = std::chrono::steady_clock::now();
    }
  }

  // connection_write.cpp: the answers.
  /// Serializes an answer into the queue. False when a field could split it: a 500 is
  /// queued in its place (and `res` is left as it was).
  bool queue(const request& req, response& res, bool keep, bool streamed);
  /// Sends the queued answers: false if the connection failed.
  asio::awaitable<bool> flush();
  /// What flush_now() did: sent everything (or there was nothing), failed, or left the rest
  /// of the queued answers in `ex_->gather` for flush_rest().
  enum class flushed : unsigned char { done, failed, pending };
  /// flush() without a coroutine for what one non-blocking write can send: the keep-alive
  /// path, where a coroutine frame for the write would cost more than the write's own code.
  flushed flush_now();
  /// The rest of a flush_now() that returned pending.
  asio::awaitable<bool> flush_rest();
  /// Appends the queued answers' heads and bodies to `bufs`. (Inline: flush() is on every
  /// request's path.)
  void gather_queued(std::vector<asio::const_buffer>& bufs) const {
    for (std::size_t i = 0; i < ex_->out_count; ++i) {
      const auto& p = ex_->out[i];
      bufs.emplace_back(p.head.data(), p.head.size());
      if (!p.body.empty()) bufs.emplace_back(p.body.data(), p.body.size());
    }
  }
  asio::awaitable<std::error_code> write_now(std::vector<asio::const_buffer>& bufs);
  /// Plaintext: one non-blocking write of `bufs`. True when that ended it (everything sent,
  /// `counted` bytes counted, or `ec` set); false with what is left in `bufs`.
  bool write_at_once(std::vector<asio::const_buffer>& bufs, std::size_t counted, std::error_code& ec);
  /// Plaintext: waits, under write_timeout, until the rest of `bufs` is sent.
  asio::awaitable<std::error_code> write_rest(std::vector<asio::const_buffer>& bufs, std::size_t counted);
  /// With metrics: counts `n` bytes sent; no error.
  std::error_code sent(std::size_t n) {
    if (auto* m = worker_.metrics) coronet::detail::bump(m->sent_bytes, n);
    return {};
  }
  std::error_code write_timed_out() {
    count_error(coronet::detail::http_error::write_timeout);
    return asio::error::timed_out;
  }
  asio::awaitable<bool> stream(request& req, response& res, bool keep);

  std::shared_ptr<server_state> state_;
  worker& worker_;
  asio::ip::tcp::socket socket_;
  asio::ip::tcp::endpoint remote_;  // the client's address, read once
  std::unique_ptr<tls_link> tls_;  // null: plaintext
  watchdog<connection> watchdog_;
  std::unique_ptr<exchange> ex_;
  std::size_t requests_ = 0;
  phase phase_ = phase::idle;
  bool fresh_ = true;       // no request seen yet
  bool closing_ = false;    // the last answer is queued: flush, then close
  bool linger_ = false;     // input may still be arriving: drain it before closing
  bool timed_out_ = false;  // the watchdog fired
  bool readable_ = false;   // TLS: woken by readiness, nothing read yet
  bool done_ = false;
};

/// Serves `c` on one of its worker's parked runner coroutines, or a new one (runners.cpp).
void serve_on_runner(worker& w, std::shared_ptr<connection> c);
/// Ends the parked runners: shutting down, they would keep the io_context busy.
void end_idle_runners(worker& w);

}  // namespace coronet::http::detail
