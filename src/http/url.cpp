#include <coronet/http/message.hpp>
#include <coronet/http/url.hpp>

#include <asio/ip/address_v6.hpp>

#include <charconv>

namespace coronet::http {

namespace {

bool host_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Bytes a request line cannot carry: controls, space, DEL, and anything non-ASCII (which a
// URL must percent-encode).
bool bad_char(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u >= 0x7f;
}

// "host[:port]" of an http URL into u.
bool parse_authority(std::string_view a, url& u) {
  if (a.empty() || a.find('@') != std::string_view::npos) return false;  // no userinfo
  std::string_view host;
  std::string_view rest;
  if (a.front() == '[') {
    const auto close = a.find(']');
    if (close == std::string_view::npos) return false;
    host = a.substr(1, close - 1);
    rest = a.substr(close + 1);
    std::error_code ec;
    // Zone ids ("%25eth0") are not supported: make_address_v6 wants "%eth0", URLs carry "%25".
    (void)asio::ip::make_address_v6(std::string(host), ec);
    if (ec || host.find('%') != std::string_view::npos) return false;
  } else {
    const auto colon = a.find(':');
    host = a.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : a.substr(colon);
    if (host.empty()) return false;
    for (char c : host) {
      if (!host_char(c)) return false;
    }
  }
  if (!rest.empty()) {
    if (rest.front() != ':') return false;
    rest.remove_prefix(1);
    if (!rest.empty()) {  // "host:" means the default port (RFC 3986 allows an empty port)
      unsigned port = 0;
      const auto r = std::from_chars(rest.data(), rest.data() + rest.size(), port);
      if (r.ec != std::errc{} || r.ptr != rest.data() + rest.size() || port == 0 || port > 65535) {
        return false;
      }
      u.port = static_cast<std::uint16_t>(port);
    }
  }
  u.host.clear();
  for (char c : host) u.host += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return true;
}

// Path and query (a fragment is dropped); "" becomes "/".
bool set_target(std::string_view t, url& u) {
  t = t.substr(0, t.find('#'));
  for (char c : t) {
    if (bad_char(c)) return false;
  }
  std::string target;
  target.reserve(t.size() + 1);
  if (t.empty() || t.front() == '?') target.push_back('/');
  target.append(t);
  u.target = std::move(target);
  return true;
}

}  // namespace

std::string url::authority() const {
  // Built with append: GCC 12 warns falsely (-Wrestrict) about "[" + host + "]".
  std::string a;
  a.reserve(host.size() + 8);
  if (ipv6()) a.append("[").append(host).append("]");
  else a.append(host);
  if (port != default_port()) a.append(":").append(std::to_string(port));
  return a;
}

std::string url::str() const {
  std::string s = secure ? "https://" : "http://";
  s.append(authority()).append(target);
  return s;
}

result<url> parse_url(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return client_errc::invalid_url;
  const auto scheme = text.substr(0, colon);
  const char first = scheme.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z'))) {
    return client_errc::invalid_url;
  }
  for (char c : scheme) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '-' || c == '.';
    if (!ok) return client_errc::invalid_url;
  }
  url u;
  if (iequals(scheme, "https")) {
    u.secure = true;
    u.port = 443;
  } else if (!iequals(scheme, "http")) {
    return client_errc::unsupported_scheme;
  }
  auto rest = text.substr(colon + 1);
  if (rest.substr(0, 2) != "//") return client_errc::invalid_url;
  rest.remove_prefix(2);
  const auto end = std::min(rest.find_first_of("/?#"), rest.size());
  if (!parse_authority(rest.substr(0, end), u)) return client_errc::invalid_url;
  if (!set_target(rest.substr(end), u)) return client_errc::invalid_url;
  return u;
}

result<url> resolve_url(const url& base, std::string_view location) {
  if (location.empty()) return client_errc::invalid_url;
  if (location.substr(0, 2) == "//") {
    std::string absolute = base.secure ? "https:" : "http:";
    absolute.append(location);
    return parse_url(absolute);
  }
  // An absolute URL has a scheme: letters before a ':' that comes before any '/', '?' or '#'.
  const auto colon = location.find(':');
  if (colon != std::string_view::npos && colon < location.find_first_of("/?#")) {
    return parse_url(location);
  }
  url u = base;
  if (location.front() == '/') {
    if (!set_target(location, u)) return client_errc::invalid_url;
    return u;
  }
  if (location.front() == '?') {
    std::string target(base.path());
    target.append(location);
    if (!set_target(target, u)) return client_errc::invalid_url;
    return u;
  }
  // A relative path replaces the last segment of the base path. Dot segments are left to
  // the server, which must normalise them anyway.
  std::string target(base.path().substr(0, base.path().rfind('/') + 1));
  target.append(location);
  if (!set_target(target, u)) return client_errc::invalid_url;
  return u;
}

}  // namespace coronet::http
