// Cost of http::router::find over a small API's routes: a literal path, a path with
// parameters, a wildcard, a method that does not match, and a path that matches nothing.
#include <coronet/http/router.hpp>

#include <benchmark/benchmark.h>

#include <string_view>

namespace http = coronet::http;

namespace {

http::router api_routes() {
  http::handler h = [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("ok");
  };
  http::router r;
  for (const char* p : {"/", "/health", "/metrics", "/login", "/logout", "/users",
                        "/users/{id}", "/users/{id}/posts", "/users/{id}/posts/{post}",
                        "/posts", "/posts/{id}", "/posts/{id}/comments",
                        "/posts/{id}/comments/{comment}", "/search", "/static/*",
                        "/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/orders/{id}/items"}) {
    r.get(p, h);
  }
  r.post("/users", h);
  r.post("/posts/{id}/comments", h);
  r.put("/users/{id}", h);
  r.del("/users/{id}", h);
  return r;
}

void find(benchmark::State& state, std::string_view method, std::string_view path,
          http::router::match::kind expected) {
  const auto routes = api_routes();
  http::router::params_type params;
  for (auto _ : state) {
    params.clear();
    auto m = routes.find(method, path, params);
    if (m.result != expected) {
      state.SkipWithError("unexpected match result");
      break;
    }
    benchmark::DoNotOptimize(m.target);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

using kind = http::router::match::kind;
BENCHMARK_CAPTURE(find, literal, "GET", "/health", kind::found);
BENCHMARK_CAPTURE(find, two_params, "GET", "/posts/17/comments/3", kind::found);
BENCHMARK_CAPTURE(find, wildcard, "GET", "/static/css/site.css", kind::found);
BENCHMARK_CAPTURE(find, method_not_allowed, "PATCH", "/users/7", kind::method_not_allowed);
BENCHMARK_CAPTURE(find, not_found, "GET", "/nothing/here", kind::not_found);

}  // namespace

BENCHMARK_MAIN();
