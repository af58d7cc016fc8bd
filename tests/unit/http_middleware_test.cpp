// coronet::http::middleware and hooks: what a chain does when it runs — order in and out,
// groups, answering early, editing the response, exceptions, and the 404/405 answers the
// router's own middleware wraps. Chains are awaited on an io_context of the test's; no
// sockets. Hooks are run both ways a chain can run: as the match's handler, and as the server
// runs leading hooks (enter, rest, leave).
#include <coronet/http/router.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace http = coronet::http;

namespace {

// Serves one request as the server does: the router's target, or (when nothing is found) a
// stand-in for the server's own 404/405, told apart by its body.
http::response serve(const http::router& r, http::request& req) {
  const auto m = r.find(req.method, req.path(), req.params);
  if (m.result != http::router::match::kind::found) {
    return http::response::text("server's own answer\n",
                                m.result == http::router::match::kind::not_found
                                    ? http::status::not_found
                                    : http::status::method_not_allowed);
  }
  asio::io_context ctx;
  auto done = asio::co_spawn(ctx, (*m.target)(req), asio::use_future);
  ctx.run();
  return done.get();
}

// Serves as the server does when the chain starts with hooks: they run outside the handler.
http::response serve_as_server(const http::router& r, http::request& req) {
  const auto m = r.find(req.method, req.path(), req.params);
  if (!m.chain) return serve(r, req);
  http::response res;
  bool answered = false;
  const auto entered = m.chain->enter(req, res, answered);
  if (!answered) {
    asio::io_context ctx;
    auto done = asio::co_spawn(ctx, m.chain->rest(req), asio::use_future);
    ctx.run();
    res = done.get();
  }
  m.chain->leave(req, res, entered);
  return res;
}

http::response serve(const http::router& r, std::string method, std::string target) {
  http::request req;
  req.method = std::move(method);
  req.target = std::move(target);
  return serve(r, req);
}

// Records "name>" on the way in and "<name" on the way out.
http::middleware tracing(std::vector<std::string>& log, std::string name) {
  return [&log, name](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
    log.push_back(name + ">");
    auto res = co_await next(req);
    log.push_back("<" + name);
    co_return res;
  };
}

http::handler answering(std::vector<std::string>& log, std::string text) {
  return [&log, text](http::request&) -> asio::awaitable<http::response> {
    log.push_back(text);
    co_return http::response::text(text);
  };
}

TEST(http_middleware, runs_outer_first_in_and_reversed_out) {
  std::vector<std::string> log;
  http::router r;
  r.use(tracing(log, "a")).use(tracing(log, "b"));
  auto api = r.group("/api");
  api.use(tracing(log, "c"));
  api.get("/x", answering(log, "handler"));
  EXPECT_EQ(serve(r, "GET", "/api/x").body, "handler");
  EXPECT_EQ(log, (std::vector<std::string>{"a>", "b>", "c>", "handler", "<c", "<b", "<a"}));
}

TEST(http_middleware, groups_inherit_their_parents_and_keep_their_own_to_themselves) {
  std::vector<std::string> log;
  http::router r;
  r.use(tracing(log, "root"));
  auto api = r.group("/api");
  api.use(tracing(log, "api"));
  auto admin = api.group("/admin");
  admin.use(tracing(log, "admin"));
  auto pub = api.group("/public");
  r.get("/top", answering(log, "top"));
  admin.get("/x", answering(log, "admin handler"));
  pub.get("/x", answering(log, "public handler"));

  serve(r, "GET", "/api/admin/x");
  EXPECT_EQ(log, (std::vector<std::string>{"root>", "api>", "admin>", "admin handler", "<admin",
                                           "<api", "<root"}));
  log.clear();
  serve(r, "GET", "/api/public/x");
  EXPECT_EQ(log, (std::vector<std::string>{"root>", "api>", "public handler", "<api", "<root"}));
  log.clear();
  serve(r, "GET", "/top");
  EXPECT_EQ(log, (std::vector<std::string>{"root>", "top", "<root"}));
}

TEST(http_middleware, a_middleware_answers_without_reaching_the_handler) {
  int handled = 0;
  http::router r;
  auto api = r.group("/api");
  api.use([](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
    if (req.headers.get("authorization") != "Bearer secret") {
      auto res = http::response::text("Unauthorized\n", http::status::unauthorized);
      res.headers.set("WWW-Authenticate", "Bearer");
      co_return res;
    }
    co_return co_await next(req);
  });
  api.post("/orders", [&handled](http::request&) -> asio::awaitable<http::response> {
    ++handled;
    co_return http::response::text("created", http::status::created);
  });

  http::request anonymous;
  anonymous.method = "POST";
  anonymous.target = "/api/orders";
  const auto refused = serve(r, anonymous);
  EXPECT_EQ(refused.status, http::status::unauthorized);
  EXPECT_EQ(refused.headers.get("www-authenticate"), "Bearer");
  EXPECT_EQ(handled, 0);

  http::request known;
  known.method = "POST";
  known.target = "/api/orders";
  known.headers.set("Authorization", "Bearer secret");
  EXPECT_EQ(serve(r, known).status, http::status::created);
  EXPECT_EQ(handled, 1);
}

TEST(http_middleware, edits_the_request_on_the_way_in_and_the_response_on_the_way_out) {
  http::router r;
  r.use([](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
    req.headers.set("X-Request-Id", "req-1");
    auto res = co_await next(req);
    res.headers.set("X-Request-Id", std::string(*req.headers.get("x-request-id")));
    co_return res;
  });
  r.get("/users/{id}", [](http::request& req) -> asio::awaitable<http::response> {
    co_return http::response::text(std::string(req.param("id")) + " " +
                                   std::string(*req.headers.get("x-request-id")));
  });
  const auto res = serve(r, "GET", "/users/7");
  EXPECT_EQ(res.body, "7 req-1");
  EXPECT_EQ(res.headers.get("x-request-id"), "req-1");
}

TEST(http_middleware, a_plain_function_passes_through_without_a_frame_of_its_own) {
  int seen = 0;
  http::router r;
  r.use([&seen](http::request& req, http::next_handler next) {
    ++seen;
    return next(req);
  });
  r.get("/", [](http::request&) -> asio::awaitable<http::response> { co_return http::response::text("hi"); });
  EXPECT_EQ(serve(r, "GET", "/").body, "hi");
  EXPECT_EQ(seen, 1);
}

TEST(http_middleware, catches_what_the_handler_throws) {
  http::router r;
  r.use([](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
    try {
      co_return co_await next(req);
    } catch (const std::exception& e) {
      co_return http::response::text(std::string("caught: ") + e.what(), http::status::service_unavailable);
    }
  });
  r.get("/fail", [](http::request&) -> asio::awaitable<http::response> {
    throw std::runtime_error("database down");
    co_return http::response::text("unreachable");
  });
  const auto res = serve(r, "GET", "/fail");
  EXPECT_EQ(res.status, http::status::service_unavailable);
  EXPECT_EQ(res.body, "caught: database down");
}

TEST(http_middleware, what_no_middleware_catches_reaches_the_caller) {
  // The server turns it into a 500 (http_middleware_test.py checks that over a socket).
  std::vector<std::string> log;
  http::router r;
  r.use(tracing(log, "a"));
  r.get("/fail", [](http::request&) -> asio::awaitable<http::response> {
    throw std::runtime_error("boom");
    co_return http::response::text("unreachable");
  });
  EXPECT_THROW(serve(r, "GET", "/fail"), std::runtime_error);
  EXPECT_EQ(log, (std::vector<std::string>{"a>"}));
}

TEST(http_middleware, router_middleware_wraps_the_404_and_405_answers) {
  std::vector<std::string> log;
  http::router r;
  r.use([&log](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
    auto res = co_await next(req);
    log.push_back(req.method + " " + req.target + " " + std::to_string(static_cast<int>(res.status)));
    co_return res;
  });
  r.get("/x", answering(log, "x"));
  r.post("/x", answering(log, "x"));

  const auto missing = serve(r, "GET", "/nope?q=1");
  EXPECT_EQ(missing.status, http::status::not_found);
  EXPECT_EQ(missing.body, "Not Found\n");
  EXPECT_EQ(missing.headers.get("content-type"), "text/plain; charset=utf-8");

  const auto wrong = serve(r, "DELETE", "/x");
  EXPECT_EQ(wrong.status, http::status::method_not_allowed);
  EXPECT_EQ(wrong.body, "Method Not Allowed\n");
  EXPECT_EQ(wrong.headers.get("allow"), "GET, HEAD, POST");
  EXPECT_EQ(log, (std::vector<std::string>{"GET /nope?q=1 404", "DELETE /x 405"}));
}

TEST(http_middleware, a_cors_middleware_answers_a_preflight_no_route_serves) {
  http::router r;
  r.use([](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
    if (req.method == "OPTIONS" && req.headers.get("access-control-request-method")) {
      auto res = http::response::empty(http::status::no_content);
      res.headers.set("Access-Control-Allow-Origin", "*");
      res.headers.set("Access-Control-Allow-Methods", "GET, POST");
      co_return res;
    }
    auto res = co_await next(req);
    res.headers.set("Access-Control-Allow-Origin", "*");
    co_return res;
  });
  r.get("/data", [](http::request&) -> asio::awaitable<http::response> { co_return http::response::json("{}"); });

  http::request preflight;
  preflight.method = "OPTIONS";
  preflight.target = "/data";
  preflight.headers.set("Access-Control-Request-Method", "GET");
  const auto res = serve(r, preflight);
  EXPECT_EQ(res.status, http::status::no_content);
  EXPECT_EQ(res.headers.get("access-control-allow-methods"), "GET, POST");
  // Without the preflight header, the router's 405 comes through, with the CORS header on.
  const auto plain = serve(r, "OPTIONS", "/data");
  EXPECT_EQ(plain.status, http::status::method_not_allowed);
  EXPECT_EQ(plain.headers.get("access-control-allow-origin"), "*");
}

// Hooks that record "name>" on the way in and "<name" on the way out.
http::before_hook entering(std::vector<std::string>& log, std::string name) {
  return [&log, name](http::request&) -> std::optional<http::response> {
    log.push_back(name + ">");
    return std::nullopt;
  };
}
http::after_hook leaving(std::vector<std::string>& log, std::string name) {
  return [&log, name](const http::request&, http::response&) { log.push_back("<" + name); };
}

// Both ways of running a chain, named for the failure messages.
struct way {
  const char* name;
  http::response (*serve)(const http::router&, http::request&);
};
const way ways[] = {{"target", serve}, {"server", serve_as_server}};

http::request get(std::string target) {
  http::request req;
  req.method = "GET";
  req.target = std::move(target);
  return req;
}

TEST(http_hooks, run_in_the_order_installed_among_middleware) {
  for (const auto& w : ways) {
    SCOPED_TRACE(w.name);
    std::vector<std::string> log;
    http::router r;
    r.before(entering(log, "b1")).after(leaving(log, "a1")).use(tracing(log, "m"));
    auto api = r.group("/api");
    api.before(entering(log, "b2")).after(leaving(log, "a2"));
    api.get("/x", answering(log, "handler"));
    auto req = get("/api/x");
    EXPECT_EQ(w.serve(r, req).body, "handler");
    EXPECT_EQ(log, (std::vector<std::string>{"b1>", "m>", "b2>", "handler", "<a2", "<m", "<a1"}));
  }
}

TEST(http_hooks, the_server_runs_only_leading_hooks_itself) {
  std::vector<std::string> log;
  http::router r;
  r.get("/plain", answering(log, "plain"));
  auto hooked = r.group("/hooked");
  hooked.before(entering(log, "b")).use(tracing(log, "m"));
  hooked.get("/x", answering(log, "x"));
  auto wrapped = r.group("/wrapped");
  wrapped.use(tracing(log, "m")).before(entering(log, "b"));
  wrapped.get("/x", answering(log, "x"));
  std::vector<std::pair<std::string, std::string>> params;
  EXPECT_EQ(r.find("GET", "/plain", params).chain, nullptr);
  const auto m = r.find("GET", "/hooked/x", params);
  ASSERT_NE(m.chain, nullptr);
  EXPECT_EQ(m.chain->hooks_end, 1u);
  EXPECT_EQ(r.find("GET", "/wrapped/x", params).chain, nullptr);  // a middleware comes first
}

TEST(http_hooks, a_before_hook_answers_and_only_the_hooks_outside_it_see_the_answer) {
  for (const auto& w : ways) {
    SCOPED_TRACE(w.name);
    std::vector<std::string> log;
    int handled = 0;
    http::router r;
    r.after([&log](const http::request&, http::response& res) {
      log.push_back("outer saw " + std::to_string(static_cast<int>(res.status)));
      res.headers.set("X-Request-Id", "req-1");
    });
    r.before([](http::request& req) -> std::optional<http::response> {
      if (req.headers.get("authorization") == "Bearer secret") return std::nullopt;
      auto res = http::response::text("Unauthorized\n", http::status::unauthorized);
      res.headers.set("WWW-Authenticate", "Bearer");
      return res;
    });
    r.after(leaving(log, "inner"));
    r.get("/orders", [&handled](http::request&) -> asio::awaitable<http::response> {
      ++handled;
      co_return http::response::text("orders");
    });

    auto anonymous = get("/orders");
    const auto refused = w.serve(r, anonymous);
    EXPECT_EQ(refused.status, http::status::unauthorized);
    EXPECT_EQ(refused.headers.get("www-authenticate"), "Bearer");
    EXPECT_EQ(refused.headers.get("x-request-id"), "req-1");
    EXPECT_EQ(handled, 0);
    EXPECT_EQ(log, (std::vector<std::string>{"outer saw 401"}));

    log.clear();
    auto known = get("/orders");
    known.headers.set("Authorization", "Bearer secret");
    const auto served = w.serve(r, known);
    EXPECT_EQ(served.body, "orders");
    EXPECT_EQ(served.headers.get("x-request-id"), "req-1");
    EXPECT_EQ(handled, 1);
    EXPECT_EQ(log, (std::vector<std::string>{"<inner", "outer saw 200"}));
  }
}

TEST(http_hooks, a_before_hook_after_a_middleware_answers_to_it) {
  std::vector<std::string> log;
  http::router r;
  r.use([&log](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
    auto res = co_await next(req);
    log.push_back("middleware saw " + std::to_string(static_cast<int>(res.status)));
    co_return res;
  });
  r.before([](http::request&) -> std::optional<http::response> {
    return http::response::empty(http::status::no_content);
  });
  r.get("/", answering(log, "handler"));
  EXPECT_EQ(serve(r, "GET", "/").status, http::status::no_content);
  EXPECT_EQ(log, (std::vector<std::string>{"middleware saw 204"}));
}

TEST(http_hooks, an_exception_skips_the_after_hooks_and_reaches_what_catches_it) {
  for (const auto& w : ways) {
    SCOPED_TRACE(w.name);
    std::vector<std::string> log;
    http::router r;
    r.after(leaving(log, "outer"));
    auto guarded = r.group("/guarded");
    guarded.use([](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
      try {
        co_return co_await next(req);
      } catch (const std::exception& e) {
        co_return http::response::text(std::string("caught: ") + e.what(), http::status::service_unavailable);
      }
    });
    guarded.after(leaving(log, "inner"));
    auto fail = [](http::request&) -> asio::awaitable<http::response> {
      throw std::runtime_error("boom");
      co_return http::response::text("unreachable");
    };
    guarded.get("/fail", fail);
    r.get("/fail", fail);
    auto a = get("/guarded/fail");
    EXPECT_EQ(w.serve(r, a).body, "caught: boom");
    EXPECT_EQ(log, (std::vector<std::string>{"<outer"}));
    log.clear();
    auto b = get("/fail");
    EXPECT_THROW(w.serve(r, b), std::runtime_error);  // the server's 500
    EXPECT_TRUE(log.empty());
    log.clear();
    // A before hook that throws is the same.
    http::router t;
    t.after(leaving(log, "outer"));
    t.before([](http::request&) -> std::optional<http::response> { throw std::runtime_error("bad"); });
    t.get("/", answering(log, "handler"));
    auto c = get("/");
    EXPECT_THROW(w.serve(t, c), std::runtime_error);
    EXPECT_TRUE(log.empty());
  }
}

TEST(http_hooks, router_hooks_see_the_404_and_405_answers) {
  std::vector<std::string> log;
  http::router r;
  r.after([&log](const http::request& req, http::response& res) {
    log.push_back(req.method + " " + req.target + " " + std::to_string(static_cast<int>(res.status)));
  });
  r.get("/x", answering(log, "x"));
  EXPECT_EQ(serve(r, "GET", "/nope").status, http::status::not_found);
  const auto wrong = serve(r, "DELETE", "/x");
  EXPECT_EQ(wrong.status, http::status::method_not_allowed);
  EXPECT_EQ(wrong.headers.get("allow"), "GET, HEAD");
  EXPECT_EQ(log, (std::vector<std::string>{"GET /nope 404", "DELETE /x 405"}));
}

TEST(http_hooks, come_before_the_routes_and_are_not_empty) {
  http::router r;
  auto api = r.group("/api");
  EXPECT_THROW(r.before(http::before_hook{}), std::invalid_argument);
  EXPECT_THROW(api.after(http::after_hook{}), std::invalid_argument);
  api.get("/x", [](http::request&) -> asio::awaitable<http::response> { co_return http::response::text("x"); });
  EXPECT_THROW(api.before([](http::request&) -> std::optional<http::response> { return std::nullopt; }),
               std::logic_error);
  EXPECT_THROW(r.after([](const http::request&, http::response&) {}), std::logic_error);
}

TEST(http_middleware, a_copied_router_answers_405_from_its_own_routes) {
  http::router r;
  r.use([](http::request& req, http::next_handler next) { return next(req); });
  r.get("/x", [](http::request&) -> asio::awaitable<http::response> { co_return http::response::text("x"); });
  http::router copy = r;
  copy.put("/y", [](http::request&) -> asio::awaitable<http::response> { co_return http::response::text("y"); });
  {
    http::router gone = std::move(r);  // the original's routes end here
  }
  EXPECT_EQ(serve(copy, "POST", "/x").headers.get("allow"), "GET, HEAD");
  EXPECT_EQ(serve(copy, "POST", "/y").headers.get("allow"), "PUT");
}

}  // namespace
