// The wire pieces of the Connect and gRPC-Web protocols, as pure functions: status codes and
// their names and HTTP statuses, error bodies, envelopes, timeouts, base64, percent-encoding,
// gzip. Shared by the server adapter (server.cpp) and the Connect client (client.cpp).
// Nothing here touches a socket or a coroutine.
//
// References: connectrpc.com/docs/protocol, github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md
// and PROTOCOL-HTTP2.md.
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace coronet::connect::detail {

// ---- status codes ---------------------------------------------------------------------------

/// Connect's name of a code: "canceled", "unknown", "invalid_argument", ... "unauthenticated".
/// OK has no Connect name: returns "ok" (never sent). Out-of-range codes: "unknown".
[[nodiscard]] std::string_view code_name(grpc::StatusCode code) noexcept;
/// The code a Connect name stands for; nullopt for a name Connect does not define.
[[nodiscard]] std::optional<grpc::StatusCode> code_from_name(std::string_view name) noexcept;
/// The HTTP status a Connect unary error is sent with (the protocol's table: canceled 499,
/// unknown 500, invalid_argument 400, deadline_exceeded 504, not_found 404, already_exists
/// 409, permission_denied 403, resource_exhausted 429, failed_precondition 400, aborted 409,
/// out_of_range 400, unimplemented 501, internal 500, unavailable 503, data_loss 500,
/// unauthenticated 401).
[[nodiscard]] int http_status_of(grpc::StatusCode code) noexcept;
/// The code a client infers from an HTTP status when the body is not a Connect error
/// (Connect's "HTTP to error code" table: 400 internal, 401 unauthenticated, 403
/// permission_denied, 404 unimplemented, 429/502/503/504 unavailable, else unknown).
[[nodiscard]] grpc::StatusCode code_from_http_status(int status) noexcept;

// ---- JSON ------------------------------------------------------------------------------------

/// The length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no overlong
/// forms, no surrogates, nothing above U+10FFFF); 0 when it is not one.
[[nodiscard]] std::size_t utf8_sequence(std::string_view s) noexcept;

/// Appends `s` as a JSON string literal, quotes included (control characters as \u00XX,
/// well-formed UTF-8 passed through, any other byte as \ufffd: JSON must be UTF-8).
void append_json_string(std::string& out, std::string_view s);

/// A metadata entry: key in lower case; for keys ending in "-bin", the raw bytes.
using metadata = std::vector<std::pair<std::string, std::string>>;

/// A Connect error body: {"code":"not_found","message":"..."} ("message" omitted when empty).
[[nodiscard]] std::string error_json(grpc::StatusCode code, std::string_view message);

/// Parses a Connect error body. nullopt when it is not a JSON object with a known "code"
/// string; the message is "" when absent. Tolerates other members ("details") and
/// whitespace; decodes JSON string escapes (\uXXXX to UTF-8, surrogate pairs included).
[[nodiscard]] std::optional<std::pair<grpc::StatusCode, std::string>> parse_error_json(
    std::string_view body);

/// The JSON of a Connect streaming end-of-stream message:
/// {"error":{"code":..,"message":..},"metadata":{"key":["v1","v2"]}}; "error" omitted for OK,
/// "metadata" omitted when empty; "-bin" values base64 encoded (unpadded, standard alphabet).
[[nodiscard]] std::string end_stream_json(grpc::StatusCode code, std::string_view message,
                                          const metadata& trailers);

// ---- messages as JSON, the common case -------------------------------------------------------
//
// protobuf's JsonStringToMessage and MessageToJsonString resolve the message's type and go
// through its binary form on every call, several microseconds for the smallest message. For
// the messages most services carry (proto3; strings, bytes, bools, integers, enums, nested
// messages and repeated ones; no maps, floats, well-known types) these do the same directly
// through reflection. Each gives up (returns false) on anything it does not cover, the
// caller then using protobuf's own: what they do produce is byte for byte what protobuf
// would.

/// Appends `m` as MessageToJsonString with default options writes it. false when `m`'s type
/// or content is not covered (a string that is not plain ASCII, say); `out` then holds a
/// partial result.
[[nodiscard]] bool message_to_json(const google::protobuf::Message& m, std::string& out);

/// Parses `json` into `m` (empty) as JsonStringToMessage with unknown fields ignored would.
/// false when `json` is not a well-formed object of the covered forms that sets each field
/// once and names no unknown one, whether protobuf would accept it or not; `m` is then
/// partially filled and must be cleared before it is parsed again.
[[nodiscard]] bool message_from_json(std::string_view json, google::protobuf::Message& m);

// ---- envelopes (Connect streaming and gRPC-Web) ---------------------------------------------

inline constexpr std::uint8_t flag_compressed = 0x01;
inline constexpr std::uint8_t flag_end_stream = 0x02;  // Connect
inline constexpr std::uint8_t flag_trailers = 0x80;    // gRPC-Web

/// Appends a 5-byte prefix (flags, big-endian 32-bit length) and the payload.
void append_envelope(std::string& out, std::uint8_t flags, std::string_view payload);

struct envelope {
  std::uint8_t flags = 0;
  std::string_view payload;
};
enum class envelope_status { ok, need_more, too_large };
/// Takes the first envelope off `in` (advancing it). need_more when `in` holds less than a
/// whole envelope (an empty `in` included); too_large when the declared length exceeds
/// `max_payload` (nothing consumed then).
[[nodiscard]] envelope_status next_envelope(std::string_view& in, envelope& out,
                                            std::size_t max_payload) noexcept;

/// The gRPC-Web trailer block, as the payload of a 0x80 frame:
/// "grpc-status:0\r\ngrpc-message:<percent-encoded>\r\n" then each trailer "key:value\r\n"
/// ("-bin" values base64 encoded, padded). grpc-message omitted when empty.
[[nodiscard]] std::string grpc_web_trailers(grpc::StatusCode code, std::string_view message,
                                            const metadata& trailers);

/// Parses a gRPC-Web trailer block (client side): keys lowercased, values trimmed.
[[nodiscard]] metadata parse_grpc_web_trailers(std::string_view block);

// ---- timeouts --------------------------------------------------------------------------------

/// Connect-Timeout-Ms: 1 to 10 ASCII digits. nullopt otherwise (empty, sign, more digits,
/// anything else).
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_connect_timeout(
    std::string_view value) noexcept;
/// grpc-timeout: 1 to 8 digits and a unit (H, M, S, m, u, n). nullopt otherwise.
[[nodiscard]] std::optional<std::chrono::nanoseconds> parse_grpc_timeout(
    std::string_view value) noexcept;

// ---- base64 and percent-encoding -------------------------------------------------------------

/// Standard alphabet; `pad` adds '='.
[[nodiscard]] std::string base64_encode(std::string_view bytes, bool pad);
/// URL-safe alphabet ('-', '_'), unpadded, for Connect GET's `message` parameter.
[[nodiscard]] std::string base64url_encode(std::string_view bytes);
/// Decodes the standard or the URL-safe alphabet (either, not mixed within one value is not
/// required), padded or not; nullopt on any other character, bad padding or a dangling
/// single character.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

/// grpc-message's percent-encoding: bytes outside 0x20-0x7E and '%' become %XX.
[[nodiscard]] std::string percent_encode_message(std::string_view message);
/// Its inverse; a malformed %XX is kept as is (the spec: decode leniently).
[[nodiscard]] std::string percent_decode_message(std::string_view message);

/// application/x-www-form-urlencoded query (after '?'): "a=1&b=x%20y" into pairs, '+' as
/// space, %XX decoded; nullopt on a malformed %XX.
[[nodiscard]] std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(
    std::string_view query);
/// Percent-encodes a query parameter value (unreserved characters kept).
[[nodiscard]] std::string query_escape(std::string_view value);

// ---- gzip ------------------------------------------------------------------------------------

/// gzip (RFC 1952) of `data`, zlib's default level.
[[nodiscard]] std::string gzip_compress(std::string_view data);

enum class inflate_status { ok, corrupt, too_large };
/// Decompresses a gzip stream into `out` (replacing it), never producing more than `limit`
/// bytes: past it, stops and returns too_large (a zip bomb costs `limit` bytes, not memory).
/// corrupt for anything zlib rejects, a truncated stream, or trailing garbage.
[[nodiscard]] inflate_status gzip_decompress(std::string_view data, std::size_t limit,
                                             std::string& out);

}  // namespace coronet::connect::detail
