// coronet::http messages: header fields, request accessors, response builders. No sockets.
#include <coronet/http/message.hpp>

#include <gtest/gtest.h>

namespace http = coronet::http;

namespace {

TEST(http_fields, lookup_ignores_case) {
  http::fields f;
  f.add("Content-Type", "text/plain");
  EXPECT_EQ(f.get("content-type"), "text/plain");
  EXPECT_EQ(f.get("CONTENT-TYPE"), "text/plain");
  EXPECT_FALSE(f.get("content-typ").has_value());
  EXPECT_TRUE(f.contains("Content-type"));
}

TEST(http_fields, repeated_names_keep_arrival_order_and_set_replaces_all) {
  http::fields f;
  f.add("Set-Cookie", "a=1");
  f.add("X", "y");
  f.add("set-cookie", "b=2");
  EXPECT_EQ(f.size(), 3u);
  EXPECT_EQ(f.get("set-cookie"), "a=1");
  f.set("SET-COOKIE", "c=3");
  EXPECT_EQ(f.size(), 2u);
  EXPECT_EQ(f.get("set-cookie"), "c=3");
  EXPECT_EQ(f.erase("set-cookie"), 1u);
  EXPECT_EQ(f.size(), 1u);
}

TEST(http_fields, clear_keeps_the_strings_storage_for_the_next_fields) {
  http::fields f;
  const std::string long_value(100, 'v');
  f.add("User-Agent", long_value);
  f.add("Accept", long_value);
  const auto* storage = f.begin()->value.data();
  f.clear();
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(f.begin(), f.end());
  EXPECT_FALSE(f.get("user-agent").has_value());
  f.add("Host", "example.com");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f.begin()->name, "Host");
  EXPECT_EQ(f.get("host"), "example.com");
  EXPECT_FALSE(f.get("accept").has_value());  // the kept slot beyond the end is not a field
  f.add("Cookie", long_value);
  EXPECT_EQ(f.size(), 2u);
  f.clear();
  f.add("X", long_value);
  EXPECT_EQ(f.begin()->value.data(), storage);  // no new allocation for the value
}

TEST(http_fields, erase_set_copy_and_move_see_only_the_fields) {
  http::fields f;
  f.add("A", "1");
  f.add("B", "2");
  f.add("a", "3");
  f.add("C", "4");
  EXPECT_EQ(f.erase("a"), 2u);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f.begin()->name, "B");
  EXPECT_EQ(std::next(f.begin())->name, "C");
  f.add("c", "5");
  f.set("C", "6");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f.get("c"), "6");

  const http::fields copy = f;
  EXPECT_EQ(copy.size(), 2u);
  EXPECT_EQ(copy.get("b"), "2");
  http::fields moved = std::move(f);
  EXPECT_EQ(moved.size(), 2u);
  EXPECT_TRUE(f.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  f.add("D", "7");
  EXPECT_EQ(f.size(), 1u);
  http::fields assigned;
  assigned.add("Z", "0");
  assigned = copy;
  EXPECT_EQ(assigned.size(), 2u);
  EXPECT_FALSE(assigned.contains("z"));
  assigned = std::move(moved);
  EXPECT_EQ(assigned.get("c"), "6");
}

// A finished response leaves its fields' storage to the next one on the thread: nothing of
// the old fields may show through.
TEST(http_fields, storage_a_response_leaves_behind_shows_none_of_its_fields) {
  for (int round = 0; round < 20; ++round) {
    {
      auto old = http::response::text("old");
      old.headers.add("X-Old", "secret value longer than the small buffer");
      old.headers.add("Y", "z");
    }
    auto next = http::response::text("next");
    ASSERT_EQ(next.headers.size(), 1u);
    EXPECT_EQ(next.headers.get("content-type"), "text/plain; charset=utf-8");
    EXPECT_FALSE(next.headers.contains("x-old"));
    next.headers.add("Z", "1");
    EXPECT_EQ(next.headers.size(), 2u);
    EXPECT_FALSE(next.headers.contains("y"));
    EXPECT_EQ(next.headers.get("z"), "1");
  }
}

TEST(http_fields, iequals_is_ascii_only) {
  EXPECT_TRUE(http::iequals("Host", "hOST"));
  EXPECT_FALSE(http::iequals("Host", "Hosts"));
  EXPECT_FALSE(http::iequals("[", "{"));  // differ only in bit 0x20, but are not letters
}

TEST(http_request, splits_target_into_path_and_query) {
  http::request r;
  r.target = "/a/b?x=1&y=2";
  EXPECT_EQ(r.path(), "/a/b");
  EXPECT_EQ(r.query(), "x=1&y=2");
  r.target = "/plain";
  EXPECT_EQ(r.path(), "/plain");
  EXPECT_EQ(r.query(), "");
}

TEST(http_response, builders_set_status_and_content_type) {
  auto t = http::response::text("hi");
  EXPECT_EQ(t.status, http::status::ok);
  EXPECT_EQ(t.headers.get("content-type"), "text/plain; charset=utf-8");
  auto j = http::response::json("{}", http::status::created);
  EXPECT_EQ(j.status, http::status::created);
  EXPECT_EQ(j.headers.get("content-type"), "application/json");
  auto b = http::response::bytes("x", "image/png");
  EXPECT_EQ(b.headers.get("content-type"), "image/png");
  EXPECT_TRUE(http::response::empty(http::status::no_content).headers.empty());
}

TEST(http_status, reason_phrases) {
  EXPECT_EQ(http::reason_phrase(http::status::not_found), "Not Found");
  EXPECT_EQ(http::reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(http::reason_phrase(599), "Unknown");
}

}  // namespace
