// The direct JSON path of common messages (codec.hpp: message_to_json, message_from_json):
// proto3 messages of strings, bytes, bools, integers, enums and nested or repeated messages,
// written and parsed through reflection instead of protobuf's JsonStringToMessage and
// MessageToJsonString, which resolve the type and go through the binary form on every call.
// Anything else is left to protobuf; tests/unit/connect_json_test.cpp holds this path to
// protobuf's output.
#include "connect/codec.hpp"
#include "connect/json_cursor.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/message.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <type_traits>
#include <unordered_map>

namespace coronet::connect::detail {

// What protobuf 3's JSON mapping writes for the covered types, checked against
// MessageToJsonString: fields by number, under their json_name, those present only (proto3:
// scalars other than their default, set messages, non-empty repeated ones); 64-bit integers
// quoted; enums by name (a number without one as the number); bytes in padded standard
// base64; strings as append_string_json says.

namespace {

namespace pb = google::protobuf;
using pb::Descriptor;
using pb::FieldDescriptor;
using pb::Reflection;

// Deeper nesting goes through protobuf (whose own limit is 100).
constexpr int max_message_depth = 32;
// More fields than this: the parser's one-word record of the fields seen does not fit.
constexpr int max_fields = 64;

// A type as the fast path sees it, worked out once per thread.
struct type_plan {
  std::optional<bool> covered;  // with every type reachable from it; known once asked
  std::vector<const FieldDescriptor*> by_number;  // serialization order
};

bool plain_name(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_'))
      return false;
  }
  return true;
}

bool well_known(const std::string& full_name) { return full_name.starts_with("google.protobuf."); }

// Whether the fields of `d` itself are covered (not those of the messages it holds).
bool locally_covered(const Descriptor* d) {
  if (d->file()->syntax() != pb::FileDescriptor::SYNTAX_PROTO3 ||
      d->file()->pool() != pb::DescriptorPool::generated_pool() || well_known(d->full_name()) ||
      d->extension_range_count() > 0 || d->field_count() > max_fields)
    return false;
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->is_map() || f->type() == FieldDescriptor::TYPE_GROUP || !plain_name(f->name()) ||
        !plain_name(f->json_name()))
      return false;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64:
      case FieldDescriptor::CPPTYPE_BOOL:
      case FieldDescriptor::CPPTYPE_STRING:
      case FieldDescriptor::CPPTYPE_MESSAGE: break;
      case FieldDescriptor::CPPTYPE_ENUM:
        // Aliases would leave which name is written to protobuf's choice.
        if (well_known(f->enum_type()->full_name()) || f->enum_type()->options().allow_alias())
          return false;
        break;
      default: return false;  // float and double: protobuf's number formatting
    }
  }
  return true;
}

type_plan& plan_of(const Descriptor* d) {
  thread_local std::unordered_map<const Descriptor*, type_plan> plans;
  auto [it, added] = plans.try_emplace(d);
  if (added) {
    auto& fields = it->second.by_number;
    for (int i = 0; i < d->field_count(); ++i) fields.push_back(d->field(i));
    std::sort(fields.begin(), fields.end(),
              [](const auto* a, const auto* b) { return a->number() < b->number(); });
  }
  return it->second;
}

bool covered(const Descriptor* d) {
  auto& plan = plan_of(d);
  if (!plan.covered) {
    // Every message type reachable from `d` must be covered (recursive types included).
    std::vector<const Descriptor*> seen{d};
    bool all = true;
    for (std::size_t i = 0; all && i < seen.size(); ++i) {
      all = locally_covered(seen[i]);
      for (int j = 0; all && j < seen[i]->field_count(); ++j) {
        const auto* sub = seen[i]->field(j)->message_type();
        if (sub && std::find(seen.begin(), seen.end(), sub) == seen.end()) seen.push_back(sub);
      }
    }
    plan.covered = all;
  }
  return *plan.covered;
}

// The code points past ASCII protobuf writes as \u escapes (invisible and format
// characters, as JavaScript's unsafe set), found by asking it for each.
bool escaped_code_point(std::uint32_t cp) noexcept {
  struct range {
    std::uint32_t first, last;
  };
  static constexpr range escaped[] = {
      {0x80, 0x9f},     {0xad, 0xad},     {0x600, 0x603},   {0x6dd, 0x6dd},
      {0x70f, 0x70f},   {0x17b4, 0x17b5}, {0x200b, 0x200f}, {0x2028, 0x202e},
      {0x2060, 0x2064}, {0x206a, 0x206f}, {0xfeff, 0xfeff}, {0xfff9, 0xfffb},
      {0x1d173, 0x1d17a}, {0xe0001, 0xe0001}, {0xe0020, 0xe007f}};
  for (const auto& r : escaped)
    if (cp >= r.first && cp <= r.last) return true;
  return false;
}

