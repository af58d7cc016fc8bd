// coronet::listener over real loopback sockets: one port, HTTP/1.1 connections served by the
// http::server and connections opening with the HTTP/2 preface handed to on_http2, from
// several client threads at once against a runtime of two threads (one acceptor each), with
// the preface arriving whole, split, or byte by byte. Then a stop with connections still
// being sniffed. Built without gRPC: the HTTP/2 side is a plain socket handler.
#include <coronet/http/server.hpp>
#include <coronet/listener.hpp>
#include <coronet/runtime.hpp>

#include <asio/read.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using asio::ip::tcp;
namespace http = coronet::http;

constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// The empty SETTINGS frame a client must send right after the preface.
constexpr std::string_view settings{"\0\0\0\4\0\0\0\0\0", 9};
const std::string opening = std::string(preface) + std::string(settings);

// Sends `parts` one write each (with a pause between them, so the listener sees them
// arrive apart), then reads until the server closes.
std::string exchange(std::uint16_t port, const std::vector<std::string_view>& parts) {
  asio::io_context ctx;
  tcp::socket s(ctx);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  s.set_option(tcp::no_delay(true));
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    asio::write(s, asio::buffer(parts[i]));
  }
  std::string reply;
  std::error_code ec;
  asio::read(s, asio::dynamic_buffer(reply), ec);
  return reply;
}

TEST(listener, one_port_serves_http1_and_hands_http2_over_from_many_threads) {
  coronet::runtime rt({.threads = 2, .handle_signals = false});
  http::router routes;
  std::atomic<int> http1_served{0};
  routes.get("/hello", [&](http::request&) -> asio::awaitable<http::response> {
    http1_served.fetch_add(1, std::memory_order_relaxed);
    co_return http::response::text("hello");
  });
  http::server web(rt, std::move(routes));
  coronet::listener port(rt, web, {.sniff_timeout = std::chrono::seconds(5)});
  std::atomic<int> http2_handed{0};
  port.on_http2([&](tcp::socket s) {
    // The preface is still unread: the handler sees the connection from its first byte.
    std::string head(opening.size(), '\0');
    std::error_code ec;
    asio::read(s, asio::buffer(head), ec);
    if (!ec && head == opening) {
      http2_handed.fetch_add(1, std::memory_order_relaxed);
      asio::write(s, asio::buffer(std::string_view("h2 ok")), ec);
    }
  });
  port.listen("127.0.0.1", 0);
  const auto p = port.port();
  std::thread runner([&] { rt.run(); });

  constexpr int clients = 4;
  constexpr int rounds = 12;
  std::atomic<int> http1_ok{0}, http2_ok{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int r = 0; r < rounds; ++r) {
        switch ((c + r) % 4) {
          case 0: {
            const auto reply = exchange(p, {"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"});
            if (reply.starts_with("HTTP/1.1 200") && reply.ends_with("hello")) ++http1_ok;
            break;
          }
          case 1:  // "P" alone is a prefix of both protocols' openings: wait for more.
            if (exchange(p, {"P", "OST /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"})
                    .starts_with("HTTP/1.1 405"))
              ++http1_ok;
            break;
          case 2:
            if (exchange(p, {opening}) == "h2 ok") ++http2_ok;
            break;
          default:
            // In pieces, SETTINGS apart from the preface: the listener waits for all of it.
            if (exchange(p, {preface.substr(0, 3), preface.substr(3, 10), preface.substr(13), settings}) ==
                "h2 ok")
              ++http2_ok;
            break;
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  // Connections still being sniffed when the runtime stops: one silent, one mid-preface.
  asio::io_context ctx;
  tcp::socket silent(ctx), partial(ctx);
  silent.connect({asio::ip::make_address("127.0.0.1"), p});
  partial.connect({asio::ip::make_address("127.0.0.1"), p});
  asio::write(partial, asio::buffer(preface.substr(0, 5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  rt.stop();
  runner.join();

  EXPECT_EQ(http1_ok.load(), clients * rounds / 2);
  EXPECT_EQ(http2_ok.load(), clients * rounds / 2);
  EXPECT_EQ(http2_handed.load(), clients * rounds / 2);
  EXPECT_EQ(http1_served.load(), clients * rounds / 4);  // the POSTs are answered 405
}

}  // namespace
