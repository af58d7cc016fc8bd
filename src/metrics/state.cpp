// Shards: leased to a writer (an HTTP worker for the server's life, a thread for its own),
// given back when the writer ends, and kept, counts and all, until the metrics go.
#include "metrics/state.hpp"

#include <algorithm>

namespace coronet::detail {

std::uint8_t http_method_index(std::string_view method) noexcept {
  for (std::size_t i = 0; i < http_methods.size(); ++i) {
    if (http_methods[i] == method) return static_cast<std::uint8_t>(i);
  }
  return http_method_other;
}

http_route_series& metrics_shard::first_http_route(std::size_t slot, std::string_view route,
                                                  std::uint8_t method) {
  const std::string_view label = route.empty() ? unmatched_route : route;
  http_route_series* found = nullptr;
  {
    // Another writer before this one (the shard is reused) may have made the series.
    std::lock_guard lock(mutex);
    for (auto& s : http_routes) {
      if (s.method == method && s.route == label) found = &s;
    }
    if (!found) found = &http_routes.emplace_back(std::string(label), method);
  }
  if (slot >= route_lookup_.size()) route_lookup_.resize(slot + 1, nullptr);
  route_lookup_[slot] = found;
  return *found;
}

grpc_series& metrics_shard::grpc_method(std::uint32_t id) {
  if (id < grpc_lookup_.size() && grpc_lookup_[id]) return *grpc_lookup_[id];
  if (id >= grpc_lookup_.size()) grpc_lookup_.resize(id + 1, nullptr);
  std::lock_guard lock(mutex);
  for (auto& s : grpc) {
    if (s.method == id) return *(grpc_lookup_[id] = &s);
  }
  return *(grpc_lookup_[id] = &grpc.emplace_back(id));
}

void metrics_shard::forget_lookups() {
  route_lookup_.clear();
  grpc_lookup_.clear();
}

namespace {

std::uint64_t next_state_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// The shards a thread holds, one per metrics it has counted into; given back when the thread
// ends (gRPC starts and ends threads as its load changes).
struct thread_leases {
  struct lease {
    std::weak_ptr<metrics_state> owner;
    std::uint64_t id;
    metrics_shard* shard;
  };
  std::vector<lease> held;
  // The last one used: most threads count into one metrics.
  std::uint64_t last_id = 0;
  metrics_shard* last = nullptr;

  ~thread_leases() {
    for (auto& l : held) {
      if (const auto owner = l.owner.lock()) owner->release(*l.shard);
    }
  }
};

thread_local thread_leases leases;

}  // namespace

metrics_state::metrics_state() : id(next_state_id()) {}

metrics_shard& metrics_state::acquire() {
  std::lock_guard lock(mutex);
  if (!free_shards.empty()) {
    auto* s = free_shards.back();
    free_shards.pop_back();
    return *s;
  }
  return *shards.emplace_back(std::make_unique<metrics_shard>());
}

void metrics_state::release(metrics_shard& s) {
  s.forget_lookups();
  std::lock_guard lock(mutex);
  free_shards.push_back(&s);
}

metrics_shard& metrics_state::thread_shard() {
  auto& l = leases;
  if (l.last_id == id) return *l.last;
  std::erase_if(l.held, [](const auto& h) { return h.owner.expired(); });
  metrics_shard* shard = nullptr;
  for (const auto& h : l.held) {
    if (h.id == id) shard = h.shard;
  }
  if (!shard) {
    shard = &acquire();
    l.held.push_back({self, id, shard});
  }
  l.last_id = id;
  l.last = shard;
  return *shard;
}

std::uint32_t metrics_state::grpc_method_id(std::string_view full_name, std::uint8_t type) {
  std::string key(full_name);
  key += '#';
  key += static_cast<char>('0' + type);
  std::lock_guard lock(mutex);
  if (const auto it = grpc_method_ids.find(key); it != grpc_method_ids.end()) return it->second;
  // "/package.Service/Method"
  auto name = full_name;
  if (name.starts_with('/')) name.remove_prefix(1);
  const auto slash = name.rfind('/');
  grpc_method m{std::string(name.substr(0, slash == std::string_view::npos ? 0 : slash)),
                std::string(slash == std::string_view::npos ? name : name.substr(slash + 1)), type};
  const auto id = static_cast<std::uint32_t>(grpc_methods.size());
  grpc_methods.push_back(std::move(m));
  grpc_method_ids.emplace(std::move(key), id);
  return id;
}

std::uint32_t metrics_state::grpc_unknown_id(std::uint8_t type) {
  return grpc_method_id("/unknown/unknown", type);
}

}  // namespace coronet::detail
