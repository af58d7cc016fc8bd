// What an http::server shares with its connections: options, routes, and one `worker` per
// io_context (acceptor, Date cache, open connections, pooled per-request state). A worker is
// only touched on its own context's thread.
#pragma once

#include "acceptor_set.hpp"
#include "date.hpp"
#include "drained_read.hpp"
#include "parser.hpp"
#include "metrics/state.hpp"

#include <coronet/config.hpp>
#include <coronet/http/server.hpp>

#include <coronet/detail/parked_coroutine.hpp>

#include <asio/ip/tcp.hpp>

#if CORONET_HAS_TLS
#include "tls/server_context.hpp"
#endif

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace coronet::http::detail {

class connection;

/// Everything a connection needs only while a request is in progress: borrowed from the
/// worker when bytes arrive and given back when the connection is idle again, so an idle
/// keep-alive connection holds no buffers (10,000 idle connections cost little memory).
/// Only the connection's own thread touches it, including the reactor's read into `buffer`.
struct exchange {
  static constexpr std::size_t buffer_size = 16 * 1024;

  explicit exchange(parse_limits limits) : parser(limits) {}

  request_parser parser;
  // The current request's route, found once when its head is complete (a 405's Allow list is
  // looked up again only when it is answered).
  const handler* target = nullptr;
  const middleware_chain* chain = nullptr;  // set when the route's chain starts with hooks
  router::match::kind route = router::match::kind::not_found;
  bool planned = false;  // the route is set and the request's expectation and size checked
  // With metrics: the matched route (pattern empty and index no_route when none), when the
  // last read completed, and when the current request's head did (that read's time: the
  // requests of one read share one clock reading).
  std::string_view pattern;
  std::size_t route_index = router::match::no_route;
  std::chrono::steady_clock::time_point read_at;
  std::chrono::steady_clock::time_point started;
  std::unique_ptr<char[]> buffer = std::make_unique<char[]>(buffer_size);
  std::size_t begin = 0;  // unparsed bytes are buffer[begin, end)
  std::size_t end = 0;

  // Serialized responses not yet written: heads and bodies, gathered into one write.
  struct pending {
    std::string head;
    std::string body;  // empty for HEAD
    // With metrics: the duration series the answer goes to when it is written, and when its
    // request's head was complete (one clock reading per write serves all its answers).
    coronet::detail::http_route_series* timed = nullptr;
    std::chrono::steady_clock::time_point started;
  };
  std::vector<pending> out;
  std::vector<asio::const_buffer> gather;  // out as one buffer sequence, for the write
  std::size_t out_count = 0;  // out[0, out_count) are in use; the rest keep their capacity
  std::size_t out_bytes = 0;  // the bytes of out[0, out_count): a flush counts them as sent

  [[nodiscard]] std::size_t buffered() const noexcept { return end - begin; }
  pending& next_out() {
    if (out_count == out.size()) out.emplace_back();
    auto& p = out[out_count++];
    p.head.clear();
    p.body.clear();
    p.timed = nullptr;
    return p;
  }
};

/// A connection-serving coroutine parked between connections (see runners.cpp). It is
/// handed the connection's ownership, which passes on to the connection's idle read when it
/// parks: no reference count changes hands on the way.
using parked_runner = coronet::detail::parked_coroutine<std::shared_ptr<connection>, 64>;

struct worker {
  explicit worker(asio::io_context& c) : ctx(c), io_reactor(reactor_of(c)) {}
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;
  ~worker() {
    // Parked runners hold their coroutine frames: free them before the slots go.
    for (auto* r : idle_runners) r->reset();
    if (metrics) metrics_owner->release(*metrics);
  }

  /// Parked runners beyond this many end instead of parking.
  static constexpr std::size_t max_idle_runners = 64;

  asio::io_context& ctx;
  reactor& io_reactor;
  date_cache date;
  std::unordered_set<connection*> connections;
  std::vector<std::unique_ptr<exchange>> spare;
  std::vector<std::unique_ptr<parked_runner>> runners;  // every runner slot made
  std::vector<parked_runner*> idle_runners;             // parked, waiting for a connection
  std::vector<parked_runner*> spare_runners;            // slots whose coroutine ended
  bool runners_closed = false;  // shutting down: runners end instead of parking
  // With server_options::metrics: this context's shard, taken at its first connection.
  coronet::detail::metrics_shard* metrics = nullptr;
  std::shared_ptr<coronet::detail::metrics_state> metrics_owner;

  /// "Server: ...\r\nDate: ...\r\n", rebuilt when the second changes.
  std::string_view preamble(std::string_view server_name) {
    const auto d = date.now();
    if (date.second() != preamble_second_) {
      preamble_second_ = date.second();
      preamble_.clear();
      if (!server_name.empty()) preamble_.append("Server: ").append(server_name).append("\r\n");
      preamble_.append("Date: ").append(d).append("\r\n");
    }
    return preamble_;
  }

  std::unique_ptr<exchange> borrow(parse_limits limits) {
    if (spare.empty()) return std::make_unique<exchange>(limits);
    auto e = std::move(spare.back());
    spare.pop_back();
    return e;
  }
  void give_back(std::unique_ptr<exchange> e) {
    // Keep a few for reuse; beyond that, idle connections should really free memory.
    if (spare.size() >= 64) return;
    e->parser.reset();
    e->planned = false;
    e->begin = e->end = 0;
    e->out_count = 0;
    e->out_bytes = 0;
    spare.push_back(std::move(e));
  }

 private:
  std::string preamble_;
  std::time_t preamble_second_ = -1;
};

/// What the server shares with its connections and accept loops.
struct server_state {
  server_state(router r, server_options o) : routes(std::move(r)), options(std::move(o)) {}

  router routes;
  server_options options;
  std::vector<std::unique_ptr<worker>> workers;  // one per runtime context, in its order
  coronet::detail::acceptor_set acceptors;
  coronet::detail::acceptor_set tls_acceptors;  // listen_tls(): its connections speak TLS
#if CORONET_HAS_TLS
  std::shared_ptr<tls::server_context::state> tls;
#endif
  std::atomic<std::size_t> live{0};
  std::atomic<bool> draining{false};

  [[nodiscard]] parse_limits limits() const noexcept {
    return {options.max_header_bytes, options.max_body_bytes};
  }
};

/// Starts serving an accepted socket on worker `w` (call on w's thread).
void start_connection(std::shared_ptr<server_state> s, worker& w, asio::ip::tcp::socket socket,
                      std::string_view preread, bool tls = false);
/// Graceful shutdown step for every connection of `w`: close the idle ones now, let the
/// others finish their request (call on w's thread).
void drain_connections(worker& w);
/// Closes every connection of `w` at once (call on w's thread).
void close_connections(worker& w);

}  // namespace coronet::http::detail
