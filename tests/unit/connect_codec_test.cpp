// connect::detail's wire pieces against the Connect protocol, gRPC-Web (PROTOCOL-WEB.md) and
// gRPC over HTTP/2 (PROTOCOL-HTTP2.md): what a peer sends and what it must be able to read.
#include "connect/codec.hpp"

#include <gtest/gtest.h>

#include <array>
#include <random>

namespace c = coronet::connect::detail;
using grpc::StatusCode;
using namespace std::chrono_literals;

namespace {

struct code_row {
  StatusCode code;
  std::string_view name;
  int http;
};
// The Connect protocol's table of codes and the HTTP status of a unary error.
constexpr std::array<code_row, 16> code_table = {{
    {StatusCode::CANCELLED, "canceled", 499},
    {StatusCode::UNKNOWN, "unknown", 500},
    {StatusCode::INVALID_ARGUMENT, "invalid_argument", 400},
    {StatusCode::DEADLINE_EXCEEDED, "deadline_exceeded", 504},
    {StatusCode::NOT_FOUND, "not_found", 404},
    {StatusCode::ALREADY_EXISTS, "already_exists", 409},
    {StatusCode::PERMISSION_DENIED, "permission_denied", 403},
    {StatusCode::RESOURCE_EXHAUSTED, "resource_exhausted", 429},
    {StatusCode::FAILED_PRECONDITION, "failed_precondition", 400},
    {StatusCode::ABORTED, "aborted", 409},
    {StatusCode::OUT_OF_RANGE, "out_of_range", 400},
    {StatusCode::UNIMPLEMENTED, "unimplemented", 501},
    {StatusCode::INTERNAL, "internal", 500},
    {StatusCode::UNAVAILABLE, "unavailable", 503},
    {StatusCode::DATA_LOSS, "data_loss", 500},
    {StatusCode::UNAUTHENTICATED, "unauthenticated", 401},
}};

// ---- codes -----------------------------------------------------------------------------------

TEST(connect_codec, every_code_has_its_connect_name_and_back) {
  for (const auto& row : code_table) {
    EXPECT_EQ(c::code_name(row.code), row.name);
    EXPECT_EQ(c::code_from_name(row.name), row.code) << row.name;
  }
  EXPECT_EQ(c::code_name(StatusCode::OK), "ok");
  EXPECT_EQ(c::code_name(static_cast<StatusCode>(17)), "unknown");
  EXPECT_EQ(c::code_name(static_cast<StatusCode>(-1)), "unknown");
}

TEST(connect_codec, names_connect_does_not_define_are_refused) {
  for (const auto* name : {"ok", "", "cancelled", "NOT_FOUND", "Not_Found", "not_found ", "5"})
    EXPECT_EQ(c::code_from_name(name), std::nullopt) << name;
}

TEST(connect_codec, every_code_has_the_http_status_of_the_table) {
  for (const auto& row : code_table) EXPECT_EQ(c::http_status_of(row.code), row.http) << row.name;
  EXPECT_EQ(c::http_status_of(static_cast<StatusCode>(42)), 500);
}

TEST(connect_codec, client_infers_code_from_a_bare_http_status) {
  EXPECT_EQ(c::code_from_http_status(400), StatusCode::INTERNAL);
  EXPECT_EQ(c::code_from_http_status(401), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(c::code_from_http_status(403), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(c::code_from_http_status(404), StatusCode::UNIMPLEMENTED);
  for (int s : {429, 502, 503, 504}) EXPECT_EQ(c::code_from_http_status(s), StatusCode::UNAVAILABLE);
  for (int s : {0, 200, 302, 405, 408, 409, 499, 500, 501, 505, 599})
    EXPECT_EQ(c::code_from_http_status(s), StatusCode::UNKNOWN) << s;
}

// ---- JSON ------------------------------------------------------------------------------------

std::string json(std::string_view s) {
  std::string out;
  c::append_json_string(out, s);
  return out;
}

TEST(connect_codec, json_strings_escape_quotes_backslashes_and_controls) {
  EXPECT_EQ(json(""), R"("")");
  EXPECT_EQ(json(R"(say "hi" \ bye)"), R"("say \"hi\" \\ bye")");
  EXPECT_EQ(json(std::string_view("\n\t\x01\x1f\0", 5)), R"("\u000a\u0009\u0001\u001f\u0000")");
  EXPECT_EQ(json("caf\xc3\xa9 \xf0\x9f\x98\x80 / \x7f"), "\"caf\xc3\xa9 \xf0\x9f\x98\x80 / \x7f\"");
  std::string out = "x";
  c::append_json_string(out, "y");
  EXPECT_EQ(out, R"(x"y")");
}

TEST(connect_codec, error_json_omits_an_empty_message) {
  EXPECT_EQ(c::error_json(StatusCode::NOT_FOUND, ""), R"({"code":"not_found"})");
  EXPECT_EQ(c::error_json(StatusCode::INTERNAL, "a \"b\"\n"),
            R"({"code":"internal","message":"a \"b\"\u000a"})");
}

TEST(connect_codec, error_json_round_trips_through_parse_for_every_code) {
  for (const auto& row : code_table) {
    const std::string message = std::string("m\xc3\xa9ssage \" \\ \x01 for ") + row.name.data();
    const auto parsed = c::parse_error_json(c::error_json(row.code, message));
    ASSERT_TRUE(parsed) << row.name;
    EXPECT_EQ(parsed->first, row.code);
    EXPECT_EQ(parsed->second, message);
  }
}

TEST(connect_codec, parse_error_json_decodes_every_escape) {
  const auto p = c::parse_error_json(
      R"({"code":"aborted","message":"\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00"})");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->second, "\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  // Upper-case hex, and lone surrogates as U+FFFD.
  const auto q = c::parse_error_json(R"({"code":"aborted","message":"\u00E9\ud800x\udc00"})");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->second, "\xc3\xa9\xef\xbf\xbdx\xef\xbf\xbd");
  const auto r = c::parse_error_json(R"({"code":"aborted","message":"\ud800\u0041"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->second, "\xef\xbf\xbd" "A");
}

TEST(connect_codec, parse_error_json_tolerates_whitespace_and_other_members) {
  const auto p = c::parse_error_json(
      " \r\n\t{ \"details\" : [ {\"type\":\"x.Y\",\"value\":\"AAE\",\"debug\":{\"a\":[1,-2.5e3,"
      "true,false,null,{}]}} ] ,\n \"message\" : \"m\" , \"code\" : \"unavailable\", "
      "\"extra\": 0.5 }\n ");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->first, StatusCode::UNAVAILABLE);
  EXPECT_EQ(p->second, "m");
}

TEST(connect_codec, parse_error_json_without_message_gives_empty) {
  const auto p = c::parse_error_json(R"({"code":"unauthenticated"})");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->first, StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(p->second, "");
}

TEST(connect_codec, parse_error_json_refuses_what_is_not_a_connect_error) {
  const char* bad[] = {
      "",
      "null",
      "[]",
      R"("not_found")",
      "{}",
      R"({"message":"no code"})",
      R"({"code":"ok"})",
      R"({"code":"teapot","message":"x"})",
      R"({"code":5})",
      R"({"code":"not_found","message":3})",
      R"({"code":"not_found"} x)",
      R"({"code":"not_found",})",
      R"({'code':'not_found'})",
      R"({"code":"not_found","message":"bad \x escape"})",
      R"({"code":"not_found","message":"\u12"})",
      R"({"code":"not_found","details":[1,]})",
      R"({"code":"not_found","details":tru})",
      R"({"code":"not_found","details":01x})",
      "{\"code\":\"not_found\",\"message\":\"raw\ncontrol\"}",
  };
  for (const auto* body : bad) EXPECT_EQ(c::parse_error_json(body), std::nullopt) << body;
}

TEST(connect_codec, parse_error_json_refuses_every_truncation) {
  const std::string body =
      R"({"code":"not_found","message":"x\u00e9\ud83d\ude00","details":[{"a":[1,2]}]})";
  ASSERT_TRUE(c::parse_error_json(body));
  for (std::size_t n = 0; n < body.size(); ++n)
    EXPECT_EQ(c::parse_error_json(std::string_view(body).substr(0, n)), std::nullopt) << n;
}

TEST(connect_codec, parse_error_json_refuses_deep_nesting_without_overflowing) {
  const std::string body = R"({"code":"internal","details":)" + std::string(100000, '[') +
                           std::string(100000, ']') + "}";
  EXPECT_EQ(c::parse_error_json(body), std::nullopt);
  const std::string shallow =
      R"({"code":"internal","details":)" + std::string(32, '[') + std::string(32, ']') + "}";
  EXPECT_TRUE(c::parse_error_json(shallow));
}

TEST(connect_codec, end_stream_json_of_ok_without_trailers_is_empty_object) {
  EXPECT_EQ(c::end_stream_json(StatusCode::OK, "", {}), "{}");
}

TEST(connect_codec, end_stream_json_carries_error_and_grouped_metadata) {
  EXPECT_EQ(c::end_stream_json(StatusCode::NOT_FOUND, "gone", {}),
            R"({"error":{"code":"not_found","message":"gone"}})");
  EXPECT_EQ(c::end_stream_json(StatusCode::INTERNAL, "", {}), R"({"error":{"code":"internal"}})");
  const c::metadata trailers = {
      {"x-a", "1"}, {"x-data-bin", std::string("\x00\xff\x10", 3)}, {"x-a", "2 \"q\""},
      {"x-data-bin", "ab"}};
  EXPECT_EQ(c::end_stream_json(StatusCode::OK, "ignored", trailers),
            R"({"metadata":{"x-a":["1","2 \"q\""],"x-data-bin":["AP8Q","YWI"]}})");
  EXPECT_EQ(c::end_stream_json(StatusCode::ABORTED, "m", {{"k", "v"}}),
            R"({"error":{"code":"aborted","message":"m"},"metadata":{"k":["v"]}})");
}

