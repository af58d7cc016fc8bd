#include <coronet/http/router.hpp>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace coronet::http {

namespace detail {

// Everything a router holds, behind one pointer: groups and the handlers answering requests
// no route serves refer to it, and it stays where it is when the router moves (into a
// server, typically).
struct route_table {
  struct segment {
    enum class kind { literal, param, wildcard };
    kind type;
    std::string text;  // literal text, or the parameter's name
  };
  struct route {
    std::string method;
    std::string pattern;
    std::vector<segment> segments;
    handler h;  // the user's handler, or the chain of its scope's middleware around it
    // Specificity, compared as bytes, higher wins: one byte a segment (literal 3, parameter
    // 2, a trailing wildcard 0), then 1 where a pattern without a wildcard ends. Two routes
    // matching one path differ first where one has the more specific segment; a route that
    // ends where the path ends ranks above a wildcard matching the empty rest.
    std::string rank;
    bool literal = true;  // no parameter or wildcard: a path matches it by equality
    // Set when the chain starts with hooks (match::chain); `h` holds it too.
    std::shared_ptr<const middleware_chain> hooked;
  };
  // The router itself (scopes[0]) or one of its groups.
  struct scope {
    std::string prefix;  // the full prefix, "/api/v1"; "" for the router
    std::size_t parent;  // npos for the router
    std::vector<layer> own;  // its own middleware and hooks, in the order installed
    bool sealed = false;  // a route was added through it, or through a group inside it
  };
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  route_table() { scopes.push_back({"", npos, {}, false}); }
  route_table(const route_table& other) : routes(other.routes), scopes(other.scopes) { compose_unrouted(); }
  route_table& operator=(const route_table&) = delete;

  std::vector<route> routes;
  std::vector<scope> scopes;
  // With middleware on the router: that middleware around the 404 and 405 answers.
  handler not_found;
  handler not_allowed;

  void add(std::size_t at, std::string_view method, std::string_view pattern, handler h);
  void use(std::size_t at, layer l);
  std::size_t group(std::size_t parent, std::string_view prefix);
  [[nodiscard]] std::shared_ptr<const middleware_chain> chain(std::size_t at, handler h) const;
  [[nodiscard]] handler wrap(std::size_t at, handler h) const {
    return as_handler(chain(at, std::move(h)));
  }
  [[nodiscard]] static handler as_handler(std::shared_ptr<const middleware_chain> c);
  void compose_unrouted();
  // Whether `path` is one of `r`'s (capturing its parameters into `params` when given).
  // A literal pattern and a path both starting with '/' split into equal segments exactly
  // when they are equal: one comparison instead of a walk, and inline, since every request
  // tests every route.
  static bool matches(const route& r, std::string_view path, router::params_type* params) {
    if (r.literal) {
      if (path.size() <= 1) return r.segments.empty();  // "/" (or "*"): no segments
      if (path[0] == '/') return path == r.pattern;
    }
    return matches_segments(r, path, params);
  }
  static bool matches_segments(const route& r, std::string_view path, router::params_type* params);
  [[nodiscard]] std::string allow(std::string_view path) const;
};

}  // namespace detail

namespace {

using detail::route_table;

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

asio::awaitable<response> answer(response res) { co_return res; }

// An after hook inside a middleware: the rest of the chain, then the hook.
asio::awaitable<response> then_after(const after_hook& after, request& req, next_handler next) {
  auto res = co_await next(req);
  after(req, res);
  co_return res;
}

}  // namespace

// Not a coroutine: the call returns the next middleware's awaitable (or the handler's), so
// passing through a chain adds no frame beyond each middleware's own.
asio::awaitable<response> next_handler::operator()(request& req) const {
  const auto& layers = chain_->layers;
  for (auto i = index_; i < layers.size(); ++i) {
    const auto& l = layers[i];
    if (l.around) return l.around(req, next_handler(*chain_, i + 1));
    if (l.after) return then_after(l.after, req, next_handler(*chain_, i + 1));
    if (auto early = l.before(req)) return answer(std::move(*early));
  }
  return chain_->last(req);
}

namespace {

// A chain that starts with hooks, as one coroutine (the server runs the hooks in its own).
asio::awaitable<response> run_hooked(const detail::middleware_chain& c, request& req) {
  response res;
  bool answered = false;
  const auto entered = c.enter(req, res, answered);
  if (!answered) res = co_await c.rest(req);
  c.leave(req, res, entered);
  co_return res;
}

}  // namespace

