// The HTTP/1.1 client: a pool of keep-alive connections per (host, port), and a request
// coroutine that borrows one, writes the request, parses the response with llhttp and gives
// the connection back (or closes it). Everything runs on the client's executor: no locks.
//
// Timeouts use one watchdog timer per connection, as the server does: moving a deadline is a
// store, and the timer is re-armed only when a deadline comes earlier than the armed one.
// While a connection is in use its watchdog enforces the request's deadline (closing the
// socket); while it sits in the pool, the idle expiry.
#include "parser.hpp"
#include "watchdog.hpp"

#include <coronet/http/client.hpp>

#include <asio/ip/tcp.hpp>
#include <asio/this_coro.hpp>
#include <asio/write.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <deque>
#include <map>
#include <vector>

namespace coronet::http {

namespace {

using clock = std::chrono::steady_clock;
using asio::ip::tcp;
using coronet::detail::use_nothrow;

constexpr std::size_t read_buffer_size = 16 * 1024;
constexpr auto never = clock::time_point::max();

bool idempotent(std::string_view m) noexcept {
  return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" ||
         m == "TRACE";
}

bool token_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool valid_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), token_char);
}

bool valid_value(std::string_view s) noexcept {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// A pooled connection the server has closed (or written to, unasked) reads as EOF or data
// at once; a live idle one would block.
bool looks_alive(tcp::socket& s) noexcept {
  char byte;
  const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

asio::awaitable<bool> cancelled() {
  auto cs = co_await asio::this_coro::cancellation_state;
  co_return cs.cancelled() != asio::cancellation_type::none;
}

}  // namespace

namespace detail {

struct host_pool;

/// One TCP connection to a host, with its read buffer, parser and watchdog.
struct client_connection : std::enable_shared_from_this<client_connection> {
  client_connection(const asio::any_io_executor& ex, host_pool& p, detail::parse_limits limits)
      : socket(ex), watchdog(ex, *this), pool(&p), parser(limits), buffer(new char[read_buffer_size]) {}

  /// In the pool: the idle expiry; in use: the request's deadline (closes the socket).
  void on_deadline();
  void close() noexcept {
    std::error_code ignored;
    socket.close(ignored);
  }

  tcp::socket socket;
  detail::watchdog<client_connection> watchdog;
  host_pool* pool;
  detail::response_parser parser;
  std::unique_ptr<char[]> buffer;
  std::size_t begin = 0;
  std::size_t end = 0;
  tcp::resolver* resolver = nullptr;  // set while resolving, so a deadline can cancel it
  bool connected = false;
  bool reused = false;     // carried a request before: the server may have closed it since
  bool idle = false;       // in the pool
  bool timed_out = false;  // the watchdog fired during a request
};

/// Waits in a host_pool's queue for a connection (or a slot to open one).
struct pool_waiter {
  explicit pool_waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::shared_ptr<client_connection> handed;  // a released keep-alive connection
  bool granted = false;                       // a slot for a new connection
};

struct host_pool {
  client_state* owner = nullptr;
  std::vector<std::shared_ptr<client_connection>> idle;  // most recently used last
  std::size_t open = 0;  // busy, idle and connecting connections
  std::deque<pool_waiter*> waiters;
};

}  // namespace detail

using detail::client_connection;
using detail::host_pool;
using detail::pool_waiter;

struct detail::client_state {
  client_state(asio::any_io_executor e, client_options o) : ex(std::move(e)), options(std::move(o)) {}

  host_pool& pool_for(const url& u) {
    auto& p = pools[{u.host, u.port}];
    p.owner = this;
    return p;
  }

  std::shared_ptr<client_connection> fresh(host_pool& p) {
    return std::make_shared<client_connection>(
        ex, p, detail::parse_limits{options.max_header_bytes, options.max_body_bytes});
  }

  /// A connection leaves use: back to a waiter or the pool, or closed.
  void release(host_pool& p, std::shared_ptr<client_connection> c, bool reusable) {
    if (!reusable || closed) {
      c->close();
      free_slot(p);
      return;
    }
    c->reused = true;
    c->timed_out = false;
    if (!p.waiters.empty()) {
      auto* w = p.waiters.front();
      p.waiters.pop_front();
      w->handed = std::move(c);
      w->timer.cancel();
      return;
    }
    c->idle = true;
    c->watchdog.expires_at(clock::now() + options.idle_timeout);
    p.idle.push_back(std::move(c));
  }

  /// A connection was closed: its slot goes to the first waiter, if any.
  void free_slot(host_pool& p) {
    if (!p.waiters.empty()) {
      auto* w = p.waiters.front();
      p.waiters.pop_front();
      w->granted = true;
      w->timer.cancel();
      return;
    }
    --p.open;
  }

  void expire(client_connection& c) {
    auto& p = *c.pool;
    const auto it = std::find_if(p.idle.begin(), p.idle.end(),
                                 [&](const auto& x) { return x.get() == &c; });
    if (it == p.idle.end()) return;
    auto keep = std::move(*it);
    p.idle.erase(it);
    keep->close();
    free_slot(p);
  }

  void close_idle() {
    for (auto& [key, p] : pools) {
      while (!p.idle.empty()) {
        auto c = std::move(p.idle.back());
        p.idle.pop_back();
        c->close();
        free_slot(p);
      }
    }
  }

  asio::any_io_executor ex;
  client_options options;
  std::map<std::pair<std::string, std::uint16_t>, host_pool> pools;  // node addresses are stable
  bool closed = false;
};

void client_connection::on_deadline() {
  if (idle) {
    pool->owner->expire(*this);
    return;
  }
  timed_out = true;
  if (resolver) resolver->cancel();
  close();
}

namespace {

/// A connection (or a slot for one) borrowed from a host_pool; given back on destruction.
struct lease {
  lease(std::shared_ptr<detail::client_state> s, host_pool& p) : st(std::move(s)), pool(&p) {}
  lease(const lease&) = delete;
  lease& operator=(const lease&) = delete;
  ~lease() {
    if (conn) {
      conn->watchdog.disarm();
      st->release(*pool, std::move(conn), reusable);
    }
  }

  std::shared_ptr<detail::client_state> st;
  host_pool* pool;
  std::shared_ptr<client_connection> conn;
  bool reusable = false;
};

struct waiter_guard {
  host_pool& pool;
  pool_waiter& w;
  ~waiter_guard() {
    const auto it = std::find(pool.waiters.begin(), pool.waiters.end(), &w);
    if (it != pool.waiters.end()) pool.waiters.erase(it);
  }
};

asio::awaitable<std::error_code> acquire(lease& l, clock::time_point deadline, bool check_alive) {
  auto& pool = *l.pool;
  auto& st = *l.st;
  while (!pool.idle.empty()) {
    auto c = std::move(pool.idle.back());
    pool.idle.pop_back();
    c->idle = false;
    if (check_alive && !looks_alive(c->socket)) {
      c->close();
      st.free_slot(pool);
      continue;
    }
    l.conn = std::move(c);
    co_return std::error_code{};
  }
  if (pool.open < std::max<std::size_t>(st.options.max_connections_per_host, 1)) {
    ++pool.open;
    l.conn = st.fresh(pool);
    co_return std::error_code{};
  }
  pool_waiter w(st.ex);
  w.timer.expires_at(deadline);
  pool.waiters.push_back(&w);
  std::error_code ec;
  {
    waiter_guard guard{pool, w};
    std::tie(ec) = co_await w.timer.async_wait(use_nothrow);
  }
  if (w.handed || w.granted) {
    const bool handed = w.handed != nullptr;
    l.conn = handed ? std::move(w.handed) : st.fresh(pool);
    if (co_await cancelled()) {
      l.reusable = handed;  // a good connection goes back to the pool
      co_return client_errc::cancelled;
    }
    if (handed && check_alive && !looks_alive(l.conn->socket)) l.conn = st.fresh(pool);
    co_return std::error_code{};
  }
  if (!ec) co_return client_errc::timeout;  // the request's deadline passed while waiting
  co_return client_errc::cancelled;
}

/// Resolves and connects a fresh connection within connect_timeout (and the request's deadline).
asio::awaitable<std::error_code> connect(client_connection& c, const url& u,
                                         clock::time_point deadline, const client_options& o) {
  const auto connect_deadline = clock::now() + o.connect_timeout;
  const bool connect_bound = connect_deadline < deadline;
  c.watchdog.expires_at(std::min(connect_deadline, deadline));
  const std::error_code timed_out = connect_bound ? client_errc::connect_timeout : client_errc::timeout;

  std::vector<tcp::endpoint> endpoints;
  std::error_code ec;
  const auto address = asio::ip::make_address(u.host, ec);
  if (!ec) {
    endpoints.emplace_back(address, u.port);
  } else {
    tcp::resolver resolver(c.socket.get_executor());
    c.resolver = &resolver;
    // Asio's resolver ignores cancellation slots: forward a cancellation to it by hand.
    auto cs = co_await asio::this_coro::cancellation_state;
    auto slot = cs.slot();
    if (slot.is_connected()) slot.assign([&resolver](asio::cancellation_type) { resolver.cancel(); });
    auto [rec, results] = co_await resolver.async_resolve(u.host, std::to_string(u.port), use_nothrow);
    if (slot.is_connected()) slot.clear();
    c.resolver = nullptr;
    if (c.timed_out) co_return timed_out;
    if (co_await cancelled()) co_return client_errc::cancelled;
    if (rec) co_return client_errc::dns_failure;
    for (const auto& r : results) endpoints.push_back(r.endpoint());
    if (endpoints.empty()) co_return client_errc::dns_failure;
  }

  std::error_code last;
  for (const auto& ep : endpoints) {
    c.close();
    auto [cec] = co_await c.socket.async_connect(ep, use_nothrow);
    if (c.timed_out) co_return timed_out;
    if (co_await cancelled()) co_return client_errc::cancelled;
    if (!cec) {
      std::error_code ignored;
      c.socket.non_blocking(true, ignored);
      c.socket.set_option(tcp::no_delay(true), ignored);
      c.connected = true;
      c.watchdog.expires_at(deadline);
      co_return std::error_code{};
    }
    last = cec;
  }
  if (last == asio::error::connection_refused) co_return client_errc::connection_refused;
  co_return client_errc::connect_failed;
}

void append_number(std::string& out, std::uint64_t n) {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, r.ptr);
}

/// The request head, or invalid_argument for a method or header that would break framing.
result<std::string> serialize(std::string_view method, const url& u, const fields& headers,
                              std::string_view body, const client_options& o) {
  if (!valid_token(method)) return std::make_error_code(std::errc::invalid_argument);
  std::string head;
  head.reserve(128 + u.target.size());
  head.append(method).append(" ").append(u.target).append(" HTTP/1.1\r\n");
  if (auto host = headers.get("host")) {
    if (!valid_value(*host)) return std::make_error_code(std::errc::invalid_argument);
    head.append("Host: ").append(*host).append("\r\n");
  } else {
    head.append("Host: ").append(u.authority()).append("\r\n");
  }
  if (!o.user_agent.empty() && !headers.contains("user-agent")) {
    head.append("User-Agent: ").append(o.user_agent).append("\r\n");
  }
  for (const auto& f : headers) {
    if (!valid_token(f.name) || !valid_value(f.value)) {
      return std::make_error_code(std::errc::invalid_argument);
    }
    // The client frames the body itself.
    if (iequals(f.name, "host") || iequals(f.name, "content-length") ||
        iequals(f.name, "transfer-encoding")) {
      continue;
    }
    head.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    head.append("Content-Length: ");
    append_number(head, body.size());
    head.append("\r\n");
  }
  head.append("\r\n");
  return head;
}

struct exchange_error {
  std::error_code ec;
  bool retryable = false;  // nothing of a response arrived: the server may have closed it idle
};

/// Writes the request and reads the response on a connected connection.
asio::awaitable<exchange_error> send_and_receive(client_connection& c, std::string_view head,
                                                 std::string_view body, bool head_request,
                                                 const chunk_handler* sink, bool may_follow) {
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
  const std::size_t total = head.size() + body.size();
  std::error_code ec;
  std::size_t n = c.socket.write_some(bufs, ec);  // usually the whole request, no suspension
  if (ec == asio::error::would_block) {
    ec = {};
    n = 0;
  }
  if (!ec && n < total) {
    if (n < head.size()) {
      bufs[0] += n;
    } else {
      bufs[1] += n - head.size();
      bufs[0] = asio::const_buffer();
    }
    std::tie(ec, std::ignore) = co_await asio::async_write(c.socket, bufs, use_nothrow);
  }
  if (ec) {
    if (c.timed_out) co_return exchange_error{client_errc::timeout};
    if (co_await cancelled()) co_return exchange_error{client_errc::cancelled};
    co_return exchange_error{client_errc::connection_closed, true};
  }

  auto& p = c.parser;
  p.start(head_request, sink == nullptr);
  for (;;) {
    if (c.begin == c.end) {
      c.begin = c.end = 0;
      auto [rec, got] =
          co_await c.socket.async_read_some(asio::buffer(c.buffer.get(), read_buffer_size), use_nothrow);
      if (c.timed_out) co_return exchange_error{client_errc::timeout};
      if (rec && rec != asio::error::eof) {
        if (co_await cancelled()) co_return exchange_error{client_errc::cancelled};
        co_return exchange_error{client_errc::connection_closed, !p.started()};
      }
      if (rec == asio::error::eof) {
        const auto r = p.finish();
        if (r.ev == detail::response_parser::event::message_done) co_return exchange_error{};
        co_return exchange_error{detail::errc_for(p.error()), !p.started()};
      }
      c.end = got;
    }
    const auto r = p.feed({c.buffer.get() + c.begin, c.end - c.begin});
    c.begin += r.consumed;
    if (r.ev == detail::response_parser::event::error) co_return exchange_error{detail::errc_for(p.error())};
    if (sink && p.head_done() && !p.message().body.empty()) {
      const auto code = static_cast<unsigned>(p.message().status);
      const bool followed = may_follow && code >= 300 && code < 400 &&
                            p.message().headers.contains("location");
      if (!followed) co_await (*sink)(p.message().body);
      p.message().body.clear();
    }
    if (r.ev == detail::response_parser::event::message_done) co_return exchange_error{};
  }
}

/// One request to one URL (no redirects), on a pooled connection.
asio::awaitable<result<response>> exchange(std::shared_ptr<detail::client_state> st, const url& u,
                                           std::string_view method, const fields& headers,
                                           std::string_view body, const chunk_handler* sink,
                                           clock::time_point deadline) {
  auto head = serialize(method, u, headers, body, st->options);
  if (!head) co_return head.error();
  const bool may_follow = st->options.follow_redirects > 0;
  auto& pool = st->pool_for(u);
  lease l(st, pool);
  if (auto ec = co_await acquire(l, deadline, !idempotent(method))) co_return ec;
  for (int attempt = 0;; ++attempt) {
    auto& c = *l.conn;
    if (!c.connected) {
      if (auto ec = co_await connect(c, u, deadline, st->options)) co_return ec;
    } else {
      c.watchdog.expires_at(deadline);
    }
    const auto e = co_await send_and_receive(c, *head, body, method == "HEAD", sink, may_follow);
    if (!e.ec) {
      l.reusable = c.parser.keep_alive() && c.begin == c.end && !c.timed_out;
      co_return std::move(c.parser.message());
    }
    // A kept-alive connection the server closed while it sat in the pool: one more try on a
    // new connection, when repeating the request cannot do harm.
    if (e.retryable && attempt == 0 && c.reused && idempotent(method)) {
      c.close();
      l.conn = st->fresh(pool);  // keeps the pool slot
      continue;
    }
    co_return e.ec;
  }
}

bool is_redirect(unsigned code) noexcept {
  return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

asio::awaitable<result<response>> perform(std::shared_ptr<detail::client_state> st, client_request req,
                                          const chunk_handler* sink) {
  const auto& o = st->options;
  const auto deadline = o.request_timeout.count() > 0 ? clock::now() + o.request_timeout : never;
  auto u = parse_url(req.url);
  if (!u) co_return u.error();
  for (unsigned hop = 0;; ++hop) {
    auto res = co_await exchange(st, *u, req.method, req.headers, req.body, sink, deadline);
    if (!res) co_return res;
    const auto code = static_cast<unsigned>(res->status);
    const auto location = res->headers.get("location");
    if (o.follow_redirects == 0 || !is_redirect(code) || !location) co_return res;
    if (hop >= o.follow_redirects) co_return client_errc::too_many_redirects;
    auto next = resolve_url(*u, *location);
    if (!next) co_return client_errc::protocol_error;  // a Location the client cannot follow
    if (code <= 303 && req.method != "HEAD") {
      req.method = "GET";
      req.body.clear();
      req.headers.erase("content-type");
    }
    if (next->host != u->host || next->port != u->port) {
      // Credentials and a pinned Host belong to the original server only.
      req.headers.erase("host");
      req.headers.erase("authorization");
      req.headers.erase("cookie");
    }
    u = std::move(next);
  }
}

/// Runs perform() with errors as values: socket operations report cancellation as an error
/// code instead of throwing, and the caller's setting is restored afterwards.
asio::awaitable<result<response>> run(std::shared_ptr<detail::client_state> st, client_request req,
                                      const chunk_handler* sink) {
  const bool throws = co_await asio::this_coro::throw_if_cancelled();
  co_await asio::this_coro::throw_if_cancelled(false);
  std::exception_ptr failure;
  try {
    auto res = co_await perform(std::move(st), std::move(req), sink);
    co_await asio::this_coro::throw_if_cancelled(throws);
    co_return res;
  } catch (...) {
    // Only a chunk handler (or memory exhaustion) throws; the lease has closed the connection.
    failure = std::current_exception();
  }
  co_await asio::this_coro::throw_if_cancelled(throws);
  std::rethrow_exception(failure);
}

}  // namespace

client::client(asio::any_io_executor executor, client_options options)
    : executor_(std::move(executor)), state_(std::make_shared<detail::client_state>(executor_, std::move(options))) {}

client::~client() {
  state_->closed = true;
  state_->close_idle();
}

// Requests are built as named locals: GCC 12 destroys a braced temporary passed straight
// into a coroutine twice (GCC bug 101367).
static client_request make_request(std::string method, std::string url, fields headers,
                                   std::string body) {
  client_request req;
  req.method = std::move(method);
  req.url = std::move(url);
  req.headers = std::move(headers);
  req.body = std::move(body);
  return req;
}

static fields content_type_field(std::string_view content_type) {
  fields h;
  h.add("Content-Type", content_type);
  return h;
}

asio::awaitable<result<response>> client::get(std::string url, fields headers) {
  auto req = make_request("GET", std::move(url), std::move(headers), {});
  co_return co_await run(state_, std::move(req), nullptr);
}

asio::awaitable<result<response>> client::post(std::string url, std::string body,
                                               std::string content_type) {
  auto req = make_request("POST", std::move(url), content_type_field(content_type), std::move(body));
  co_return co_await run(state_, std::move(req), nullptr);
}

asio::awaitable<result<response>> client::put(std::string url, std::string body,
                                              std::string content_type) {
  auto req = make_request("PUT", std::move(url), content_type_field(content_type), std::move(body));
  co_return co_await run(state_, std::move(req), nullptr);
}

asio::awaitable<result<response>> client::del(std::string url, fields headers) {
  auto req = make_request("DELETE", std::move(url), std::move(headers), {});
  co_return co_await run(state_, std::move(req), nullptr);
}

asio::awaitable<result<response>> client::request(std::string method, std::string url,
                                                  fields headers, std::string body) {
  auto req = make_request(std::move(method), std::move(url), std::move(headers), std::move(body));
  co_return co_await run(state_, std::move(req), nullptr);
}

asio::awaitable<result<response>> client::request(client_request req) {
  co_return co_await run(state_, std::move(req), nullptr);
}

asio::awaitable<result<response>> client::stream(client_request req, chunk_handler on_chunk) {
  co_return co_await run(state_, std::move(req), &on_chunk);
}

void client::close_idle() { state_->close_idle(); }

std::size_t client::open_connections() const noexcept {
  std::size_t n = 0;
  for (const auto& [key, p] : state_->pools) n += p.open;
  return n;
}

std::size_t client::idle_connections() const noexcept {
  std::size_t n = 0;
  for (const auto& [key, p] : state_->pools) n += p.idle.size();
  return n;
}

const client_options& client::options() const noexcept { return state_->options; }

}  // namespace coronet::http
