// A served request allocates nothing: the server's steady state reuses its per-request state,
// its answer's field lists and its coroutine frames, whatever the load shape. This is what
// keeps the per-request cost flat, and it breaks silently: one local too many in the
// connection loop's coroutine puts its frame past the 1,020 bytes Asio's frame cache takes,
// and every request then pays for malloc and free. Counted here over real loopback sockets,
// with a global operator new that counts while a test asks it to.
//
// Frame sizes depend on the optimizer: the counts are checked only in an optimized build
// without sanitizers (the project's release build); elsewhere the tests skip.
#include <coronet/http/router.hpp>
#include <coronet/http/server.hpp>
#include <coronet/runtime.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string_view>
#include <thread>

namespace {

std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};

void* counted_new(std::size_t n) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t n) { return counted_new(n); }
void* operator new[](std::size_t n) { return counted_new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

namespace http = coronet::http;

#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
constexpr bool checked_build = true;
#else
constexpr bool checked_build = false;
#endif

constexpr std::string_view answer_body = "Hello, World!";

// A blocking loopback client that allocates nothing itself: fixed buffers, plain sockets.
class raw_client {
 public:
  explicit raw_client(unsigned short port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    const int one = 1;
    if (ok_) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~raw_client() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  /// Sends `depth` requests for `path` at once and reads as many complete answers.
  bool exchange(std::string_view path, int depth) {
    char req[1024];
    std::size_t len = 0;
    for (int i = 0; i < depth; ++i) {
      const int n = std::snprintf(req + len, sizeof req - len, "GET %.*s HTTP/1.1\r\nHost: t\r\n\r\n",
                                  static_cast<int>(path.size()), path.data());
      if (n <= 0 || static_cast<std::size_t>(n) >= sizeof req - len) return false;
      len += static_cast<std::size_t>(n);
    }
    if (!ok_ || ::send(fd_, req, len, MSG_NOSIGNAL) != static_cast<ssize_t>(len)) return false;
    for (int i = 0; i < depth; ++i) {
      if (!read_answer()) return false;
    }
    return true;
  }

 private:
  // One answer: its head, then the body its Content-Length announces, which must be ours.
  bool read_answer() {
    for (;;) {
      const std::string_view have(buf_, end_);
      if (const auto head_end = have.find("\r\n\r\n"); head_end != std::string_view::npos) {
        const auto at = have.find("Content-Length: ");
        if (at == std::string_view::npos || at > head_end) return false;
        const auto body_size = std::strtoul(buf_ + at + 16, nullptr, 10);
        const auto total = head_end + 4 + body_size;
        if (end_ >= total) {
          const bool good = have.starts_with("HTTP/1.1 200 ") && have.substr(head_end + 4, body_size) == answer_body;
          std::memmove(buf_, buf_ + total, end_ - total);
          end_ -= total;
          return good;
        }
      }
      if (end_ == sizeof buf_) return false;
      const auto n = ::recv(fd_, buf_ + end_, sizeof buf_ - end_, 0);
      if (n <= 0) return false;
      end_ += static_cast<std::size_t>(n);
    }
  }

  int fd_ = -1;
  bool ok_ = false;
  char buf_[16384];
  std::size_t end_ = 0;
};

class http_alloc : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!checked_build) GTEST_SKIP() << "frame sizes are checked in an optimized build without sanitizers";
    http::router r;
    r.get("/", [](http::request&) -> asio::awaitable<http::response> {
      co_return http::response::text(std::string(answer_body));
    });
    // Three coroutine middlewares, as a deployment might stack them: three more frames per
    // request, all from the cache.
    auto layered = r.group("/layered");
    for (int i = 0; i < 3; ++i) {
      layered.use([](http::request& req, http::next_handler next) -> asio::awaitable<http::response> {
        auto res = co_await next(req);
        res.headers.set("X-Layer", "1");
        co_return res;
      });
    }
    layered.get("", [](http::request&) -> asio::awaitable<http::response> {
      co_return http::response::text(std::string(answer_body));
    });
    // Hooks, and a path parameter.
    auto hooked = r.group("/hooked");
    hooked.before([](http::request& req) -> std::optional<http::response> {
      if (req.headers.get("host")) return std::nullopt;
      return http::response::text("no host", http::status::bad_request);
    });
    hooked.after([](const http::request&, http::response& res) { res.headers.set("X-Frame-Options", "DENY"); });
    hooked.get("/{id}", [](http::request&) -> asio::awaitable<http::response> {
      co_return http::response::text(std::string(answer_body));
    });
    server_.emplace(rt_, std::move(r));
    server_->listen("127.0.0.1", 0);
    thread_ = std::thread([this] { rt_.run(); });
  }

  void TearDown() override {
    counting = false;
    if (thread_.joinable()) {
      rt_.stop();
      thread_.join();
    }
  }

  // Allocations made while `requests` more requests for `path` are served, `depth` at a
  // time on each of `connections` connections (after as many to warm up).
  std::size_t allocations_serving(std::string_view path, int connections, int depth, int requests) {
    std::optional<raw_client> clients[8];
    for (int c = 0; c < connections; ++c) clients[c].emplace(server_->port());
    const auto round = [&] {
      for (int i = 0; i < requests / depth / connections; ++i) {
        for (int c = 0; c < connections; ++c) {
          if (!clients[c]->exchange(path, depth)) return false;
        }
      }
      return true;
    };
    EXPECT_TRUE(round()) << "warming up";
    allocations = 0;
    counting = true;
    EXPECT_TRUE(round());
    counting = false;
    return allocations.load();
  }

  coronet::runtime rt_{{.threads = 1, .handle_signals = false}};
  std::optional<http::server> server_;
  std::thread thread_;
};

TEST_F(http_alloc, a_keep_alive_request_allocates_nothing) {
  EXPECT_EQ(allocations_serving("/", 1, 1, 2000), 0u);
}

TEST_F(http_alloc, keep_alive_requests_on_several_connections_allocate_nothing) {
  EXPECT_EQ(allocations_serving("/", 8, 1, 2000), 0u);
}

TEST_F(http_alloc, pipelined_requests_allocate_nothing) {
  EXPECT_EQ(allocations_serving("/", 2, 16, 3200), 0u);
}

TEST_F(http_alloc, three_coroutine_middlewares_allocate_nothing) {
  EXPECT_EQ(allocations_serving("/layered", 1, 1, 2000), 0u);
  EXPECT_EQ(allocations_serving("/layered", 2, 16, 3200), 0u);
}

TEST_F(http_alloc, hooks_and_path_parameters_allocate_nothing) {
  EXPECT_EQ(allocations_serving("/hooked/42", 1, 1, 2000), 0u);
}

}  // namespace