void append_u_escape(std::string& out, std::uint32_t unit) {
  static constexpr char hex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += hex[(unit >> shift) & 0xf];
}

// A string as protobuf escapes it: '"', '\\', control characters, '<', '>', DEL and the
// code points above as \u escapes (short forms where JSON has them). false on bytes that are
// not UTF-8, which protobuf drops in its own way: left to it.
bool append_string_json(std::string& out, std::string_view s) {
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet appended
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u < 0x7f && u != '"' && u != '\\' && u != '<' && u != '>') continue;
    if (u >= 0x80) {
      const auto n = utf8_sequence(s.substr(i));
      if (n == 0) return false;
      std::uint32_t cp = u & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
      for (std::size_t k = 1; k < n; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3fu);
      if (escaped_code_point(cp)) {
        out.append(s.substr(run, i - run));
        if (cp >= 0x10000) {
          append_u_escape(out, 0xd800 + ((cp - 0x10000) >> 10));
          append_u_escape(out, 0xdc00 + ((cp - 0x10000) & 0x3ff));
        } else {
          append_u_escape(out, cp);
        }
        run = i + n;
      }
      i += n - 1;
      continue;
    }
    out.append(s.substr(run, i - run));
    run = i + 1;
    switch (u) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: append_u_escape(out, u);
    }
  }
  out.append(s.substr(run));
  out += '"';
  return true;
}

template <class Int>
void append_int(std::string& out, Int v, bool quoted) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  if (quoted) out += '"';
  out.append(buf, end);
  if (quoted) out += '"';
}

bool append_message(std::string& out, const pb::Message& m, int depth);

// Element `i` of repeated field `f`, or its value when `i` is -1.
bool append_value(std::string& out, const pb::Message& m, const FieldDescriptor* f, int i,
                  int depth) {
  const Reflection& r = *m.GetReflection();
  const bool one = i < 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      append_int(out, one ? r.GetInt32(m, f) : r.GetRepeatedInt32(m, f, i), false);
      return true;
    case FieldDescriptor::CPPTYPE_UINT32:
      append_int(out, one ? r.GetUInt32(m, f) : r.GetRepeatedUInt32(m, f, i), false);
      return true;
    case FieldDescriptor::CPPTYPE_INT64:
      append_int(out, one ? r.GetInt64(m, f) : r.GetRepeatedInt64(m, f, i), true);
      return true;
    case FieldDescriptor::CPPTYPE_UINT64:
      append_int(out, one ? r.GetUInt64(m, f) : r.GetRepeatedUInt64(m, f, i), true);
      return true;
    case FieldDescriptor::CPPTYPE_BOOL:
      out += (one ? r.GetBool(m, f) : r.GetRepeatedBool(m, f, i)) ? "true" : "false";
      return true;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int v = one ? r.GetEnumValue(m, f) : r.GetRepeatedEnumValue(m, f, i);
      if (const auto* named = f->enum_type()->FindValueByNumber(v)) {
        out += '"';
        out += named->name();  // an identifier: nothing to escape
        out += '"';
      } else {
        append_int(out, v, false);
      }
      return true;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s =
          one ? r.GetStringReference(m, f, &scratch) : r.GetRepeatedStringReference(m, f, i, &scratch);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        out += '"';
        out += base64_encode(s, true);
        out += '"';
        return true;
      }
      return append_string_json(out, s);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return depth < max_message_depth &&
             append_message(out, one ? r.GetMessage(m, f) : r.GetRepeatedMessage(m, f, i),
                            depth + 1);
    default: return false;
  }
}

bool append_message(std::string& out, const pb::Message& m, int depth) {
  const Reflection& r = *m.GetReflection();
  out += '{';
  bool first = true;
  for (const auto* f : plan_of(m.GetDescriptor()).by_number) {
    const bool repeated = f->is_repeated();
    const int n = repeated ? r.FieldSize(m, f) : 0;
    if (repeated ? n == 0 : !r.HasField(m, f)) continue;
    if (!first) out += ',';
    first = false;
    out += '"';
    out += f->json_name();
    out += "\":";
    if (!repeated) {
      if (!append_value(out, m, f, -1, depth)) return false;
      continue;
    }
    out += '[';
    for (int i = 0; i < n; ++i) {
      if (i > 0) out += ',';
      if (!append_value(out, m, f, i, depth)) return false;
    }
    out += ']';
  }
  out += '}';
  return true;
}

