// src/http/request_parser: byte streams in, requests out. No sockets.
#include "http/line_bytes.hpp"
#include "http/parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using coronet::http::status;
using coronet::http::detail::parse_limits;
using coronet::http::detail::request_parser;
using event = request_parser::event;
using namespace std::string_view_literals;

namespace {

struct parsed {
  std::string method, target, body;
  int version = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  bool keep_alive = false;
  bool operator==(const parsed&) const = default;
};

struct outcome {
  std::vector<parsed> requests;
  bool failed = false;
  status error = status::ok;
};

// Feeds `stream` in pieces cut at `cuts` (offsets), as reads from a socket would deliver it.
outcome parse(std::string_view stream, const std::vector<std::size_t>& cuts = {},
              parse_limits limits = {}) {
  request_parser p(limits);
  outcome out;
  std::size_t start = 0;
  auto pieces = cuts;
  pieces.push_back(stream.size());
  for (const auto cut : pieces) {
    std::string_view piece = stream.substr(start, cut - start);
    start = cut;
    for (;;) {
      const auto r = p.feed(piece);
      piece.remove_prefix(r.consumed);
      if (r.ev == event::error) {
        out.failed = true;
        out.error = status_for(p.error());
        return out;
      }
      if (r.ev == event::message_done) {
        auto& m = p.message();
        parsed x{m.method, m.target, m.body, m.version, {}, p.keep_alive()};
        for (const auto& f : m.headers) x.headers.emplace_back(f.name, f.value);
        out.requests.push_back(std::move(x));
        continue;
      }
      if (r.ev == event::need_more) break;
    }
  }
  return out;
}

constexpr std::string_view pipelined =
    "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Long: some value here\r\n\r\n"
    "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
    "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    "GET /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";

TEST(http_parser, pipelined_stream_yields_each_request_in_order) {
  const auto out = parse(pipelined);
  ASSERT_FALSE(out.failed);
  ASSERT_EQ(out.requests.size(), 4u);
  EXPECT_EQ(out.requests[0].method, "GET");
  EXPECT_EQ(out.requests[0].target, "/a?x=1");
  EXPECT_EQ(out.requests[0].headers.size(), 2u);
  EXPECT_EQ(out.requests[0].headers[1].second, "some value here");
  EXPECT_EQ(out.requests[1].body, "hello");
  EXPECT_EQ(out.requests[2].method, "PUT");
  EXPECT_EQ(out.requests[2].body, "abcde");  // chunked coding removed
  EXPECT_TRUE(out.requests[2].keep_alive);
  EXPECT_FALSE(out.requests[3].keep_alive);
}

TEST(http_parser, every_split_point_yields_the_same_requests) {
  const auto whole = parse(pipelined);
  for (std::size_t cut = 1; cut < pipelined.size(); ++cut) {
    EXPECT_EQ(parse(pipelined, {cut}).requests, whole.requests) << "cut at " << cut;
  }
  // And byte by byte.
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < pipelined.size(); ++i) every.push_back(i);
  EXPECT_EQ(parse(pipelined, every).requests, whole.requests);
}

TEST(http_parser, pauses_after_the_head_before_reading_the_body) {
  request_parser p;
  const std::string_view in = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
  auto r = p.feed(in);
  EXPECT_EQ(r.ev, event::head_done);
  EXPECT_TRUE(p.has_body());
  EXPECT_EQ(p.content_length(), 3u);
  r = p.feed(in.substr(r.consumed));
  EXPECT_EQ(r.ev, event::message_done);
  EXPECT_EQ(p.message().body, "abc");
}

TEST(http_line_bytes, finds_the_first_cr_lf_or_nul_at_every_position_and_length) {
  using coronet::http::detail::find_line_byte;
  // Every byte value other than the three, so the word-at-a-time test meets each neighbour.
  std::string plain;
  for (int c = 1; c < 256; ++c) {
    if (c != '\r' && c != '\n') plain += static_cast<char>(c);
  }
  for (std::size_t len = 0; len <= 40; ++len) {
    for (std::size_t shift = 0; shift + len <= plain.size(); shift += 37) {
      std::string s = plain.substr(shift, len);
      EXPECT_EQ(find_line_byte(s.data(), s.size()), s.size());
      for (std::size_t at = 0; at < len; ++at) {
        for (const char special : {'\r', '\n', '\0'}) {
          std::string t = s;
          t[at] = special;
          if (at + 1 < len) t[len - 1] = special;  // a later one must not win
          EXPECT_EQ(find_line_byte(t.data(), t.size()), at) << "len " << len << " at " << at;
        }
      }
    }
  }
}

TEST(http_parser, a_request_without_body_completes_without_pausing_after_its_head) {
  request_parser p;
  const std::string_view in = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  auto r = p.feed(in);
  EXPECT_EQ(r.ev, event::message_done);
  EXPECT_EQ(p.message().target, "/a");
  r = p.feed(in.substr(r.consumed));
  EXPECT_EQ(r.ev, event::message_done);
  EXPECT_EQ(p.message().target, "/b");
}