// ---- envelopes -------------------------------------------------------------------------------

TEST(connect_codec, envelope_round_trips) {
  std::string wire;
  c::append_envelope(wire, c::flag_compressed, "hello");
  EXPECT_EQ(wire, std::string("\x01\x00\x00\x00\x05hello", 10));
  std::string_view in = wire;
  c::envelope e;
  ASSERT_EQ(c::next_envelope(in, e, 5), c::envelope_status::ok);
  EXPECT_EQ(e.flags, c::flag_compressed);
  EXPECT_EQ(e.payload, "hello");
  EXPECT_TRUE(in.empty());
}

TEST(connect_codec, envelope_length_is_big_endian) {
  std::string wire;
  const std::string payload(0x010203, 'z');
  c::append_envelope(wire, 0, payload);
  EXPECT_EQ(wire.substr(1, 4), std::string("\x00\x01\x02\x03", 4));
  std::string_view in = wire;
  c::envelope e;
  ASSERT_EQ(c::next_envelope(in, e, payload.size()), c::envelope_status::ok);
  EXPECT_EQ(e.payload.size(), payload.size());
}

TEST(connect_codec, envelope_needs_more_until_it_is_whole) {
  std::string wire;
  c::append_envelope(wire, c::flag_end_stream, "{}");
  for (std::size_t n = 0; n < wire.size(); ++n) {
    std::string_view in = std::string_view(wire).substr(0, n);
    c::envelope e;
    EXPECT_EQ(c::next_envelope(in, e, 1024), c::envelope_status::need_more) << n;
    EXPECT_EQ(in.size(), n) << "nothing consumed";
  }
}

