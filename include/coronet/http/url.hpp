// http:// URLs, as the client takes them.
//
// Only the http scheme: host (a name, an IPv4 literal or a bracketed IPv6 literal), optional
// port (80 by default), path and query. A fragment is dropped; user information is refused.
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
  std::string target = "/"; ///< path and query as sent in the request line: "/a/b?x=1"

  [[nodiscard]] std::string_view path() const noexcept { return target_path(target); }
  [[nodiscard]] std::string_view query() const noexcept { return target_query(target); }
  /// True for a bracketed IPv6 literal.
  [[nodiscard]] bool ipv6() const noexcept { return host.find(':') != std::string::npos; }
  /// The Host header value: host, brackets for IPv6, and ":port" unless it is 80.
  [[nodiscard]] std::string authority() const;
  /// "http://" + authority() + target.
  [[nodiscard]] std::string str() const;
};

/// Parses an absolute http URL. Errors: client_errc::unsupported_scheme for any other scheme
/// (https included), client_errc::invalid_url for everything else that is wrong.
[[nodiscard]] result<url> parse_url(std::string_view text);

/// Resolves a Location header value against the URL it answered: absolute http URLs,
/// "//authority/path", "/absolute/path" and relative paths.
[[nodiscard]] result<url> resolve_url(const url& base, std::string_view location);

}  // namespace coronet::http
