// Naming rules of protoc-gen-coronet (names.hpp).
#include "names.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace coronet::protoc_gen {

namespace {

bool is_upper(char c) noexcept { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) noexcept { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Sorted, for binary search: C++20's keywords and alternative tokens, the lowercase words a
// snake-cased name could collide with, and `errno`, the one lowercase object-like macro the
// standard library defines (a struct named `errno` would not survive the preprocessor).
constexpr auto keywords = std::to_array<std::string_view>({
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break",
    "case", "catch", "char", "char16_t", "char32_t", "char8_t", "class", "co_await",
    "co_return", "co_yield", "compl", "concept", "const", "const_cast", "consteval",
    "constexpr", "constinit", "continue", "decltype", "default", "delete", "do", "double",
    "dynamic_cast", "else", "enum", "errno", "explicit", "export", "extern", "false", "final",
    "float", "for", "friend", "goto", "if", "import", "inline", "int", "long", "module",
    "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr", "operator", "or",
    "or_eq", "override", "private", "protected", "public", "register", "reinterpret_cast",
    "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast",
    "struct", "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef",
    "typeid", "typename", "union", "unsigned", "using", "virtual", "void", "volatile",
    "wchar_t", "while", "xor", "xor_eq"});
static_assert(std::is_sorted(keywords.begin(), keywords.end()));

}  // namespace

std::string snake_case(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 4);
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (is_upper(c) && i > 0) {
      const char before = name[i - 1];
      const bool after_word = is_lower(before) || is_digit(before);
      const bool ends_run =
          is_upper(before) && i + 1 < name.size() && is_lower(name[i + 1]);
      if (after_word || ends_run) out += '_';
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool is_reserved_word(std::string_view name) noexcept {
  return std::binary_search(keywords.begin(), keywords.end(), name);
}

}  // namespace coronet::protoc_gen
