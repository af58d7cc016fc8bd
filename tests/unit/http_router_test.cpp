// coronet::http::router: patterns, specificity, 404/405, HEAD, groups and where middleware
// goes (what it does when it runs: http_middleware_test.cpp). No sockets.
#include <coronet/http/router.hpp>

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

namespace http = coronet::http;
using kind = http::router::match::kind;

namespace {

http::handler named(std::string name) {
  return [name](http::request&) -> asio::awaitable<http::response> { co_return http::response::text(name); };
}

// Which route answered: handlers are told apart by address.
struct fixture {
  http::router r;
  std::vector<std::pair<std::string, std::string>> params;
  std::map<const http::handler*, std::string> names;
  fixture() {
    r.get("/", named("root"));
    r.get("/users/{id}", named("user"));
    r.get("/users/me", named("me"));
    r.post("/users", named("create"));
    r.get("/users/{id}/posts/{post}", named("post"));
    r.get("/files/*", named("files"));
    r.del("/users/{id}", named("delete"));
  }
  http::router::match find(std::string_view method, std::string_view path) {
    return r.find(method, path, params);
  }
};

TEST(http_router, literal_root_matches_only_root) {
  fixture f;
  EXPECT_EQ(f.find("GET", "/").result, kind::found);
  EXPECT_EQ(f.find("GET", "/nope").result, kind::not_found);
}

TEST(http_router, captures_named_segments) {
  fixture f;
  ASSERT_EQ(f.find("GET", "/users/42/posts/7").result, kind::found);
  ASSERT_EQ(f.params.size(), 2u);
  EXPECT_EQ(f.params[0], (std::pair<std::string, std::string>{"id", "42"}));
  EXPECT_EQ(f.params[1], (std::pair<std::string, std::string>{"post", "7"}));
}

TEST(http_router, literal_segment_beats_parameter_whatever_the_order) {
  fixture f;
  auto m = f.find("GET", "/users/me");
  ASSERT_EQ(m.result, kind::found);
  EXPECT_TRUE(f.params.empty());
  m = f.find("GET", "/users/you");
  ASSERT_EQ(m.result, kind::found);
  ASSERT_EQ(f.params.size(), 1u);
  EXPECT_EQ(f.params[0].second, "you");
  EXPECT_NE(f.find("GET", "/users/me").target, f.find("GET", "/users/you").target);
}

// A wildcard matches the empty rest too ("/files/*" serves "/files"), but a route that ends
// where the path ends is more specific, whatever the order of registration.
TEST(http_router, a_route_ending_with_the_path_beats_a_wildcard_matching_nothing) {
  for (const bool wildcard_first : {true, false}) {
    http::router r;
    std::vector<std::pair<std::string, std::string>> params;
    if (wildcard_first) r.get("/files/*", named("files")).get("/*", named("any"));
    r.get("/files", named("index")).get("/", named("root"));
    if (!wildcard_first) r.get("/files/*", named("files")).get("/*", named("any"));
    EXPECT_EQ(r.find("GET", "/files", params).pattern, "/files");
    EXPECT_EQ(r.find("GET", "/", params).pattern, "/");
    EXPECT_EQ(r.find("GET", "/files/", params).pattern, "/files/*");
    EXPECT_EQ(r.find("GET", "/files/a", params).pattern, "/files/*");
    EXPECT_EQ(r.find("GET", "/other", params).pattern, "/*");
  }
}

// Routes are ranked segment by segment from the left, at any depth: the first segment
// where two matching routes differ decides.
TEST(http_router, the_first_segment_that_differs_decides_at_any_depth) {
  http::router r;
  std::vector<std::pair<std::string, std::string>> params;
  std::string deep_param, deep_literal, path;
  for (int i = 0; i < 24; ++i) {
    deep_param += i == 0 ? "/{first}" : "/s" + std::to_string(i);
    deep_literal += i < 23 ? "/s" + std::to_string(i) : std::string("/{last}");
    path += "/s" + std::to_string(i);
  }
  r.get(deep_param, named("param first"));
  r.get(deep_literal, named("param last"));
  EXPECT_EQ(r.find("GET", path, params).pattern, deep_literal);
  r.get("/a/{x}/c", named("param"));
  r.get("/a/b/*", named("wildcard"));
  EXPECT_EQ(r.find("GET", "/a/b/c", params).pattern, "/a/b/*");  // literal b decides
  EXPECT_EQ(r.find("GET", "/a/z/c", params).pattern, "/a/{x}/c");
  r.get("/a/*", named("short wildcard"));
  EXPECT_EQ(r.find("GET", "/a/b/d/e", params).pattern, "/a/b/*");
  EXPECT_EQ(r.find("GET", "/a/z/d", params).pattern, "/a/*");
}

TEST(http_router, a_match_names_its_pattern_not_its_path) {
  fixture f;
  EXPECT_EQ(f.find("GET", "/users/42/posts/7").pattern, "/users/{id}/posts/{post}");
  EXPECT_EQ(f.find("HEAD", "/files/a/b").pattern, "/files/*");
  EXPECT_EQ(f.find("GET", "/nope").pattern, "");
  EXPECT_EQ(f.find("PUT", "/users/1").pattern, "");
}

TEST(http_router, a_match_gives_its_routes_index_in_the_order_added) {
  fixture f;
  EXPECT_EQ(f.find("GET", "/").route_index, 0u);
  EXPECT_EQ(f.find("GET", "/users/me").route_index, 2u);
  EXPECT_EQ(f.find("GET", "/users/7").route_index, 1u);
  EXPECT_EQ(f.find("HEAD", "/files/x").route_index, 5u);
  EXPECT_EQ(f.find("GET", "/nope").route_index, http::router::match::no_route);
  EXPECT_EQ(f.find("PUT", "/users/1").route_index, http::router::match::no_route);
}

// Literal patterns are matched by comparing the path whole: the same answers as segment by
// segment, empty segments and trailing slashes included.
TEST(http_router, literal_patterns_match_only_the_same_segments) {
  http::router r;
  r.get("/a", named("a"));
  r.get("/a/", named("a/"));
  r.get("//b", named("//b"));
  r.get("/c/d", named("c/d"));
  std::vector<std::pair<std::string, std::string>> params;
  EXPECT_EQ(r.find("GET", "/a", params).pattern, "/a");
  EXPECT_EQ(r.find("GET", "/a/", params).pattern, "/a/");
  EXPECT_EQ(r.find("GET", "//b", params).pattern, "//b");
  EXPECT_EQ(r.find("GET", "/c/d", params).pattern, "/c/d");
  EXPECT_EQ(r.find("GET", "/b", params).result, kind::not_found);
  EXPECT_EQ(r.find("GET", "/a//", params).result, kind::not_found);
  EXPECT_EQ(r.find("GET", "/c/d/", params).result, kind::not_found);
  EXPECT_EQ(r.find("GET", "/C/d", params).result, kind::not_found);  // paths are case-sensitive
  EXPECT_EQ(r.find("GET", "/c", params).result, kind::not_found);
  EXPECT_EQ(r.find("GET", "/", params).result, kind::not_found);  // no route "/" here
  r.get("/", named("root"));
  EXPECT_EQ(r.find("GET", "/", params).pattern, "/");
  EXPECT_EQ(r.find("GET", "/a", params).pattern, "/a");
}

TEST(http_router, trailing_wildcard_captures_the_rest) {
  fixture f;
  ASSERT_EQ(f.find("GET", "/files/a/b/c.txt").result, kind::found);
  ASSERT_EQ(f.params.size(), 1u);
  EXPECT_EQ(f.params[0].first, "*");
  EXPECT_EQ(f.params[0].second, "a/b/c.txt");
  ASSERT_EQ(f.find("GET", "/files/").result, kind::found);
  EXPECT_EQ(f.params[0].second, "");
}

TEST(http_router, empty_segment_does_not_fill_a_parameter) {
  fixture f;
  EXPECT_EQ(f.find("GET", "/users/").result, kind::not_found);
  EXPECT_EQ(f.find("GET", "/users//posts/1").result, kind::not_found);
}

TEST(http_router, wrong_method_is_405_with_every_allowed_method) {
  fixture f;
  const auto m = f.find("PUT", "/users/42");
  EXPECT_EQ(m.result, kind::method_not_allowed);
  EXPECT_EQ(m.allow, "GET, HEAD, DELETE");
  EXPECT_EQ(f.find("GET", "/users").allow, "POST");
}

TEST(http_router, head_is_served_by_get) {
  fixture f;
  EXPECT_EQ(f.find("HEAD", "/users/1").result, kind::found);
  EXPECT_EQ(f.find("HEAD", "/users").result, kind::method_not_allowed);
}

TEST(http_router, explicit_head_route_beats_get) {
  http::router r;
  r.get("/x", named("get"));
  r.add("HEAD", "/x", named("head"));
  std::vector<std::pair<std::string, std::string>> params;
  const auto head = r.find("HEAD", "/x", params).target;
  const auto get = r.find("GET", "/x", params).target;
  EXPECT_NE(head, get);
}

TEST(http_router, malformed_patterns_are_refused) {
  http::router r;
  EXPECT_THROW(r.get("users", named("x")), std::invalid_argument);
  EXPECT_THROW(r.get("/a/*/b", named("x")), std::invalid_argument);
  EXPECT_THROW(r.get("/a/{}", named("x")), std::invalid_argument);
}

// A handler type of its own, so a test can tell the user's handler from a chain around it.
struct plain_handler {
  asio::awaitable<http::response> operator()(http::request&) const { co_return http::response::text("plain"); }
};

http::middleware pass_through() {
  return [](http::request& req, http::next_handler next) { return next(req); };
}

TEST(http_router, without_middleware_the_target_is_the_users_handler) {
  http::router r;
  r.get("/x", plain_handler{});
  r.group("/api").get("/y", plain_handler{});
  http::router::params_type params;
  auto m = r.find("GET", "/x", params);
  ASSERT_EQ(m.result, kind::found);
  EXPECT_NE(m.target->target<plain_handler>(), nullptr);
  m = r.find("GET", "/api/y", params);
  ASSERT_EQ(m.result, kind::found);
  EXPECT_NE(m.target->target<plain_handler>(), nullptr);
  // And requests no route serves are the server's to answer, as before.
  EXPECT_EQ(r.find("GET", "/nope", params).result, kind::not_found);
  EXPECT_EQ(r.find("POST", "/x", params).result, kind::method_not_allowed);
}

TEST(http_router, with_middleware_the_target_is_a_chain) {
  http::router r;
  r.use(pass_through());
  r.get("/x", plain_handler{});
  http::router::params_type params;
  const auto m = r.find("GET", "/x", params);
  ASSERT_EQ(m.result, kind::found);
  EXPECT_EQ(m.target->target<plain_handler>(), nullptr);
  EXPECT_EQ(m.pattern, "/x");
}

TEST(http_router, router_middleware_makes_unrouted_requests_found_without_a_pattern) {
  http::router r;
  r.use(pass_through());
  r.get("/x", plain_handler{});
  http::router::params_type params{{"stale", "value"}};
  auto m = r.find("GET", "/nope", params);
  EXPECT_EQ(m.result, kind::found);
  ASSERT_NE(m.target, nullptr);
  EXPECT_EQ(m.pattern, "");
  EXPECT_TRUE(params.empty());
  m = r.find("DELETE", "/x", params);
  EXPECT_EQ(m.result, kind::found);
  EXPECT_EQ(m.pattern, "");
  EXPECT_NE(m.target, r.find("GET", "/nope", params).target);
}

TEST(http_router, group_middleware_leaves_unrouted_requests_to_the_server) {
  http::router r;
  auto api = r.group("/api");
  api.use(pass_through());
  api.get("/x", plain_handler{});
  http::router::params_type params;
  EXPECT_EQ(r.find("GET", "/api/nope", params).result, kind::not_found);
  EXPECT_EQ(r.find("PUT", "/api/x", params).result, kind::method_not_allowed);
  EXPECT_EQ(r.find("PUT", "/api/x", params).allow, "GET, HEAD");
}

TEST(http_router, group_routes_carry_the_prefix_in_path_and_pattern) {
  http::router r;
  auto api = r.group("/api");
  api.get("/users/{id}", named("user"));
  api.get("", named("api root"));
  auto v1 = api.group("/v1/");  // a trailing '/' is dropped
  v1.get("/items/*", named("items"));
  EXPECT_EQ(v1.prefix(), "/api/v1");
  http::router::params_type params;
  auto m = r.find("GET", "/api/users/7", params);
  ASSERT_EQ(m.result, kind::found);
  EXPECT_EQ(m.pattern, "/api/users/{id}");
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].second, "7");
  EXPECT_EQ(r.find("GET", "/api", params).pattern, "/api");
  EXPECT_EQ(r.find("GET", "/api/v1/items/a/b", params).pattern, "/api/v1/items/*");
  EXPECT_EQ(r.find("GET", "/users/7", params).result, kind::not_found);
}

