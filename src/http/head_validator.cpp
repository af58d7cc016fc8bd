#include "head_validator.hpp"

#include "line_bytes.hpp"

namespace coronet::http::detail {

bool head_validator::feed(std::string_view bytes) noexcept {
  if (reason_) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* const end = p + bytes.size();
  for (; p != end; ++p) {
    if (where_ == where::done) return true;
    if (!after_cr_ && (where_ == where::field_value || where_ == where::request_line)) {
      // Most of a head is values: skip to the next byte that can matter.
      p += find_line_byte(reinterpret_cast<const char*>(p), static_cast<std::size_t>(end - p));
      if (p == end) break;
    }
    const char c = static_cast<char>(*p);
    if (after_cr_) {
      if (c != '\n') return fail("bare CR in request head");
      after_cr_ = false;
      if (where_ != where::start) where_ = where_ == where::line_start ? where::done : where::line_start;
      continue;
    }
    if (where_ == where::start && c != '\r') where_ = where::request_line;  // empty lines before it are fine
    switch (c) {
      case '\0':
        return fail("NUL byte in request head");
      case '\r':
        after_cr_ = true;
        // An empty line (CR at line start) ends the head; otherwise the line ends.
        if (where_ != where::line_start && where_ != where::start) where_ = where::field_value;
        continue;
      case '\n':
        return fail("bare LF in request head");
      case ' ':
      case '\t':
        if (where_ == where::line_start) return fail("obsolete line folding in request head");
        if (where_ == where::field_name) return fail("whitespace in or before a header field name");
        continue;
      case ':':
        if (where_ == where::line_start) return fail("empty header field name");
        if (where_ == where::field_name) where_ = where::field_value;
        continue;
      default:
        if (where_ == where::line_start) where_ = where::field_name;
        continue;
    }
  }
  return true;
}

}  // namespace coronet::http::detail
