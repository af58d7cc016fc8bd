// The Connect codec's direct JSON path (src/connect/codec_json*.cpp) against protobuf's own
// JSON mapping, which it must match wherever it answers: the same text out, the same message
// in, and "not mine" (protobuf decides) for everything else. Random messages, protobuf's
// other print options, mutated and truncated inputs, and code points across Unicode;
// deterministic (fixed seed) and bounded.
#include "connect/codec.hpp"
#include "json_cases.pb.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace {

using coronet::connect::detail::message_from_json;
using coronet::connect::detail::message_to_json;
namespace json = coronet::test::json;
namespace pu = google::protobuf::util;

class generator {
 public:
  int below(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }
  bool coin() { return below(2) == 1; }

  std::string text(bool ascii_only) {
    // Quotes, escapes, controls, HTML-sensitive characters, multi-byte and invisible code
    // points, and (past the ASCII ones) bytes that are not UTF-8.
    static const char* pieces[] = {
        "a", "b", "Z", "0", " ", "\"", "\\", "/", "<", ">", "&", "=", "\n", "\t", "\x01",
        "\x7f", "\x1f", "'", "%",
        "\xc3\xa9", "\xe2\x80\xa8", "\xf0\x9f\x98\x80", "\xef\xbb\xbf", "\xc2\xad",
        "\xf0\x9d\x85\xb3", "\xc2\x80", "\xff", "\xc0\x80", "\xed\xa0\x80", "\xe2\x82"};
    std::string s;
    for (int i = below(8); i > 0; --i) s += pieces[below(ascii_only ? 19 : 30)];
    return s;
  }

  std::string bytes() {
    std::string s;
    for (int i = below(7); i > 0; --i) s += static_cast<char>(below(256));
    return s;
  }

  template <class T>
  T integer() {
    switch (below(6)) {
      case 0: return 0;
      case 1: return 1;
      case 2: return static_cast<T>(-1);
      case 3: return std::numeric_limits<T>::max();
      case 4: return std::numeric_limits<T>::min();
      default: return static_cast<T>(rng_());
    }
  }

  void fill(json::Inner& m, int depth) {
    if (coin()) m.set_name(text(below(4) != 0));
    if (coin()) m.set_n(integer<std::int32_t>());
    if (depth < 3) {
      for (int i = below(3); i > 0; --i) fill(*m.add_kids(), depth + 1);
    }
  }

  void fill(json::All& m) {
    const bool ascii = below(4) != 0;
    if (coin()) m.set_i32(integer<std::int32_t>());
    if (coin()) m.set_i64(integer<std::int64_t>());
    if (coin()) m.set_u32(integer<std::uint32_t>());
    if (coin()) m.set_u64(integer<std::uint64_t>());
    if (coin()) m.set_s32(integer<std::int32_t>());
    if (coin()) m.set_s64(integer<std::int64_t>());
    if (coin()) m.set_f32(integer<std::uint32_t>());
    if (coin()) m.set_f64(integer<std::uint64_t>());
    if (coin()) m.set_sf32(integer<std::int32_t>());
    if (coin()) m.set_sf64(integer<std::int64_t>());
    if (coin()) m.set_b(coin());
    if (coin()) m.set_str(text(ascii));
    if (coin()) m.set_by(bytes());
    if (coin()) m.set_color(static_cast<json::Color>(below(5) == 0 ? 7 : below(3)));
    if (coin()) fill(*m.mutable_inner(), 0);
    for (int i = below(3); i > 0; --i) m.add_ri32(integer<std::int32_t>());
    for (int i = below(3); i > 0; --i) m.add_ri64(integer<std::int64_t>());
    for (int i = below(3); i > 0; --i) m.add_rstr(text(ascii));
    for (int i = below(3); i > 0; --i) m.add_rby(bytes());
    for (int i = below(3); i > 0; --i) m.add_rcolor(static_cast<json::Color>(below(3)));
    for (int i = below(3); i > 0; --i) fill(*m.add_rinner(), 1);
    for (int i = below(3); i > 0; --i) m.add_rb(coin());
    for (int i = below(3); i > 0; --i) m.add_ru64(integer<std::uint64_t>());
    switch (below(4)) {
      case 0: m.set_o_str(text(ascii)); break;
      case 1: m.set_o_i32(integer<std::int32_t>()); break;
      case 2: fill(*m.mutable_o_inner(), 2); break;
      default: break;
    }
    if (coin()) m.set_opt_i32(coin() ? 0 : integer<std::int32_t>());
    if (coin()) m.set_opt_str(coin() ? "" : text(ascii));
    if (coin()) m.set_snake_case_name(text(true));
    if (coin()) m.set_field_with_json(integer<std::int32_t>());
    if (coin()) m.set_u32b(integer<std::uint32_t>());
  }

