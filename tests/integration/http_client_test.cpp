// Integration tests of http::client over real sockets on 127.0.0.1, against real peers: an
// in-process coronet server, raw Asio sockets that misbehave on purpose, Python's http.server
// (HTTP/1.0, close-delimited bodies) and nginx (skipped when it is not installed).
//
// The client runs on the test thread's io_context; the coronet server on a runtime thread.
#include "../support/run_coroutine.hpp"

#include <coronet/coronet.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/streambuf.hpp>
#include <asio/write.hpp>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

namespace http = coronet::http;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

using coronet_test::run;

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

std::string body_of(const http::result<http::response>& r) { return r ? r->body : r.error().message(); }
unsigned status_of(const http::result<http::response>& r) {
  return r ? static_cast<unsigned>(r->status) : 0;
}

// The in-process coronet server every feature test talks to.
class client_test : public ::testing::Test {
 protected:
  void start(http::server_options opts = {}) {
    http::router r;
    r.get("/", [](http::request&) -> asio::awaitable<http::response> {
      co_return http::response::text("Hello, World!");
    });
    r.get("/inspect", [](http::request& req) -> asio::awaitable<http::response> {
      std::string out = req.method + " " + req.target + "\n";
      for (const auto& f : req.headers) out += f.name + ": " + f.value + "\n";
      co_return http::response::text(std::move(out));
    });
    for (auto method : {"POST", "PUT", "DELETE"}) {
      r.add(method, "/echo", [](http::request& req) -> asio::awaitable<http::response> {
        auto res = http::response::bytes(req.method + " " + req.body);
        if (auto t = req.headers.get("content-type")) res.headers.set("Content-Type", *t);
        co_return res;
      });
    }
    r.get("/slow/{ms}", [this](http::request& req) -> asio::awaitable<http::response> {
      note_connections();
      co_await sleep_for(std::chrono::milliseconds(std::atoi(std::string(req.param("ms")).c_str())));
      co_return http::response::text("slow " + std::string(req.param("ms")));
    });
    r.get("/n/{i}", [this](http::request& req) -> asio::awaitable<http::response> {
      note_connections();
      co_return http::response::text("n " + std::string(req.param("i")));
    });
    r.get("/stream/{n}", [](http::request& req) -> asio::awaitable<http::response> {
      const int n = std::atoi(std::string(req.param("n")).c_str());
      co_return http::response::streamed([n](http::body_writer& w) -> asio::awaitable<void> {
        for (int i = 0; i < n; ++i) {
          if (co_await w.write("chunk " + std::to_string(i) + "\n")) co_return;
        }
      }, "text/plain");
    });
    r.get("/big/{kib}", [](http::request& req) -> asio::awaitable<http::response> {
      const auto kib = std::strtoul(std::string(req.param("kib")).c_str(), nullptr, 10);
      co_return http::response::bytes(std::string(kib * 1024, 'x'));
    });
    auto redirect = [](http::request& req) -> asio::awaitable<http::response> {
      const auto code = std::atoi(std::string(req.param("code")).c_str());
      auto res = http::response::empty(static_cast<http::status>(code));
      const bool keeps_method = code == 307 || code == 308;
      res.headers.add("Location", keeps_method && req.method == "POST" ? "/echo" : "/inspect");
      co_return res;
    };
    r.get("/redirect/{code}", redirect);
    r.post("/redirect/{code}", redirect);
    r.get("/loop", [](http::request&) -> asio::awaitable<http::response> {
      auto res = http::response::empty(http::status::found);
      res.headers.add("Location", "/loop");
      co_return res;
    });
    server_.emplace(rt_, std::move(r), opts);
    server_->listen("127.0.0.1", 0);
    thread_ = std::thread([this] { rt_.run(); });
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  void TearDown() override {
    if (thread_.joinable()) {
      rt_.stop();
      thread_.join();
    }
  }

  void note_connections() {
    const auto n = server_->connections();
    auto seen = max_seen_.load();
    while (n > seen && !max_seen_.compare_exchange_weak(seen, n)) {
    }
  }

  std::string url(std::string_view path) const { return base_ + std::string(path); }

  coronet::runtime rt_{{.threads = 1, .handle_signals = false}};
  std::optional<http::server> server_;
  std::thread thread_;
  std::string base_;
  std::atomic<std::size_t> max_seen_{0};
  asio::io_context ctx_;
};

TEST_F(client_test, get_returns_status_headers_and_body) {
  start();
  http::client c(ctx_.get_executor());
  auto res = run(ctx_, c.get(url("/")));
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->status, http::status::ok);
  EXPECT_EQ(res->body, "Hello, World!");
  EXPECT_EQ(res->headers.get("content-type").value_or(""), "text/plain; charset=utf-8");
}

