// HTTP messages: status codes, header fields, request and response.
//
// A handler receives a fully read `request` (body decoded, chunked or not) and returns a
// `response`; coronet adds Content-Length, Date and Connection itself.
//
//     co_return http::response::text("Hello, World!");
//     co_return http::response::json(R"({"id": 7})", http::status::created);
//     if (auto type = req.headers.get("content-type")) { ... }   // case-insensitive
#pragma once

#include <coronet/detail/asio.hpp>

#include <asio/ip/tcp.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coronet::tls {
struct peer;  // coronet/tls.hpp
}  // namespace coronet::tls

namespace coronet::http {

class body_writer;

namespace detail {
template <bool IsRequest>
class basic_parser;
}  // namespace detail

enum class status : std::uint16_t {
  continue_ = 100,
  switching_protocols = 101,
  ok = 200,
  created = 201,
  accepted = 202,
  no_content = 204,
  moved_permanently = 301,
  found = 302,
  see_other = 303,
  not_modified = 304,
  temporary_redirect = 307,
  permanent_redirect = 308,
  bad_request = 400,
  unauthorized = 401,
  forbidden = 403,
  not_found = 404,
  method_not_allowed = 405,
  request_timeout = 408,
  conflict = 409,
  length_required = 411,
  payload_too_large = 413,
  uri_too_long = 414,
  unsupported_media_type = 415,
  expectation_failed = 417,
  unprocessable_content = 422,
  too_many_requests = 429,
  request_header_fields_too_large = 431,
  internal_server_error = 500,
  not_implemented = 501,
  bad_gateway = 502,
  service_unavailable = 503,
  gateway_timeout = 504,
  http_version_not_supported = 505,
};

/// The reason phrase of a status code ("Not Found"); "Unknown" for codes coronet has no name for.
[[nodiscard]] std::string_view reason_phrase(unsigned code) noexcept;
[[nodiscard]] inline std::string_view reason_phrase(status s) noexcept {
  return reason_phrase(static_cast<unsigned>(s));
}

/// The path of a request-target: up to '?' ("/a/b" of "/a/b?x=1").
[[nodiscard]] constexpr std::string_view target_path(std::string_view target) noexcept {
  return target.substr(0, target.find('?'));
}
/// The query of a request-target: after '?', without it; empty when there is none.
[[nodiscard]] constexpr std::string_view target_query(std::string_view target) noexcept {
  const auto q = target.find('?');
  return q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

/// ASCII case-insensitive equality, as header names compare. (Inline: names of other lengths,
/// most of those a lookup meets, are told apart without a call.)
[[nodiscard]] inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    if ((x | 0x20) != (y | 0x20) || (x | 0x20) < 'a' || (x | 0x20) > 'z') return false;
  }
  return true;
}

/// Header fields in arrival order. Names compare case-insensitively; a name may repeat.
class fields {
 public:
  struct field {
    std::string name;
    std::string value;
  };
  using const_iterator = std::vector<field>::const_iterator;

  fields() = default;
  fields(const fields& other) : fields_(other.begin(), other.end()), used_(other.used_) {}
  fields(fields&& other) noexcept
      : fields_(std::move(other.fields_)), used_(std::exchange(other.used_, 0)) {}
  fields& operator=(const fields& other) {
    if (this != &other) *this = fields(other);
    return *this;
  }
  fields& operator=(fields&& other) noexcept {
    fields_ = std::move(other.fields_);
    used_ = std::exchange(other.used_, 0);
    return *this;
  }
  /// Small field lists (16 fields and 1 KiB of strings at most) leave their storage to the
  /// next list the same thread reserves room in (reserve()), up to 16 kept per thread: a
  /// response made by response::text and its kin then allocates nothing for its fields.
  ~fields() {
    if (fields_.capacity() != 0) keep();  // inline: a moved-from list has nothing to leave
  }

  /// Appends a field, keeping any earlier one of the same name.
  void add(std::string_view name, std::string_view value);
  /// Replaces every field of this name with one.
  void set(std::string_view name, std::string_view value);
  /// Removes every field of this name; returns how many there were.
  std::size_t erase(std::string_view name);
  /// The value of the first field of this name.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept;
  [[nodiscard]] bool contains(std::string_view name) const noexcept { return get(name).has_value(); }