TEST(connect_codec, envelope_over_the_limit_is_too_large_before_its_payload_arrives) {
  std::string wire;
  c::append_envelope(wire, 0, std::string(11, 'x'));
  for (const std::size_t n : {std::size_t{5}, wire.size()}) {
    std::string_view in = std::string_view(wire).substr(0, n);
    c::envelope e;
    EXPECT_EQ(c::next_envelope(in, e, 10), c::envelope_status::too_large);
    EXPECT_EQ(in.size(), n);
  }
  std::string_view huge("\x00\xff\xff\xff\xff", 5);
  c::envelope e;
  EXPECT_EQ(c::next_envelope(huge, e, 4u << 20), c::envelope_status::too_large);
}

TEST(connect_codec, several_envelopes_in_a_row_including_empty_ones) {
  std::string wire;
  c::append_envelope(wire, 0, "one");
  c::append_envelope(wire, 0, "");
  c::append_envelope(wire, c::flag_end_stream, "{}");
  wire += std::string("\x00\x00", 2);  // the start of a fourth
  std::string_view in = wire;
  c::envelope e;
  ASSERT_EQ(c::next_envelope(in, e, 16), c::envelope_status::ok);
  EXPECT_EQ(e.payload, "one");
  ASSERT_EQ(c::next_envelope(in, e, 16), c::envelope_status::ok);
  EXPECT_EQ(e.flags, 0);
  EXPECT_EQ(e.payload, "");
  ASSERT_EQ(c::next_envelope(in, e, 0), c::envelope_status::too_large);
  ASSERT_EQ(c::next_envelope(in, e, 16), c::envelope_status::ok);
  EXPECT_EQ(e.flags, c::flag_end_stream);
  EXPECT_EQ(e.payload, "{}");
  EXPECT_EQ(c::next_envelope(in, e, 16), c::envelope_status::need_more);
  EXPECT_EQ(in.size(), 2u);
}

