// The client's response parser: every framing (Content-Length, chunked, close-delimited),
// interim responses, HEAD, and malformed input, fed whole and split at every byte.
#include "http/parser.hpp"

#include <gtest/gtest.h>

#include <string>

namespace http = coronet::http;
using http::detail::response_parser;

namespace {

struct parsed {
  bool done = false;
  bool failed = false;
  http::client_errc error{};
  unsigned status = 0;
  std::string body;
  bool keep_alive = false;
  std::size_t left_over = 0;  // bytes after the response
  http::fields headers;
};

// Feeds `wire` in two pieces split at `split`, then ends the stream when `eof`.
parsed run(std::string_view wire, std::size_t split, bool head = false, bool eof = false,
           http::detail::parse_limits limits = {}) {
  response_parser p(limits);
  p.start(head);
  parsed out;
  std::string_view pieces[2] = {wire.substr(0, split), wire.substr(split)};
  for (auto piece : pieces) {
    while (!out.done && !out.failed && !piece.empty()) {
      const auto r = p.feed(piece);
      piece.remove_prefix(r.consumed);
      if (r.ev == response_parser::event::message_done) {
        out.done = true;
        out.left_over = piece.size();
      } else if (r.ev == response_parser::event::error) {
        out.failed = true;
      } else if (r.consumed == 0) {
        break;
      }
    }
  }
  if (!out.done && !out.failed && eof) {
    const auto r = p.finish();
    out.done = r.ev == response_parser::event::message_done;
    out.failed = r.ev == response_parser::event::error;
  }
  if (out.failed) out.error = http::detail::errc_for(p.error());
  out.status = static_cast<unsigned>(p.message().status);
  out.body = p.message().body;
  out.headers = p.message().headers;
  out.keep_alive = p.keep_alive();
  return out;
}

// Checks the same outcome for every split point of the wire bytes.
template <class Check>
void every_split(std::string_view wire, Check check, bool head = false, bool eof = false) {
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    SCOPED_TRACE("split at " + std::to_string(split));
    check(run(wire, split, head, eof));
  }
}

TEST(http_client_parser, content_length_body) {
  every_split("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello", [](const parsed& r) {
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body, "hello");
    EXPECT_TRUE(r.keep_alive);
    EXPECT_EQ(r.headers.get("x-a").value_or(""), "b");
  });
}

TEST(http_client_parser, chunked_body_with_trailers_dropped) {
  every_split("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n",
              [](const parsed& r) {
                EXPECT_TRUE(r.done);
                EXPECT_EQ(r.status, 201u);
                EXPECT_EQ(r.body, "hello, world");
                EXPECT_FALSE(r.headers.contains("x-trailer"));
                EXPECT_TRUE(r.keep_alive);
              });
}

TEST(http_client_parser, close_delimited_body_ends_at_eof) {
  every_split("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nall of it", [](const parsed& r) {
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.body, "all of it");
    EXPECT_FALSE(r.keep_alive);
  }, false, true);
}

TEST(http_client_parser, interim_responses_are_skipped) {
  every_split("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
              [](const parsed& r) {
                EXPECT_TRUE(r.done);
                EXPECT_EQ(r.status, 200u);
                EXPECT_EQ(r.body, "ok");
                EXPECT_FALSE(r.headers.contains("link"));
              });
}

TEST(http_client_parser, head_response_has_no_body) {
  every_split("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", [](const parsed& r) {
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.body, "");
    EXPECT_TRUE(r.keep_alive);
    EXPECT_EQ(r.headers.get("content-length").value_or(""), "1000");
  }, true);
}

TEST(http_client_parser, no_content_and_not_modified_have_no_body) {
  every_split("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", [](const parsed& r) {
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.status, 304u);
  });
  every_split("HTTP/1.1 204 No Content\r\n\r\n", [](const parsed& r) { EXPECT_TRUE(r.done); });
}

TEST(http_client_parser, bytes_after_the_response_are_left_unread) {
  const auto r = run("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 0);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.left_over, 5u);
}

TEST(http_client_parser, connection_close_is_not_kept_alive) {
  const auto r = run("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 7);
  EXPECT_TRUE(r.done);
  EXPECT_FALSE(r.keep_alive);
}

TEST(http_client_parser, malformed_responses_are_rejected) {
  for (const char* bad : {
           "HTTP/1.1 2000 OK\r\n\r\n",
           "HTTP/1.1 abc OK\r\n\r\n",
           "HTTX/1.1 200 OK\r\n\r\n",
           "HTTP/2.0 200 OK\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
           "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
           "HTTP/1.1 200 OK\r\nBad Header: v\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
           "garbage\r\n\r\n",
       }) {
    for (std::size_t split : {std::size_t{0}, std::string_view(bad).size() / 2}) {
      const auto r = run(bad, split);
      EXPECT_TRUE(r.failed) << bad;
      EXPECT_EQ(r.error, http::client_errc::protocol_error) << bad;
    }
  }
}

TEST(http_client_parser, eof_inside_a_framed_body_is_an_error) {
  const auto r = run("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 0, false, true);
  EXPECT_TRUE(r.failed);
  EXPECT_EQ(r.error, http::client_errc::connection_closed);
  const auto none = run("", 0, false, true);
  EXPECT_TRUE(none.failed);
}

TEST(http_client_parser, limits_are_enforced) {
  http::detail::parse_limits small{.max_header_bytes = 64, .max_body_bytes = 4};
  const auto body = run("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, false, false, small);
  EXPECT_TRUE(body.failed);
  EXPECT_EQ(body.error, http::client_errc::response_too_large);
  const auto head = run("HTTP/1.1 200 OK\r\nX: " + std::string(100, 'v') + "\r\n\r\n", 0, false,
                        false, small);
  EXPECT_TRUE(head.failed);
  EXPECT_EQ(head.error, http::client_errc::response_too_large);
}

}  // namespace

namespace {

TEST(http_client_parser, status_lines_interim_answers_and_chunk_extensions_count_as_head) {
  const http::detail::parse_limits small{.max_header_bytes = 256, .max_body_bytes = 1024};
  const auto reason = run("HTTP/1.1 200 " + std::string(1000, 'x') + "\r\n\r\n", 0, false, false, small);
  EXPECT_TRUE(reason.failed);
  EXPECT_EQ(reason.error, http::client_errc::response_too_large);
  std::string interim;
  for (int i = 0; i < 40; ++i) interim += "HTTP/1.1 100 Continue\r\n\r\n";
  const auto endless = run(interim, 0, false, false, small);
  EXPECT_TRUE(endless.failed);
  EXPECT_EQ(endless.error, http::client_errc::response_too_large);
  const auto extension = run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                                 std::string(1000, 'e') + "\r\na\r\n0\r\n\r\n",
                             0, false, false, small);
  EXPECT_TRUE(extension.failed);
  EXPECT_EQ(extension.error, http::client_errc::response_too_large);
}

}  // namespace
