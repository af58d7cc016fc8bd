// coronet::metrics — what coronet's servers count, in Prometheus's text format.
//
// One metrics object collects from any number of http::server and rpc::server (pass its
// address in their options' `metrics` field) and answers a scrape with everything counted so
// far: HTTP requests by method, route and status class, their durations, bytes, connections
// and errors; gRPC calls by method and status code, their durations and stream messages; and
// the process's own figures (CPU time, memory, descriptors). docs/metrics.md lists each name.
//
//     coronet::runtime rt;
//     coronet::metrics metrics;
//     metrics.track(rt);
//     http::router routes;
//     routes.get("/metrics", metrics.endpoint());
//     http::server web(rt, std::move(routes), {.metrics = &metrics});
//     rpc::server grpc(rt, {.metrics = &metrics});
//
// Counting costs no lock and no atomic read-modify-write on the request path: each io_context
// (and each gRPC thread) counts into a shard of its own, and a scrape sums the shards. The
// metrics object must outlive the servers that count into it.
#pragma once

#include <coronet/http/router.hpp>

#include <memory>
#include <string>

namespace coronet {

class runtime;

namespace detail {
struct metrics_state;   // src/metrics/state.hpp
struct metrics_access;  // how the servers reach the state
}  // namespace detail

class metrics {
 public:
  metrics();
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;
  ~metrics();

  /// Everything counted so far, in the Prometheus text exposition format 0.0.4. Thread safe:
  /// may run while servers count (a scrape sees each counter whole, at most a few requests
  /// behind). Families with labels appear once they have a sample.
  [[nodiscard]] std::string scrape() const;

  /// A route handler answering scrape() with `Content-Type: text/plain; version=0.0.4;
  /// charset=utf-8`, e.g. `routes.get("/metrics", metrics.endpoint())`. It refers to this
  /// object, which must outlive the router.
  [[nodiscard]] http::handler endpoint() const;

  /// Reports `rt`'s io threads in coronet_io_threads (the sum over the runtimes tracked).
  void track(const runtime& rt);

 private:
  friend struct detail::metrics_access;
  std::shared_ptr<detail::metrics_state> state_;
};

}  // namespace coronet