// ---- gRPC-Web trailers -----------------------------------------------------------------------

TEST(connect_codec, grpc_web_trailer_block_has_status_message_and_metadata) {
  EXPECT_EQ(c::grpc_web_trailers(StatusCode::OK, "", {}), "grpc-status:0\r\n");
  EXPECT_EQ(c::grpc_web_trailers(StatusCode::NOT_FOUND, "no such \xc3\xa9 50%", {}),
            "grpc-status:5\r\ngrpc-message:no such %C3%A9 50%25\r\n");
  EXPECT_EQ(c::grpc_web_trailers(StatusCode::UNAUTHENTICATED, "",
                                 {{"x-a", "b"}, {"x-k-bin", std::string("\x00\xff", 2)}}),
            "grpc-status:16\r\nx-a:b\r\nx-k-bin:AP8=\r\n");
}

TEST(connect_codec, grpc_web_trailers_round_trip) {
  const std::string message = "caf\xc3\xa9: 100% \xe2\x9c\x93\n";
  const c::metadata trailers = {
      {"x-a", "one"}, {"x-a", "two"}, {"x-bytes-bin", std::string("\x00\x01\xfe\xff", 4)}};
  const auto block = c::grpc_web_trailers(StatusCode::RESOURCE_EXHAUSTED, message, trailers);
  // It travels as the payload of a 0x80 frame.
  std::string frame;
  c::append_envelope(frame, c::flag_trailers, block);
  std::string_view in = frame;
  c::envelope e;
  ASSERT_EQ(c::next_envelope(in, e, 1024), c::envelope_status::ok);
  EXPECT_EQ(e.flags, 0x80);
  const auto parsed = c::parse_grpc_web_trailers(e.payload);
  ASSERT_EQ(parsed.size(), 5u);
  EXPECT_EQ(parsed[0], (std::pair<std::string, std::string>{"grpc-status", "8"}));
  EXPECT_EQ(parsed[1].first, "grpc-message");
  EXPECT_EQ(c::percent_decode_message(parsed[1].second), message);
  EXPECT_EQ(c::metadata(parsed.begin() + 2, parsed.end()), trailers);
}