// The form the header's example shows: a client made inside a coroutine from the awaited
// executor, with default options, used and destroyed there.
TEST_F(client_test, a_client_made_inside_a_coroutine_with_default_options) {
  start();
  const auto body = run(ctx_, [this]() -> asio::awaitable<std::string> {
    http::client c(co_await asio::this_coro::executor);
    auto res = co_await c.get(url("/"));
    co_return res ? res->body : res.error().message();
  }());
  EXPECT_EQ(body, "Hello, World!");
}

TEST_F(client_test, requests_carry_host_user_agent_and_caller_headers) {
  start();
  http::client c(ctx_.get_executor());
  http::fields h;
  h.add("X-Trace", "abc");
  auto res = run(ctx_, c.get(url("/inspect?q=1"), h));
  const auto port = std::to_string(server_->port());
  EXPECT_NE(body_of(res).find("GET /inspect?q=1\n"), std::string::npos) << body_of(res);
  EXPECT_NE(body_of(res).find("Host: 127.0.0.1:" + port + "\n"), std::string::npos);
  EXPECT_NE(body_of(res).find("User-Agent: coronet/" CORONET_VERSION "\n"), std::string::npos);
  EXPECT_NE(body_of(res).find("X-Trace: abc\n"), std::string::npos);
}

TEST_F(client_test, post_put_and_delete_send_their_bodies) {
  start();
  http::client c(ctx_.get_executor());
  auto post = run(ctx_, c.post(url("/echo"), "payload", "text/x-test"));
  EXPECT_EQ(body_of(post), "POST payload");
  EXPECT_EQ(post->headers.get("content-type").value_or(""), "text/x-test");
  EXPECT_EQ(body_of(run(ctx_, c.put(url("/echo"), "data"))), "PUT data");
  EXPECT_EQ(body_of(run(ctx_, c.del(url("/echo")))), "DELETE ");
  EXPECT_EQ(body_of(run(ctx_, c.request("POST", url("/echo"), {}, std::string(100'000, 'z')))),
            "POST " + std::string(100'000, 'z'));
}

TEST_F(client_test, chunked_bodies_are_decoded) {
  start();
  http::client c(ctx_.get_executor());
  auto res = run(ctx_, c.get(url("/stream/100")));
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->headers.get("transfer-encoding").value_or(""), "chunked");
  std::string expected;
  for (int i = 0; i < 100; ++i) expected += "chunk " + std::to_string(i) + "\n";
  EXPECT_EQ(res->body, expected);
}

TEST_F(client_test, head_requests_read_no_body_and_keep_the_connection) {
  start();
  http::client c(ctx_.get_executor());
  auto head = run(ctx_, c.request("HEAD", url("/big/64")));
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head->body, "");
  EXPECT_EQ(head->headers.get("content-length").value_or(""), "65536");
  EXPECT_EQ(body_of(run(ctx_, c.get(url("/")))), "Hello, World!");
  EXPECT_EQ(c.open_connections(), 1u);
}

TEST_F(client_test, keep_alive_reuses_one_connection) {
  start();
  http::client c(ctx_.get_executor());
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(body_of(run(ctx_, c.get(url("/n/" + std::to_string(i))))), "n " + std::to_string(i));
  }
  EXPECT_EQ(max_seen_.load(), 1u);
  EXPECT_EQ(server_->connections(), 1u);
  EXPECT_EQ(c.open_connections(), 1u);
  EXPECT_EQ(c.idle_connections(), 1u);
}

TEST_F(client_test, pool_limit_caps_connections_per_host) {
  start();
  http::client c(ctx_.get_executor(), {.max_connections_per_host = 2});
  int ok = 0;
  auto one = [&](int i) -> asio::awaitable<void> {
    auto res = co_await c.get(url("/slow/20"));
    if (body_of(res) == "slow 20") ++ok;
    (void)i;
  };
  run(ctx_, [&]() -> asio::awaitable<int> {
    for (int i = 0; i < 20; ++i) asio::co_spawn(ctx_, one(i), asio::detached);
    while (ok < 20) co_await sleep_for(5ms);
    co_return 0;
  }());
  EXPECT_EQ(ok, 20);
  EXPECT_LE(max_seen_.load(), 2u);
  EXPECT_EQ(c.open_connections(), 2u);
}

TEST_F(client_test, connection_closed_by_the_server_while_idle_is_retried) {
  start({.idle_timeout = 100ms});
  http::client c(ctx_.get_executor());
  EXPECT_EQ(body_of(run(ctx_, c.get(url("/")))), "Hello, World!");
  run(ctx_, [] () -> asio::awaitable<int> { co_await sleep_for(300ms); co_return 0; }());
  EXPECT_EQ(server_->connections(), 0u);  // the server closed it; the client does not know yet
  EXPECT_EQ(c.idle_connections(), 1u);
  EXPECT_EQ(body_of(run(ctx_, c.get(url("/")))), "Hello, World!");  // retried on a new connection
  run(ctx_, [] () -> asio::awaitable<int> { co_await sleep_for(300ms); co_return 0; }());
  // A POST is not retried, so a stale connection is checked before it is used.
  EXPECT_EQ(body_of(run(ctx_, c.post(url("/echo"), "x"))), "POST x");
}

TEST_F(client_test, idle_connections_expire) {
  start();
  http::client c(ctx_.get_executor(), {.idle_timeout = 100ms});
  EXPECT_TRUE(run(ctx_, c.get(url("/"))));
  EXPECT_EQ(c.idle_connections(), 1u);
  run(ctx_, [] () -> asio::awaitable<int> { co_await sleep_for(400ms); co_return 0; }());
  EXPECT_EQ(c.idle_connections(), 0u);
  EXPECT_EQ(c.open_connections(), 0u);
}

TEST_F(client_test, response_over_max_body_bytes_is_refused) {
  start();
  http::client c(ctx_.get_executor(), {.max_body_bytes = 1024});
  auto res = run(ctx_, c.get(url("/big/4")));
  EXPECT_EQ(res.error(), http::client_errc::response_too_large);
  EXPECT_EQ(c.open_connections(), 0u);  // a failed connection is never pooled
  EXPECT_TRUE(run(ctx_, c.get(url("/big/1"))));
}

TEST_F(client_test, stream_hands_the_body_over_in_pieces) {
  start();
  http::client c(ctx_.get_executor(), {.max_body_bytes = 1024});  // stream() is not limited
  std::size_t total = 0;
  int pieces = 0;
  http::client_request req;
  req.url = url("/big/1024");
  auto res = run(ctx_, c.stream(std::move(req),
                                [&](std::string_view chunk) -> asio::awaitable<void> {
                                  total += chunk.size();
                                  ++pieces;
                                  co_return;
                                }));
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->status, http::status::ok);
  EXPECT_TRUE(res->body.empty());
  EXPECT_EQ(total, 1024u * 1024u);
  EXPECT_GT(pieces, 1);
}

TEST_F(client_test, cancellation_through_awaitable_operators) {
  start();
  http::client c(ctx_.get_executor());
  const auto t0 = clock_type::now();
  auto outcome = run(ctx_, [&]() -> asio::awaitable<std::size_t> {
    asio::steady_timer timer(co_await asio::this_coro::executor, 50ms);
    auto v = co_await (c.get(url("/slow/2000")) || timer.async_wait(asio::use_awaitable));
    co_return v.index();
  }());
  EXPECT_EQ(outcome, 1u);  // the timer won
  EXPECT_LT(clock_type::now() - t0, 1s);
  EXPECT_EQ(c.open_connections(), 0u);  // the cancelled request's connection was closed
  EXPECT_EQ(body_of(run(ctx_, c.get(url("/")))), "Hello, World!");

  // Cancelled directly, the call itself reports client_errc::cancelled.
  asio::cancellation_signal sig;
  std::optional<http::result<http::response>> got;
  asio::co_spawn(ctx_, c.get(url("/slow/2000")),
                 asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr, http::result<http::response> r) {
                   got.emplace(std::move(r));
                 }));
  run(ctx_, [] () -> asio::awaitable<int> { co_await sleep_for(50ms); co_return 0; }());
  sig.emit(asio::cancellation_type::terminal);
  while (!got) ctx_.run_one();
  EXPECT_EQ(got->error(), http::client_errc::cancelled);
}