namespace detail {

std::size_t middleware_chain::enter(request& req, response& res, bool& answered) const {
  for (std::size_t i = 0; i < hooks_end; ++i) {
    if (!layers[i].before) continue;
    if (auto early = layers[i].before(req)) {
      res = std::move(*early);
      answered = true;
      return i;
    }
  }
  return hooks_end;
}

void middleware_chain::leave(const request& req, response& res, std::size_t entered) const {
  for (auto i = entered; i-- > 0;) {
    if (layers[i].after) layers[i].after(req, res);
  }
}

asio::awaitable<response> middleware_chain::operator()(request& req) const {
  if (hooks_end == 0) return rest(req);
  return run_hooked(*this, req);
}

}  // namespace detail

void route_table::add(std::size_t at, std::string_view method, std::string_view pattern, handler h) {
  if (pattern.empty() || pattern[0] != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
  }
  route r{std::string(method), std::string(pattern), {}, {}, {}, true, nullptr};
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
  for (const auto& seg : r.segments) {
    r.rank += seg.type == segment::kind::literal ? '\3' : seg.type == segment::kind::param ? '\2' : '\0';
  }
  if (r.segments.empty() || r.segments.back().type != segment::kind::wildcard) r.rank += '\1';
  r.literal = std::all_of(r.segments.begin(), r.segments.end(),
                          [](const segment& s) { return s.type == segment::kind::literal; });
  auto c = chain(at, std::move(h));
  if (c->hooks_end > 0) r.hooked = c;
  r.h = as_handler(std::move(c));
  routes.push_back(std::move(r));
  for (auto s = at; s != npos; s = scopes[s].parent) scopes[s].sealed = true;
}

// The middleware and hooks of scope `at` and its parents around `h`, outermost first.
std::shared_ptr<const detail::middleware_chain> route_table::chain(std::size_t at, handler h) const {
  std::vector<std::size_t> path;
  for (auto s = at; s != npos; s = scopes[s].parent) path.push_back(s);
  auto c = std::make_shared<detail::middleware_chain>();
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    const auto& own = scopes[*it].own;
    c->layers.insert(c->layers.end(), own.begin(), own.end());
  }
  while (c->hooks_end < c->layers.size() && !c->layers[c->hooks_end].around) ++c->hooks_end;
  c->last = std::move(h);
  return c;
}

// A chain as one handler: its handler itself when there is nothing around it, so a router
// without middleware calls handlers as it always did.
handler route_table::as_handler(std::shared_ptr<const detail::middleware_chain> c) {
  if (c->layers.empty()) return c->last;
  return [c = std::move(c)](request& req) { return (*c)(req); };
}

void route_table::use(std::size_t at, layer l) {
  if (!l.around && !l.before && !l.after) {
    throw std::invalid_argument("http::router::use: empty middleware or hook");
  }
  if (scopes[at].sealed) {
    throw std::logic_error(
        "http::router::use: call use(), before() and after() before adding routes; middleware "
        "installed after a route would not run for it" +
        (at == 0 ? std::string() : " (group \"" + scopes[at].prefix + "\")"));
  }
  scopes[at].own.push_back(std::move(l));
  if (at == 0) compose_unrouted();
}