  // One to three deletions, insertions of JSON pieces, or changed characters.
  std::string mutate(std::string s) {
    static const char* inserts[] = {
        "{", "}", "[", "]", "\"", ",", ":", "0", "1", "-", "9", "a", "e", ".", "\\", " ",
        "null", "true", "\"s32\":1", "\"i32\":\"5\"", "\\u00e9", "\\ud83d\\ude00", "\\ud800",
        "\"color\":\"RED\"", "\"color\":2", "\"color\":9", "\"customName\":1",
        "\"fieldWithJson\":1", "\"snake_case_name\":\"x\"", "\"by\":\"QQ==\"", "\"by\":\"QR==\"",
        "\"by\":\"QQ\"", "\"by\":\"-_8=\""};
    static const char replacements[] = "{}[]\",:0-9ae\\ x";
    for (int i = 1 + below(3); i > 0 && !s.empty(); --i) {
      const auto at = static_cast<std::size_t>(below(static_cast<int>(s.size())));
      switch (below(3)) {
        case 0: s.erase(at, 1 + below(3)); break;
        case 1: s.insert(at, inserts[below(sizeof inserts / sizeof *inserts)]); break;
        default: s[at] = replacements[below(sizeof replacements - 1)];
      }
    }
    return s;
  }

 private:
  std::mt19937_64 rng_{12345};
};

// Where the direct parser accepts `text`, protobuf (unknown fields ignored) accepts it too
// and reads the same message.
template <class Message>
void expect_same_parse(const std::string& text) {
  Message direct, reference;
  if (!message_from_json(text, direct)) return;  // left to protobuf
  pu::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const auto st = pu::JsonStringToMessage(text, &reference, options);
  ASSERT_TRUE(st.ok()) << "accepted what protobuf refuses: " << text << "\n" << st.ToString();
  EXPECT_TRUE(pu::MessageDifferencer::Equals(direct, reference))
      << text << "\ndirect:   " << direct.ShortDebugString()
      << "\nprotobuf: " << reference.ShortDebugString();
}

TEST(connect_json, hand_picked_inputs_parse_as_protobuf_parses_them) {
  const char* inputs[] = {
      R"({})", R"( { } )", R"({"i32":5})", R"({"i32":"5"})", R"({"i32":-0})", R"({"i32":05})",
      R"({"i32":5.0})", R"({"i32":1e2})", R"({"i32":2147483648})", R"({"i32":-2147483648})",
      R"({"u32":-1})", R"({"u32":4294967295})", R"({"i64":9007199254740993})",
      R"({"i64":"9007199254740993"})", R"({"u64":"18446744073709551615"})", R"({"i32":null})",
      R"({"str":"a\u00e9b"})", R"({"str":"\ud83d\ude00"})", R"({"str":"\ud800"})",
      R"({"str":"\u0000"})", "{\"str\":\"\xff\"}", R"({"str":"a","str":"b"})",
      R"({"oStr":"a","oI32":1})", R"({"o_str":"a"})", R"({"unknown":1})",
      R"({"color":"RED"})", R"({"color":1})", R"({"color":7})", R"({"color":"red"})",
      R"({"b":true})", R"({"b":"true"})", R"({"by":"QQ=="})", R"({"by":"QR=="})",
      R"({"by":"QQ"})", R"({"by":"-_8="})", R"({"customName":3})", R"({"fieldWithJson":3})",
      R"({"field_with_json":3})", R"({"inner":{"kids":[{},{"n":1}]}})", R"({"ri32":[1,2,"3"]})",
      R"({"ri32":1})", R"({"optI32":0})", R"({"optStr":""})", R"([])", R"({}x)", R"("")", "",
      R"({"str":"a\/b"})", R"({"i32":+1})", R"({,})", R"({"i32":1,})",
      R"({"rcolor":["RED",2]})", R"({"i64":"-9223372036854775808"})", R"({"i64":"1 "})"};
  for (const char* text : inputs) expect_same_parse<json::All>(text);
}

