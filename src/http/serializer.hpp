// Heads on the wire, written once for both directions: the server's response heads (and its
// canned answers) and the client's request heads. How the body is delimited is described by
// a small `framing` value that the connection decides; a handler's or caller's own
// Content-Length, Transfer-Encoding and Connection fields never reach the wire.
//
// Every field is checked before anything is written: a CR, LF or NUL in a name or value (or an
// empty name) could split the message in two, so the head is refused whole. Request heads,
// built from what a caller passes the client, also need names that are tokens.
#pragma once

#include <coronet/http/message.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace coronet::http::detail {

struct framing {
  enum class body_kind : unsigned char {
    none,         ///< no body by definition (1xx, 204, 304): no Content-Length either
    length,       ///< Content-Length: content_length
    chunked,      ///< Transfer-Encoding: chunked
    until_close,  ///< an HTTP/1.0 peer's streamed body: it ends when the connection does
  };
  body_kind body = body_kind::length;
  std::uint64_t content_length = 0;
  /// Responses: false adds `Connection: close`.
  bool keep_alive = true;
  /// Responses: the peer speaks HTTP/1.0, so keep-alive must be announced.
  bool http10 = false;
};

/// A non-empty name and a value with no CR, LF or NUL: the field cannot split the message.
[[nodiscard]] bool safe_field(std::string_view name, std::string_view value) noexcept;

/// Appends a response head: status line, `preamble` (ready-made lines: Server, Date), the
/// fields, the framing, the empty line, then `inline_body` (a small body is cheaper copied
/// behind its head than written as a buffer of its own). Returns false and appends nothing
/// when a field is unsafe.
bool write_response_head(std::string& out, unsigned status, std::string_view preamble,
                         const fields& headers, const framing& f, std::string_view inline_body = {});

/// A complete answer that ends the connection: `status`, a text/plain body `why` + "\n",
/// `Connection: close`. What the server sends for input it will not serve (400, 408, 413,
/// 417, 431, 503).
void write_error_response(std::string& out, http::status status, std::string_view preamble,
                          std::string_view why);

/// The interim answer to `Expect: 100-continue`.
inline constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

/// Appends a request head: request line, Host, User-Agent (unless `headers` has one; empty
/// sends none), the fields other than Host, then Content-Length when f.body is length.
/// Returns false and appends nothing when the method is not a token or a field (Host
/// included) is unsafe.
bool write_request_head(std::string& out, std::string_view method, std::string_view target,
                        std::string_view host, std::string_view user_agent, const fields& headers,
                        const framing& f);

}  // namespace coronet::http::detail
