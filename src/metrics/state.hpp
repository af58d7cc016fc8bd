// What a coronet::metrics holds: shards of counters, each written by one thread at a time
// and summed when the metrics are scraped.
//
// The request path never does an atomic read-modify-write: a shard belongs to one writer (an
// HTTP server's worker, i.e. one io_context, or one thread for gRPC), which adds to its
// counters with a relaxed load and a relaxed store; a concurrent scrape reads them with
// relaxed loads, so it sees each counter whole, maybe a request behind. Series that carry
// labels (an HTTP route, a gRPC method) are made by the writer the first time it meets them,
// appended under the shard's mutex, which a scrape takes to walk them.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace coronet {
class metrics;
}  // namespace coronet

namespace coronet::detail {

using counter = std::atomic<std::uint64_t>;

/// Adds to a counter only its shard's writer touches: no locked instruction.
inline void bump(counter& c, std::uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline std::uint64_t read(const counter& c) noexcept { return c.load(std::memory_order_relaxed); }

/// Upper bounds of the duration buckets, in nanoseconds: Prometheus's default seconds buckets
/// (5 ms to 10 s) below which 100 us to 2.5 ms resolve fast local calls.
inline constexpr std::array<std::uint64_t, 16> duration_bounds_ns = {
    100'000,     250'000,     500'000,       1'000'000,     2'500'000,     5'000'000,
    10'000'000,  25'000'000,  50'000'000,    100'000'000,   250'000'000,   500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

/// Upper bounds of the answers-per-write buckets.
inline constexpr std::array<std::uint64_t, 8> per_write_bounds = {1, 2, 4, 8, 16, 32, 64, 128};

/// Counts per bucket (not cumulative: the scrape adds them up) plus the sum of the values.
template <std::size_t N>
struct histogram {
  std::array<counter, N + 1> buckets{};  // the last one is +Inf
  counter sum{};

  void observe(const std::array<std::uint64_t, N>& bounds, std::uint64_t v) noexcept {
    std::size_t i = 0;
    while (i < N && v > bounds[i]) ++i;
    bump(buckets[i]);
    bump(sum, v);
  }
};

/// The request methods counted by name; any other is "other".
inline constexpr std::array<std::string_view, 9> http_methods = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"};
inline constexpr std::uint8_t http_method_other = http_methods.size();
[[nodiscard]] std::uint8_t http_method_index(std::string_view method) noexcept;

/// What coronet_http_errors_total{reason} distinguishes.
enum class http_error : std::uint8_t {
  bad_request,              // 400: not HTTP/1.1 as the parser reads it
  header_too_large,         // 431
  body_too_large,           // 413, announced or found while reading
  unsupported_expectation,  // 417
  header_timeout,           // 408 while the head arrived (or the TLS handshake ran)
  body_timeout,             // 408 while the body arrived
  write_timeout,            // the client did not take an answer in time: closed
  handler_exception,        // a handler threw: 500
  invalid_response_header,  // a handler's header field could split the response: 500
  tls_handshake,            // a TLS handshake failed (or plain HTTP came to the TLS port)
  count_
};
inline constexpr std::array<std::string_view, static_cast<std::size_t>(http_error::count_)>
    http_error_names = {"bad_request",       "header_too_large",        "body_too_large",
                        "unsupported_expectation", "header_timeout",    "body_timeout",
                        "write_timeout",     "handler_exception",       "invalid_response_header",
                        "tls_handshake"};

/// The label of requests no route matched (404, 405); a pattern always starts with '/'.
inline constexpr std::string_view unmatched_route = "(unmatched)";

/// Requests of one method on one route.
struct http_route_series {
  http_route_series(std::string r, std::uint8_t m) : route(std::move(r)), method(m) {}
  const std::string route;  // the pattern (a copy: the router may go before the metrics)
  const std::uint8_t method;
  std::array<counter, 5> by_class{};  // 1xx .. 5xx
  histogram<duration_bounds_ns.size()> duration;
};

/// gRPC's status codes, in their numeric order.
inline constexpr std::array<std::string_view, 17> grpc_code_names = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",  "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",
    "UNAVAILABLE", "DATA_LOSS",    "UNAUTHENTICATED"};
/// grpc_type values, in grpc::internal::RpcMethod::RpcType's order.
inline constexpr std::array<std::string_view, 4> grpc_type_names = {
    "unary", "client_stream", "server_stream", "bidi_stream"};

/// Calls of one gRPC method (an index into metrics_state::grpc_methods).
struct grpc_series {
  explicit grpc_series(std::uint32_t m) : method(m) {}
  const std::uint32_t method;
  counter started{};
  std::array<counter, grpc_code_names.size()> handled{};
  counter msg_received{};
  counter msg_sent{};
  histogram<duration_bounds_ns.size()> duration;
};

struct metrics_shard {
  // The series lists grow under it (by the writer) and are walked under it (by a scrape).
  std::mutex mutex;
  std::deque<http_route_series> http_routes;  // a deque: series never move
  std::deque<grpc_series> grpc;

  // HTTP, one server worker's.
  counter received_bytes{};
  counter sent_bytes{};
  counter accepted{};
  counter refused{};
  counter closed{};  // accepted and served, then closed: open = accepted - refused - closed
  std::array<counter, http_error_names.size()> errors{};
  histogram<per_write_bounds.size()> per_write;

  /// The series of `method` on `route`, the route at `route_index` of the writer's router
  /// (router::match::route_index; no_route and an empty `route` when none matched). Found by
  /// string once per route and method, then by index: the writer keeps to one router.
  http_route_series& http_route(std::size_t route_index, std::string_view route, std::uint8_t method) {
    // The method (< 16) fills the low bits; no_route + 1 wraps to the first row.
    const auto slot = (route_index + 1) * 16 + method;
    if (slot < route_lookup_.size() && route_lookup_[slot]) return *route_lookup_[slot];
    return first_http_route(slot, route, method);
  }
  static constexpr std::size_t no_route = static_cast<std::size_t>(-1);
  /// The series of gRPC method `id`.
  grpc_series& grpc_method(std::uint32_t id);
  /// Forgets the writer's lookups (before the shard goes to another writer).
  void forget_lookups();

 private:
  http_route_series& first_http_route(std::size_t slot, std::string_view route, std::uint8_t method);

  std::vector<http_route_series*> route_lookup_;  // at (route_index + 1) * 16 + method
  std::vector<grpc_series*> grpc_lookup_;
};

struct metrics_state {
  metrics_state();

  /// A shard of its own for a writer, until release().
  metrics_shard& acquire();
  void release(metrics_shard& s);
  /// The calling thread's shard (leased until the thread ends).
  metrics_shard& thread_shard();

  struct grpc_method {
    std::string service;
    std::string method;
    std::uint8_t type;
  };
  /// The id of gRPC method "/service/method" of `type`, registered on first use.
  std::uint32_t grpc_method_id(std::string_view full_name, std::uint8_t type);
  /// The id standing for every method no service registered, per type.
  std::uint32_t grpc_unknown_id(std::uint8_t type);

  const std::uint64_t id;  // tells this state from one later made at the same address
  mutable std::mutex mutex;
  std::vector<std::unique_ptr<metrics_shard>> shards;  // every shard made; summed by scrape
  std::vector<metrics_shard*> free_shards;
  std::deque<grpc_method> grpc_methods;
  std::unordered_map<std::string, std::uint32_t> grpc_method_ids;  // "/service/method#type"
  std::atomic<std::size_t> io_threads{0};
  std::atomic<bool> http_used{false};  // an http::server counts here: show its families
  std::weak_ptr<metrics_state> self;  // set by coronet::metrics
};

/// What coronet's servers reach of a coronet::metrics.
struct metrics_access {
  static const std::shared_ptr<metrics_state>& state(const coronet::metrics& m) noexcept;
};

}  // namespace coronet::detail
