// The llhttp wrapper for responses, the client's twin of request_parser: turns the bytes of
// one connection into one http::response per request. Interim 1xx responses are skipped,
// trailers are dropped, HEAD (and 204/304) answers carry no body, and a body without
// Content-Length or chunking runs until the server closes (finish()). Strict llhttp: no
// lenient flag is set. It pauses after each response so bytes that follow stay unread.
#pragma once

#include <coronet/http/client_error.hpp>
#include <coronet/http/message.hpp>

#include <llhttp.h>

#include <cstddef>
#include <string_view>

namespace coronet::http::detail {

struct response_limits {
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_body_bytes = 64 * 1024 * 1024;
};

class response_parser {
 public:
  enum class event {
    need_more,     ///< every byte was consumed; feed more (or finish() at end of stream)
    message_done,  ///< message() is complete; bytes after `consumed` are not part of it
    error,         ///< the stream is unusable: see error()
  };
  struct result {
    event ev;
    std::size_t consumed;
  };

  explicit response_parser(response_limits limits = {});
  response_parser(const response_parser&) = delete;
  response_parser& operator=(const response_parser&) = delete;

  /// Prepares for the response to a new request. `head_request`: the answer has no body.
  /// `limit_body`: enforce max_body_bytes (off when the caller drains the body as it comes).
  void start(bool head_request, bool limit_body = true);

  result feed(std::string_view data);
  /// The server closed the connection: completes a close-delimited body, or fails.
  result finish();

  [[nodiscard]] response& message() noexcept { return response_; }
  /// Whether any byte of the response (interim ones included) has been seen.
  [[nodiscard]] bool started() const noexcept { return started_; }
  /// The final response's head is complete (its body may still be arriving).
  [[nodiscard]] bool head_done() const noexcept { return head_done_; }
  /// After message_done: whether the connection may carry another request.
  [[nodiscard]] bool keep_alive() const noexcept { return keep_alive_; }
  /// The HTTP version of the final response: 10 or 11.
  [[nodiscard]] int version() const noexcept { return version_; }

  [[nodiscard]] client_errc error() const noexcept { return error_; }
  [[nodiscard]] std::string_view error_reason() const noexcept { return error_reason_; }

 private:
  static int on_message_begin(llhttp_t* p);
  bool count_head(std::size_t n);
  static int on_header_field(llhttp_t* p, const char* at, std::size_t n);
  static int on_header_value(llhttp_t* p, const char* at, std::size_t n);
  static int on_headers_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, std::size_t n);
  static int on_message_complete(llhttp_t* p);
  static const llhttp_settings_t settings_;

  result fail(client_errc e, std::string_view why, std::size_t consumed);

  llhttp_t parser_{};
  response_limits limits_;
  response response_;
  std::size_t head_bytes_ = 0;
  int version_ = 11;
  bool head_request_ = false;
  bool limit_body_ = true;
  bool started_ = false;
  bool in_head_ = true;
  bool head_done_ = false;
  bool last_was_value_ = false;
  bool keep_alive_ = false;
  bool done_ = false;
  bool callback_failed_ = false;
  client_errc error_ = client_errc::protocol_error;
  std::string_view error_reason_;
};

}  // namespace coronet::http::detail