TEST_F(client_test, request_timeout_ends_slow_requests) {
  start();
  http::client c(ctx_.get_executor(), {.request_timeout = 100ms});
  auto res = run(ctx_, c.get(url("/slow/2000")));
  EXPECT_EQ(res.error(), http::client_errc::timeout);
  EXPECT_EQ(c.open_connections(), 0u);
}

TEST_F(client_test, redirects_are_returned_unless_followed) {
  start();
  http::client plain(ctx_.get_executor());
  auto r = run(ctx_, plain.get(url("/redirect/302")));
  EXPECT_EQ(status_of(r), 302u);
  EXPECT_EQ(r->headers.get("location").value_or(""), "/inspect");

  http::client c(ctx_.get_executor(), {.follow_redirects = 3});
  EXPECT_EQ(body_of(run(ctx_, c.get(url("/redirect/301")))).substr(0, 13), "GET /inspect\n");
  // 303 turns a POST into a GET without a body; 307 and 308 repeat the POST with its body.
  EXPECT_EQ(body_of(run(ctx_, c.post(url("/redirect/303"), "b"))).substr(0, 13), "GET /inspect\n");
  EXPECT_EQ(body_of(run(ctx_, c.post(url("/redirect/307"), "b"))), "POST b");
  EXPECT_EQ(body_of(run(ctx_, c.post(url("/redirect/308"), "b"))), "POST b");
  EXPECT_EQ(run(ctx_, c.get(url("/loop"))).error(), http::client_errc::too_many_redirects);
}