TEST(connect_codec, parse_grpc_web_trailers_lowercases_keys_and_trims_values) {
  const auto parsed = c::parse_grpc_web_trailers(
      "Grpc-Status: 3 \r\nGRPC-Message:\tbad%20arg\t\r\nno colon line\r\n\r\n:novalue\r\n"
      "X-Empty:\r\nx-lf: only lf\nx-bin: not base64!\r\nx-last:v");
  const c::metadata expected = {{"grpc-status", "3"}, {"grpc-message", "bad%20arg"},
                                {"x-empty", ""},      {"x-lf", "only lf"},
                                {"x-bin", "not base64!"}, {"x-last", "v"}};
  EXPECT_EQ(parsed, expected);
  EXPECT_TRUE(c::parse_grpc_web_trailers("").empty());
}

// ---- timeouts --------------------------------------------------------------------------------

TEST(connect_codec, connect_timeout_is_one_to_ten_digits_of_milliseconds) {
  EXPECT_EQ(c::parse_connect_timeout("0"), 0ms);
  EXPECT_EQ(c::parse_connect_timeout("1"), 1ms);
  EXPECT_EQ(c::parse_connect_timeout("250"), 250ms);
  EXPECT_EQ(c::parse_connect_timeout("0000000250"), 250ms);
  EXPECT_EQ(c::parse_connect_timeout("9999999999"), 9999999999ms);
  for (const auto* bad : {"", "10000000000", "+1", "-1", " 1", "1 ", "1.5", "1e3", "0x10", "ms"})
    EXPECT_EQ(c::parse_connect_timeout(bad), std::nullopt) << '"' << bad << '"';
}

TEST(connect_codec, grpc_timeout_has_up_to_eight_digits_and_a_unit) {
  EXPECT_EQ(c::parse_grpc_timeout("1H"), 1h);
  EXPECT_EQ(c::parse_grpc_timeout("2M"), 2min);
  EXPECT_EQ(c::parse_grpc_timeout("3S"), 3s);
  EXPECT_EQ(c::parse_grpc_timeout("4m"), 4ms);
  EXPECT_EQ(c::parse_grpc_timeout("5u"), 5us);
  EXPECT_EQ(c::parse_grpc_timeout("6n"), 6ns);
  EXPECT_EQ(c::parse_grpc_timeout("0S"), 0s);
  EXPECT_EQ(c::parse_grpc_timeout("99999999n"), 99999999ns);
  EXPECT_EQ(c::parse_grpc_timeout("99999999M"), std::chrono::minutes(99999999));
  // Past what int64 nanoseconds hold (~292 years): saturates rather than wraps.
  EXPECT_EQ(c::parse_grpc_timeout("99999999H"), std::chrono::nanoseconds::max());
  for (const auto* bad : {"", "S", "100000000S", "1s", "1h", "1", "+1S", "-1S", " 1S", "1 S",
                          "1.5S", "1SS", "1x"})
    EXPECT_EQ(c::parse_grpc_timeout(bad), std::nullopt) << '"' << bad << '"';
}

// ---- base64 ----------------------------------------------------------------------------------

TEST(connect_codec, base64_rfc4648_vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, coded] : vectors) {
    EXPECT_EQ(c::base64_encode(plain, true), coded);
    auto unpadded = std::string(coded);
    while (unpadded.ends_with('=')) unpadded.pop_back();
    EXPECT_EQ(c::base64_encode(plain, false), unpadded);
    EXPECT_EQ(c::base64_decode(coded), std::string(plain)) << coded;
    EXPECT_EQ(c::base64_decode(unpadded), std::string(plain)) << unpadded;
  }
}

TEST(connect_codec, base64_url_alphabet_and_standard_alphabet_both_decode) {
  const std::string bytes("\xfb\xff\xbf\xfe", 4);
  EXPECT_EQ(c::base64_encode(bytes, true), "+/+//g==");
  EXPECT_EQ(c::base64url_encode(bytes), "-_-__g");
  EXPECT_EQ(c::base64_decode("-_-__g"), bytes);
  EXPECT_EQ(c::base64_decode("+/+//g"), bytes);
  EXPECT_EQ(c::base64_decode("-_-__g=="), bytes);
  EXPECT_EQ(c::base64_decode("+_-/_g"), bytes);  // mixed
}

