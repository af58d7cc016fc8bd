// http::client connecting to a name that resolves to several addresses: it tries each in
// the order the resolver gives them and fails only when every one has failed, as a name with
// an IPv6 and an IPv4 address needs when the server listens on one family only.
//
// Which addresses a name has is up to the machine (/etc/hosts, DNS), so this program answers
// for names under ".addresses.test" (RFC 6761 keeps .test for such uses) itself: it defines
// getaddrinfo, which the executable's own symbol makes the one Asio's resolver calls, and
// hands every other name to the C library's. The connections are real, on loopback: an
// address that "refuses" is one where a socket is bound but not listening.
#include "../support/run_coroutine.hpp"

#include <coronet/http/client.hpp>
#include <coronet/http/client_error.hpp>
#include <coronet/http/router.hpp>
#include <coronet/http/server.hpp>
#include <coronet/runtime.hpp>

#include <asio/ip/tcp.hpp>

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace http = coronet::http;
using namespace std::chrono_literals;
using asio::ip::tcp;

namespace {

constexpr std::string_view staged_suffix = ".addresses.test";
std::mutex staged_mutex;
std::map<std::string, std::vector<std::string>> staged;  // name -> addresses, in order

void stage(const std::string& name, std::vector<std::string> addresses) {
  std::lock_guard lock(staged_mutex);
  staged[name] = std::move(addresses);
}

using getaddrinfo_fn = int (*)(const char*, const char*, const addrinfo*, addrinfo**);

getaddrinfo_fn libc_getaddrinfo() {
  static const auto fn = reinterpret_cast<getaddrinfo_fn>(::dlsym(RTLD_NEXT, "getaddrinfo"));
  return fn;
}

}  // namespace

// A staged name gives its numeric addresses, each looked up by the C library itself, chained
// in the staged order. The C library's freeaddrinfo frees such a chain: it frees entry by
// entry.
extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                           addrinfo** res) noexcept {
  const std::string_view name = node != nullptr ? node : "";
  if (!name.ends_with(staged_suffix)) return libc_getaddrinfo()(node, service, hints, res);
  std::vector<std::string> addresses;
  {
    std::lock_guard lock(staged_mutex);
    const auto it = staged.find(std::string(name));
    if (it == staged.end()) return EAI_NONAME;
    addresses = it->second;
  }
  addrinfo numeric = hints != nullptr ? *hints : addrinfo{};
  numeric.ai_flags = (numeric.ai_flags & ~AI_ADDRCONFIG) | AI_NUMERICHOST;
  addrinfo* head = nullptr;
  addrinfo** tail = &head;
  for (const auto& address : addresses) {
    addrinfo* one = nullptr;
    if (libc_getaddrinfo()(address.c_str(), service, &numeric, &one) != 0) continue;
    *tail = one;
    while (*tail != nullptr) tail = &(*tail)->ai_next;
  }
  if (head == nullptr) return EAI_NONAME;
  *res = head;
  return 0;
}

namespace {

using coronet_test::run;

// An HTTP server on one loopback address answering GET / with "served".
class one_address_server {
 public:
  explicit one_address_server(const std::string& address) {
    http::router routes;
    routes.get("/", [](http::request&) -> asio::awaitable<http::response> {
      co_return http::response::text("served");
    });
    server_.emplace(rt_, std::move(routes));
    server_->listen(address, 0);
    runner_ = std::thread([this] { rt_.run(); });
  }
  ~one_address_server() {
    rt_.stop();
    runner_.join();
  }
  std::uint16_t port() const { return server_->port(); }

