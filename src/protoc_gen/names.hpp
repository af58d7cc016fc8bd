// How protoc-gen-coronet names things in C++: the snake case of a .proto name, and the
// trailing underscore that keeps a generated name off C++ keywords and off the names a tag
// already uses. Kept apart from the protoc glue so that the rules can be tested on their own.
#pragma once

#include <string>
#include <string_view>

namespace coronet::protoc_gen {

/// `SayHello` → `say_hello`, `HTTPServer` → `http_server`, `Stream2Items` → `stream2_items`:
/// an underscore goes before an uppercase letter that follows a lowercase letter or a digit,
/// or that ends an uppercase run and starts a lowercase word; then everything is lowercased.
/// Underscores already in the name are kept.
[[nodiscard]] std::string snake_case(std::string_view name);

/// Whether `name` cannot name a C++ type: a C++20 keyword or alternative token (`delete`,
/// `new`, `and`, ...), or `errno`, a macro.
[[nodiscard]] bool is_reserved_word(std::string_view name) noexcept;

}  // namespace coronet::protoc_gen
