// Linux scheduling policy of coronet's threads and of the gRPC threads its servers start.
// Internal to the library.
#pragma once

#include <pthread.h>
#include <sched.h>

namespace coronet::detail {

// SCHED_BATCH for the calling thread (Linux); lowering a thread's policy to it needs no
// privilege.
inline void use_batch_scheduling() noexcept {
#ifdef SCHED_BATCH
  sched_param param{};
  param.sched_priority = 0;
  ::pthread_setschedparam(::pthread_self(), SCHED_BATCH, &param);
#endif
}

// Puts the calling thread under SCHED_BATCH for the scope's lifetime, then back as it was.
// Threads started meanwhile inherit the policy (pthread_create's default).
class batch_scheduling_scope {
 public:
  explicit batch_scheduling_scope(bool batch) noexcept : active_(batch) {
    if (!active_) return;
    ::pthread_getschedparam(::pthread_self(), &policy_, &param_);
    use_batch_scheduling();
  }
  ~batch_scheduling_scope() {
    if (active_) ::pthread_setschedparam(::pthread_self(), policy_, &param_);
  }
  batch_scheduling_scope(const batch_scheduling_scope&) = delete;
  batch_scheduling_scope& operator=(const batch_scheduling_scope&) = delete;

 private:
  bool active_;
  int policy_ = 0;
  sched_param param_{};
};

}  // namespace coronet::detail