// The parser: the strict subset of JSON the covered types take. Anything else (null, floats,
// escapes in names, unknown or repeated names, non-canonical base64...) is refused rather
// than interpreted, protobuf then having the last word.
class message_reader : json_cursor {
 public:
  explicit message_reader(std::string_view text) noexcept : json_cursor(text) {}

  bool whole(pb::Message& m) {
    skip_ws();
    if (!message(m, 0)) return false;
    skip_ws();
    return pos_ == s_.size();
  }

 private:
  // A member name: printable ASCII without escapes.
  bool name(std::string_view& out) noexcept {
    if (!eat('"')) return false;
    const auto start = pos_;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      const auto u = static_cast<unsigned char>(s_[pos_]);
      if (u < 0x20 || u >= 0x7f || u == '\\') return false;
      ++pos_;
    }
    if (pos_ == s_.size()) return false;
    out = s_.substr(start, pos_ - start);
    ++pos_;
    return true;
  }

  static const FieldDescriptor* find(const type_plan& plan, std::string_view key) {
    // As protobuf: the JSON name first, then the field's own name.
    for (const auto* f : plan.by_number)
      if (f->json_name() == key) return f;
    for (const auto* f : plan.by_number)
      if (f->name() == key) return f;
    return nullptr;
  }

  bool message(pb::Message& m, int depth) {
    if (depth > max_message_depth || !eat('{')) return false;
    const auto& plan = plan_of(m.GetDescriptor());
    std::uint64_t seen = 0;  // by field index
    skip_ws();
    if (eat('}')) return true;
    do {
      skip_ws();
      std::string_view key;
      if (!name(key)) return false;
      const auto* f = find(plan, key);
      if (f == nullptr) return false;
      const auto bit = std::uint64_t{1} << f->index();
      if ((seen & bit) != 0) return false;
      if (const auto* oneof = f->real_containing_oneof()) {
        for (int i = 0; i < oneof->field_count(); ++i)
          if ((seen & (std::uint64_t{1} << oneof->field(i)->index())) != 0) return false;
      }
      seen |= bit;
      skip_ws();
      if (!eat(':')) return false;
      skip_ws();
      if (f->is_repeated() ? !repeated(m, f, depth) : !value(m, f, false, depth)) return false;
      skip_ws();
    } while (eat(','));
    return eat('}');
  }

  bool repeated(pb::Message& m, const FieldDescriptor* f, int depth) {
    if (!eat('[')) return false;
    skip_ws();
    if (eat(']')) return true;
    do {
      skip_ws();
      if (!value(m, f, true, depth)) return false;
      skip_ws();
    } while (eat(','));
    return eat(']');
  }

  // An integer: '-'? digits, no leading zero, no fraction or exponent, in range; quoted
  // (as 64-bit integers are written) or not. An unquoted one past 2^53 is left to protobuf,
  // as are "-0" and anything else.
  template <class Int>
  bool integer(Int& out) noexcept {
    const bool quoted = eat('"');
    const auto start = pos_;
    eat('-');
    const auto digits = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    const auto n = pos_ - digits;
    if (n == 0 || (s_[digits] == '0' && (n > 1 || digits > start))) return false;
    const auto [end, ec] = std::from_chars(s_.data() + start, s_.data() + pos_, out);
    if (ec != std::errc() || end != s_.data() + pos_) return false;
    if (quoted) return eat('"');
    if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) return false;
    if constexpr (sizeof(Int) == 8) {
      constexpr Int limit = Int{1} << 53;
      if constexpr (std::is_signed_v<Int>) return out < limit && out > -limit;
      return out < limit;
    }
    return true;
  }

  // A string's characters: escapes decoded, UTF-8 checked. Lone surrogates are refused.
  bool text(std::string& out) {
    if (!eat('"')) return false;
    for (;;) {
      const auto start = pos_;
      while (pos_ < s_.size()) {
        const auto u = static_cast<unsigned char>(s_[pos_]);
        if (u == '"' || u == '\\' || u < 0x20 || u >= 0x80) break;
        ++pos_;
      }
      out.append(s_.substr(start, pos_ - start));
      if (pos_ == s_.size()) return false;
      const auto u = static_cast<unsigned char>(s_[pos_]);
      if (u == '"') {
        ++pos_;
        return true;
      }
      if (u < 0x20) return false;
      if (u >= 0x80) {
        const auto n = utf8_sequence(s_.substr(pos_));
        if (n == 0) return false;
        out.append(s_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      ++pos_;  // the backslash
      if (pos_ == s_.size()) return false;
      if (const char letter = s_[pos_++]; letter == 'u') {
        if (!escaped_code_point(out)) return false;
      } else if (const auto c = short_escape(letter)) {
        out += *c;
      } else {
        return false;
      }
    }
  }

  bool escaped_code_point(std::string& out) {
    auto cp = hex4();
    if (!cp || (*cp >= 0xdc00 && *cp < 0xe000)) return false;
    if (*cp >= 0xd800 && *cp < 0xdc00) {
      if (s_.substr(pos_, 2) != "\\u") return false;
      pos_ += 2;
      const auto low = hex4();
      if (!low || *low < 0xdc00 || *low >= 0xe000) return false;
      *cp = 0x10000 + ((*cp - 0xd800) << 10) + (*low - 0xdc00);
    }
    append_utf8(out, *cp);
    return true;
  }

  // Bytes: canonical padded standard base64 only (what protobuf writes).
  bool base64(std::string& out) {
    std::string encoded;
    if (!text(encoded)) return false;
    auto decoded = base64_decode(encoded);
    if (!decoded || encoded.size() % 4 != 0 || base64_encode(*decoded, true) != encoded)
      return false;
    out = std::move(*decoded);
    return true;
  }

  // An integer field's value, added (repeated) or set through reflection.
  template <class Int>
  bool number(pb::Message& m, const FieldDescriptor* f, bool add,
              void (Reflection::*adder)(pb::Message*, const FieldDescriptor*, Int) const,
              void (Reflection::*setter)(pb::Message*, const FieldDescriptor*, Int) const) {
    Int v = 0;
    if (!integer(v)) return false;
    (m.GetReflection()->*(add ? adder : setter))(&m, f, v);
    return true;
  }

  bool value(pb::Message& m, const FieldDescriptor* f, bool add, int depth) {
    const Reflection& r = *m.GetReflection();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        return number<std::int32_t>(m, f, add, &Reflection::AddInt32, &Reflection::SetInt32);
      case FieldDescriptor::CPPTYPE_UINT32:
        return number<std::uint32_t>(m, f, add, &Reflection::AddUInt32, &Reflection::SetUInt32);
      case FieldDescriptor::CPPTYPE_INT64:
        return number<std::int64_t>(m, f, add, &Reflection::AddInt64, &Reflection::SetInt64);
      case FieldDescriptor::CPPTYPE_UINT64:
        return number<std::uint64_t>(m, f, add, &Reflection::AddUInt64, &Reflection::SetUInt64);
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v = false;
        if (s_.substr(pos_, 4) == "true") {
          v = true;
          pos_ += 4;
        } else if (s_.substr(pos_, 5) == "false") {
          pos_ += 5;
        } else {
          return false;
        }
        add ? r.AddBool(&m, f, v) : r.SetBool(&m, f, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const pb::EnumValueDescriptor* e = nullptr;
        if (pos_ < s_.size() && s_[pos_] == '"') {
          std::string_view n;
          if (!name(n)) return false;
          e = f->enum_type()->FindValueByName(std::string(n));
        } else {
          std::int32_t v = 0;
          if (!integer(v)) return false;
          e = f->enum_type()->FindValueByNumber(v);
        }
        if (e == nullptr) return false;
        add ? r.AddEnumValue(&m, f, e->number()) : r.SetEnumValue(&m, f, e->number());
        return true;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string v;
        if (!(f->type() == FieldDescriptor::TYPE_BYTES ? base64(v) : text(v))) return false;
        add ? r.AddString(&m, f, std::move(v)) : r.SetString(&m, f, std::move(v));
        return true;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return message(add ? *r.AddMessage(&m, f) : *r.MutableMessage(&m, f), depth + 1);
      default: return false;
    }
  }
};

}  // namespace

bool message_to_json(const pb::Message& m, std::string& out) {
  return covered(m.GetDescriptor()) && append_message(out, m, 0);
}

bool message_from_json(std::string_view json, pb::Message& m) {
  return covered(m.GetDescriptor()) && message_reader(json).whole(m);
}

}  // namespace coronet::connect::detail