  /// Room for `n` fields without reallocating (a response made by response::text and its kin
  /// has room for four). An empty list takes storage a destroyed one left, when there is.
  void reserve(std::size_t n);
  [[nodiscard]] std::size_t size() const noexcept { return used_; }
  [[nodiscard]] bool empty() const noexcept { return used_ == 0; }
  [[nodiscard]] const_iterator begin() const noexcept { return fields_.begin(); }
  [[nodiscard]] const_iterator end() const noexcept {
    return fields_.begin() + static_cast<std::ptrdiff_t>(used_);
  }
  /// Removes every field. Their strings keep their storage for the fields added next: a
  /// request object that serves one request after another on a connection allocates no new
  /// header strings.
  void clear() noexcept { used_ = 0; }

 private:
  // The parser appends names and values in pieces, as they arrive.
  template <bool IsRequest>
  friend class detail::basic_parser;
  /// A new, empty field at the end (a slot kept by clear() when there is one). Inline: the
  /// parser calls it for every field of every request, nearly always with a slot to reuse.
  field& append() {
    if (used_ < fields_.size()) {
      auto& f = fields_[used_++];
      f.name.clear();
      f.value.clear();
      return f;
    }
    return grow();
  }
  field& grow();  // append() with no slot to reuse
  field& last() noexcept { return fields_[used_ - 1]; }
  /// Leaves this list's storage for the next reserve() on this thread, when it is small.
  void keep() noexcept;

  std::vector<field> fields_;  // [0, used_) are the fields; the rest keep their storage
  std::size_t used_ = 0;
};

struct request {
  std::string method;  ///< "GET", "POST", ... as received (methods are case-sensitive)
  std::string target;  ///< request-target as received: "/users/7?full=1"
  int version = 11;    ///< 10 for HTTP/1.0, 11 for HTTP/1.1
  fields headers;
  std::string body;  ///< the decoded body (chunked transfer coding removed)
  /// Path parameters captured by the router: {name} segments, and "*" for a trailing wildcard.
  std::vector<std::pair<std::string, std::string>> params;
  /// Over TLS (a listen_tls() port): the peer's verified identity and what the handshake
  /// agreed, valid while the handler runs; null over plaintext.
  const tls::peer* tls_peer = nullptr;
  /// The client's address (the proxy's, behind one).
  asio::ip::tcp::endpoint remote;

  /// The target up to '?'.
  [[nodiscard]] std::string_view path() const noexcept { return target_path(target); }
  /// The target after '?', without it; empty when there is none.
  [[nodiscard]] std::string_view query() const noexcept { return target_query(target); }
  /// A path parameter by name; empty when the route has none of that name.
  [[nodiscard]] std::string_view param(std::string_view name) const noexcept;

  void clear() noexcept;
};

/// Produces a streamed body: writes chunks through the writer (body_writer.hpp).
using body_producer = std::function<asio::awaitable<void>(body_writer&)>;

/// When a streamed response's head (status line and headers) goes on the wire.
enum class stream_head : unsigned char {
  /// Before the producer runs: the client sees the status and headers at once.
  immediate,
  /// With the producer's first non-empty write, in one write with it, or alone when the
  /// producer ends without writing. Until then the producer may add headers
  /// (body_writer::headers()), and if it throws, the client gets a complete 500 instead.
  /// Earlier pipelined answers are sent before the producer runs, not held back by it.
  deferred,
};

struct response {
  http::status status = http::status::ok;
  fields headers;
  std::string body;
  /// When set, the body is streamed (chunked for HTTP/1.1, close-delimited for HTTP/1.0)
  /// and `body` is ignored.
  body_producer stream;
  /// For a streamed body: when the head goes out. Ignored otherwise.
  stream_head head = stream_head::immediate;

  /// text/plain; charset=utf-8
  static response text(std::string body, http::status s = http::status::ok);
  /// application/json; the body is sent as given.
  static response json(std::string body, http::status s = http::status::ok);
  /// Raw bytes with the given content type.
  static response bytes(std::string body, std::string_view content_type = "application/octet-stream",
                        http::status s = http::status::ok);
  /// A status with an empty body.
  static response empty(http::status s);
  /// A body of unknown length, written by `producer` as it becomes available; `head` says
  /// whether the head goes out before the producer runs or with its first write.
  static response streamed(body_producer producer,
                           std::string_view content_type = "application/octet-stream",
                           http::status s = http::status::ok,
                           stream_head head = stream_head::immediate);
};

}  // namespace coronet::http