 private:
  coronet::runtime rt_{{.threads = 1, .handle_signals = false}};
  std::optional<http::server> server_;
  std::thread runner_;
};

// A socket bound to address:port and not listening: connecting there is refused, and no
// other program can start listening there meanwhile.
tcp::acceptor refusing(asio::io_context& ctx, const std::string& address, std::uint16_t port) {
  tcp::acceptor a(ctx);
  const tcp::endpoint ep(asio::ip::make_address(address), port);
  a.open(ep.protocol());
  a.bind(ep);
  return a;
}

// A server on one loopback address and a refusing socket on the other at the same port.
// Ports are taken per address, so another program may hold the server's port on the other
// address: then both start again on a new port.
struct served_and_refused {
  std::unique_ptr<one_address_server> server;
  tcp::acceptor refused;
};

served_and_refused serve_and_refuse(asio::io_context& ctx, const std::string& served,
                                    const std::string& refused) {
  for (int attempt = 0;; ++attempt) {
    auto server = std::make_unique<one_address_server>(served);
    try {
      auto socket = refusing(ctx, refused, server->port());
      return {std::move(server), std::move(socket)};
    } catch (const std::system_error& e) {
      if (e.code() != asio::error::address_in_use || attempt == 20) throw;
    }
  }
}

// Two refusing sockets, on 127.0.0.1 and ::1, at one port.
std::pair<tcp::acceptor, tcp::acceptor> refuse_on_both(asio::io_context& ctx) {
  for (int attempt = 0;; ++attempt) {
    auto first = refusing(ctx, "127.0.0.1", 0);
    try {
      auto second = refusing(ctx, "::1", first.local_endpoint().port());
      return {std::move(first), std::move(second)};
    } catch (const std::system_error& e) {
      if (e.code() != asio::error::address_in_use || attempt == 20) throw;
    }
  }
}

// Containers may run without IPv6: the tests that need ::1 skip there.
bool has_ipv6_loopback() {
  asio::io_context ctx;
  tcp::acceptor a(ctx);
  std::error_code ec;
  a.open(tcp::v6(), ec);
  if (!ec) a.bind(tcp::endpoint(asio::ip::address_v6::loopback(), 0), ec);
  return !ec;
}

std::string url(const std::string& host, std::uint16_t port) {
  return "http://" + host + ":" + std::to_string(port) + "/";
}

TEST(client_addresses, an_ipv6_address_that_refuses_falls_back_to_the_ipv4_one) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback (::1) here";
  asio::io_context ctx;
  const auto pair = serve_and_refuse(ctx, "127.0.0.1", "::1");
  const auto& server = *pair.server;
  stage("v6-first.addresses.test", {"::1", "127.0.0.1"});
  stage("v6-only.addresses.test", {"::1"});

  http::client c(ctx.get_executor());
  // The first address alone is refused: whatever succeeds below came from the second.
  EXPECT_EQ(run(ctx, c.get(url("v6-only.addresses.test", server.port()))).error(),
            http::client_errc::connection_refused);
  const auto res = run(ctx, c.get(url("v6-first.addresses.test", server.port())));
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->body, "served");
}

TEST(client_addresses, an_ipv4_address_that_refuses_falls_back_to_the_ipv6_one) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback (::1) here";
  asio::io_context ctx;
  const auto pair = serve_and_refuse(ctx, "::1", "127.0.0.1");
  const auto& server = *pair.server;
  stage("v4-first.addresses.test", {"127.0.0.1", "127.0.0.1", "::1"});

  http::client c(ctx.get_executor());
  const auto res = run(ctx, c.get(url("v4-first.addresses.test", server.port())));
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->body, "served");
}

TEST(client_addresses, a_name_whose_every_address_refuses_fails_with_connection_refused) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback (::1) here";
  asio::io_context ctx;
  const auto closed = refuse_on_both(ctx);
  const auto port = closed.first.local_endpoint().port();
  stage("all-closed.addresses.test", {"::1", "127.0.0.1"});

  http::client c(ctx.get_executor());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(run(ctx, c.get(url("all-closed.addresses.test", port))).error(),
            http::client_errc::connection_refused);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

// An address that never answers (its SYNs dropped) takes only its share of connect_timeout
// and leaves the rest to the next one.
TEST(client_addresses, an_address_that_never_answers_leaves_time_for_the_next) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback (::1) here";
  asio::io_context ctx;
  // A listener that never accepts, its queue full: the kernel drops further SYNs.
  auto pair = serve_and_refuse(ctx, "::1", "127.0.0.1");
  const auto& server = *pair.server;
  auto& silent = pair.refused;
  silent.listen(0);
  std::vector<int> fillers;  // plain non-blocking sockets: Asio's connect would wait
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server.port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(50ms);
  stage("silent-first.addresses.test", {"127.0.0.1", "::1"});

  http::client c(ctx.get_executor(), {.connect_timeout = 1s});
  const auto t0 = std::chrono::steady_clock::now();
  const auto res = run(ctx, c.get(url("silent-first.addresses.test", server.port())));
  const auto took = std::chrono::steady_clock::now() - t0;
  for (int fd : fillers) ::close(fd);
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->body, "served");
  EXPECT_GE(took, 400ms) << "the silent address was tried first, for half the second";
  EXPECT_LT(took, 1s);
}

// The machine's own resolver: localhost reaches a server on 127.0.0.1 also where it resolves
// to ::1 first (most /etc/hosts list "::1 localhost" too).
TEST(client_addresses, localhost_reaches_a_server_on_127_0_0_1) {
  one_address_server server("127.0.0.1");
  asio::io_context ctx;
  http::client c(ctx.get_executor());
  const auto res = run(ctx, c.get(url("localhost", server.port())));
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->body, "served");
}

}  // namespace