TEST(http_router, group_specificity_competes_with_every_route) {
  http::router r;
  r.get("/api/{name}", named("param"));
  r.group("/api").get("/me", named("literal"));
  http::router::params_type params;
  EXPECT_EQ(r.find("GET", "/api/me", params).pattern, "/api/me");
  EXPECT_EQ(r.find("GET", "/api/you", params).pattern, "/api/{name}");
}

TEST(http_router, use_after_a_route_is_refused) {
  http::router r;
  r.get("/x", named("x"));
  EXPECT_THROW(r.use(pass_through()), std::logic_error);

  http::router g;
  auto api = g.group("/api");
  auto v1 = api.group("/v1");
  v1.get("/x", named("x"));
  EXPECT_THROW(v1.use(pass_through()), std::logic_error);
  EXPECT_THROW(api.use(pass_through()), std::logic_error);  // a route inside it exists
  EXPECT_THROW(g.use(pass_through()), std::logic_error);
  // A sibling group with no routes yet still takes middleware.
  auto other = api.group("/v2");
  EXPECT_NO_THROW(other.use(pass_through()));
}

TEST(http_router, bad_middleware_and_prefixes_are_refused) {
  http::router r;
  EXPECT_THROW(r.use(http::middleware{}), std::invalid_argument);
  EXPECT_THROW((void)r.group("api"), std::invalid_argument);
  EXPECT_THROW((void)r.group("/files/*"), std::invalid_argument);
  auto api = r.group("/api");
  EXPECT_THROW(api.get("users", named("x")), std::invalid_argument);
  EXPECT_THROW(r.group("").get("", named("x")), std::invalid_argument);
}

TEST(http_router, a_copy_and_a_moved_router_keep_working) {
  http::router r;
  r.use(pass_through());
  auto api = r.group("/api");
  api.get("/x", named("x"));
  http::router copy = r;
  http::router moved = std::move(r);
  api.get("/y", named("y"));  // the group follows its router's routes through the move
  http::router::params_type params;
  EXPECT_EQ(moved.find("GET", "/api/y", params).pattern, "/api/y");
  EXPECT_EQ(copy.find("GET", "/api/y", params).pattern, "");
  EXPECT_EQ(copy.find("GET", "/api/x", params).pattern, "/api/x");
}

}  // namespace
