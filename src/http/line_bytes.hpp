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
  const auto hit = [&](std::uint64_t x) -> std::uint64_t {
    // Most words hold no byte below 14 at all (one subtraction tells: exact as to whether);
    // only those that do (a tab, say) are checked for the three bytes themselves.
    if (((x - ones * 14) & ~x & highs) == 0) return 0;
    return has_zero(x) | has_zero(x ^ (ones * '\r')) | has_zero(x ^ (ones * '\n'));
  };
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x;
    std::memcpy(&x, p + i, 8);
    if (hit(x)) break;
  }
  // The rest of a clean run: the last eight bytes at once (overlapping what was checked), or
  // for 4 to 7 bytes two overlapping words. The byte loop then only finds where a hit is.
  if (i < n && i + 8 > n) {
    if (n >= 8) {
      std::uint64_t x;
      std::memcpy(&x, p + n - 8, 8);
      if (!hit(x)) return n;
    } else if (n >= 4) {
      std::uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      // Widened with 'A' bytes, which are neither CR, LF nor NUL (nor below 14).
      const auto wide = [&](std::uint32_t w) { return (std::uint64_t{0x41414141u} << 32) | w; };
      if (!hit(wide(a)) && !hit(wide(b))) return n;
    }
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
