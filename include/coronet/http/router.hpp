// http::router — maps a method and a path to a coroutine handler.
//
// Patterns are literal segments, `{name}` segments that capture one segment, and an optional
// trailing `*` that captures the rest of the path, which may be empty (`/files/*` serves
// `/files` and `/files/`). The most specific match wins, whatever the order of registration:
// of two routes matching a path, the one with the more specific segment where they first
// differ, literal before `{name}` before `*`; a route ending where the path ends beats a `*`
// that would match nothing (`/files` beats `/files/*` for `/files`).
//
//     http::router r;
//     r.get("/", [](http::request&) -> asio::awaitable<http::response> {
//       co_return http::response::text("Hello, World!");
//     });
//     r.get("/users/{id}", [](http::request& req) -> asio::awaitable<http::response> {
//       co_return http::response::text(std::string(req.param("id")));
//     });
//
// No path match gives 404; a path that matches with another method gives 405 with `Allow`;
// HEAD is answered by the GET handler, without the body.
//
// Middleware (middleware.hpp) runs around handlers. `use()` on the router applies to every
// route, and to requests no route serves: a CORS middleware can answer a preflight, an access
// log sees the 404s. A group adds a path prefix and middleware of its own to the routes added
// through it, inside its parent's:
//
//     r.use(access_log);                       // every request, 404 and 405 included
//     auto api = r.group("/api");
//     api.use(authenticate);                   // access_log, then authenticate, then...
//     api.get("/users/{id}", get_user);        // ...the handler of GET /api/users/{id}
//
// `before()` and `after()` install hooks, plain functions for what needs no suspension
// (middleware.hpp), into the same chain.
//
// `use()`, `before()` and `after()` come before the routes they apply to: on a router or
// group through which a route was already added (directly or through a group inside it),
// they throw std::logic_error, so which routes a middleware covers never depends on the order
// of lines.
#pragma once

#include <coronet/http/message.hpp>
#include <coronet/http/middleware.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace coronet::http {

namespace detail {
struct route_table;  // src/http/router.cpp
}  // namespace detail

class route_group;

class router {
 public:
  router();
  /// A copy is independent of the original (its routes and groups are copied).
  router(const router& other);
  router& operator=(const router& other);
  /// A moved-from router is empty. Groups made from a router stay valid when it is moved.
  router(router&& other) noexcept;
  router& operator=(router&& other) noexcept;
  ~router();

  /// Adds a route. Throws std::invalid_argument for a malformed pattern (not starting with
  /// '/', a '*' that is not the last segment, an empty `{}`).
  router& add(std::string_view method, std::string_view pattern, handler h);
  router& get(std::string_view pattern, handler h) { return add("GET", pattern, std::move(h)); }
  router& post(std::string_view pattern, handler h) { return add("POST", pattern, std::move(h)); }
  router& put(std::string_view pattern, handler h) { return add("PUT", pattern, std::move(h)); }
  router& patch(std::string_view pattern, handler h) { return add("PATCH", pattern, std::move(h)); }
  router& del(std::string_view pattern, handler h) { return add("DELETE", pattern, std::move(h)); }

  /// Installs `m` around every route, inside the middleware installed before it, and around
  /// the 404 and 405 answers. Throws std::logic_error once any route has been added, and
  /// std::invalid_argument for an empty function.
  router& use(middleware m);
  /// Installs a hook (middleware.hpp) as use() installs a middleware, in the same chain and
  /// the same order, with the same rules.
  router& before(before_hook h);
  router& after(after_hook h);

  /// A group of routes under `prefix` ("/api"; "" for middleware alone), whose routes are
  /// added to this router. Throws std::invalid_argument for a prefix that does not start
  /// with '/' or holds a '*'. The group refers to this router's routes: use it while the
  /// router lives.
  [[nodiscard]] route_group group(std::string_view prefix);

  struct match {
    enum class kind { found, not_found, method_not_allowed };
    kind result = kind::not_found;
    /// Set when found. With middleware on the router itself, a request no route serves is
    /// found too: its target is that middleware around the 404 or 405 (with Allow) answer.
    const handler* target = nullptr;
    std::string allow;  ///< set for method_not_allowed: "GET, HEAD, POST"
    /// The matched route's pattern as registered, e.g. "/users/{id}" (for metrics and logs:
    /// a bounded set of values, unlike paths); a group's prefix included. Empty when nothing
    /// matched.
    std::string_view pattern;
    /// Set when found through a route: its position among the router's routes in the order
    /// they were added, for tables kept per route (coronet's metrics). no_route otherwise.
    std::size_t route_index = no_route;
    static constexpr std::size_t no_route = static_cast<std::size_t>(-1);
    /// Set when found through a route whose chain starts with hooks: the server runs them
    /// itself (enter, rest, leave) rather than through `target`, which does the same in a
    /// coroutine of its own.
    const detail::middleware_chain* chain = nullptr;
  };
  /// Finds the handler for `method` and `path`, filling `params` with the captured segments.
  using params_type = std::vector<std::pair<std::string, std::string>>;
  [[nodiscard]] match find(std::string_view method, std::string_view path, params_type& params) const;

 private:
  detail::route_table& table();

  std::unique_ptr<detail::route_table> table_;
};

/// Routes under a common prefix with common middleware (router::group). A small handle: copies
/// refer to the same group.
class route_group {
 public:
  /// Adds `method` `pattern` with the group's prefix in front ("/api" + "/users/{id}"); the
  /// pattern "" is the prefix itself. Throws as router::add does.
  route_group& add(std::string_view method, std::string_view pattern, handler h);
  route_group& get(std::string_view pattern, handler h) { return add("GET", pattern, std::move(h)); }
  route_group& post(std::string_view pattern, handler h) { return add("POST", pattern, std::move(h)); }
  route_group& put(std::string_view pattern, handler h) { return add("PUT", pattern, std::move(h)); }
  route_group& patch(std::string_view pattern, handler h) { return add("PATCH", pattern, std::move(h)); }
  route_group& del(std::string_view pattern, handler h) { return add("DELETE", pattern, std::move(h)); }

  /// Installs `m` around the group's routes, inside its parents' middleware and the
  /// middleware installed on it before. Throws std::logic_error once a route has been added
  /// through the group (or a group inside it).
  route_group& use(middleware m);
  /// Hooks (middleware.hpp), installed as use() installs a middleware.
  route_group& before(before_hook h);
  route_group& after(after_hook h);

  /// A group inside this one: its prefix follows this one's, its middleware runs inside.
  [[nodiscard]] route_group group(std::string_view prefix);

  /// The full prefix, e.g. "/api/v1".
  [[nodiscard]] std::string_view prefix() const;

 private:
  friend class router;
  route_group(detail::route_table& table, std::size_t scope) noexcept : table_(&table), scope_(scope) {}

  detail::route_table* table_;
  std::size_t scope_;
};

}  // namespace coronet::http
