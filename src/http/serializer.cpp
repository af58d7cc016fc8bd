#include "serializer.hpp"

#include "line_bytes.hpp"

#include <array>
#include <charconv>
#include <cstring>

namespace coronet::http::detail {

namespace {

// The longest framing lines a head gets: Content-Length (or Transfer-Encoding), then
// Connection, then the empty line.
constexpr std::size_t framing_max = sizeof "Content-Length: 18446744073709551615\r\n" +
                                    sizeof "Connection: keep-alive\r\n" + sizeof "\r\n";

// RFC 9110 5.6.2: tchar.
constexpr auto token_chars = [] {
  std::array<bool, 256> t{};
  for (unsigned c = '0'; c <= '9'; ++c) t[c] = true;
  for (unsigned c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
  for (const char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!token_chars[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// "HTTP/1.1 200 OK\r\n" for every code in 100..599, built once; any other code is formatted
// into `scratch`.
std::string_view status_line(unsigned code, char (&scratch)[32]) {
  static const auto lines = [] {
    std::array<std::string, 600> t;
    for (unsigned c = 100; c < t.size(); ++c) {
      t[c] = "HTTP/1.1 " + std::to_string(c) + ' ' + std::string(reason_phrase(c)) + "\r\n";
    }
    return t;
  }();
  if (code >= 100 && code < lines.size()) return lines[code];
  constexpr std::string_view version = "HTTP/1.1 ", reason = " Unknown\r\n";
  std::memcpy(scratch, version.data(), version.size());
  const auto end = std::to_chars(scratch + version.size(), scratch + 20, code).ptr;
  std::memcpy(end, reason.data(), reason.size());
  return {scratch, static_cast<std::size_t>(end + reason.size() - scratch)};
}

// Writes pieces into a string sized once for the whole head: one size change instead of an
// append (and its capacity check) per piece.
class head_writer {
 public:
  head_writer(std::string& out, std::size_t max) : out_(out), start_(out.size()) {
    out_.resize(start_ + max);
    p_ = out_.data() + start_;
  }
  void put(std::string_view s) noexcept {
    if (s.empty()) return;  // an empty view may hold a null pointer, which memcpy must not get
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void put_field(std::string_view name, std::string_view value) noexcept {
    put(name);
    put(": ");
    put(value);
    put("\r\n");
  }
  void put_number(std::uint64_t n) noexcept { p_ = std::to_chars(p_, p_ + 20, n).ptr; }
  void put_framing(const framing& f) noexcept {
    switch (f.body) {
      case framing::body_kind::length:
        put("Content-Length: ");
        put_number(f.content_length);
        put("\r\n");
        break;
      case framing::body_kind::chunked:
        put("Transfer-Encoding: chunked\r\n");
        break;
      case framing::body_kind::none:
      case framing::body_kind::until_close:
        break;
    }
  }
  void done() { out_.resize(static_cast<std::size_t>(p_ - out_.data())); }

 private:
  std::string& out_;
  std::size_t start_;
  char* p_;
};

// A field the framing decides: never copied from the caller's fields.
bool is_framing_field(std::string_view name) noexcept {
  return iequals(name, "content-length") || iequals(name, "transfer-encoding");
}

}  // namespace

bool safe_field(std::string_view name, std::string_view value) noexcept {
  return !name.empty() && !has_line_byte(name) && !has_line_byte(value);
}

bool write_response_head(std::string& out, unsigned status, std::string_view preamble,
                         const fields& headers, const framing& f, std::string_view inline_body) {
  char scratch[32];
  const auto line = status_line(status, scratch);
  std::size_t size = line.size() + preamble.size() + framing_max + inline_body.size();
  for (const auto& h : headers) {
    if (!safe_field(h.name, h.value)) return false;
    size += h.name.size() + h.value.size() + 4;
  }
  head_writer w(out, size);
  w.put(line);
  w.put(preamble);
  for (const auto& h : headers) {
    if (is_framing_field(h.name) || iequals(h.name, "connection")) continue;
    w.put_field(h.name, h.value);
  }
  w.put_framing(f);
  if (!f.keep_alive) {
    w.put("Connection: close\r\n");
  } else if (f.http10) {
    w.put("Connection: keep-alive\r\n");
  }
  w.put("\r\n");
  w.put(inline_body);
  w.done();
  return true;
}

void write_error_response(std::string& out, http::status status, std::string_view preamble,
                          std::string_view why) {
  fields type;
  type.add("Content-Type", "text/plain; charset=utf-8");
  const framing f{.body = framing::body_kind::length, .content_length = why.size() + 1, .keep_alive = false};
  const auto start = out.size();
  write_response_head(out, static_cast<unsigned>(status), preamble, type, f, why);
  if (out.size() > start) out.push_back('\n');
}

bool write_request_head(std::string& out, std::string_view method, std::string_view target,
                        std::string_view host, std::string_view user_agent, const fields& headers,
                        const framing& f) {
  if (!is_token(method) || has_line_byte(target) || has_line_byte(host)) return false;
  const bool add_agent = !user_agent.empty() && !headers.contains("user-agent");
  std::size_t size = method.size() + target.size() + sizeof " HTTP/1.1\r\n" + sizeof "Host: \r\n" +
                     host.size() + sizeof "User-Agent: \r\n" + user_agent.size() + framing_max;
  for (const auto& h : headers) {
    if (!is_token(h.name) || has_line_byte(h.value)) return false;
    size += h.name.size() + h.value.size() + 4;
  }
  head_writer w(out, size);
  w.put(method);
  w.put(" ");
  w.put(target);
  w.put(" HTTP/1.1\r\n");
  w.put_field("Host", host);
  if (add_agent) w.put_field("User-Agent", user_agent);
  for (const auto& h : headers) {
    if (is_framing_field(h.name) || iequals(h.name, "host")) continue;
    w.put_field(h.name, h.value);
  }
  w.put_framing(f);
  w.put("\r\n");
  w.done();
  return true;
}

}  // namespace coronet::http::detail
