// The JSON of the Connect protocol: error bodies (written and read) and the end-of-stream
// message (the direct JSON path of messages is codec_message_json.cpp). The readers take
// only what they need, from untrusted bytes: strict JSON, nesting bounded, no exceptions but
// std::bad_alloc.
#include "connect/codec.hpp"
#include "connect/json_cursor.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace coronet::connect::detail {

std::size_t utf8_sequence(std::string_view s) noexcept {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const unsigned char lead = b(0);
  if (lead >= 0xC2 && lead <= 0xDF) return cont(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (lead == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (lead == 0xED && b(1) > 0x9F) return 0;  // a surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (lead == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (lead == 0xF4 && b(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      // JSON is UTF-8: a byte that does not start a well-formed sequence (a parser's
      // message may quote the client's bytes) becomes U+FFFD.
      if (const auto n = utf8_sequence(s.substr(i)); n != 0) {
        out.append(s.substr(i, n));
        i += n - 1;
      } else {
        out += "\\ufffd";
      }
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

namespace {

void append_error_object(std::string& out, grpc::StatusCode code, std::string_view message) {
  out += R"({"code":)";
  append_json_string(out, code_name(code));
  if (!message.empty()) {
    out += R"(,"message":)";
    append_json_string(out, message);
  }
  out += '}';
}

// A strict reader of just enough JSON for an error body: one object whose "code" and
// "message" are strings; every other member is checked for well-formedness and skipped.
class json_reader : json_cursor {
 public:
  explicit json_reader(std::string_view text) noexcept : json_cursor(text) {}

  std::optional<std::pair<grpc::StatusCode, std::string>> error_body() {
    std::optional<grpc::StatusCode> code;
    std::string message;
    skip_ws();
    if (!eat('{')) return std::nullopt;
    skip_ws();
    if (!eat('}')) {
      do {
        skip_ws();
        std::string key;
        if (!string(key)) return std::nullopt;
        skip_ws();
        if (!eat(':')) return std::nullopt;
        skip_ws();
        if (key == "code") {
          std::string name;
          if (!string(name)) return std::nullopt;
          code = code_from_name(name);
        } else if (key == "message") {
          message.clear();
          if (!string(message)) return std::nullopt;
        } else if (!skip_value(0)) {
          return std::nullopt;
        }
        skip_ws();
      } while (eat(','));
      if (!eat('}')) return std::nullopt;
    }
    skip_ws();
    if (pos_ != s_.size() || !code) return std::nullopt;
    return std::pair{*code, std::move(message)};
  }

 private:
  // Nesting deeper than this in "details" is refused rather than followed on the stack.
  static constexpr int max_depth = 64;

  // \uXXXX after the "\u": a surrogate pair makes one code point; a lone surrogate becomes
  // U+FFFD, as encoding/json and JSON.parse-then-encode do.
  bool unicode_escape(std::string& out) {
    auto cp = hex4();
    if (!cp) return false;
    if (*cp >= 0xd800 && *cp < 0xdc00 && s_.substr(pos_, 2) == "\\u") {
      const auto save = pos_;
      pos_ += 2;
      const auto low = hex4();
      if (!low) return false;
      if (*low >= 0xdc00 && *low < 0xe000) {
        append_utf8(out, 0x10000 + ((*cp - 0xd800) << 10) + (*low - 0xdc00));
        return true;
      }
      pos_ = save;  // not a pair: the second escape is read on its own
    }
    append_utf8(out, *cp >= 0xd800 && *cp < 0xe000 ? 0xfffd : *cp);
    return true;
  }

  bool string(std::string& out) {
    if (!eat('"')) return false;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ == s_.size()) return false;
      if (const char letter = s_[pos_++]; letter == 'u') {
        if (!unicode_escape(out)) return false;
      } else if (const auto c = short_escape(letter)) {
        out += *c;
      } else {
        return false;
      }
    }
    return false;  // unterminated
  }

  bool literal(std::string_view word) noexcept {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool number() noexcept {
    const auto start = pos_;
    eat('-');
    const auto digits = [&] {
      const auto from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ > from;
    };
    if (!digits()) return false;
    if (eat('.') && !digits()) return false;
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (!eat('+')) eat('-');
      if (!digits()) return false;
    }
    return pos_ > start;
  }

  bool skip_value(int depth) {
    if (depth > max_depth || pos_ >= s_.size()) return false;
    std::string scratch;
    switch (s_[pos_]) {
      case '"': return string(scratch);
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      case '{':
      case '[': {
        const bool object = s_[pos_++] == '{';
        const char close = object ? '}' : ']';
        skip_ws();
        if (eat(close)) return true;
        do {
          skip_ws();
          if (object) {
            scratch.clear();
            if (!string(scratch)) return false;
            skip_ws();
            if (!eat(':')) return false;
            skip_ws();
          }
          if (!skip_value(depth + 1)) return false;
          skip_ws();
        } while (eat(','));
        return eat(close);
      }
      default: return number();
    }
  }
};

}  // namespace

std::string error_json(grpc::StatusCode code, std::string_view message) {
  std::string out;
  append_error_object(out, code, message);
  return out;
}

std::optional<std::pair<grpc::StatusCode, std::string>> parse_error_json(
    std::string_view body) {
  return json_reader(body).error_body();
}

std::string end_stream_json(grpc::StatusCode code, std::string_view message,
                            const metadata& trailers) {
  std::string out = "{";
  if (code != grpc::StatusCode::OK) {
    out += R"("error":)";
    append_error_object(out, code, message);
  }
  if (!trailers.empty()) {
    if (out.size() > 1) out += ',';
    out += R"("metadata":{)";
    // One member per key, its values in the order given; keys in order of first appearance.
    std::vector<bool> done(trailers.size(), false);
    for (std::size_t i = 0; i < trailers.size(); ++i) {
      if (done[i]) continue;
      const std::string& key = trailers[i].first;
      const bool binary = key.ends_with("-bin");
      if (i > 0) out += ',';
      append_json_string(out, key);
      out += ":[";
      for (std::size_t j = i; j < trailers.size(); ++j) {
        if (trailers[j].first != key) continue;
        done[j] = true;
        if (j > i) out += ',';
        const std::string& value = trailers[j].second;
        append_json_string(out, binary ? base64_encode(value, false) : value);
      }
      out += ']';
    }
    out += '}';
  }
  out += '}';
  return out;
}

}  // namespace coronet::connect::detail