TEST(connect_codec, base64_round_trips_all_byte_values_at_every_length) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (std::size_t n = 0; n <= bytes.size(); n += 7) {
    const auto part = std::string_view(bytes).substr(0, n);
    EXPECT_EQ(c::base64_decode(c::base64_encode(part, true)), std::string(part));
    EXPECT_EQ(c::base64_decode(c::base64_encode(part, false)), std::string(part));
    EXPECT_EQ(c::base64_decode(c::base64url_encode(part)), std::string(part));
  }
}

TEST(connect_codec, base64_refuses_bad_characters_padding_and_dangling_bits) {
  for (const auto* bad : {"Zm9v!", "Zm 9v", "Zm9v\n", "Zg=", "Zg===", "Zm9=v", "Zg==Zg==", "=",
                          "==", "Zm9vY", "Z", "Zm9vYmFyY", "Zm9vY===", "Z==="})
    EXPECT_EQ(c::base64_decode(bad), std::nullopt) << '"' << bad << '"';
}

// ---- percent-encoding and queries ------------------------------------------------------------

TEST(connect_codec, grpc_message_percent_encoding_round_trips) {
  EXPECT_EQ(c::percent_encode_message("plain text ~ ok"), "plain text ~ ok");
  EXPECT_EQ(c::percent_encode_message("50% \xc3\xa9\n\x7f"), "50%25 %C3%A9%0A%7F");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(c::percent_decode_message(c::percent_encode_message(all)), all);
}

TEST(connect_codec, percent_decode_keeps_malformed_escapes) {
  EXPECT_EQ(c::percent_decode_message("%41%e9%C3%A9"), "A\xe9\xc3\xa9");
  EXPECT_EQ(c::percent_decode_message("100%"), "100%");
  EXPECT_EQ(c::percent_decode_message("%4"), "%4");
  EXPECT_EQ(c::percent_decode_message("%zz%4g ok"), "%zz%4g ok");
  EXPECT_EQ(c::percent_decode_message("%%41"), "%A");
}

using query = std::vector<std::pair<std::string, std::string>>;

TEST(connect_codec, parse_query_decodes_plus_and_escapes) {
  EXPECT_EQ(c::parse_query("a=1&b=x%20y&c=x+y&d%3D=%26%2b"),
            (query{{"a", "1"}, {"b", "x y"}, {"c", "x y"}, {"d=", "&+"}}));
  EXPECT_EQ(c::parse_query("message=eyJ9&encoding=json&base64=1&connect=v1&compression=gzip"),
            (query{{"message", "eyJ9"}, {"encoding", "json"}, {"base64", "1"},
                   {"connect", "v1"}, {"compression", "gzip"}}));
}

TEST(connect_codec, parse_query_keeps_empty_values_and_repeated_keys) {
  EXPECT_EQ(c::parse_query(""), query{});
  EXPECT_EQ(c::parse_query("a=&b&&a=2&=v&"),
            (query{{"a", ""}, {"b", ""}, {"a", "2"}, {"", "v"}}));
  EXPECT_EQ(c::parse_query("x=a=b"), (query{{"x", "a=b"}}));
}

TEST(connect_codec, parse_query_refuses_malformed_escapes) {
  for (const auto* bad : {"a=%", "a=%2", "a=%zz", "%g0=1", "a=1&b=%2x"})
    EXPECT_EQ(c::parse_query(bad), std::nullopt) << bad;
}

