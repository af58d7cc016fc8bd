#include <coronet/rpc/health.hpp>

#include <coronet/detail/asio.hpp>

#include "health_state.hpp"

#include <asio/post.hpp>

namespace coronet::rpc {

namespace detail {

serving_status health_state::status_locked(std::string_view service) const {
  const auto it = statuses.find(service);
  return it == statuses.end() ? serving_status::service_unknown : it->second;
}

void health_state::set_locked(std::string_view service, serving_status status) {
  auto it = statuses.find(service);
  if (it == statuses.end()) {
    it = statuses.emplace(std::string(service), status).first;
  } else if (it->second == status) {
    return;
  }
  it->second = status;
  const auto [first, last] = watches.equal_range(service);
  for (auto w = first; w != last; ++w) wake(w->second);
}

void health_state::wake(const std::shared_ptr<health_watch>& watch) {
  asio::post(watch->wake.get_executor(), [watch] { watch->wake.cancel(); });
}

health_subscription::health_subscription(health_state& state, std::string service,
                                         asio::any_io_executor executor)
    : state_(state),
      service_(std::move(service)),
      watch_(std::make_shared<health_watch>(std::move(executor))) {
  std::lock_guard lock(state_.mutex);
  state_.watches.emplace(service_, watch_);
}

health_subscription::~health_subscription() {
  std::lock_guard lock(state_.mutex);
  const auto [first, last] = state_.watches.equal_range(service_);
  for (auto w = first; w != last; ++w) {
    if (w->second == watch_) {
      state_.watches.erase(w);
      break;
    }
  }
}

std::pair<serving_status, bool> health_subscription::current() const {
  std::lock_guard lock(state_.mutex);
  // Once shutting down, names the server never knew are reported NOT_SERVING as well: the
  // last word of every watch is that the server is going away.
  if (state_.shut_down) return {serving_status::not_serving, true};
  return {state_.status_locked(service_), false};
}

asio::awaitable<void> health_subscription::changed() {
  watch_->wake.expires_at(asio::steady_timer::time_point::max());
  // operation_aborted either way: woken by a change, or the call was cancelled (the caller
  // tells which from its cancellation state).
  co_await watch_->wake.async_wait(coronet::detail::use_nothrow);
}

}  // namespace detail

health::health() : state_(std::make_unique<detail::health_state>()) {}

health::~health() = default;

void health::set_serving(std::string_view service, bool serving) {
  std::lock_guard lock(state_->mutex);
  if (state_->shut_down) return;
  state_->set_locked(service, serving ? serving_status::serving : serving_status::not_serving);
}

serving_status health::status(std::string_view service) const {
  std::lock_guard lock(state_->mutex);
  return state_->status_locked(service);
}

void health::start(const std::vector<std::string>& services) {
  std::lock_guard lock(state_->mutex);
  if (state_->shut_down) return;
  const auto serve_unless_set = [this](std::string_view name) {
    if (!state_->statuses.contains(name)) state_->set_locked(name, serving_status::serving);
  };
  serve_unless_set("");
  for (const auto& name : services) serve_unless_set(name);
}

void health::shut_down() {
  std::lock_guard lock(state_->mutex);
  if (state_->shut_down) return;
  state_->shut_down = true;
  for (auto& [name, status] : state_->statuses) status = serving_status::not_serving;
  for (const auto& [name, watch] : state_->watches) detail::health_state::wake(watch);
}

}  // namespace coronet::rpc
