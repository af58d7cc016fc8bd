#include <coronet/config.hpp>
#include <coronet/runtime.hpp>

#include "scheduling.hpp"

#if CORONET_HAS_GRPC && __has_include(<absl/synchronization/mutex.h>)
#include <absl/synchronization/mutex.h>
#define CORONET_ABSL_MUTEX 1
#else
#define CORONET_ABSL_MUTEX 0
#endif

#include <asio/signal_set.hpp>

#include <array>
#include <csignal>

namespace coronet {

namespace {

// runtime_options::absl_deadlock_detection. Process-wide: every runtime constructed without
// it turns the check off; one constructed with it leaves the setting as it finds it.
void apply_process_settings(const runtime_options& options) {
#if CORONET_ABSL_MUTEX
  if (!options.absl_deadlock_detection) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
#else
  (void)options;
#endif
}

std::size_t thread_count(std::size_t requested) {
  if (requested != 0) return requested;
  const auto hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

}  // namespace

runtime::runtime(runtime_options options) : options_(options) {
  apply_process_settings(options_);
  const auto n = thread_count(options_.threads);
  owned_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    // Each context is run by exactly one thread: the hint lets Asio skip internal locking.
    owned_.push_back(std::make_unique<asio::io_context>(1));
    contexts_.push_back(owned_.back().get());
  }
}

runtime::runtime(asio::io_context& context, runtime_options options) : options_(options) {
  apply_process_settings(options_);
  contexts_.push_back(&context);
}

runtime::~runtime() {
  halt();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  // Destroy owned contexts in reverse order of creation; pending handlers (and with them
  // suspended coroutine frames) are destroyed here.
  while (!owned_.empty()) owned_.pop_back();
}

runtime::executor_type runtime::next_executor() noexcept {
  const auto i = next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
  return contexts_[i]->get_executor();
}

std::optional<runtime::executor_type> runtime::current_executor() const noexcept {
  for (auto* ctx : contexts_) {
    auto ex = ctx->get_executor();
    if (ex.running_in_this_thread()) return ex;
  }
  return std::nullopt;
}

std::size_t runtime::add_stop_hook(stop_hook hook, stop_stage stage) {
  std::lock_guard lock(hooks_mutex_);
  hooks_.push_back({next_hook_id_, stage, std::move(hook)});
  return next_hook_id_++;
}

std::size_t runtime::add_stop_hooks(std::vector<std::pair<stop_stage, stop_hook>> hooks) {
  std::lock_guard lock(hooks_mutex_);
  for (auto& [stage, hook] : hooks) hooks_.push_back({next_hook_id_, stage, std::move(hook)});
  return next_hook_id_++;
}

void runtime::remove_stop_hook(std::size_t id) {
  std::lock_guard lock(hooks_mutex_);
  std::erase_if(hooks_, [id](const auto& entry) { return entry.id == id; });
}

void runtime::run() {
  for (auto* ctx : contexts_) guards_.push_back(asio::make_work_guard(*ctx));

  std::optional<asio::signal_set> signals;
  if (options_.handle_signals) {
    signals.emplace(*contexts_[0], SIGINT, SIGTERM);
    signals->async_wait([this](const std::error_code& ec, int) {
      if (!ec) stop();
    });
    cancel_signals_ = [&signals] { signals->cancel(); };
  }
  // A stop() made before run() has already queued the drain on context 0: it runs the
  // hooks as soon as that context runs, then halts.

  const bool batch = options_.batch_scheduling;
  for (std::size_t i = 1; i < contexts_.size(); ++i) {
    threads_.emplace_back([ctx = contexts_[i], batch] {
      if (batch) detail::use_batch_scheduling();
      ctx->run();
    });
  }
  {
    const detail::batch_scheduling_scope restore(batch);
    contexts_[0]->run();
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
  cancel_signals_ = nullptr;
}

void runtime::stop() {
  if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  asio::co_spawn(*contexts_[0], drain(), asio::detached);
}

asio::awaitable<void> runtime::drain() {
  // Stage by stage: every port stops accepting (and serves what its queue held) before any
  // server drains, so no connection is accepted after its server has finished draining.
  // A static array, not a braced list: GCC 12 mishandles the lifetime of what a range-for
  // in a coroutine iterates over when it lives in the frame (see acceptor_set.cpp).
  static constexpr std::array stages{stop_stage::stop_accepting, stop_stage::lame_duck, stop_stage::drain};
  for (const auto stage : stages) {
    std::vector<stop_hook> hooks;
    {
      std::lock_guard lock(hooks_mutex_);
      for (auto& entry : hooks_) {
        if (entry.stage == stage) hooks.push_back(entry.hook);
      }
    }
    // Within a stage the hooks run concurrently (each server drains on its own); the stage
    // ends with the last one.
    auto ex = co_await asio::this_coro::executor;
    auto remaining = std::make_shared<std::size_t>(hooks.size());
    auto all_done = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
    for (auto& hook : hooks) {
      asio::co_spawn(ex, std::move(hook), [remaining, all_done](std::exception_ptr) {
        if (--*remaining == 0) all_done->cancel();
      });
    }
    if (*remaining != 0) co_await all_done->async_wait(detail::use_nothrow);
  }
  halt();
}

void runtime::halt() {
  if (cancel_signals_) cancel_signals_();
  guards_.clear();
  // An embedding caller's io_context is theirs to stop: releasing our guard is enough.
  for (auto& ctx : owned_) ctx->stop();
}

}  // namespace coronet
