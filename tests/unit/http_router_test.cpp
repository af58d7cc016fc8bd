// coronet::http::router: patterns, specificity, 404/405, HEAD. No sockets.
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

TEST(http_router, a_match_names_its_pattern_not_its_path) {
  fixture f;
  EXPECT_EQ(f.find("GET", "/users/42/posts/7").pattern, "/users/{id}/posts/{post}");
  EXPECT_EQ(f.find("HEAD", "/files/a/b").pattern, "/files/*");
  EXPECT_EQ(f.find("GET", "/nope").pattern, "");
  EXPECT_EQ(f.find("PUT", "/users/1").pattern, "");
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

}  // namespace