TEST(connect_json, random_messages_print_and_parse_as_protobuf_does) {
  generator g;
  int printed = 0;
  for (int round = 0; round < 3000; ++round) {
    json::All m;
    g.fill(m);
    std::string direct, reference;
    ASSERT_TRUE(pu::MessageToJsonString(m, &reference).ok());
    if (message_to_json(m, direct)) {
      ++printed;
      ASSERT_EQ(direct, reference) << m.ShortDebugString();
    }
    expect_same_parse<json::All>(reference);
    pu::JsonPrintOptions other;
    other.preserve_proto_field_names = g.coin();
    other.add_whitespace = g.coin();
    other.always_print_primitive_fields = g.coin();
    std::string alternative;
    ASSERT_TRUE(pu::MessageToJsonString(m, &alternative, other).ok());
    expect_same_parse<json::All>(alternative);
    for (int k = 0; k < 3; ++k) expect_same_parse<json::All>(g.mutate(reference));
    if (round < 100) {
      for (std::size_t cut = 0; cut < reference.size(); ++cut) {
        expect_same_parse<json::All>(reference.substr(0, cut));
      }
    }
  }
  // The direct path answers for most of them (those with non-UTF-8 text it leaves).
  EXPECT_GT(printed, 1500);
}

std::string utf8(std::uint32_t cp) {
  std::string u;
  if (cp < 0x80) {
    u += static_cast<char>(cp);
  } else if (cp < 0x800) {
    u += static_cast<char>(0xc0 | (cp >> 6));
    u += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    u += static_cast<char>(0xe0 | (cp >> 12));
    u += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    u += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    u += static_cast<char>(0xf0 | (cp >> 18));
    u += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    u += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    u += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return u;
}

TEST(connect_json, code_points_are_written_and_read_as_protobuf_does) {
  // Every code point of the first plane past the surrogates, then a sample of the rest.
  for (std::uint32_t cp = 1; cp < 0x110000; cp += cp < 0x10000 ? 1 : 97) {
    if (cp >= 0xd800 && cp < 0xe000) continue;
    // Appended piece by piece: GCC 12's -Wrestrict misfires on "a" + s + "b" at -O3.
    std::string name = "a";
    name += utf8(cp);
    name += 'b';
    std::string text = "{\"name\":\"";
    text += utf8(cp);
    text += "\"}";
    json::Inner m;
    m.set_name(name);
    std::string direct, reference;
    ASSERT_TRUE(pu::MessageToJsonString(m, &reference).ok());
    ASSERT_TRUE(message_to_json(m, direct)) << std::hex << cp;
    ASSERT_EQ(direct, reference) << std::hex << cp;
    expect_same_parse<json::Inner>(text);
  }
}

TEST(connect_json, types_it_does_not_cover_are_left_to_protobuf) {
  json::WithFloat m;
  m.set_f(1.5f);
  std::string out;
  EXPECT_FALSE(message_to_json(m, out));
  json::WithFloat parsed;
  EXPECT_FALSE(message_from_json(R"({"f":1.5})", parsed));
}

}  // namespace
