// Requests the fuzzer (or its review) found wrongly accepted by src/http/request_parser, each
// pinned as the 400 it must be. No sockets. Built by tests/fuzz/meson.build as a unit test.
#include "http/parser.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

using coronet::http::status;
using coronet::http::detail::request_parser;
using event = request_parser::event;
using namespace std::string_view_literals;

namespace {

// Feeds the whole stream; returns the first error, or ok when every request was accepted.
status first_error(std::string_view stream) {
  request_parser p;
  for (int rounds = 0; rounds < 64; ++rounds) {
    const auto r = p.feed(stream);
    stream.remove_prefix(r.consumed);
    if (r.ev == event::error) return status_for(p.error());
    if (r.ev == event::need_more && stream.empty()) return status::ok;
  }
  return status::ok;
}

}  // namespace

// tests/fuzz/regressions/empty_header_field_name: llhttp 8.1 takes ":name: value" as a field
// with an empty name, and the head check let it through, so a header no proxy would agree on
// reached handlers (RFC 9110 5.1: a field name is one or more token characters).
TEST(http_parser_regression, header_line_starting_with_colon_is_400) {
  EXPECT_EQ(first_error("GET / HTTP/1.1\r\nHost: a\r\n:v\r\n\r\n"sv), status::bad_request);
  EXPECT_EQ(first_error("POST /echo HTTP/1.1\r\nHost: a\r\n:Content-Length: 3\r\n\r\nabc"sv),
            status::bad_request);
  EXPECT_EQ(first_error("GET / HTTP/1.1\r\n:Host: a\r\n\r\n"sv), status::bad_request);
}

TEST(http_parser_regression, header_line_split_before_its_colon_is_still_400) {
  request_parser p;
  EXPECT_EQ(p.feed("GET / HTTP/1.1\r\nHost: a\r\n"sv).ev, event::need_more);
  EXPECT_EQ(p.feed(":v\r\n\r\n"sv).ev, event::error);
  EXPECT_EQ(status_for(p.error()), status::bad_request);
}

// RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without a Host field, and to
// any request with more than one; two Hosts let a proxy and coronet route one request apart.
TEST(http_parser_regression, http11_request_without_host_is_400) {
  EXPECT_EQ(first_error("GET / HTTP/1.1\r\n\r\n"sv), status::bad_request);
  EXPECT_EQ(first_error("GET / HTTP/1.0\r\n\r\n"sv), status::ok);  // optional in 1.0
}

TEST(http_parser_regression, request_with_two_host_fields_is_400) {
  EXPECT_EQ(first_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"sv), status::bad_request);
  EXPECT_EQ(first_error("GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"sv), status::bad_request);
}

// tests/fuzz/regressions/trailer_with_empty_field_name: trailer fields (after the last chunk)
// skip the head check, count against no limit, and were merged into the request's headers.
TEST(http_parser_regression, trailers_are_not_merged_into_headers) {
  request_parser p;
  auto r = p.feed("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"sv);
  ASSERT_EQ(r.ev, event::head_done);
  r = p.feed("1\r\nx\r\n0\r\nHost: evil\r\n:empty\r\n\r\n"sv);
  ASSERT_EQ(r.ev, event::message_done);
  EXPECT_EQ(p.message().body, "x");
  ASSERT_EQ(p.message().headers.get("host"), std::optional<std::string_view>("a"));
  for (const auto& f : p.message().headers) EXPECT_NE(f.name, "");
  EXPECT_EQ(p.message().headers.size(), 2u);
}

TEST(http_parser_regression, trailers_count_against_max_header_bytes) {
  request_parser p({.max_header_bytes = 4096, .max_body_bytes = 65536});
  ASSERT_EQ(p.feed("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"sv).ev,
            event::head_done);
  ASSERT_EQ(p.feed("0\r\nX-Big: "sv).ev, event::need_more);
  const std::string chunk(64 * 1024, 'a');
  auto ev = event::need_more;
  for (int i = 0; i < 16 && ev == event::need_more; ++i) ev = p.feed(chunk).ev;
  EXPECT_EQ(ev, event::error);
  EXPECT_EQ(status_for(p.error()), status::request_header_fields_too_large);
}
