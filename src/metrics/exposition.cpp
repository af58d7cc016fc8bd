#include "metrics/exposition.hpp"

#include <charconv>
#include <cmath>

namespace coronet::detail {

void exposition::escape(std::string& out, std::string_view text, bool quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void exposition::number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  // The shortest digits that read back the same, written as other Prometheus clients write
  // bucket bounds: 0.0001, 2.5, 10 in fixed notation, only the very small in scientific.
  const auto a = std::fabs(v);
  const auto fmt = a != 0 && (a < 1e-4 || a >= 1e21) ? std::chars_format::scientific : std::chars_format::fixed;
  const auto r = std::to_chars(buf, buf + sizeof buf, v, fmt);
  out.append(buf, r.ptr);
}

void exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  escape(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void exposition::labels(std::initializer_list<label> labels, std::string_view le) {
  if (labels.size() == 0 && le.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += k;
    out_ += "=\"";
    escape(out_, v, true);
    out_ += '"';
  }
  if (!le.empty()) {
    if (!first) out_ += ',';
    out_ += "le=\"";
    out_ += le;
    out_ += '"';
  }
  out_ += '}';
}

void exposition::sample(std::string_view name, std::initializer_list<label> l, std::uint64_t value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void exposition::sample(std::string_view name, std::initializer_list<label> l, double value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  number(out_, value);
  out_ += '\n';
}

void exposition::histogram(std::string_view name, std::initializer_list<label> l, const std::uint64_t* bounds,
                           const std::uint64_t* counts, std::size_t n, std::uint64_t sum, double divisor) {
  std::uint64_t cumulative = 0;
  std::string le;
  for (std::size_t i = 0; i <= n; ++i) {
    cumulative += counts[i];
    le.clear();
    if (i < n) {
      number(le, static_cast<double>(bounds[i]) / divisor);
    } else {
      le = "+Inf";
    }
    out_ += name;
    out_ += "_bucket";
    labels(l, le);
    out_ += ' ';
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  out_ += name;
  out_ += "_sum";
  labels(l);
  out_ += ' ';
  number(out_, static_cast<double>(sum) / divisor);
  out_ += '\n';
  out_ += name;
  out_ += "_count";
  labels(l);
  out_ += ' ';
  out_ += std::to_string(cumulative);
  out_ += '\n';
}

}  // namespace coronet::detail
