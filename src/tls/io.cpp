#include "io.hpp"

#include <asio/write.hpp>

namespace coronet::tls::detail {

using coronet::detail::use_nothrow;

asio::awaitable<std::error_code> flush(asio::ip::tcp::socket& s, session& t) {
  while (t.output().size() > 0) {
    // Most answers fit the socket's send buffer: one write_some, no wait.
    std::error_code ec;
    const auto n = s.write_some(t.output(), ec);
    if (!ec) {
      t.consume_output(n);
      continue;
    }
    if (ec != asio::error::would_block) co_return ec;
    auto [wec, written] = co_await asio::async_write(s, t.output(), use_nothrow);
    t.consume_output(written);
    if (wec) co_return wec;
  }
  co_return std::error_code();
}

asio::awaitable<std::error_code> receive(asio::ip::tcp::socket& s, session& t) {
  auto [ec, n] = co_await s.async_read_some(t.input_space(), use_nothrow);
  if (ec) co_return ec;
  t.commit_input(n);
  co_return std::error_code();
}

asio::awaitable<std::error_code> handshake(asio::ip::tcp::socket& s, session& t) {
  for (;;) {
    const auto w = t.handshake();
    // Each flight goes out before waiting for the answer to it (and an alert before failing).
    if (const auto ec = co_await flush(s, t); ec && w != want::failed) co_return ec;
    switch (w) {
      case want::nothing:
        co_return std::error_code();
      case want::input:
        if (const auto ec = co_await receive(s, t)) co_return ec;
        break;
      case want::closed:
        co_return asio::error::eof;
      case want::failed:
        co_return t.error();
    }
  }
}

asio::awaitable<std::pair<std::error_code, std::size_t>> read_some(asio::ip::tcp::socket& s, session& t,
                                                                  asio::mutable_buffer into) {
  for (;;) {
    std::size_t n = 0;
    const auto w = t.read(into, n);
    // Reading can produce output: a TLS 1.3 key update's answer, a late alert.
    if (t.output().size() > 0) {
      if (const auto ec = co_await flush(s, t)) co_return std::pair{ec, n};
    }
    switch (w) {
      case want::nothing:
        co_return std::pair{std::error_code(), n};
      case want::input:
        if (const auto ec = co_await receive(s, t)) co_return std::pair{ec, std::size_t{0}};
        break;
      case want::closed:
        co_return std::pair{std::error_code(asio::error::eof), std::size_t{0}};
      case want::failed:
        co_return std::pair{t.error(), std::size_t{0}};
    }
  }
}

asio::awaitable<std::error_code> write(asio::ip::tcp::socket& s, session& t,
                                       std::span<const asio::const_buffer> plain) {
  if (!t.write(plain)) co_return t.error();
  co_return co_await flush(s, t);
}

void send_close_notify(asio::ip::tcp::socket& s, session& t) noexcept {
  t.shutdown();
  std::error_code ec;
  while (t.output().size() > 0) {
    const auto n = s.write_some(t.output(), ec);
    if (ec) return;
    t.consume_output(n);
  }
}

}  // namespace coronet::tls::detail
