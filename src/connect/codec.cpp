// Connect and gRPC-Web wire pieces: codes, envelopes, trailer blocks, timeouts. JSON bodies
// are in codec_json.cpp, text encodings (base64, percent-encoding) in codec_text.cpp, gzip in
// codec_gzip.cpp. Everything here reads untrusted bytes: no input may crash it or throw past
// its contract.
#include "connect/codec.hpp"

#include <array>
#include <limits>

namespace coronet::connect::detail {

// ---- status codes ---------------------------------------------------------------------------

namespace {

// Indexed by the numeric code; [0] is OK, which Connect never names on the wire.
constexpr std::array<std::string_view, 17> code_names = {
    "ok",                  // 0
    "canceled",            // 1
    "unknown",             // 2
    "invalid_argument",    // 3
    "deadline_exceeded",   // 4
    "not_found",           // 5
    "already_exists",      // 6
    "permission_denied",   // 7
    "resource_exhausted",  // 8
    "failed_precondition", // 9
    "aborted",             // 10
    "out_of_range",        // 11
    "unimplemented",       // 12
    "internal",            // 13
    "unavailable",         // 14
    "data_loss",           // 15
    "unauthenticated",     // 16
};
// The HTTP status of a unary error with that code (200 for OK, which is no error).
constexpr std::array<int, 17> http_statuses = {200, 499, 500, 400, 504, 404, 409, 403, 429,
                                               400, 409, 400, 501, 500, 503, 500, 401};

bool in_range(grpc::StatusCode code) noexcept {
  const auto n = static_cast<int>(code);
  return n >= 0 && n < static_cast<int>(code_names.size());
}

}  // namespace

std::string_view code_name(grpc::StatusCode code) noexcept {
  return in_range(code) ? code_names[static_cast<std::size_t>(code)] : "unknown";
}

std::optional<grpc::StatusCode> code_from_name(std::string_view name) noexcept {
  for (std::size_t i = 1; i < code_names.size(); ++i)
    if (code_names[i] == name) return static_cast<grpc::StatusCode>(i);
  return std::nullopt;
}

int http_status_of(grpc::StatusCode code) noexcept {
  return in_range(code) ? http_statuses[static_cast<std::size_t>(code)] : 500;
}

grpc::StatusCode code_from_http_status(int status) noexcept {
  switch (status) {
    case 400: return grpc::StatusCode::INTERNAL;
    case 401: return grpc::StatusCode::UNAUTHENTICATED;
    case 403: return grpc::StatusCode::PERMISSION_DENIED;
    case 404: return grpc::StatusCode::UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504: return grpc::StatusCode::UNAVAILABLE;
    default: return grpc::StatusCode::UNKNOWN;
  }
}

// ---- envelopes -------------------------------------------------------------------------------

void append_envelope(std::string& out, std::uint8_t flags, std::string_view payload) {
  const auto n = static_cast<std::uint32_t>(payload.size());
  out += static_cast<char>(flags);
  out += static_cast<char>(n >> 24);
  out += static_cast<char>(n >> 16);
  out += static_cast<char>(n >> 8);
  out += static_cast<char>(n);
  out += payload;
}

envelope_status next_envelope(std::string_view& in, envelope& out,
                              std::size_t max_payload) noexcept {
  if (in.size() < 5) return envelope_status::need_more;
  const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(
                                             static_cast<unsigned char>(in[i])); };
  const std::size_t length = (byte(1) << 24) | (byte(2) << 16) | (byte(3) << 8) | byte(4);
  if (length > max_payload) return envelope_status::too_large;
  if (in.size() - 5 < length) return envelope_status::need_more;
  out.flags = static_cast<std::uint8_t>(byte(0));
  out.payload = in.substr(5, length);
  in.remove_prefix(5 + length);
  return envelope_status::ok;
}

std::string grpc_web_trailers(grpc::StatusCode code, std::string_view message,
                              const metadata& trailers) {
  std::string out = "grpc-status:" + std::to_string(static_cast<int>(code)) + "\r\n";
  if (!message.empty()) out += "grpc-message:" + percent_encode_message(message) + "\r\n";
  for (const auto& [key, value] : trailers) {
    out += key;
    out += ':';
    out += key.ends_with("-bin") ? base64_encode(value, true) : value;
    out += "\r\n";
  }
  return out;
}

metadata parse_grpc_web_trailers(std::string_view block) {
  constexpr std::string_view blank = " \t";
  const auto trim = [&](std::string_view s) {
    const auto first = s.find_first_not_of(blank);
    if (first == std::string_view::npos) return std::string_view{};
    return s.substr(first, s.find_last_not_of(blank) - first + 1);
  };
  metadata out;
  while (!block.empty()) {
    const auto eol = block.find('\n');
    auto line = block.substr(0, eol);
    block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string key(trim(line.substr(0, colon)));
    if (key.empty()) continue;
    for (auto& c : key)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    std::string value(trim(line.substr(colon + 1)));
    if (key.ends_with("-bin")) {
      // Binary values come back as their bytes; one that is not base64 is kept as sent.
      if (auto bytes = base64_decode(value)) value = std::move(*bytes);
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// ---- timeouts --------------------------------------------------------------------------------

namespace {

std::optional<std::int64_t> digits(std::string_view s, std::size_t max_digits) noexcept {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  std::int64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_connect_timeout(std::string_view value) noexcept {
  const auto v = digits(value, 10);
  if (!v) return std::nullopt;
  return std::chrono::milliseconds(*v);
}

std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view value) noexcept {
  if (value.empty()) return std::nullopt;
  std::int64_t unit_ns = 0;
  switch (value.back()) {
    case 'H': unit_ns = 3'600'000'000'000; break;
    case 'M': unit_ns = 60'000'000'000; break;
    case 'S': unit_ns = 1'000'000'000; break;
    case 'm': unit_ns = 1'000'000; break;
    case 'u': unit_ns = 1'000; break;
    case 'n': unit_ns = 1; break;
    default: return std::nullopt;
  }
  const auto v = digits(value.substr(0, value.size() - 1), 8);
  if (!v) return std::nullopt;
  // 99999999H is past int64 nanoseconds (~292 years): such a timeout saturates.
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  if (*v > max / unit_ns) return std::chrono::nanoseconds::max();
  return std::chrono::nanoseconds(*v * unit_ns);
}

}  // namespace coronet::connect::detail
