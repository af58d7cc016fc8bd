// Finding the bytes that end or break a line (CR, LF, NUL) in a header field or a head,
// sixteen bytes at a time with SSE2 (every x86-64 has it) and eight elsewhere: the fields and
// heads a server handles are mostly runs of ordinary bytes, and both the head check and the
// response's header check scan them.
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace coronet::http::detail {

#if defined(__SSE2__)
/// A 16-bit mask of the bytes of p[0..16) equal to any of `bytes`.
template <char... Bytes>
inline unsigned match16(const char* p) noexcept {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  __m128i any = _mm_setzero_si128();
  ((any = _mm_or_si128(any, _mm_cmpeq_epi8(x, _mm_set1_epi8(Bytes)))), ...);
  return static_cast<unsigned>(_mm_movemask_epi8(any));
}

/// The index of the first of `Bytes` in [p, p + n), n >= 16, or n when there is none: whole
/// blocks, then the last sixteen bytes at once (overlapping bytes already known clean).
template <char... Bytes>
inline std::size_t find16(const char* p, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    if (const auto m = match16<Bytes...>(p + i)) return i + static_cast<std::size_t>(std::countr_zero(m));
  }
  if (i == n) return n;
  const auto m = match16<Bytes...>(p + n - 16);
  return m ? n - 16 + static_cast<std::size_t>(std::countr_zero(m)) : n;
}
#endif

/// The index of the first CR, LF or NUL in [p, p + n), or n when there is none.
inline std::size_t find_line_byte(const char* p, std::size_t n) noexcept {
#if defined(__SSE2__)
  if (n >= 16) return find16<'\r', '\n', '\0'>(p, n);
#endif
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
  // Where the first of them is in a word with a hit: the lowest bit each mask sets is exact
  // (a false one only ever lies above a true one), so the lowest of all is the first byte.
  constexpr bool little = std::endian::native == std::endian::little;
  const auto first = [](std::uint64_t mask) { return static_cast<std::size_t>(std::countr_zero(mask)) / 8; };
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x;
    std::memcpy(&x, p + i, 8);
    if (const auto m = hit(x)) {
      if constexpr (little) return i + first(m);
      break;
    }
  }
  // The rest: the last eight bytes at once (overlapping bytes already clean), or for 4 to 7
  // bytes two overlapping words, widened with 'A' bytes (neither CR, LF nor NUL, nor below
  // 14). The byte loop only runs for fewer than 4 bytes, or to find where a hit is.
  if (i < n && i + 8 > n) {
    if (n >= 8) {
      std::uint64_t x;
      std::memcpy(&x, p + n - 8, 8);
      const auto m = hit(x);
      if (!m) return n;
      if constexpr (little) return n - 8 + first(m);
    } else if (n >= 4) {
      std::uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
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