TEST_F(client_test, thousand_concurrent_requests_share_sixteen_connections) {
  start();
  http::client c(ctx_.get_executor(), {.max_connections_per_host = 16});
  int ok = 0;
  int finished = 0;
  const auto t0 = clock_type::now();
  auto one = [&](int i) -> asio::awaitable<void> {
    auto res = co_await c.get(url("/n/" + std::to_string(i)));
    if (body_of(res) == "n " + std::to_string(i)) ++ok;
    ++finished;
  };
  run(ctx_, [&]() -> asio::awaitable<int> {
    for (int i = 0; i < 1000; ++i) asio::co_spawn(ctx_, one(i), asio::detached);
    while (finished < 1000) co_await sleep_for(5ms);
    co_return 0;
  }());
  EXPECT_EQ(ok, 1000);
  EXPECT_LE(max_seen_.load(), 16u);
  EXPECT_LE(c.open_connections(), 16u);
  EXPECT_LT(clock_type::now() - t0, 10s);
}

// ---------------------------------------------------------------------------------------
// Raw sockets that misbehave on purpose.

class raw_peer_test : public ::testing::Test {
 protected:
  asio::io_context ctx_;
  tcp::acceptor acceptor_{ctx_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::vector<tcp::socket> held_;  // accepted sockets kept open
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/"; }

  // Accepts connections forever; each reads one request head and answers `reply` (nothing
  // when empty), then keeps the socket open.
  void serve(std::string reply) {
    asio::co_spawn(ctx_, [this, reply]() -> asio::awaitable<void> {
      for (;;) {
        auto s = co_await acceptor_.async_accept(asio::use_awaitable);
        held_.push_back(std::move(s));
        if (reply.empty()) continue;
        auto& sock = held_.back();
        asio::streambuf buf;
        co_await asio::async_read_until(sock, buf, "\r\n\r\n", asio::use_awaitable);
        co_await asio::async_write(sock, asio::buffer(reply), asio::use_awaitable);
      }
    }, asio::detached);
  }
};

TEST_F(raw_peer_test, silent_server_times_out) {
  serve("");
  http::client c(ctx_.get_executor(), {.request_timeout = 200ms});
  const auto t0 = clock_type::now();
  auto res = run(ctx_, c.get(url()));
  EXPECT_EQ(res.error(), http::client_errc::timeout);
  EXPECT_LT(clock_type::now() - t0, 2s);
}

TEST_F(raw_peer_test, malformed_responses_are_protocol_errors) {
  serve("HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n");
  http::client c(ctx_.get_executor());
  auto res = run(ctx_, c.get(url()));
  EXPECT_EQ(res.error(), http::client_errc::protocol_error);
  EXPECT_EQ(c.open_connections(), 0u);
}

TEST_F(raw_peer_test, truncated_response_is_connection_closed) {
  asio::co_spawn(ctx_, [this]() -> asio::awaitable<void> {
    auto s = co_await acceptor_.async_accept(asio::use_awaitable);
    asio::streambuf buf;
    co_await asio::async_read_until(s, buf, "\r\n\r\n", asio::use_awaitable);
    co_await asio::async_write(s, asio::buffer(std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")),
                               asio::use_awaitable);
  }, asio::detached);
  http::client c(ctx_.get_executor());
  EXPECT_EQ(run(ctx_, c.get(url())).error(), http::client_errc::connection_closed);
}

TEST_F(raw_peer_test, oversized_head_is_refused) {
  serve("HTTP/1.1 200 OK\r\nX-Big: " + std::string(2000, 'a') + "\r\nContent-Length: 0\r\n\r\n");
  http::client c(ctx_.get_executor(), {.max_header_bytes = 1024});
  EXPECT_EQ(run(ctx_, c.get(url())).error(), http::client_errc::response_too_large);
}

TEST_F(raw_peer_test, connect_timeout_when_the_backlog_is_full) {
  // A listener that never accepts, with its queue already full: the kernel drops new SYNs.
  tcp::acceptor full(ctx_, tcp::v4());
  full.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  full.listen(0);
  std::vector<int> fillers;  // plain non-blocking sockets: Asio's connect would wait
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(full.local_endpoint().port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(50ms);
  http::client c(ctx_.get_executor(), {.connect_timeout = 200ms});
  const auto t0 = clock_type::now();
  auto res = run(ctx_, c.get("http://127.0.0.1:" + std::to_string(full.local_endpoint().port()) + "/"));
  EXPECT_EQ(res.error(), http::client_errc::connect_timeout) << res.error().message();
  EXPECT_LT(clock_type::now() - t0, 2s);
  for (int fd : fillers) ::close(fd);
}

TEST(client_errors, connection_refused) {
  asio::io_context ctx;
  std::uint16_t port;
  {
    tcp::acceptor a(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  http::client c(ctx.get_executor());
  EXPECT_EQ(run(ctx, c.get("http://127.0.0.1:" + std::to_string(port) + "/")).error(),
            http::client_errc::connection_refused);
}

TEST(client_errors, dns_failure) {
  asio::io_context ctx;
  http::client c(ctx.get_executor(), {.request_timeout = 20s});
  EXPECT_EQ(run(ctx, c.get("http://no-such-host.invalid/")).error(), http::client_errc::dns_failure);
}

TEST(client_errors, bad_urls_and_https) {
  asio::io_context ctx;
  http::client c(ctx.get_executor());
  EXPECT_EQ(run(ctx, c.get("ftp://example.com/")).error(), http::client_errc::unsupported_scheme);
  EXPECT_EQ(run(ctx, c.get("not a url")).error(), http::client_errc::invalid_url);
  http::fields bad;
  bad.add("X-Injected", "a\r\nEvil: 1");
  EXPECT_EQ(run(ctx, c.get("http://127.0.0.1:9/", bad)).error(), std::errc::invalid_argument);
}

// ---------------------------------------------------------------------------------------
// Other servers: Python's http.server and nginx, as child processes.

class child_process {
 public:
  explicit child_process(std::vector<std::string> argv) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(out[1]);
    out_ = out[0];
  }
  ~child_process() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    close(out_);
  }
  // One line of the child's stdout, waiting at most `timeout`.
  std::string line(std::chrono::milliseconds timeout = 5s) {
    std::string s;
    const auto end = clock_type::now() + timeout;
    char c;
    while (clock_type::now() < end) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      if (read(out_, &c, 1) != 1) break;
      if (c == '\n') return s;
      s += c;
    }
    return s;
  }

 private:
  pid_t pid_;
  int out_;
};

std::filesystem::path temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "coronet-client-XXXXXX").string();
  return mkdtemp(tmpl.data());
}

