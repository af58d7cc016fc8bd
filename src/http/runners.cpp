// The coroutines that serve connections. A runner serves one connection until it is idle or
// closed, then parks until the next: a connection with bytes to serve takes a parked runner
// (no coroutine frame allocated), and an idle connection holds none.
#include "connection.hpp"

namespace coronet::http::detail {

asio::awaitable<void> connection::runner(worker& w, parked_runner& slot, std::shared_ptr<connection> c) {
  while (c != nullptr) {
    {
      // The worker lives in the server's state, and a connection that closes may be the
      // state's last owner: it is held until the runner is done with the worker.
      std::shared_ptr<server_state> keep;
      // Serving is this frame's own work, not a coroutine it calls: one frame fewer a request.
      bool idle = false;
      try {
        idle = co_await c->serve();
        if (!idle && c->linger_ && !c->timed_out_) co_await c->linger();
      } catch (...) {
        // Nothing a connection does should throw; if it does, this connection alone ends.
      }
      // An idle connection's ownership moves on to its read; one that closes ends here.
      if (!idle || !c->park(c)) {
        keep = c->state();
        c->finish();
        c.reset();
      }
      if (w.runners_closed || w.idle_runners.size() >= worker::max_idle_runners) {
        w.spare_runners.push_back(&slot);
        co_return;
      }
    }
    // Not the last owner: a server being destroyed has closed the runners (above) first.
    c = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(std::shared_ptr<connection>)>(
        [&w, &slot](auto handler) {
          slot.park(std::move(handler));
          w.idle_runners.push_back(&slot);
        },
        asio::use_awaitable);
  }
}

void serve_on_runner(worker& w, std::shared_ptr<connection> c) {
  if (!w.idle_runners.empty()) {
    auto* r = w.idle_runners.back();
    w.idle_runners.pop_back();
    r->resume(std::move(c));
    return;
  }
  parked_runner* slot;
  if (w.spare_runners.empty()) {
    slot = w.runners.emplace_back(std::make_unique<parked_runner>()).get();
  } else {
    slot = w.spare_runners.back();
    w.spare_runners.pop_back();
  }
  // Detached: runner() hands its slot back itself, since the worker may be gone by its end.
  asio::co_spawn(w.ctx, connection::runner(w, *slot, std::move(c)), asio::detached);
}

void end_idle_runners(worker& w) {
  w.runners_closed = true;
  auto idle = std::move(w.idle_runners);
  w.idle_runners.clear();
  for (auto* r : idle) r->resume(nullptr);
}

}  // namespace coronet::http::detail
