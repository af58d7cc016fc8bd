#include "client_connection.hpp"
#include "client_tls.hpp"

#if CORONET_HAS_TLS
#include "tls/io.hpp"
#endif

#include <asio/this_coro.hpp>
#include <asio/write.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <vector>

namespace coronet::http::detail {

using asio::ip::tcp;
using clock = std::chrono::steady_clock;
using coronet::detail::use_nothrow;

void client_connection::close() noexcept {
#if CORONET_HAS_TLS
  if (tls) {
    if (connected && socket.is_open()) tls::detail::send_close_notify(socket, *tls);
    tls.reset();
  }
#endif
  std::error_code ignored;
  socket.close(ignored);
}

bool looks_alive(tcp::socket& s) noexcept {
  char byte;
  const auto n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

asio::awaitable<bool> cancelled() {
  auto cs = co_await asio::this_coro::cancellation_state;
  co_return cs.cancelled() != asio::cancellation_type::none;
}

asio::awaitable<std::error_code> connect(client_connection& c, const url& u,
                                         clock::time_point deadline, const client_options& o,
                                         client_state& st) {
  const auto connect_deadline = clock::now() + o.connect_timeout;
  const bool connect_bound = connect_deadline < deadline;
  const auto give_up = std::min(connect_deadline, deadline);
  c.watchdog.expires_at(give_up);
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
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    c.close();
    // Each address gets an equal share of the time left, the last one all of it: one that
    // never answers (its SYNs dropped: a host gone, a firewall, IPv6 without a route) does
    // not use up the time the addresses after it need.
    const auto now = clock::now();
    const auto attempt_end = i + 1 == endpoints.size() || give_up <= now
                                 ? give_up
                                 : now + (give_up - now) / static_cast<int>(endpoints.size() - i);
    c.watchdog.expires_at(attempt_end);
    auto [cec] = co_await c.socket.async_connect(endpoints[i], use_nothrow);
    if (c.timed_out && attempt_end == give_up) co_return timed_out;
    if (co_await cancelled()) co_return client_errc::cancelled;
    if (c.timed_out) {  // this address's share is over: the next one
      c.timed_out = false;
      last = asio::error::timed_out;
      continue;
    }
    if (!cec) {
      c.watchdog.expires_at(give_up);  // a TLS handshake has the rest of the time
      std::error_code ignored;
      c.socket.non_blocking(true, ignored);
      c.socket.set_option(tcp::no_delay(true), ignored);
#if CORONET_HAS_TLS
      if (u.secure) {
        const auto tec = co_await start_tls(c, u, st);
        if (c.timed_out) co_return timed_out;
        if (co_await cancelled()) co_return client_errc::cancelled;
        if (tec) {
          c.close();
          co_return tec;
        }
      }
#else
      (void)st;
      if (u.secure) co_return client_errc::unsupported_scheme;
#endif
      c.connected = true;
      c.watchdog.expires_at(deadline);
      co_return std::error_code{};
    }
    last = cec;
  }
  if (last == asio::error::connection_refused) co_return client_errc::connection_refused;
  co_return client_errc::connect_failed;
}

asio::awaitable<exchange_error> send_and_receive(client_connection& c, std::string_view head,
                                                 std::string_view body, bool head_request,
                                                 const chunk_handler* sink, bool may_follow) {
  std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
  const std::size_t total = head.size() + body.size();
  std::error_code ec;
  std::size_t n = 0;
#if CORONET_HAS_TLS
  if (c.tls) {
    ec = co_await tls::detail::write(c.socket, *c.tls, bufs);
    n = total;
  } else
#endif
  n = c.socket.write_some(bufs, ec);  // usually the whole request, no suspension
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
      const auto into = asio::buffer(c.buffer.get(), client_connection::read_buffer_size);
#if CORONET_HAS_TLS
      auto [rec, got] = c.tls ? co_await tls::detail::read_some(c.socket, *c.tls, into)
                              : co_await c.socket.async_read_some(into, use_nothrow);
#else
      auto [rec, got] = co_await c.socket.async_read_some(into, use_nothrow);
#endif
      if (c.timed_out) co_return exchange_error{client_errc::timeout};
      if (rec && rec != asio::error::eof) {
        if (co_await cancelled()) co_return exchange_error{client_errc::cancelled};
        co_return exchange_error{client_errc::connection_closed, !p.started()};
      }
      if (rec == asio::error::eof) {
        const auto r = p.finish();
        if (r.ev == response_parser::event::message_done) co_return exchange_error{};
        co_return exchange_error{errc_for(p.error()), !p.started()};
      }
      c.end = got;
    }
    const auto r = p.feed({c.buffer.get() + c.begin, c.end - c.begin});
    c.begin += r.consumed;
    if (r.ev == response_parser::event::error) co_return exchange_error{errc_for(p.error())};
    if (sink && p.head_done() && !p.message().body.empty()) {
      const auto code = static_cast<unsigned>(p.message().status);
      const bool followed = may_follow && code >= 300 && code < 400 &&
                            p.message().headers.contains("location");
      if (!followed) co_await (*sink)(p.message().body);
      p.message().body.clear();
    }
    if (r.ev == response_parser::event::message_done) co_return exchange_error{};
  }
}

}  // namespace coronet::http::detail
