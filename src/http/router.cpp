#include <coronet/http/router.hpp>

#include <stdexcept>

namespace coronet::http {

namespace {

// Walks the segments of a path: "/a/b" is "a", "b"; "/" is none; "/a/" is "a", "".
class segment_cursor {
 public:
  explicit segment_cursor(std::string_view path)
      : path_(path), pos_(path.size() <= 1 ? path.size() + 1 : 1) {}
  [[nodiscard]] bool done() const noexcept { return pos_ > path_.size(); }
  std::string_view next() noexcept {
    const auto end = path_.find('/', pos_);
    const auto stop = end == std::string_view::npos ? path_.size() : end;
    const auto seg = path_.substr(pos_, stop - pos_);
    pos_ = stop + 1;
    return seg;
  }
  /// Everything not yet walked, e.g. "b/c" after "a" of "/a/b/c".
  [[nodiscard]] std::string_view rest() const noexcept {
    return done() ? std::string_view{} : path_.substr(pos_);
  }

 private:
  std::string_view path_;
  std::size_t pos_;
};

}  // namespace

router& router::add(std::string_view method, std::string_view pattern, handler h) {
  if (pattern.empty() || pattern[0] != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
  }
  route r{std::string(method), std::string(pattern), {}, std::move(h), 0};
  bool bad = false;
  for (segment_cursor cursor(pattern); !cursor.done();) {
    const auto seg = cursor.next();
    if (!r.segments.empty() && r.segments.back().type == segment::kind::wildcard) bad = true;
    if (seg == "*") {
      r.segments.push_back({segment::kind::wildcard, "*"});
    } else if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      if (seg.size() == 2) bad = true;
      r.segments.push_back({segment::kind::param, std::string(seg.substr(1, seg.size() - 2))});
    } else {
      r.segments.push_back({segment::kind::literal, std::string(seg)});
    }
  }
  if (bad) throw std::invalid_argument("malformed route pattern: " + std::string(pattern));
  // Specificity: each literal segment counts most, then parameters; a wildcard least.
  int score = 0;
  for (const auto& s : r.segments) {
    score = score * 4 + (s.type == segment::kind::literal ? 3 : s.type == segment::kind::param ? 2 : 0);
  }
  r.score = score * 64 + static_cast<int>(r.segments.size());
  routes_.push_back(std::move(r));
  return *this;
}

bool router::matches(const route& r, std::string_view path, params_type* params) {
  segment_cursor cursor(path);
  for (const auto& s : r.segments) {
    if (s.type == segment::kind::wildcard) {
      if (params) params->emplace_back("*", std::string(cursor.rest()));
      return true;
    }
    if (cursor.done()) return false;
    const auto seg = cursor.next();
    if (s.type == segment::kind::literal) {
      if (s.text != seg) return false;
    } else {
      if (seg.empty()) return false;
      if (params) params->emplace_back(s.text, std::string(seg));
    }
  }
  return cursor.done();
}

router::match router::find(std::string_view method, std::string_view path, params_type& params) const {
  match m;
  const route* best = nullptr;
  bool other_method = false;
  const bool head = method == "HEAD";
  for (const auto& r : routes_) {
    if (!matches(r, path, nullptr)) continue;
    if (r.method == method || (head && r.method == "GET")) {
      // An explicit HEAD route beats GET serving HEAD at the same specificity.
      if (!best || r.score > best->score || (r.score == best->score && r.method == method)) best = &r;
    } else {
      other_method = true;
    }
  }
  if (best) {
    m.result = match::kind::found;
    m.target = &best->h;
    m.pattern = best->pattern;
    params.clear();
    matches(*best, path, &params);
    return m;
  }
  if (!other_method) return m;
  m.result = match::kind::method_not_allowed;
  // Allow lists every method of every route matching the path, once each.
  auto append = [&](std::string_view name) {
    std::string_view list = m.allow;
    std::size_t pos = 0;
    while (pos < list.size()) {
      auto end = list.find(", ", pos);
      if (list.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos) == name) return;
      if (end == std::string_view::npos) break;
      pos = end + 2;
    }
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += name;
  };
  for (const auto& r : routes_) {
    if (!matches(r, path, nullptr)) continue;
    append(r.method);
    if (r.method == "GET") append("HEAD");
  }
  return m;
}

}  // namespace coronet::http
