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
// Middleware is installed on a router or a route group (router.hpp), outer first: the first
// installed runs first on the way in and last on the way out. Chains are put together once,
// when a route is added; a route with no middleware stores its handler as it was given.
//
// What a middleware costs per request is its own coroutine frame and one call through
// std::function. One that only looks at the request need not be a coroutine at all, and
// then has no frame of its own: `return next(req);` from a plain lambda (same signature).
#pragma once

#include <coronet/http/message.hpp>

#include <cstddef>
#include <functional>
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

namespace detail {

/// A handler with the middleware around it, outer first; built once, when a route is added.
struct middleware_chain {
  std::vector<middleware> layers;
  handler last;

  asio::awaitable<response> operator()(request& req) const { return next_handler(*this, 0)(req); }
};

}  // namespace detail

// Not a coroutine: the call returns the next layer's awaitable, so passing through a chain
// adds no frame beyond each middleware's own.
inline asio::awaitable<response> next_handler::operator()(request& req) const {
  if (index_ == chain_->layers.size()) return chain_->last(req);
  return chain_->layers[index_](req, next_handler(*chain_, index_ + 1));
}

}  // namespace coronet::http
