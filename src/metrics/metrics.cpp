// coronet::metrics: the scrape sums every shard, then writes the families in a fixed order.
#include <coronet/metrics.hpp>
#include <coronet/runtime.hpp>

#include "metrics/exposition.hpp"
#include "metrics/process.hpp"
#include "metrics/state.hpp"

#include <map>
#include <tuple>

namespace coronet {

namespace detail {

const std::shared_ptr<metrics_state>& metrics_access::state(const coronet::metrics& m) noexcept {
  return m.state_;
}

namespace {

constexpr double ns_per_second = 1e9;
using duration_counts = std::array<std::uint64_t, duration_bounds_ns.size() + 1>;

struct route_totals {
  std::array<std::uint64_t, 5> by_class{};
  duration_counts buckets{};
  std::uint64_t sum = 0;
};

struct grpc_totals {
  std::uint64_t started = 0;
  std::array<std::uint64_t, grpc_code_names.size()> handled{};
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  duration_counts buckets{};
  std::uint64_t sum = 0;
};

template <std::size_t N>
void add(std::array<std::uint64_t, N + 1>& into, std::uint64_t& sum, const histogram<N>& h) {
  for (std::size_t i = 0; i <= N; ++i) into[i] += read(h.buckets[i]);
  sum += read(h.sum);
}

// Every shard's counts added up.
struct totals {
  std::uint64_t received = 0, sent = 0, accepted = 0, refused = 0, closed = 0;
  std::array<std::uint64_t, http_error_names.size()> errors{};
  std::array<std::uint64_t, per_write_bounds.size() + 1> per_write{};
  std::uint64_t per_write_sum = 0;
  std::map<std::pair<std::string, std::uint8_t>, route_totals> routes;  // route, method
  std::map<std::uint32_t, grpc_totals> grpc;

