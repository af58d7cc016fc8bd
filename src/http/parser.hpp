// The llhttp wrapper, written once for both directions: basic_parser<true> turns a
// server's input into http::request objects, basic_parser<false> a client's input into
// http::response objects. Strict llhttp (no lenient flag); heads may arrive in any number of
// pieces.
//
// It pauses after a head that a body follows (so the server can check limits and
// expectations before any body is read) and after each message (so pipelined messages are
// handled in order while later bytes stay in the caller's buffer). Trailer fields and chunk
// extensions count against the head limit (a peer must not stream them without end), and
// are dropped: merged into the headers, trailers would let a body smuggle in fields the head
// never had.
//
// Requests only: the raw head bytes also go through head_validator, exactly one Host is
// required (RFC 9112 3.2). Responses only: interim 1xx answers are skipped, HEAD (and 204,
// 304) answers carry no body, and a body with neither Content-Length nor chunking runs until
// the peer closes (finish()).
#pragma once

#include "head_validator.hpp"

#include <coronet/http/client_error.hpp>
#include <coronet/http/message.hpp>

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace coronet::http::detail {

struct parse_limits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 8 * 1024 * 1024;
};

/// What made a stream unusable; each side maps it to its own answer (a 4xx status for the
/// server, a client_errc for the client).
enum class parse_error : unsigned char {
  malformed,       ///< not HTTP/1.x as RFC 9112 and strict llhttp read it
  head_too_large,  ///< head (or trailers) over max_header_bytes
  body_too_large,  ///< decoded body over max_body_bytes
  closed_early,    ///< the peer closed before the message was complete (responses)
};

template <bool IsRequest>
class basic_parser {
 public:
  using message_type = std::conditional_t<IsRequest, request, response>;

  enum class event {
    need_more,     ///< every byte was consumed; feed more (or finish() at end of stream)
    head_done,     ///< message()'s head is complete and a body follows; feed the rest for it
    message_done,  ///< message() is complete; bytes after `consumed` belong to the next one
    error,         ///< the stream is unusable: see error() and error_reason()
  };
  struct result {
    event ev;
    std::size_t consumed;  ///< bytes of the input used; the rest belongs to later events
  };

  explicit basic_parser(parse_limits limits = IsRequest ? parse_limits{}
                                                        : parse_limits{64 * 1024, 64 * 1024 * 1024});
  basic_parser(const basic_parser&) = delete;
  basic_parser& operator=(const basic_parser&) = delete;

  /// Forgets everything; ready for a new connection (requests) or a new request's answer
  /// (responses: `head_request` means the answer has no body; `limit_body` false lets a
  /// caller that drains the body as it comes take more than max_body_bytes).
  void reset() noexcept;
  void start(bool head_request, bool limit_body = true) noexcept
    requires(!IsRequest);

  result feed(std::string_view data);
  /// The peer closed: completes a close-delimited body, or fails with closed_early.
  result finish()
    requires(!IsRequest);

  [[nodiscard]] message_type& message() noexcept { return message_; }
  /// Between messages, with nothing of the next one seen yet.
  [[nodiscard]] bool idle() const noexcept { return !in_message_; }
  /// Whether any byte of the message (interim answers included) has been seen.
  [[nodiscard]] bool started() const noexcept { return started_; }
  /// The (final) head is complete; its body may still be arriving.
  [[nodiscard]] bool head_done() const noexcept { return !in_head_ || done_; }
  /// After head_done: whether a body follows.
  [[nodiscard]] bool has_body() const noexcept;
  /// After head_done: whether the body uses the chunked transfer coding.
  [[nodiscard]] bool chunked() const noexcept { return (parser_.flags & F_CHUNKED) != 0; }
  /// After head_done: the announced Content-Length, when not chunked.
  [[nodiscard]] std::uint64_t content_length() const noexcept { return parser_.content_length; }
  /// After message_done: whether the connection may carry another message.
  [[nodiscard]] bool keep_alive() const noexcept { return keep_alive_; }
  /// After head_done: 10 or 11.
  [[nodiscard]] int version() const noexcept { return version_; }

  [[nodiscard]] parse_error error() const noexcept { return error_; }
  [[nodiscard]] std::string_view error_reason() const noexcept { return error_reason_; }

 private:
  static int on_message_begin(llhttp_t* p);
  static int on_url(llhttp_t* p, const char* at, std::size_t n);
  static int on_header_field(llhttp_t* p, const char* at, std::size_t n);
  static int on_header_value(llhttp_t* p, const char* at, std::size_t n);
  static int on_headers_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, std::size_t n);
  static int on_message_complete(llhttp_t* p);
  static int on_chunk_extension(llhttp_t* p, const char* at, std::size_t n);
  static const llhttp_settings_t settings_;

  result fail(parse_error e, std::string_view why, std::size_t consumed);
  int reject(parse_error e, std::string_view why);
  int check_head(llhttp_t* p);
  bool count_trailer(std::size_t n);

  llhttp_t parser_{};
  parse_limits limits_;
  message_type message_;
  head_validator validator_;  // requests only
  std::size_t head_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;  // trailers and chunk extensions of the current message
  int version_ = 11;
  bool in_message_ = false;
  bool in_head_ = true;
  bool started_ = false;
  bool done_ = false;  // responses: the answer is complete; feed() takes nothing more
  bool last_was_value_ = false;
  bool keep_alive_ = false;
  bool head_request_ = false;
  bool limit_body_ = true;
  bool callback_failed_ = false;
  event paused_for_ = event::need_more;
  parse_error error_ = parse_error::malformed;
  std::string_view error_reason_;
};

using request_parser = basic_parser<true>;
using response_parser = basic_parser<false>;

extern template class basic_parser<true>;
extern template class basic_parser<false>;

/// The server's answer to a request it cannot parse.
[[nodiscard]] http::status status_for(parse_error e) noexcept;
/// The client's error for a response it cannot parse.
[[nodiscard]] client_errc errc_for(parse_error e) noexcept;

}  // namespace coronet::http::detail
