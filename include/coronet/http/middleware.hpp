// http::middleware — code that runs around route handlers: authentication, request ids,
// access logs, CORS, metrics.
//
// A middleware is a coroutine given the request and `next`, the rest of the chain (the
// middleware after it, then the route's handler). It continues with `co_await next(req)`,
// or answers by itself without calling it (a 401), or edits the response `next` returned
// (adds headers), or catches what `next` throws:
//
//     routes.use([](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
//       if (!req.headers.get("authorization")) {
//         co_return http::response::text("Unauthorized\n", http::status::unauthorized);
//       }
//       auto res = co_await next(req);
//       res.headers.set("X-Served-By", "coronet");
//       co_return res;
//     });
//
// Most cross-cutting work needs no suspension: look at the request and maybe answer it, or
// edit the answer on its way out. Hooks do that with plain functions:
//
//     routes.before([](http::request& req) -> std::optional<http::response> {
//       if (!req.headers.get("authorization")) {
//         return http::response::text("Unauthorized\n", http::status::unauthorized);
//       }
//       return std::nullopt;  // go on
//     });
//     routes.after([](const http::request&, http::response& res) {
//       res.headers.set("X-Served-By", "coronet");
//     });
//
// A before hook behaves as a middleware that returns its answer or else `co_await next(req)`;
// an after hook as one that awaits `next` and then edits what it returned. Neither runs
// on an exception thrown further in (it reaches the middleware outside them, or becomes the
// server's 500). Middleware and hooks go into one chain, in the order they are installed.
//
// Middleware is installed on a router or a route group (router.hpp), outer first: the first
// installed runs first on the way in and last on the way out. Chains are put together once,
// when a route is added; a route with no middleware stores its handler as it was given.
//
// What each costs per request: a middleware, its own coroutine frame and one call through
// std::function (one that only looks at the request need not be a coroutine: `return
// next(req);` from a plain lambda of the same signature has no frame). A hook, one call
// through std::function: the hooks at the start of a chain, before its first middleware,
// run in the server's own request coroutine. (A hook after a middleware is
// run from that middleware's `next`, where an after hook needs a frame of its own.)
#pragma once

#include <coronet/http/message.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

namespace coronet::http {

/// A route handler: answers one fully read request.
using handler = std::function<asio::awaitable<response>(request&)>;

namespace detail {
struct middleware_chain;
}  // namespace detail

/// The rest of a middleware chain, as the middleware before it sees it: calling it runs the
/// next middleware (or, at the end, the route's handler) on `req`. A small reference into
/// the chain its router holds: cheap to copy, valid as long as the router lives. May be
/// called more than once (each call runs the rest of the chain again).
class next_handler {
 public:
  asio::awaitable<response> operator()(request& req) const;

 private:
  friend struct detail::middleware_chain;
  next_handler(const detail::middleware_chain& chain, std::size_t index) noexcept
      : chain_(&chain), index_(index) {}

  const detail::middleware_chain* chain_;
  std::size_t index_;  // the layer this call runs; layers.size() is the handler
};

/// Runs around the handlers it is installed for (router::use, route_group::use).
using middleware = std::function<asio::awaitable<response>(request&, next_handler)>;

/// Runs on the way in (router::before): an answer ends the chain there (the handler and what
/// is inside does not run; the after hooks and middleware outside still see the answer);
/// std::nullopt goes on.
using before_hook = std::function<std::optional<response>(request&)>;

/// Runs on the way out (router::after), on the answer the rest of the chain gave.
using after_hook = std::function<void(const request&, response&)>;

namespace detail {

/// One layer of a chain: exactly one of the three is set.
struct layer {
  middleware around{};
  before_hook before{};
  after_hook after{};
};

/// A handler with the middleware and hooks around it, outer first; built once, when a route
/// is added.
struct middleware_chain {
  std::vector<layer> layers;
  handler last;
  /// layers[0, hooks_end) are hooks: enter() and leave() run them without a coroutine.
  std::size_t hooks_end = 0;

  /// The way in through the leading hooks: runs the before hooks until one answers (into
  /// `res`, setting `answered`). Returns how many layers were entered: leave() takes it.
  std::size_t enter(request& req, response& res, bool& answered) const;
  /// The way out through the leading hooks entered: the after hooks, innermost first.
  void leave(const request& req, response& res, std::size_t entered) const;
  /// The rest of the chain, after the leading hooks.
  [[nodiscard]] asio::awaitable<response> rest(request& req) const {
    if (hooks_end == layers.size()) return last(req);
    return next_handler(*this, hooks_end)(req);
  }

  /// The whole chain, as one handler.
  asio::awaitable<response> operator()(request& req) const;
};

}  // namespace detail

}  // namespace coronet::http
