// http::client: a request is resolved against its URL, takes a pooled connection (see
// client_pool.hpp), is written and answered on it (client_connection.hpp), and follows
// redirects as configured. Everything runs on the client's executor: no locks.
//
// Timeouts use the connection's watchdog, as the server does: while a connection is in use
// it enforces the request's deadline (closing the socket); while it sits in the pool, the
// idle expiry.
#include "client_pool.hpp"
#include "client_tls.hpp"
#include "serializer.hpp"

#include <coronet/http/client.hpp>

#include <asio/this_coro.hpp>

namespace coronet::http {

namespace {

using clock = std::chrono::steady_clock;
using detail::client_connection;
using detail::host_pool;
using detail::lease;

constexpr auto never = clock::time_point::max();

bool idempotent(std::string_view m) noexcept {
  return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" ||
         m == "TRACE";
}

/// The request head, or invalid_argument for a method or field that would break framing.
result<std::string> request_head(std::string_view method, const url& u, const fields& headers,
                                 std::string_view body, const client_options& o) {
  detail::framing f{.body = detail::framing::body_kind::none};
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    f.body = detail::framing::body_kind::length;
    f.content_length = body.size();
  }
  std::string head;
  const auto authority = u.authority();
  const auto host = headers.get("host").value_or(std::string_view(authority));
  if (!detail::write_request_head(head, method, u.target, host, o.user_agent, headers, f)) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  return head;
}

/// One request to one URL (no redirects), on a pooled connection.
asio::awaitable<result<response>> exchange(std::shared_ptr<detail::client_state> st, const url& u,
                                           std::string_view method, const fields& headers,
                                           std::string_view body, const chunk_handler* sink,
                                           clock::time_point deadline) {
  auto head = request_head(method, u, headers, body, st->options);
  if (!head) co_return head.error();
  const bool may_follow = st->options.follow_redirects > 0;
  auto& pool = st->pool_for(u);
  lease l(st, pool);
  if (auto ec = co_await detail::acquire(l, deadline, !idempotent(method))) co_return ec;
  for (int attempt = 0;; ++attempt) {
    auto& c = *l.conn;
    if (!c.connected) {
      if (auto ec = co_await detail::connect(c, u, deadline, st->options, *st)) co_return ec;
    } else {
      c.watchdog.expires_at(deadline);
    }
    const auto e = co_await detail::send_and_receive(c, *head, body, method == "HEAD", sink, may_follow);
    if (!e.ec) {
      l.reusable = c.parser.keep_alive() && c.begin == c.end && !c.timed_out;
#if CORONET_HAS_TLS
      detail::remember_session(c);
#endif
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
    if (!next->same_origin(*u)) {
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
    : executor_(std::move(executor)), state_(std::make_shared<detail::client_state>(executor_, std::move(options))) {
  detail::load_client_tls(*state_);
}

client::client(asio::any_io_executor executor) : client(std::move(executor), client_options{}) {}

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
