// http::parse_url and http::resolve_url: what the client accepts as a URL, and what it refuses.
#include <coronet/http/url.hpp>

#include <gtest/gtest.h>

namespace http = coronet::http;

namespace {

http::url parsed(std::string_view text) {
  auto u = http::parse_url(text);
  EXPECT_TRUE(u) << text << ": " << u.error().message();
  return u ? *u : http::url{};
}

TEST(http_client_url, host_port_path_and_query_are_split) {
  const auto u = parsed("http://Example.COM:8080/a/b?x=1&y=2#frag");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.target, "/a/b?x=1&y=2");
  EXPECT_EQ(u.path(), "/a/b");
  EXPECT_EQ(u.query(), "x=1&y=2");
  EXPECT_EQ(u.authority(), "example.com:8080");
}

TEST(http_client_url, defaults_are_port_80_and_root_path) {
  const auto u = parsed("HTTP://localhost");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.target, "/");
  EXPECT_EQ(u.authority(), "localhost");
  EXPECT_EQ(parsed("http://h?q=1").target, "/?q=1");
  EXPECT_EQ(parsed("http://h:/x").port, 80);
}

TEST(http_client_url, ipv4_and_bracketed_ipv6_literals) {
  const auto v4 = parsed("http://127.0.0.1:9/");
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_FALSE(v4.ipv6());
  const auto v6 = parsed("http://[::1]:8080/x");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_TRUE(v6.ipv6());
  EXPECT_EQ(v6.authority(), "[::1]:8080");
  EXPECT_EQ(v6.str(), "http://[::1]:8080/x");
  EXPECT_EQ(parsed("http://[2001:DB8::1]/").host, "2001:db8::1");
}

TEST(http_client_url, https_defaults_to_port_443) {
  const auto u = parsed("HTTPS://Example.com/a");
  EXPECT_TRUE(u.secure);
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.authority(), "example.com");
  EXPECT_EQ(u.str(), "https://example.com/a");
  EXPECT_EQ(parsed("https://example.com:80/").authority(), "example.com:80");
  EXPECT_EQ(parsed("https://example.com:443/").str(), "https://example.com/");
  EXPECT_FALSE(u.same_origin(parsed("http://example.com:443/a")));
  EXPECT_TRUE(u.same_origin(parsed("https://example.com:443/b")));
}

TEST(http_client_url, other_schemes_are_unsupported) {
  EXPECT_EQ(http::parse_url("ftp://example.com/").error(), http::client_errc::unsupported_scheme);
  EXPECT_EQ(http::parse_url("ws://example.com/").error(), http::client_errc::unsupported_scheme);
}

TEST(http_client_url, malformed_urls_are_invalid) {
  for (const char* bad : {"", "example.com/x", "/path", "http:/x", "http//x", "http://",
                          "http:///x", "http://:80/", "http://h:0/", "http://h:65536/",
                          "http://h:8o/", "http://user@h/", "http://[::1/", "http://[nothex]/",
                          "http://[::1]x/", "http://h h/", "http://h/a b", "http://h/\r\n",
                          "http://h\x7f/", "http://h/\xc3\xa9", "1http://h/"}) {
    EXPECT_EQ(http::parse_url(bad).error(), http::client_errc::invalid_url) << bad;
  }
}

TEST(http_client_url, locations_resolve_against_the_base) {
  const auto base = parsed("http://a.test:81/dir/page?q=1");
  EXPECT_EQ(http::resolve_url(base, "http://b.test/x")->str(), "http://b.test/x");
  EXPECT_EQ(http::resolve_url(base, "//c.test:9/y")->str(), "http://c.test:9/y");
  EXPECT_EQ(http::resolve_url(base, "/root?z")->str(), "http://a.test:81/root?z");
  EXPECT_EQ(http::resolve_url(base, "other")->str(), "http://a.test:81/dir/other");
  EXPECT_EQ(http::resolve_url(base, "?k=v")->str(), "http://a.test:81/dir/page?k=v");
  EXPECT_EQ(http::resolve_url(base, "https://b.test/")->str(), "https://b.test/");
  EXPECT_EQ(http::resolve_url(parsed("https://a.test/x"), "//c.test/y")->str(), "https://c.test/y");
  EXPECT_EQ(http::resolve_url(base, "ftp://b.test/").error(), http::client_errc::unsupported_scheme);
  EXPECT_FALSE(http::resolve_url(base, ""));
}

}  // namespace
