// One interceptor per call, made when the call starts: it counts the start, every message
// received and sent, and the status with the time it took, into the shard of whichever
// thread runs the hook (a gRPC thread, or the io thread whose handler finished the call).
// The reactors of coroutine services count the same events the same way through a
// method_counter, and get no interceptor.
#include "metrics_interceptor.hpp"

#include <google/protobuf/descriptor.h>
#include <grpcpp/support/interceptor.h>

#include <array>
#include <chrono>
#include <deque>
#include <unordered_map>
#include <unordered_set>
#include <string>
#include <string_view>

namespace coronet::rpc::detail {

namespace {

using coronet::detail::bump;
using coronet::detail::metrics_state;
using grpc::experimental::InterceptionHookPoints;

class call_counter final : public grpc::experimental::Interceptor {
 public:
  call_counter(metrics_state& state, std::uint32_t method)
      : state_(state), method_(method), start_(std::chrono::steady_clock::now()) {
    bump(series().started);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* batch) override {
    if (batch->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        batch->GetRecvMessage() != nullptr) {  // null: the client's stream ended
      bump(series().msg_received);
    }
    if (batch->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      bump(series().msg_sent);
    }
    if (batch->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      auto& s = series();
      const auto code = static_cast<std::size_t>(batch->GetSendStatus().error_code());
      bump(s.handled[code < s.handled.size() ? code : static_cast<std::size_t>(grpc::StatusCode::UNKNOWN)]);
      const auto took = std::chrono::steady_clock::now() - start_;
      s.duration.observe(coronet::detail::duration_bounds_ns,
                         static_cast<std::uint64_t>(std::chrono::nanoseconds(took).count()));
    }
    batch->Proceed();
  }

 private:
  coronet::detail::grpc_series& series() { return state_.thread_shard().grpc_method(method_); }

  metrics_state& state_;
  const std::uint32_t method_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace

struct method_counter {
  metrics_state* state;
  std::uint32_t method;
  coronet::detail::grpc_series& series() { return state->thread_shard().grpc_method(method); }
};

// The shard of the calling thread may have to be made (once per thread): should that fail,
// the event goes uncounted rather than failing the call.
void count_started(method_counter& c) noexcept try { bump(c.series().started); } catch (...) {}
void count_received(method_counter& c) noexcept try { bump(c.series().msg_received); } catch (...) {}
void count_sent(method_counter& c) noexcept try { bump(c.series().msg_sent); } catch (...) {}

void count_finished(method_counter& c, const grpc::Status& status, bool message,
                    std::chrono::steady_clock::time_point started) noexcept try {
  auto& s = c.series();
  if (message) bump(s.msg_sent);
  const auto code = static_cast<std::size_t>(status.error_code());
  bump(s.handled[code < s.handled.size() ? code : static_cast<std::size_t>(grpc::StatusCode::UNKNOWN)]);
  const auto took = std::chrono::steady_clock::now() - started;
  s.duration.observe(coronet::detail::duration_bounds_ns,
                     static_cast<std::uint64_t>(std::chrono::nanoseconds(took).count()));
} catch (...) {
}

namespace {

// The methods of the services a server advertises, found in the protobuf descriptors
// compiled into the program. Filled before the server starts, read-only once calls come.
class method_table {
 public:
  explicit method_table(std::shared_ptr<metrics_state> state) : state_(std::move(state)) {
    for (std::uint8_t t = 0; t < unknown_.size(); ++t) unknown_[t] = state_->grpc_unknown_id(t);
  }

  void learn(const std::vector<std::string>& services) {
    const auto* pool = google::protobuf::DescriptorPool::generated_pool();
    for (const auto& name : services) {
      const auto* service = pool->FindServiceByName(name);
      if (!service) continue;  // not from a .proto compiled in: its calls count as unknown
      for (int i = 0; i < service->method_count(); ++i) {
        const auto* m = service->method(i);
        const std::uint8_t type = m->client_streaming() ? (m->server_streaming() ? 3 : 1)
                                                        : (m->server_streaming() ? 2 : 0);
        const auto& path = names_.emplace_back("/" + name + "/" + m->name());
        ids_.emplace(path, state_->grpc_method_id(path, type));
      }
    }
  }

  method_counter* counter_for(std::string_view name, std::uint8_t type) {
    const auto& path = names_.emplace_back(name);
    self_counted_.emplace(path);
    return &counters_.emplace_back(method_counter{state_.get(), state_->grpc_method_id(path, type)});
  }

  /// Whether the reactors count this method's calls.
  [[nodiscard]] bool counted_by_reactors(const char* name) const {
    return name && self_counted_.contains(std::string_view(name));
  }

  [[nodiscard]] std::uint32_t lookup(const char* name, std::uint8_t type) const {
    if (name) {
      if (const auto it = ids_.find(name); it != ids_.end()) return it->second;
    }
    return unknown_[type & 3];
  }

  const std::shared_ptr<metrics_state>& state() const noexcept { return state_; }

 private:
  std::shared_ptr<metrics_state> state_;
  std::deque<std::string> names_;  // the keys' storage
  std::unordered_map<std::string_view, std::uint32_t> ids_;
  std::unordered_set<std::string_view> self_counted_;
  std::deque<method_counter> counters_;  // the reactors point into it
  std::array<std::uint32_t, 4> unknown_{};
};

class call_counter_factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit call_counter_factory(std::shared_ptr<const method_table> methods) : methods_(std::move(methods)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    // No interceptor: grpc++ then runs the call's operations without interception.
    if (methods_->counted_by_reactors(info->method())) return nullptr;
    return new call_counter(*methods_->state(), methods_->lookup(info->method(), static_cast<std::uint8_t>(info->type())));
  }

 private:
  std::shared_ptr<const method_table> methods_;
};

}  // namespace

metrics_hook metrics_interceptor(std::shared_ptr<metrics_state> state) {
  auto methods = std::make_shared<method_table>(std::move(state));
  return {std::make_unique<call_counter_factory>(methods),
          [methods](const std::vector<std::string>& services) { methods->learn(services); },
          [methods](std::string_view name, std::uint8_t type) { return methods->counter_for(name, type); }};
}

}  // namespace coronet::rpc::detail
