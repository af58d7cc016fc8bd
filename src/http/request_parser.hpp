// The llhttp wrapper for requests: turns a byte stream into http::request objects, one at a
// time. It pauses after each head (so the server can check limits and expectations before
// any body is read) and after each message (so pipelined requests are handled in order while
// later bytes stay in the caller's buffer). Heads may arrive in any number of pieces.
#pragma once

#include "head_validator.hpp"

#include <coronet/http/message.hpp>

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace coronet::http::detail {

struct parse_limits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 8 * 1024 * 1024;
};

class request_parser {
 public:
  enum class event {
    need_more,     ///< every byte was consumed; feed more
    head_done,     ///< the head of message() is complete and a body follows; feed the rest for it
    message_done,  ///< message() is complete; feed the rest for the next one
    error,         ///< the stream is unusable: answer error_status() and close
  };
  struct result {
    event ev;
    std::size_t consumed;  ///< bytes of the input used; the rest belongs to later events
  };

  explicit request_parser(parse_limits limits = {});
  request_parser(const request_parser&) = delete;
  request_parser& operator=(const request_parser&) = delete;

  result feed(std::string_view data);

  [[nodiscard]] request& message() noexcept { return request_; }
  /// Between messages with nothing of the next one seen yet.
  [[nodiscard]] bool idle() const noexcept { return !in_message_; }
  /// After head_done: whether a body follows (chunked, or a non-zero Content-Length).
  [[nodiscard]] bool has_body() const noexcept;
  /// After head_done: whether the body uses the chunked transfer coding.
  [[nodiscard]] bool chunked() const noexcept { return (parser_.flags & F_CHUNKED) != 0; }
  /// After head_done: the announced Content-Length, when not chunked.
  [[nodiscard]] std::uint64_t content_length() const noexcept { return parser_.content_length; }
  /// After message_done: whether the connection may carry another request (HTTP/1.1 without
  /// `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`).
  [[nodiscard]] bool keep_alive() const noexcept { return keep_alive_; }

  [[nodiscard]] http::status error_status() const noexcept { return error_status_; }
  [[nodiscard]] std::string_view error_reason() const noexcept { return error_reason_; }

  /// Forgets everything; ready for a new connection.
  void reset() noexcept;

 private:
  static int on_message_begin(llhttp_t* p);
  static int on_url(llhttp_t* p, const char* at, std::size_t n);
  static int on_header_field(llhttp_t* p, const char* at, std::size_t n);
  static int on_header_value(llhttp_t* p, const char* at, std::size_t n);
  static int on_headers_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, std::size_t n);
  static int on_message_complete(llhttp_t* p);
  static const llhttp_settings_t settings_;

  result fail(http::status s, std::string_view why, std::size_t consumed);
  int on_trailer(std::size_t n);

  llhttp_t parser_{};
  parse_limits limits_;
  request request_;
  head_validator validator_;
  std::size_t head_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  bool in_message_ = false;
  bool in_head_ = true;
  bool last_was_value_ = false;
  bool keep_alive_ = false;
  bool callback_failed_ = false;
  event paused_for_ = event::need_more;
  http::status error_status_ = http::status::bad_request;
  std::string_view error_reason_;
};

}  // namespace coronet::http::detail
