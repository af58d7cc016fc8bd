#include "head_validator.hpp"

#include <array>

namespace coronet::http::detail {

namespace {

// Bytes that matter inside a request line or a field value: line ends and NUL.
constexpr auto line_special = [] {
  std::array<bool, 256> t{};
  t['\r'] = t['\n'] = t['\0'] = true;
  return t;
}();

}  // namespace

bool head_validator::feed(std::string_view bytes) noexcept {
  if (reason_) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* const end = p + bytes.size();
  for (; p != end; ++p) {
    if (where_ == where::done) return true;
    if (!after_cr_ && (where_ == where::field_value || where_ == where::request_line)) {
      // Most of a head is values: skip to the next byte that can matter.
      while (p != end && !line_special[*p]) ++p;
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
