// http:// and https:// URLs, as the client takes them.
//
// Host (a name, an IPv4 literal or a bracketed IPv6 literal), optional port (80 or 443 by
// default), path and query. A fragment is dropped; user information is refused.
//
//     auto u = http::parse_url("http://[::1]:8080/items?page=2");
//     // u->host == "::1", u->port == 8080, u->target == "/items?page=2"
#pragma once

#include <coronet/http/client_error.hpp>
#include <coronet/http/message.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace coronet::http {

struct url {
  std::string host;         ///< lower-cased name or address, without IPv6 brackets
  std::uint16_t port = 80;
  bool secure = false;      ///< https
  std::string target = "/"; ///< path and query as sent in the request line: "/a/b?x=1"

  [[nodiscard]] std::string_view path() const noexcept { return target_path(target); }
  [[nodiscard]] std::string_view query() const noexcept { return target_query(target); }
  /// True for a bracketed IPv6 literal.
  [[nodiscard]] bool ipv6() const noexcept { return host.find(':') != std::string::npos; }
  [[nodiscard]] std::uint16_t default_port() const noexcept { return secure ? 443 : 80; }
  /// The Host header value: host, brackets for IPv6, and ":port" unless it is the scheme's
  /// default.
  [[nodiscard]] std::string authority() const;
  /// "http://" or "https://", authority() and target.
  [[nodiscard]] std::string str() const;
  /// Same scheme, host and port: what a connection, and credentials, belong to.
  [[nodiscard]] bool same_origin(const url& o) const noexcept {
    return secure == o.secure && port == o.port && host == o.host;
  }
};

/// Parses an absolute http or https URL. Errors: client_errc::unsupported_scheme for any
/// other scheme, client_errc::invalid_url for everything else that is wrong.
[[nodiscard]] result<url> parse_url(std::string_view text);

/// Resolves a Location header value against the URL it answered: absolute http(s) URLs,
/// "//authority/path", "/absolute/path" and relative paths.
[[nodiscard]] result<url> resolve_url(const url& base, std::string_view location);

}  // namespace coronet::http
