#include "head_validator.hpp"

#include "line_bytes.hpp"

#include <array>

namespace coronet::http::detail {

namespace {

// The bytes that end a field name, or are wrong in one.
constexpr std::array<bool, 256> name_stops = [] {
  std::array<bool, 256> t{};
  for (const unsigned char c : {':', ' ', '\t', '\r', '\n', '\0'}) t[c] = true;
  return t;
}();

// The index of the first byte in [p, p + n) that ends or breaks a field name, or n.
std::size_t find_name_stop(const char* p, std::size_t n) noexcept {
#if defined(__SSE2__)
  if (n >= 16) return find16<':', ' ', '\t', '\r', '\n', '\0'>(p, n);
#endif
  std::size_t i = 0;
  while (i != n && !name_stops[static_cast<unsigned char>(p[i])]) ++i;
  return i;
}

// How far a step through the head got: past a line's LF, to the end of the piece (within a
// field name, or within a line, `cr` telling whether its CR came last), or to an error.
enum class step : unsigned char { line, more_in_name, more_in_line, fail };

struct cursor {
  const char* p;
  const char* const end;
  bool cr = false;  // more_in_line: the piece ended between the line's CR and LF
  const char* why = nullptr;

  step fail(const char* reason) noexcept {
    why = reason;
    return step::fail;
  }
  // Just past a line's CR: its LF.
  step lf() noexcept {
    if (p == end) {
      cr = true;
      return step::more_in_line;
    }
    if (*p != '\n') return fail("bare CR in request head");
    ++p;
    return step::line;
  }
  // Within a value (or the request line): past the CRLF that ends it.
  step rest_of_line() noexcept {
    p += find_line_byte(p, static_cast<std::size_t>(end - p));
    if (p == end) return step::more_in_line;
    if (*p != '\r') return fail(*p == '\0' ? "NUL byte in request head" : "bare LF in request head");
    ++p;
    return lf();
  }
  // Within a field name (its first byte checked): past the CRLF that ends the field.
  step rest_of_field() noexcept {
    p += find_name_stop(p, static_cast<std::size_t>(end - p));
    if (p == end) return step::more_in_name;
    switch (*p++) {
      case ':': return rest_of_line();
      case ' ':
      case '\t': return fail("whitespace in or before a header field name");
      case '\n': return fail("bare LF in request head");
      case '\0': return fail("NUL byte in request head");
      default: return lf();  // CR: a line without a colon, which the parser refuses
    }
  }
};

}  // namespace

bool head_validator::feed(std::string_view bytes) noexcept {
  if (reason_) return false;
  cursor at{bytes.data(), bytes.data() + bytes.size()};
  // Where the piece ends, what the next one resumes.
  const auto pause = [&](where w) {
    where_ = w;
    after_cr_ = at.cr;
    return true;
  };
  const auto fail_with = [&] { return fail(at.why); };
  // After a step that did not end its line: the piece ended, or the head is refused.
  const auto stopped = [&](step s) {
    if (s == step::fail) return fail_with();
    return pause(s == step::more_in_name ? where::field_name : where::field_value);
  };

  // First, the rest of the line the last piece ended in.
  step s = step::line;
  switch (where_) {
    case where::done:
      return true;
    case where::start:
      // Empty lines before the request line are fine.
      for (;;) {
        if (after_cr_) {
          if (at.p == at.end) return true;
          after_cr_ = false;
          if (at.lf() == step::fail) return fail_with();
        }
        if (at.p == at.end) return true;
        if (*at.p != '\r') break;
        ++at.p;
        after_cr_ = true;
      }
      s = at.rest_of_line();
      break;
    case where::field_value:
      s = after_cr_ ? (at.p == at.end ? step::more_in_line : at.lf()) : at.rest_of_line();
      if (s == step::more_in_line) at.cr = after_cr_ || at.cr;
      break;
    case where::line_start:
      if (after_cr_) {  // the empty line that ends the head
        if (at.p == at.end) return true;
        if (at.lf() == step::fail) return fail_with();
        return pause(where::done);
      }
      break;
    case where::field_name:
      s = at.rest_of_field();
      break;
  }
  if (s != step::line) return stopped(s);

  // Then whole lines, each starting at at.p.
  for (;;) {
    if (at.p == at.end) return pause(where::line_start);
    switch (*at.p++) {
      case '\r':  // the empty line that ends the head
        switch (at.lf()) {
          case step::line: return pause(where::done);
          case step::fail: return fail_with();
          default: return pause(where::line_start);
        }
      case ' ':
      case '\t': return fail("obsolete line folding in request head");
      case ':': return fail("empty header field name");
      case '\n': return fail("bare LF in request head");
      case '\0': return fail("NUL byte in request head");
      default:
        break;
    }
    s = at.rest_of_field();
    if (s != step::line) return stopped(s);
  }
}

}  // namespace coronet::http::detail
