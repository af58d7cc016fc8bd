// The Date header value (RFC 9110 IMF-fixdate), formatted at most once a second. One per
// io_context thread, owned by the server's per-context state: no locks, no globals.
#pragma once

#include <ctime>
#include <string_view>

namespace coronet::http::detail {

class date_cache {
 public:
  /// "Wed, 25 Nov 2026 17:06:20 GMT"
  std::string_view now() noexcept;
  /// The second the last now() formatted.
  [[nodiscard]] std::time_t second() const noexcept { return second_; }

 private:
  std::time_t second_ = -1;
  char text_[32] = {};
  std::size_t size_ = 0;
};

}  // namespace coronet::http::detail