// HTTP/1.0 like http.server's default; counts accepted connections at /count.
constexpr const char* python_peer = R"PY(
import http.server, socketserver, sys
accepts = 0
class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/close-delimited":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"no length, " * 1000)
            return
        if self.path == "/count":
            body = str(accepts).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        return super().do_GET()
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    def get_request(self):
        global accepts
        accepts += 1
        return super().get_request()
srv = Server(("127.0.0.1", 0), lambda *a, **k: Handler(*a, directory=sys.argv[1], **k))
print("port", srv.server_address[1], flush=True)
srv.serve_forever()
)PY";

TEST(client_peers, python_http_server_close_delimited_bodies) {
  const auto dir = temp_dir();
  std::ofstream(dir / "file.txt") << std::string(50'000, 'p');
  child_process py({CORONET_TEST_PYTHON, "-c", python_peer, dir.string()});
  const auto line = py.line();
  ASSERT_EQ(line.substr(0, 5), "port ") << line;
  const std::string base = "http://127.0.0.1:" + line.substr(5);
  asio::io_context ctx;
  http::client c(ctx.get_executor());
  auto file = run(ctx, c.get(base + "/file.txt"));
  EXPECT_EQ(body_of(file), std::string(50'000, 'p'));
  auto close = run(ctx, c.get(base + "/close-delimited"));
  ASSERT_TRUE(close) << close.error().message();
  EXPECT_EQ(close->body.size(), 11'000u);
  EXPECT_EQ(status_of(run(ctx, c.get(base + "/missing"))), 404u);
  // HTTP/1.0 closes after each response: nothing may be pooled, every request connects anew.
  EXPECT_EQ(c.open_connections(), 0u);
  EXPECT_EQ(body_of(run(ctx, c.get(base + "/count"))), "4");
  std::filesystem::remove_all(dir);
}

TEST(client_peers, nginx_static_and_chunked) {
  const char* nginx = CORONET_TEST_NGINX;  // found by meson; empty when it was not
  if (*nginx == '\0') GTEST_SKIP() << "nginx is not installed (apt-get install nginx-light)";
  const auto dir = temp_dir();
  std::uint16_t port;
  {
    asio::io_context tmp;
    tcp::acceptor a(tmp, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  std::ofstream(dir / "static.txt") << std::string(100'000, 's');
  std::ofstream(dir / "filtered.txt") << std::string(100'000, 'a');
  std::ofstream(dir / "nginx.conf")
      << "daemon off; master_process off; worker_processes 1; pid " << (dir / "nginx.pid").string()
      << "; error_log " << (dir / "error.log").string() << ";\n"
      << "events { worker_connections 64; }\n"
      << "http { access_log off; default_type text/plain;\n"
      << "  client_body_temp_path " << dir.string() << "; proxy_temp_path " << dir.string()
      << "; fastcgi_temp_path " << dir.string() << "; uwsgi_temp_path " << dir.string()
      << "; scgi_temp_path " << dir.string() << ";\n"
      << "  server { listen 127.0.0.1:" << port << "; root " << dir.string() << ";\n"
      // sub_filter rewrites the body, so its length is unknown up front: nginx sends it chunked.
      << "    location = /filtered.txt { sub_filter_types *; sub_filter_once off; sub_filter a b; }\n"
      << "  }\n}\n";
  child_process ng({nginx, "-p", dir.string(), "-c", (dir / "nginx.conf").string(), "-e",
                    (dir / "error.log").string()});
  asio::io_context ctx;
  http::client c(ctx.get_executor());
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  http::result<http::response> res = http::client_errc::connection_refused;
  for (int i = 0; i < 50 && res.error() == http::client_errc::connection_refused; ++i) {
    std::this_thread::sleep_for(50ms);
    res = run(ctx, c.get(base + "/static.txt"));
  }
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(res->body, std::string(100'000, 's'));
  auto chunked = run(ctx, c.get(base + "/filtered.txt"));
  ASSERT_TRUE(chunked) << chunked.error().message();
  EXPECT_EQ(chunked->headers.get("transfer-encoding").value_or(""), "chunked");
  EXPECT_EQ(chunked->body, std::string(100'000, 'b'));
  EXPECT_EQ(c.open_connections(), 1u);  // both on one keep-alive connection
  std::filesystem::remove_all(dir);
}

}  // namespace
