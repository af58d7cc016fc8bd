#include "head_validator.hpp"

namespace coronet::http::detail {

bool head_validator::feed(std::string_view bytes) noexcept {
  if (reason_) return false;
  for (const char c : bytes) {
    if (where_ == where::done) return true;
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
