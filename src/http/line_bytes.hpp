// Finding the bytes that end or break a line (CR, LF, NUL) in a header field or a head,
// eight bytes at a time: the fields and heads a server handles are mostly runs of ordinary
// bytes, and both the head check and the response's header check scan them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace coronet::http::detail {

/// The index of the first CR, LF or NUL in [p, p + n), or n when there is none.
inline std::size_t find_line_byte(const char* p, std::size_t n) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t highs = 0x8080808080808080ull;
  // Non-zero when some byte of v is zero (exact as to whether, not as to where).
  const auto has_zero = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x;
    std::memcpy(&x, p + i, 8);
    if (has_zero(x) | has_zero(x ^ (ones * '\r')) | has_zero(x ^ (ones * '\n'))) break;
  }
  for (; i < n; ++i) {
    const char c = p[i];
    if (c == '\r' || c == '\n' || c == '\0') return i;
  }
  return n;
}

/// Whether s holds a CR, LF or NUL.
inline bool has_line_byte(std::string_view s) noexcept {
  return find_line_byte(s.data(), s.size()) != s.size();
}

}  // namespace coronet::http::detail