TEST(connect_codec, query_escape_round_trips_through_parse_query) {
  EXPECT_EQ(c::query_escape("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(c::query_escape("a b+c&d=e/f%\xff"), "a%20b%2Bc%26d%3De%2Ff%25%FF");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(c::parse_query("m=" + c::query_escape(all)), (query{{"m", all}}));
}

// ---- gzip ------------------------------------------------------------------------------------

std::string random_bytes(std::size_t n) {
  std::mt19937 rng(42);
  std::string s(n, '\0');
  for (auto& ch : s) ch = static_cast<char>(rng() & 0xff);
  return s;
}

TEST(connect_codec, gzip_round_trips_empty_small_and_one_mebibyte) {
  std::string out = "stale";
  const auto empty = c::gzip_compress("");
  EXPECT_EQ(empty.substr(0, 2), "\x1f\x8b");  // RFC 1952 magic
  EXPECT_EQ(c::gzip_decompress(empty, 0, out), c::inflate_status::ok);
  EXPECT_EQ(out, "");

  EXPECT_EQ(c::gzip_decompress(c::gzip_compress("hello"), 5, out), c::inflate_status::ok);
  EXPECT_EQ(out, "hello");

  const auto big = random_bytes(1 << 20);
  EXPECT_EQ(c::gzip_decompress(c::gzip_compress(big), big.size(), out), c::inflate_status::ok);
  EXPECT_EQ(out, big);
  const std::string text(1 << 20, 'a');
  const auto packed = c::gzip_compress(text);
  EXPECT_LT(packed.size(), 8192u);
  EXPECT_EQ(c::gzip_decompress(packed, 4 << 20, out), c::inflate_status::ok);
  EXPECT_EQ(out, text);
}

TEST(connect_codec, gzip_exactly_at_the_limit_fits_and_one_byte_over_does_not) {
  const std::string data(1000, 'q');
  const auto packed = c::gzip_compress(data);
  std::string out;
  EXPECT_EQ(c::gzip_decompress(packed, 1000, out), c::inflate_status::ok);
  EXPECT_EQ(out, data);
  EXPECT_EQ(c::gzip_decompress(packed, 999, out), c::inflate_status::too_large);
  EXPECT_LE(out.size(), 999u);
}

TEST(connect_codec, gzip_refuses_corrupt_truncated_and_trailing_garbage) {
  const auto data = random_bytes(4096) + std::string(4096, 'x');
  const auto packed = c::gzip_compress(data);
  std::string out;
  EXPECT_EQ(c::gzip_decompress("", 1 << 20, out), c::inflate_status::corrupt);
  EXPECT_EQ(c::gzip_decompress("not gzip at all", 1 << 20, out), c::inflate_status::corrupt);
  auto bad_crc = packed;
  bad_crc[bad_crc.size() - 6] ^= 0x55;  // CRC32 in the trailer
  EXPECT_EQ(c::gzip_decompress(bad_crc, 1 << 20, out), c::inflate_status::corrupt);
  auto flipped = packed;
  flipped[20] ^= 0xff;
  EXPECT_NE(c::gzip_decompress(flipped, 1 << 20, out), c::inflate_status::ok);
  for (const std::size_t n : {std::size_t{1}, std::size_t{10}, packed.size() / 2, packed.size() - 1})
    EXPECT_EQ(c::gzip_decompress(std::string_view(packed).substr(0, n), 1 << 20, out),
              c::inflate_status::corrupt)
        << n;
  EXPECT_EQ(c::gzip_decompress(packed + "junk", 1 << 20, out), c::inflate_status::corrupt);
  EXPECT_EQ(c::gzip_decompress(packed + packed, 1 << 20, out), c::inflate_status::corrupt);
}

TEST(connect_codec, gzip_bomb_costs_the_limit_not_the_expansion) {
  const auto bomb = c::gzip_compress(std::string(64u << 20, '\0'));
  EXPECT_LT(bomb.size(), 128u << 10);
  std::string out;
  EXPECT_EQ(c::gzip_decompress(bomb, 1 << 20, out), c::inflate_status::too_large);
  EXPECT_LE(out.size(), std::size_t{1} << 20);
  EXPECT_LE(out.capacity(), std::size_t{4} << 20);
}

}  // namespace