TEST(http_parser, a_bodiless_request_after_one_with_a_body_has_an_empty_body) {
  request_parser p;
  const std::string_view in =
      "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.0\r\n\r\n";
  auto r = p.feed(in);
  ASSERT_EQ(r.ev, event::head_done);
  auto rest = in.substr(r.consumed);
  r = p.feed(rest);
  ASSERT_EQ(r.ev, event::message_done);
  EXPECT_EQ(p.message().body, "hello");
  r = p.feed(rest.substr(r.consumed));
  ASSERT_EQ(r.ev, event::message_done);  // no head_done: nothing to read after this head
  EXPECT_EQ(p.message().method, "GET");
  EXPECT_EQ(p.message().body, "");
}

TEST(http_parser, a_bad_byte_late_in_a_head_split_across_feeds_is_still_found) {
  // The head check runs over each piece as it arrives, also for a head that completes a
  // bodiless message in the same call.
  using namespace std::string_view_literals;
  for (const auto bad : {"GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n"sv,
                         "GET / HTTP/1.1\r\nHost: a\r\nX:\0\r\n\r\n"sv}) {
    for (std::size_t cut = 1; cut < bad.size(); ++cut) {
      request_parser p;
      auto r = p.feed(bad.substr(0, cut));
      if (r.ev == event::need_more) r = p.feed(bad.substr(cut));
      EXPECT_EQ(r.ev, event::error) << "cut at " << cut;
    }
  }
}

TEST(http_parser, http10_keeps_alive_only_when_asked) {
  auto out = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].version, 10);
  EXPECT_FALSE(out.requests[0].keep_alive);
  out = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_TRUE(out.requests[0].keep_alive);
}

TEST(http_parser, head_over_the_limit_is_431) {
  const std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(200, 'a') + "\r\n\r\n";
  const auto out = parse(big, {}, {.max_header_bytes = 100});
  EXPECT_TRUE(out.failed);
  EXPECT_EQ(out.error, status::request_header_fields_too_large);
  // Split over many reads, the limit still holds.
  EXPECT_EQ(parse(big, {10, 50, 90, 130}, {.max_header_bytes = 100}).error,
            status::request_header_fields_too_large);
}

TEST(http_parser, chunk_extensions_without_end_are_431) {
  const auto out = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                             std::string(300, 'e') + "\r\na\r\n0\r\n\r\n",
                         {}, {.max_header_bytes = 100});
  EXPECT_TRUE(out.failed);
  EXPECT_EQ(out.error, status::request_header_fields_too_large);
}

TEST(http_parser, decoded_chunked_body_over_the_limit_is_413) {
  const auto out = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
                         {}, {.max_body_bytes = 10});
  EXPECT_TRUE(out.failed);
  EXPECT_EQ(out.error, status::payload_too_large);
}

struct malformed_case {
  const char* name;
  std::string_view bytes;
};

class http_parser_rejects : public testing::TestWithParam<malformed_case> {};

TEST_P(http_parser_rejects, with_400) {
  const std::string_view bytes = GetParam().bytes;
  const auto out = parse(bytes);
  EXPECT_TRUE(out.failed) << GetParam().name;
  EXPECT_EQ(out.error, status::bad_request) << GetParam().name;
  // The verdict does not depend on how the bytes arrive.
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    EXPECT_TRUE(parse(bytes, {cut}).failed) << GetParam().name << " cut at " << cut;
  }
}

INSTANTIATE_TEST_SUITE_P(
    malformed, http_parser_rejects,
    testing::Values(
        malformed_case{"bad_method", "GE T / HTTP/1.1\r\nHost: a\r\n\r\n"},
        malformed_case{"bad_version", "GET / HTTP/1.x\r\nHost: a\r\n\r\n"},
        malformed_case{"http09", "GET /x\r\n\r\n"},
        malformed_case{"http09_bare_lf", "GET /x\nContent-Length: 3\n\nabc"},
        malformed_case{"header_without_colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n"},
        malformed_case{"content_length_and_chunked",
                       "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        malformed_case{"duplicate_content_length",
                       "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
        malformed_case{"invalid_chunk_size",
                       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
        malformed_case{"bare_lf", "GET / HTTP/1.1\nHost: a\n\n"},
        malformed_case{"bare_lf_in_header", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"},
        malformed_case{"obs_fold", "GET / HTTP/1.1\r\nX-A: one\r\n  two\r\nHost: a\r\n\r\n"},
        malformed_case{"nul_in_header_value", "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n"sv},
        malformed_case{"space_before_colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"},
        malformed_case{"bare_cr_in_header",
                       "POST / HTTP/1.1\r\nX-Abc: \rxTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        malformed_case{"negative_content_length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"}),
    [](const testing::TestParamInfo<malformed_case>& info) { return info.param.name; });

}  // namespace
