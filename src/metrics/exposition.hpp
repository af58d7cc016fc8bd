// The Prometheus text format (0.0.4), written by hand: a family's `# HELP` and `# TYPE`
// lines, then its samples, with label values and help text escaped as the format says.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace coronet::detail {

class exposition {
 public:
  using label = std::pair<std::string_view, std::string_view>;

  /// Starts a family: `type` is "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<label> labels, std::uint64_t value);
  void sample(std::string_view name, std::initializer_list<label> labels, double value);
  /// A histogram's samples from per-bucket (not cumulative) counts: `name`_bucket for every
  /// bound and +Inf, `name`_sum and `name`_count. Bounds and sum are in the unit of the
  /// values, shown divided by `divisor` (1e9: nanoseconds as seconds).
  template <std::size_t N>
  void histogram(std::string_view name, std::initializer_list<label> labels,
                 const std::array<std::uint64_t, N>& bounds, const std::array<std::uint64_t, N + 1>& counts,
                 std::uint64_t sum, double divisor) {
    histogram(name, labels, bounds.data(), counts.data(), N, sum, divisor);
  }

  [[nodiscard]] std::string take() { return std::move(out_); }

  /// Escapes for a label value (backslash, double quote, newline) or, with `quote` false,
  /// for HELP text (backslash, newline).
  static void escape(std::string& out, std::string_view text, bool quote);
  /// A number as the format reads it: integral values without a fraction, +Inf, NaN.
  static void number(std::string& out, double v);

 private:
  void histogram(std::string_view name, std::initializer_list<label> labels, const std::uint64_t* bounds,
                 const std::uint64_t* counts, std::size_t n, std::uint64_t sum, double divisor);
  void labels(std::initializer_list<label> labels, std::string_view le = {});

  std::string out_;
};

}  // namespace coronet::detail
