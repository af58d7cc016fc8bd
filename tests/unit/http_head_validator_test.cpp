// src/http/head_validator: the request-head shapes RFC 9112 forbids, whatever llhttp accepts.
#include "http/head_validator.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

using coronet::http::detail::head_validator;

namespace {

// Feeds `head` whole, one byte at a time, and in two pieces split at every byte: all must
// agree, on the verdict and on the reason.
bool valid(std::string_view head, std::string* reason = nullptr) {
  head_validator whole;
  const bool ok = whole.feed(head);
  const std::string why = ok ? "" : whole.reason();
  head_validator bytes;
  bool ok_bytes = true;
  for (const char c : head) ok_bytes = bytes.feed(std::string_view(&c, 1)) && ok_bytes;
  EXPECT_EQ(ok, ok_bytes) << head;
  if (!ok_bytes) {
    EXPECT_EQ(why, bytes.reason()) << head;
  }
  for (std::size_t at = 0; at <= head.size(); ++at) {
    head_validator split;
    const bool first = split.feed(head.substr(0, at));
    const bool ok_split = split.feed(head.substr(at)) && first;
    EXPECT_EQ(ok, ok_split) << "split at " << at << ": " << head;
    if (!ok_split) {
      EXPECT_EQ(why, split.reason()) << "split at " << at << ": " << head;
    }
  }
  if (!ok && reason) *reason = why;
  return ok;
}

TEST(http_head_validator, accepts_an_ordinary_head_in_any_pieces) {
  EXPECT_TRUE(valid("GET /a HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"));
  EXPECT_TRUE(valid("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")) << "empty lines before the request line";
  EXPECT_TRUE(valid("GET / HTTP/1.1\r\nX-Tab: a\tb\r\n\r\n")) << "whitespace inside a value";
}

TEST(http_head_validator, refuses_line_bytes_out_of_place) {
  std::string why;
  EXPECT_FALSE(valid(std::string("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 29), &why));
  EXPECT_EQ(why, "NUL byte in request head");
  EXPECT_FALSE(valid("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", &why));
  EXPECT_EQ(why, "bare CR in request head");
  EXPECT_FALSE(valid("GET / HTTP/1.1\nHost: a\r\n\r\n", &why));
  EXPECT_EQ(why, "bare LF in request head");
}

TEST(http_head_validator, refuses_folding_and_whitespace_around_names) {
  std::string why;
  EXPECT_FALSE(valid("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", &why));
  EXPECT_EQ(why, "obsolete line folding in request head");
  EXPECT_FALSE(valid("GET / HTTP/1.1\r\nHost : a\r\n\r\n", &why));
  EXPECT_EQ(why, "whitespace in or before a header field name");
  EXPECT_FALSE(valid("GET / HTTP/1.1\r\n: a\r\n\r\n", &why));
  EXPECT_EQ(why, "empty header field name");
}

TEST(http_head_validator, finds_a_bad_byte_at_every_position_of_a_long_head) {
  // Lines and names longer and shorter than the 16 bytes scanned at once.
  const std::string head =
      "GET /a/rather/long/path?with=query HTTP/1.1\r\nHost: example.com:8080\r\n"
      "User-Agent: a-rather-long-user-agent/1.0 (x86_64; like nothing else)\r\n"
      "X-A-Quite-Long-Field-Name: v\r\nAccept: */*\r\n\r\n";
  ASSERT_TRUE(valid(head));
  const auto end = head.size() - 2;  // the empty line's own CRLF
  for (std::size_t i = 0; i < end; ++i) {
    std::string bad = head;
    bad[i] = '\0';
    std::string why;
    EXPECT_FALSE(valid(bad, &why)) << i;
    // A NUL in place of an LF leaves its CR bare, which is seen first.
    EXPECT_EQ(why, head[i] == '\n' ? "bare CR in request head" : "NUL byte in request head") << i;
    if (head[i] == '\r' || head[i] == '\n') continue;
    bad[i] = '\n';
    EXPECT_FALSE(valid(bad, &why)) << i;
    EXPECT_EQ(why, "bare LF in request head") << i;
    bad[i] = '\r';
    EXPECT_FALSE(valid(bad, &why)) << i;
    EXPECT_EQ(why, "bare CR in request head") << i;
  }
}

TEST(http_head_validator, stays_failed_and_stops_at_the_end_of_the_head) {
  head_validator v;
  EXPECT_FALSE(v.feed("GET / HTTP/1.1\nX"));
  EXPECT_FALSE(v.feed("\r\n\r\n"));
  v.reset();
  // After the empty line, body bytes are not the validator's business.
  EXPECT_TRUE(v.feed(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n\n\0\r", 30)));
}

}  // namespace