std::size_t route_table::group(std::size_t parent, std::string_view prefix) {
  if (!prefix.empty() && prefix[0] != '/') {
    throw std::invalid_argument("route group prefix must start with '/': " + std::string(prefix));
  }
  if (prefix.find('*') != std::string_view::npos) {
    throw std::invalid_argument("route group prefix cannot hold '*': " + std::string(prefix));
  }
  if (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  scopes.push_back({scopes[parent].prefix + std::string(prefix), parent, {}, false});
  return scopes.size() - 1;
}

// The router's own middleware around the answers the server gives when no route serves a
// request, word for word the same.
void route_table::compose_unrouted() {
  if (scopes[0].own.empty()) {
    not_found = nullptr;
    not_allowed = nullptr;
    return;
  }
  not_found = wrap(0, [](request&) {
    return answer(response::text("Not Found\n", status::not_found));
  });
  not_allowed = wrap(0, [this](request& req) {
    auto res = response::text("Method Not Allowed\n", status::method_not_allowed);
    res.headers.set("Allow", allow(req.path()));
    return answer(std::move(res));
  });
}

bool route_table::matches_segments(const route& r, std::string_view path, router::params_type* params) {
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

// Allow lists every method of every route matching the path, once each.
std::string route_table::allow(std::string_view path) const {
  std::string list;
  auto append = [&](std::string_view name) {
    std::string_view seen = list;
    std::size_t pos = 0;
    while (pos < seen.size()) {
      auto end = seen.find(", ", pos);
      const auto len = end == std::string_view::npos ? std::string_view::npos : end - pos;
      if (seen.substr(pos, len) == name) return;
      if (end == std::string_view::npos) break;
      pos = end + 2;
    }
    if (!list.empty()) list += ", ";
    list += name;
  };
  for (const auto& r : routes) {
    if (!matches(r, path, nullptr)) continue;
    append(r.method);
    if (r.method == "GET") append("HEAD");
  }
  return list;
}

router::router() : table_(std::make_unique<route_table>()) {}
router::router(const router& other)
    : table_(other.table_ ? std::make_unique<route_table>(*other.table_) : nullptr) {}
router& router::operator=(const router& other) {
  if (this != &other) {
    router copy(other);
    table_ = std::move(copy.table_);
  }
  return *this;
}
router::router(router&& other) noexcept = default;
router& router::operator=(router&& other) noexcept = default;
router::~router() = default;

route_table& router::table() {
  if (!table_) table_ = std::make_unique<route_table>();  // moved from, then used again
  return *table_;
}

router& router::add(std::string_view method, std::string_view pattern, handler h) {
  table().add(0, method, pattern, std::move(h));
  return *this;
}

router& router::use(middleware m) {
  table().use(0, {.around = std::move(m)});
  return *this;
}

router& router::before(before_hook h) {
  table().use(0, {.before = std::move(h)});
  return *this;
}

router& router::after(after_hook h) {
  table().use(0, {.after = std::move(h)});
  return *this;
}

route_group router::group(std::string_view prefix) {
  auto& t = table();
  return route_group(t, t.group(0, prefix));
}

router::match router::find(std::string_view method, std::string_view path, params_type& params) const {
  match m;
  if (!table_) return m;
  const auto& t = *table_;
  const route_table::route* best = nullptr;
  bool other_method = false;
  const bool head = method == "HEAD";
  for (const auto& r : t.routes) {
    if (!route_table::matches(r, path, nullptr)) continue;
    if (r.method == method || (head && r.method == "GET")) {
      // An explicit HEAD route beats GET serving HEAD at the same specificity.
      if (!best) {
        best = &r;
        continue;
      }
      const auto order = r.rank.compare(best->rank);
      if (order > 0 || (order == 0 && r.method == method)) best = &r;
    } else {
      other_method = true;
    }
  }
  if (best) {
    m.result = match::kind::found;
    m.target = &best->h;
    m.pattern = best->pattern;
    m.route_index = static_cast<std::size_t>(best - t.routes.data());
    m.chain = best->hooked.get();
    params.clear();
    if (!best->literal) route_table::matches(*best, path, &params);  // again, capturing
    return m;
  }
  if (t.not_found) {
    // The router's middleware sees the requests no route serves too.
    m.result = match::kind::found;
    m.target = other_method ? &t.not_allowed : &t.not_found;
    params.clear();
    return m;
  }
  if (!other_method) return m;
  m.result = match::kind::method_not_allowed;
  m.allow = t.allow(path);
  return m;
}

route_group& route_group::add(std::string_view method, std::string_view pattern, handler h) {
  if (!pattern.empty() && pattern[0] != '/') {
    throw std::invalid_argument("route pattern must start with '/' or be empty: " + std::string(pattern));
  }
  table_->add(scope_, method, table_->scopes[scope_].prefix + std::string(pattern), std::move(h));
  return *this;
}

route_group& route_group::use(middleware m) {
  table_->use(scope_, {.around = std::move(m)});
  return *this;
}

route_group& route_group::before(before_hook h) {
  table_->use(scope_, {.before = std::move(h)});
  return *this;
}

route_group& route_group::after(after_hook h) {
  table_->use(scope_, {.after = std::move(h)});
  return *this;
}

route_group route_group::group(std::string_view prefix) {
  return route_group(*table_, table_->group(scope_, prefix));
}

std::string_view route_group::prefix() const { return table_->scopes[scope_].prefix; }

}  // namespace coronet::http
