// Checks the raw bytes of a request head for shapes that some llhttp versions accept but
// RFC 9112 forbids, so that every llhttp coronet builds with rejects the same input:
//   - a NUL byte anywhere;
//   - a CR not followed by LF (CVE-2023-30589), and a LF not preceded by CR (bare LF);
//   - a header line starting with SP or HT (obs-fold, CVE-2024-27982);
//   - whitespace inside a field name or before its colon ("Host : a").
// One pass over bytes the server already holds; the head may arrive in any number of pieces.
#pragma once

#include <string_view>

namespace coronet::http::detail {

class head_validator {
 public:
  /// Checks the next piece of the head. Returns false (and keeps returning false) once the
  /// bytes seen so far cannot be a valid head.
  bool feed(std::string_view bytes) noexcept;
  void reset() noexcept { *this = head_validator{}; }
  /// Why feed() failed.
  [[nodiscard]] const char* reason() const noexcept { return reason_; }

 private:
  // Where the last piece ended: before the request line, at a line's start, in a field name,
  // in the request line or a field value (after_cr_: between its CR and LF), after the head.
  enum class where : unsigned char { start, line_start, field_name, field_value, done };
  bool fail(const char* why) noexcept {
    reason_ = why;
    return false;
  }

  where where_ = where::start;
  bool after_cr_ = false;
  const char* reason_ = nullptr;
};

}  // namespace coronet::http::detail
