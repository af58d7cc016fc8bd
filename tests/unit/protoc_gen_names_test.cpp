// The naming rules of protoc-gen-coronet (src/protoc_gen/names.hpp): how a .proto service or
// method name becomes the C++ name of its tag namespace or tag.
#include "protoc_gen/names.hpp"

#include <gtest/gtest.h>

namespace {

using coronet::protoc_gen::is_reserved_word;
using coronet::protoc_gen::snake_case;

TEST(protoc_gen_names, camel_case_becomes_snake_case) {
  EXPECT_EQ(snake_case("SayHello"), "say_hello");
  EXPECT_EQ(snake_case("HelloWorld"), "hello_world");
  EXPECT_EQ(snake_case("Bench"), "bench");
  EXPECT_EQ(snake_case("sayHello"), "say_hello");
  EXPECT_EQ(snake_case("already_snake"), "already_snake");
}

TEST(protoc_gen_names, an_acronym_is_one_word) {
  EXPECT_EQ(snake_case("HTTPServer"), "http_server");
  EXPECT_EQ(snake_case("HTTPGateway"), "http_gateway");
  EXPECT_EQ(snake_case("GetHTTPStatus"), "get_http_status");
  EXPECT_EQ(snake_case("GetHTTP"), "get_http");
  EXPECT_EQ(snake_case("HTTP"), "http");
}

TEST(protoc_gen_names, a_digit_ends_a_word_that_an_uppercase_letter_follows) {
  EXPECT_EQ(snake_case("Stream2Items"), "stream2_items");
  EXPECT_EQ(snake_case("V2"), "v2");
  EXPECT_EQ(snake_case("Http2Ping"), "http2_ping");
}

TEST(protoc_gen_names, underscores_are_kept) {
  EXPECT_EQ(snake_case("Get_Item"), "get_item");
  EXPECT_EQ(snake_case("_Private"), "_private");
}

TEST(protoc_gen_names, keywords_and_errno_are_reserved) {
  for (const char* word : {"delete", "new", "class", "and", "co_await", "requires", "errno",
                           "char8_t", "xor_eq"}) {
    EXPECT_TRUE(is_reserved_word(word)) << word;
  }
  for (const char* word : {"say_hello", "std", "get", "Delete", "name", ""}) {
    EXPECT_FALSE(is_reserved_word(word)) << word;
  }
}

}  // namespace