  void add_shard(metrics_shard& s) {
    // closed before accepted: a connection closing meanwhile never makes the gauge negative.
    closed += read(s.closed);
    refused += read(s.refused);
    accepted += read(s.accepted);
    received += read(s.received_bytes);
    sent += read(s.sent_bytes);
    for (std::size_t i = 0; i < errors.size(); ++i) errors[i] += read(s.errors[i]);
    add(per_write, per_write_sum, s.per_write);
    std::lock_guard lock(s.mutex);
    for (const auto& r : s.http_routes) {
      auto& t = routes[{r.route, r.method}];
      for (std::size_t i = 0; i < 5; ++i) t.by_class[i] += read(r.by_class[i]);
      add(t.buckets, t.sum, r.duration);
    }
    for (const auto& g : s.grpc) {
      auto& t = grpc[g.method];
      t.started += read(g.started);
      for (std::size_t i = 0; i < t.handled.size(); ++i) t.handled[i] += read(g.handled[i]);
      t.received += read(g.msg_received);
      t.sent += read(g.msg_sent);
      add(t.buckets, t.sum, g.duration);
    }
  }
};

constexpr std::array<std::string_view, 5> status_classes = {"1xx", "2xx", "3xx", "4xx", "5xx"};

void write_http(exposition& out, const totals& t) {
  auto method_name = [](std::uint8_t m) { return m < http_methods.size() ? http_methods[m] : "other"; };
  if (!t.routes.empty()) {
    out.family("coronet_http_requests_total", "counter",
               "HTTP requests answered by a route's handler or the router (404, 405), by method, route "
               "pattern and status class.");
    for (const auto& [key, r] : t.routes) {
      for (std::size_t c = 0; c < 5; ++c) {
        if (r.by_class[c] == 0) continue;
        out.sample("coronet_http_requests_total",
                   {{"method", method_name(key.second)}, {"route", key.first}, {"code", status_classes[c]}},
                   r.by_class[c]);
      }
    }
    out.family("coronet_http_request_duration_seconds", "histogram",
               "Time from a request's complete head to its answer being queued (for a streamed "
               "body, to its end), by method and route pattern.");
    for (const auto& [key, r] : t.routes) {
      out.histogram("coronet_http_request_duration_seconds",
                    {{"method", method_name(key.second)}, {"route", key.first}}, duration_bounds_ns,
                    r.buckets, r.sum, ns_per_second);
    }
  }
  out.family("coronet_http_received_bytes_total", "counter", "HTTP bytes read from clients (after TLS decryption).");
  out.sample("coronet_http_received_bytes_total", {}, t.received);
  out.family("coronet_http_sent_bytes_total", "counter", "HTTP bytes written to clients (before TLS encryption).");
  out.sample("coronet_http_sent_bytes_total", {}, t.sent);
  out.family("coronet_http_connections_open", "gauge", "HTTP connections being served.");
  const auto served = t.accepted - t.refused;
  out.sample("coronet_http_connections_open", {}, served > t.closed ? served - t.closed : 0);
  out.family("coronet_http_connections_accepted_total", "counter",
             "HTTP connections accepted or adopted, including those refused.");
  out.sample("coronet_http_connections_accepted_total", {}, t.accepted);
  out.family("coronet_http_connections_refused_total", "counter",
             "HTTP connections answered 503 and closed because max_connections were open.");
  out.sample("coronet_http_connections_refused_total", {}, t.refused);
  out.family("coronet_http_errors_total", "counter",
             "Requests the server refused or could not finish, and connections it closed, by reason.");
  for (std::size_t i = 0; i < t.errors.size(); ++i) {
    out.sample("coronet_http_errors_total", {{"reason", http_error_names[i]}}, t.errors[i]);
  }
  out.family("coronet_http_responses_per_write", "histogram",
             "Answers sent together in one write: above 1, pipelined requests answered at once.");
  out.histogram("coronet_http_responses_per_write", {}, per_write_bounds, t.per_write, t.per_write_sum, 1.0);
}

void write_grpc(exposition& out, const totals& t, const std::deque<metrics_state::grpc_method>& methods) {
  auto labels = [&](std::uint32_t id) {
    const auto& m = methods[id];
    return std::array<exposition::label, 3>{{{"grpc_service", m.service},
                                             {"grpc_method", m.method},
                                             {"grpc_type", grpc_type_names[m.type]}}};
  };
  out.family("coronet_grpc_server_started_total", "counter", "gRPC calls started on the server.");
  for (const auto& [id, g] : t.grpc) {
    const auto l = labels(id);
    out.sample("coronet_grpc_server_started_total", {l[0], l[1], l[2]}, g.started);
  }
  out.family("coronet_grpc_server_handled_total", "counter",
             "gRPC calls finished on the server, by the status code it sent.");
  for (const auto& [id, g] : t.grpc) {
    const auto l = labels(id);
    for (std::size_t c = 0; c < g.handled.size(); ++c) {
      if (g.handled[c] == 0) continue;
      out.sample("coronet_grpc_server_handled_total", {l[0], l[1], l[2], {"grpc_code", grpc_code_names[c]}},
                 g.handled[c]);
    }
  }
  out.family("coronet_grpc_server_handling_seconds", "histogram",
             "Time from a call's start to the server sending its status.");
  for (const auto& [id, g] : t.grpc) {
    const auto l = labels(id);
    out.histogram("coronet_grpc_server_handling_seconds", {l[0], l[1], l[2]}, duration_bounds_ns, g.buckets,
                  g.sum, ns_per_second);
  }
  out.family("coronet_grpc_server_msg_received_total", "counter", "Messages the server received, over all calls.");
  for (const auto& [id, g] : t.grpc) {
    const auto l = labels(id);
    out.sample("coronet_grpc_server_msg_received_total", {l[0], l[1], l[2]}, g.received);
  }
  out.family("coronet_grpc_server_msg_sent_total", "counter", "Messages the server sent, over all calls.");
  for (const auto& [id, g] : t.grpc) {
    const auto l = labels(id);
    out.sample("coronet_grpc_server_msg_sent_total", {l[0], l[1], l[2]}, g.sent);
  }
}

}  // namespace

}  // namespace detail

metrics::metrics() : state_(std::make_shared<detail::metrics_state>()) { state_->self = state_; }

metrics::~metrics() = default;

void metrics::track(const runtime& rt) { state_->io_threads.fetch_add(rt.size(), std::memory_order_relaxed); }

std::string metrics::scrape() const {
  detail::totals t;
  std::vector<detail::metrics_shard*> shards;
  std::deque<detail::metrics_state::grpc_method> methods;
  {
    std::lock_guard lock(state_->mutex);
    for (auto& s : state_->shards) shards.push_back(s.get());
    methods = state_->grpc_methods;
  }
  // Shards are never freed before the state: walking them unlocked is safe.
  for (auto* s : shards) t.add_shard(*s);

  detail::exposition out;
  if (state_->http_used.load(std::memory_order_relaxed)) detail::write_http(out, t);
  // A method registered after the snapshot above waits for the next scrape.
  std::erase_if(t.grpc, [&](const auto& g) { return g.first >= methods.size(); });
  if (!t.grpc.empty()) detail::write_grpc(out, t, methods);
  out.family("coronet_io_threads", "gauge", "io_context threads of the runtimes tracked.");
  out.sample("coronet_io_threads", {}, static_cast<std::uint64_t>(state_->io_threads.load(std::memory_order_relaxed)));
  detail::write_process_metrics(out);
  return out.take();
}

http::handler metrics::endpoint() const {
  return [this](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::bytes(scrape(), "text/plain; version=0.0.4; charset=utf-8");
  };
}

}  // namespace coronet
