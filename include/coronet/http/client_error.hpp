// Errors of the HTTP client, and the value-or-error type its calls return.
//
// Every client call completes with a `result<T>`: either the value or a std::error_code from
// `client_category()`, so each failure is told apart without exceptions on the request path.
// An https:// request whose TLS handshake fails completes with a code from
// tls::verification_category() (the server's certificate was not accepted: the message says
// why) or tls::handshake_category() (any other handshake failure); never with a downgrade.
//
//     auto res = co_await c.get("http://127.0.0.1:8080/");
//     if (!res) { if (res.error() == http::client_errc::timeout) ...; co_return; }
//     std::cout << static_cast<int>(res->status) << " " << res->body;
#pragma once

#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

namespace coronet::http {

enum class client_errc {
  invalid_url = 1,      ///< the URL could not be parsed
  unsupported_scheme,   ///< not http:// or https:// (or https:// in a build without TLS)
  dns_failure,          ///< the host name did not resolve
  connection_refused,   ///< nothing listens at the address (every address was tried)
  connect_failed,       ///< connecting failed for another reason (unreachable, reset)
  connect_timeout,      ///< client_options::connect_timeout passed while connecting
  timeout,              ///< client_options::request_timeout passed
  connection_closed,    ///< the server closed or reset the connection before the response ended
  protocol_error,       ///< the response is not valid HTTP/1.x
  response_too_large,   ///< the head or the body is over its client_options limit
  too_many_redirects,   ///< more redirects than client_options::follow_redirects
  cancelled,            ///< the request's cancellation slot was emitted
};

[[nodiscard]] const std::error_category& client_category() noexcept;
[[nodiscard]] inline std::error_code make_error_code(client_errc e) noexcept {
  return {static_cast<int>(e), client_category()};
}

/// A value or the error that prevented it, in the spirit of C++23 std::expected.
template <class T>
class result {
 public:
  /// A value-initialized T, as std::expected does (Asio's co_spawn needs one).
  result() : value_(T{}) {}
  result(T value) : value_(std::move(value)) {}  // NOLINT: implicit, like std::expected
  result(std::error_code ec) : error_(ec) {}     // NOLINT
  result(client_errc e) : error_(make_error_code(e)) {}  // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }
  /// The error; a default (false) error_code when there is a value.
  [[nodiscard]] std::error_code error() const noexcept { return error_; }

  /// The value; throws std::system_error(error()) when there is none.
  T& value() & {
    if (!value_) throw std::system_error(error_);
    return *value_;
  }
  T&& value() && { return std::move(value()); }
  /// Precondition: has_value().
  T& operator*() noexcept { return *value_; }
  const T& operator*() const noexcept { return *value_; }
  T* operator->() noexcept { return &*value_; }
  const T* operator->() const noexcept { return &*value_; }

 private:
  std::optional<T> value_;
  std::error_code error_;
};

}  // namespace coronet::http

template <>
struct std::is_error_code_enum<coronet::http::client_errc> : std::true_type {};
