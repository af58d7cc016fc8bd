// src/http/serializer: response and request heads as they go on the wire. No sockets.
#include "http/serializer.hpp"

#include <gtest/gtest.h>

#include <string>

namespace http = coronet::http;
using http::detail::framing;
using body_kind = http::detail::framing::body_kind;

namespace {

constexpr std::string_view preamble = "Server: t\r\nDate: d\r\n";

std::string response_head(unsigned code, const http::fields& headers, framing f,
                          std::string_view inline_body = {}) {
  std::string out;
  EXPECT_TRUE(http::detail::write_response_head(out, code, preamble, headers, f, inline_body));
  return out;
}

http::fields two_fields() {
  http::fields h;
  h.add("Content-Type", "text/plain");
  h.add("X-Id", "7");
  return h;
}

TEST(http_serializer, a_response_head_has_status_line_preamble_fields_and_length) {
  EXPECT_EQ(response_head(200, two_fields(), {.body = body_kind::length, .content_length = 5}, "hello"),
            "HTTP/1.1 200 OK\r\nServer: t\r\nDate: d\r\nContent-Type: text/plain\r\nX-Id: 7\r\n"
            "Content-Length: 5\r\n\r\nhello");
}

TEST(http_serializer, framing_fields_of_the_handler_never_reach_the_wire) {
  http::fields h;
  h.add("Content-Length", "999");
  h.add("Transfer-Encoding", "gzip");
  h.add("Connection", "upgrade");
  h.add("X-Kept", "yes");
  EXPECT_EQ(response_head(200, h, {.body = body_kind::length, .content_length = 0}),
            "HTTP/1.1 200 OK\r\nServer: t\r\nDate: d\r\nX-Kept: yes\r\nContent-Length: 0\r\n\r\n");
}

TEST(http_serializer, connection_is_announced_only_when_it_differs_from_the_default) {
  const http::fields none;
  const auto closing = response_head(200, none, {.body = body_kind::length, .keep_alive = false});
  EXPECT_NE(closing.find("Connection: close\r\n"), std::string::npos);
  const auto http10 = response_head(200, none, {.body = body_kind::length, .http10 = true});
  EXPECT_NE(http10.find("Connection: keep-alive\r\n"), std::string::npos);
  const auto plain = response_head(200, none, {.body = body_kind::length});
  EXPECT_EQ(plain.find("Connection"), std::string::npos);
}

TEST(http_serializer, each_body_kind_gets_its_framing) {
  const http::fields none;
  EXPECT_EQ(response_head(204, none, {.body = body_kind::none}),
            "HTTP/1.1 204 No Content\r\nServer: t\r\nDate: d\r\n\r\n");
  EXPECT_EQ(response_head(200, none, {.body = body_kind::chunked}),
            "HTTP/1.1 200 OK\r\nServer: t\r\nDate: d\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(response_head(200, none, {.body = body_kind::until_close, .keep_alive = false}),
            "HTTP/1.1 200 OK\r\nServer: t\r\nDate: d\r\nConnection: close\r\n\r\n");
}

TEST(http_serializer, codes_without_a_name_are_sent_as_given) {
  const http::fields none;
  EXPECT_EQ(response_head(299, none, {.body = body_kind::none}).substr(0, 27), "HTTP/1.1 299 Unknown\r\nServe");
  EXPECT_EQ(response_head(799, none, {.body = body_kind::none}).substr(0, 22), "HTTP/1.1 799 Unknown\r\n");
}

TEST(http_serializer, a_field_that_could_split_the_message_refuses_the_whole_head) {
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"X-Evil", "a\r\nSet-Cookie: x=1"},
           {"X-Evil", "a\nb"},
           {"X-Evil", std::string("a\0b", 3)},
           {"X-Evil\r\nSet-Cookie", "a"},
           {"", "a"}}) {
    http::fields h;
    h.add(name, value);
    std::string out = "queued";
    EXPECT_FALSE(http::detail::write_response_head(out, 200, preamble, h, {}));
    EXPECT_EQ(out, "queued") << "nothing appended for " << name;
    EXPECT_FALSE(http::detail::write_request_head(out, "GET", "/", "h", "", h, {.body = body_kind::none}));
    EXPECT_EQ(out, "queued");
  }
}

TEST(http_serializer, an_error_answer_is_complete_and_closes) {
  std::string out;
  http::detail::write_error_response(out, http::status::request_timeout, preamble, "request timeout");
  EXPECT_EQ(out,
            "HTTP/1.1 408 Request Timeout\r\nServer: t\r\nDate: d\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\nConnection: close\r\n\r\n"
            "request timeout\n");
}

TEST(http_serializer, heads_append_to_what_is_queued) {
  std::string out = "HTTP/1.1 100 Continue\r\n\r\n";
  http::detail::write_error_response(out, http::status::bad_request, {}, "x");
  EXPECT_EQ(out.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\n", 0), 0u);
}

TEST(http_client_request_head, has_request_line_host_agent_fields_and_length) {
  std::string out;
  ASSERT_TRUE(http::detail::write_request_head(out, "POST", "/a?b=1", "example.test:8080", "coronet/1",
                                               two_fields(), {.body = body_kind::length, .content_length = 3}));
  EXPECT_EQ(out,
            "POST /a?b=1 HTTP/1.1\r\nHost: example.test:8080\r\nUser-Agent: coronet/1\r\n"
            "Content-Type: text/plain\r\nX-Id: 7\r\nContent-Length: 3\r\n\r\n");
}

TEST(http_client_request_head, the_callers_host_agent_and_framing_fields_decide_or_are_dropped) {
  http::fields h;
  h.add("Host", "pinned.test");  // written first, by the caller's value
  h.add("User-Agent", "mine");
  h.add("Content-Length", "99");
  h.add("Transfer-Encoding", "chunked");
  std::string out;
  ASSERT_TRUE(http::detail::write_request_head(out, "GET", "/", "pinned.test", "coronet/1", h,
                                               {.body = body_kind::none}));
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: pinned.test\r\nUser-Agent: mine\r\n\r\n");
}

TEST(http_client_request_head, no_agent_when_none_is_configured) {
  std::string out;
  ASSERT_TRUE(http::detail::write_request_head(out, "GET", "/", "h", "", {}, {.body = body_kind::none}));
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
}

TEST(http_client_request_head, a_field_name_that_is_not_a_token_is_refused) {
  for (const auto* name : {"X Evil", "X-Evil:", "X(y)"}) {
    http::fields h;
    h.add(name, "a");
    std::string out;
    EXPECT_FALSE(http::detail::write_request_head(out, "GET", "/", "h", "", h, {.body = body_kind::none})) << name;
    EXPECT_TRUE(out.empty());
  }
}

TEST(http_client_request_head, a_method_that_is_not_a_token_or_a_broken_host_is_refused) {
  std::string out;
  EXPECT_FALSE(http::detail::write_request_head(out, "GET /x", "/", "h", "", {}, {}));
  EXPECT_FALSE(http::detail::write_request_head(out, "", "/", "h", "", {}, {}));
  EXPECT_FALSE(http::detail::write_request_head(out, "GET", "/", "h\r\nX: y", "", {}, {}));
  EXPECT_TRUE(out.empty());
}

}  // namespace
