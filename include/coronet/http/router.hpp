// http::router — maps a method and a path to a coroutine handler.
//
// Patterns are literal segments, `{name}` segments that capture one segment, and an optional
// trailing `*` that captures the rest of the path. The most specific match wins, whatever the
// order of registration: literal beats `{name}` beats `*`.
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
#pragma once

#include <coronet/http/message.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace coronet::http {

using handler = std::function<asio::awaitable<response>(request&)>;

class router {
 public:
  /// Adds a route. Throws std::invalid_argument for a malformed pattern (not starting with
  /// '/', a '*' that is not the last segment, an empty `{}`).
  router& add(std::string_view method, std::string_view pattern, handler h);
  router& get(std::string_view pattern, handler h) { return add("GET", pattern, std::move(h)); }
  router& post(std::string_view pattern, handler h) { return add("POST", pattern, std::move(h)); }
  router& put(std::string_view pattern, handler h) { return add("PUT", pattern, std::move(h)); }
  router& patch(std::string_view pattern, handler h) { return add("PATCH", pattern, std::move(h)); }
  router& del(std::string_view pattern, handler h) { return add("DELETE", pattern, std::move(h)); }

  struct match {
    enum class kind { found, not_found, method_not_allowed };
    kind result = kind::not_found;
    const handler* target = nullptr;  ///< set when found
    std::string allow;                ///< set for method_not_allowed: "GET, HEAD, POST"
    /// The matched route's pattern as registered, e.g. "/users/{id}" (for metrics and logs:
    /// a bounded set of values, unlike paths). Empty when nothing matched.
    std::string_view pattern;
  };
  /// Finds the handler for `method` and `path`, filling `params` with the captured segments.
  using params_type = std::vector<std::pair<std::string, std::string>>;
  [[nodiscard]] match find(std::string_view method, std::string_view path, params_type& params) const;

 private:
  struct segment {
    enum class kind { literal, param, wildcard };
    kind type;
    std::string text;  // literal text, or the parameter's name
  };
  struct route {
    std::string method;
    std::string pattern;
    std::vector<segment> segments;
    handler h;
    int score;  // specificity: higher wins
  };
  static bool matches(const route& r, std::string_view path, params_type* params);

  std::vector<route> routes_;
};

}  // namespace coronet::http
