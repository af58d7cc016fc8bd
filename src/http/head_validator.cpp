#include "head_validator.hpp"

#include "line_bytes.hpp"

#include <array>

namespace coronet::http::detail {

namespace {

// The bytes that end a field name, or are wrong in one: everything else is skipped at one
// table lookup a byte (names are short: a word at a time did not pay).
constexpr std::array<bool, 256> name_stops = [] {
  std::array<bool, 256> t{};
  for (const unsigned char c : {':', ' ', '\t', '\r', '\n', '\0'}) t[c] = true;
  return t;
}();

}  // namespace

bool head_validator::feed(std::string_view bytes) noexcept {
  if (reason_) return false;
  // The state in locals, stored back on the way out: the compiler must otherwise assume
  // every store through `this` may change the bytes and reload them.
  auto where = where_;
  bool after_cr = after_cr_;
  const auto stop = [&](const char* why) {
    where_ = where;
    after_cr_ = after_cr;
    return why ? fail(why) : true;
  };
  const auto* p = bytes.data();
  const auto* const end = p + bytes.size();
  while (p != end) {
    if (where == where::done) return stop(nullptr);
    const char c = *p;
    if (after_cr) {
      if (c != '\n') return stop("bare CR in request head");
      after_cr = false;
      // An empty line (CRLF at a line's start) ends the head; empty lines before the request
      // line are fine.
      if (where != where::start) where = where == where::line_start ? where::done : where::line_start;
      ++p;
      continue;
    }
    switch (where) {
      case where::start:
        if (c == '\r') {
          after_cr = true;
          ++p;
          continue;
        }
        where = where::request_line;
        [[fallthrough]];
      case where::request_line:
      case where::field_value: {
        // Most of a head is values: skip to the next byte that can matter.
        p += find_line_byte(p, static_cast<std::size_t>(end - p));
        if (p == end) return stop(nullptr);
        if (*p == '\0') return stop("NUL byte in request head");
        if (*p == '\n') return stop("bare LF in request head");
        after_cr = true;  // the line ends
        where = where::field_value;
        ++p;
        continue;
      }
      case where::line_start:
        switch (c) {
          case '\r': after_cr = true; break;  // the empty line that ends the head
          case ' ':
          case '\t': return stop("obsolete line folding in request head");
          case ':': return stop("empty header field name");
          case '\n': return stop("bare LF in request head");
          case '\0': return stop("NUL byte in request head");
          default: where = where::field_name; break;
        }
        ++p;
        continue;
      case where::field_name:
        while (p != end && !name_stops[static_cast<unsigned char>(*p)]) ++p;
        if (p == end) return stop(nullptr);
        switch (*p) {
          case ':': where = where::field_value; break;
          case ' ':
          case '\t': return stop("whitespace in or before a header field name");
          case '\n': return stop("bare LF in request head");
          case '\0': return stop("NUL byte in request head");
          default:  // CR: a line without a colon, which the parser refuses
            after_cr = true;
            where = where::field_value;
            break;
        }
        ++p;
        continue;
      case where::done:
        return stop(nullptr);
    }
  }
  return stop(nullptr);
}

}  // namespace coronet::http::detail
