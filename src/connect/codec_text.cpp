// The text encodings of the Connect and gRPC-Web wire: base64 (binary metadata, GET's
// message parameter), grpc-message's percent-encoding, and query strings.
#include "connect/codec.hpp"

#include <array>

namespace coronet::connect::detail {

namespace {

constexpr std::string_view std_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Both alphabets in one table: a value may come from either kind of encoder. 0xff: not base64.
constexpr std::array<std::uint8_t, 256> decode_table = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xff);
  for (std::size_t i = 0; i < 64; ++i) {
    t[static_cast<unsigned char>(std_alphabet[i])] = static_cast<std::uint8_t>(i);
    t[static_cast<unsigned char>(url_alphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return t;
}();

std::string encode(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  const auto at = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const auto rest = bytes.size() - i;
  if (rest == 0) return out;
  const auto v = (at(i) << 16) | (rest == 2 ? at(i + 1) << 8 : 0);
  out += alphabet[v >> 18];
  out += alphabet[(v >> 12) & 63];
  if (rest == 2) out += alphabet[(v >> 6) & 63];
  if (pad) out.append(3 - rest, '=');
  return out;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The byte of "%XY" at s[i] (s[i] == '%'), or -1 when it is not one.
int percent_byte(std::string_view s, std::size_t i) noexcept {
  if (s.size() - i < 3) return -1;
  const int hi = hex_value(s[i + 1]);
  const int lo = hex_value(s[i + 2]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

void append_percent(std::string& out, unsigned char u) {
  static constexpr char hex[] = "0123456789ABCDEF";
  out += '%';
  out += hex[u >> 4];
  out += hex[u & 0xf];
}

// One key or value of a query: '+' is a space, %XX a byte; nullopt on a bad escape.
std::optional<std::string> query_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      const int b = percent_byte(s, i);
      if (b < 0) return std::nullopt;
      out += static_cast<char>(b);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string base64_encode(std::string_view bytes, bool pad) {
  return encode(bytes, std_alphabet, pad);
}

std::string base64url_encode(std::string_view bytes) { return encode(bytes, url_alphabet, false); }

std::optional<std::string> base64_decode(std::string_view text) {
  // Padding, when present, completes the last quantum: the whole is a multiple of 4 and
  // ends in one or two '='.
  if (text.ends_with('=')) {
    if (text.size() % 4 != 0) return std::nullopt;
    text.remove_suffix(text.ends_with("==") ? 2 : 1);
    if (text.ends_with('=')) return std::nullopt;
  }
  if (text.size() % 4 == 1) return std::nullopt;  // 6 bits cannot make a byte
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const auto v = decode_table[static_cast<unsigned char>(c)];
    if (v == 0xff) return std::nullopt;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string percent_encode_message(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (const char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e || c == '%') append_percent(out, u);
    else out += c;
  }
  return out;
}

std::string percent_decode_message(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (std::size_t i = 0; i < message.size(); ++i) {
    const int b = message[i] == '%' ? percent_byte(message, i) : -1;
    if (b < 0) {
      out += message[i];
      continue;
    }
    out += static_cast<char>(b);
    i += 2;
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(
    std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto part = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (part.empty()) continue;  // "a=1&&b=2"
    const auto eq = part.find('=');
    auto key = query_unescape(part.substr(0, eq));
    auto value = query_unescape(eq == std::string_view::npos ? std::string_view{}
                                                              : part.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

std::string query_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~';
    if (unreserved) out += c;
    else append_percent(out, static_cast<unsigned char>(c));
  }
  return out;
}

}  // namespace coronet::connect::detail
