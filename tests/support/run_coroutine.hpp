// Runs one coroutine on an io_context until it completes, for tests that drive coronet's
// client from the test's own thread. Not ctx.run(): pooled connections and their idle timers
// keep the context busy after the coroutine is done.
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <exception>
#include <optional>
#include <utility>

namespace coronet_test {

template <class T>
T run(asio::io_context& ctx, asio::awaitable<T> a) {
  std::optional<T> out;
  std::exception_ptr failure;
  bool done = false;
  asio::co_spawn(ctx, std::move(a), [&](std::exception_ptr e, T v) {
    failure = e;
    if (!e) out.emplace(std::move(v));
    done = true;
  });
  ctx.restart();
  while (!done) ctx.run_one();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

}  // namespace coronet_test
