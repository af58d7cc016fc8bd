// http::client against a backend that misbehaves on purpose (hostile_backend.py, one
// misbehaviour per request path), over real sockets on 127.0.0.1.
//
// Every scenario proves the same four things: the call completes with the client_errc that
// client.hpp documents for that failure, it does so within request_timeout plus a margin (a
// bound on behaviour, not a performance check), the broken connection leaves the pool, and
// the next request on the same client succeeds. Each scenario runs twice: on a fresh
// connection, and on a keep-alive connection the pool hands out after a good request.
#include "../support/run_coroutine.hpp"

#include <coronet/coronet.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace http = coronet::http;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using errc = http::client_errc;

namespace {

// Generous on purpose: the bound catches a hang or a deadline that is not enforced, not a
// slow machine.
constexpr auto margin = 1500ms;

using coronet_test::run;

// hostile_backend.py as a child process. Its stdin is a pipe held here: when this process
// ends, however it ends, the backend sees EOF and exits.
class backend_process {
 public:
  backend_process() {
    int out[2], in[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      const char* argv[] = {CORONET_TEST_PYTHON, CORONET_TEST_HOSTILE_BACKEND, "--lifetime", "100",
                            nullptr};
      execv(argv[0], const_cast<char**>(argv));
      _exit(127);
    }
    close(out[1]);
    close(in[0]);
    out_ = out[0];
    in_ = in[1];
    const auto line = read_line(5s);
    if (line.rfind("port ", 0) != 0) {
      stop();
      throw std::runtime_error("backend did not start: '" + line + "'");
    }
    port_ = line.substr(5);
  }
  backend_process(const backend_process&) = delete;
  backend_process& operator=(const backend_process&) = delete;
  ~backend_process() { stop(); }

  [[nodiscard]] std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + port_ + std::string(path);
  }

 private:
  void stop() noexcept {
    close(in_);
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    close(out_);
  }

  std::string read_line(std::chrono::milliseconds timeout) const {
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

  pid_t pid_ = -1;
  int out_ = -1;
  int in_ = -1;
  std::string port_;
};

struct attempt {
  std::error_code error;  // none when the request succeeded
  clock_type::duration elapsed;
  std::size_t open = 0;  // client.open_connections() once the call completed
  std::size_t idle = 0;  // client.idle_connections()
};

std::string describe(const std::error_code& e) { return e ? e.message() : std::string("success"); }

class hostile_backend_test : public ::testing::Test {
 protected:
  attempt get(http::client& c, std::string_view path) {
    const auto t0 = clock_type::now();
    auto res = run(ctx_, c.get(backend_.url(path)));
    return {res.error(), clock_type::now() - t0, c.open_connections(), c.idle_connections()};
  }

  // A good request on `c`: it succeeds and leaves exactly one idle keep-alive connection.
  void expect_ok(http::client& c, const char* when) {
    auto res = run(ctx_, c.get(backend_.url("/ok")));
    ASSERT_TRUE(res) << when << ": /ok failed: " << res.error().message();
    EXPECT_EQ(res->status, http::status::ok) << when;
    EXPECT_EQ(res->body, "ok") << when;
    EXPECT_EQ(c.open_connections(), 1u) << when;
    EXPECT_EQ(c.idle_connections(), 1u) << when;
  }

  void expect_clean_failure(const attempt& a, errc expected, const http::client& c,
                            const char* when) {
    EXPECT_EQ(a.error, expected) << when << ": got " << describe(a.error);
    EXPECT_LT(a.elapsed, c.options().request_timeout + margin)
        << when << ": took " << std::chrono::duration_cast<std::chrono::milliseconds>(a.elapsed).count()
        << " ms";
    EXPECT_EQ(a.open, 0u) << when << ": the broken connection is still counted as open";
    EXPECT_EQ(a.idle, 0u) << when << ": the broken connection went back to the pool";
  }

  // The whole story for one scenario, on a client made with `options`: fails on a fresh
  // connection, recovers, fails on the pooled connection, recovers.
  void expect_failure_and_recovery(std::string_view path, http::client_options options,
                                   errc expected) {
    http::client c(ctx_.get_executor(), std::move(options));
    expect_clean_failure(get(c, path), expected, c, "fresh connection");
    expect_ok(c, "after the failure on a fresh connection");
    expect_clean_failure(get(c, path), expected, c, "pooled connection");
    expect_ok(c, "after the failure on a pooled connection");
  }

  asio::io_context ctx_;
  backend_process backend_;
};

// ---------------------------------------------------------------------------------------
// Cut short by the server: connection_closed, at once (no deadline involved).

TEST_F(hostile_backend_test, reset_in_the_middle_of_a_body_is_connection_closed) {
  expect_failure_and_recovery("/reset-mid-response", {.request_timeout = 2s}, errc::connection_closed);
}

TEST_F(hostile_backend_test, chunked_body_without_its_last_chunk_is_connection_closed) {
  expect_failure_and_recovery("/truncated-chunked", {.request_timeout = 2s}, errc::connection_closed);
}

// On the pooled connection the client retries a GET once on a new connection (the server
// may have closed a kept-alive connection just before the request); it is closed again.
TEST_F(hostile_backend_test, close_before_any_response_byte_is_connection_closed) {
  expect_failure_and_recovery("/close-before-response", {.request_timeout = 2s},
                              errc::connection_closed);
}

// ---------------------------------------------------------------------------------------
// Not HTTP, or framed ambiguously: protocol_error, at once.

TEST_F(hostile_backend_test, bytes_that_are_not_http_are_protocol_error) {
  expect_failure_and_recovery("/garbage", {.request_timeout = 2s}, errc::protocol_error);
}

// Content-Length and Transfer-Encoding together frame the body two ways (RFC 9112 6.3: to
// be handled as an error); the backend keeps the connection open, so a client that took the
// response would pool a connection whose framing it cannot trust.
TEST_F(hostile_backend_test, content_length_with_transfer_encoding_is_protocol_error) {
  expect_failure_and_recovery("/cl-and-te", {.request_timeout = 2s}, errc::protocol_error);
}

// ---------------------------------------------------------------------------------------
// Over a client_options limit: response_too_large, as soon as the limit is passed.

TEST_F(hostile_backend_test, head_over_max_header_bytes_is_response_too_large) {
  expect_failure_and_recovery("/oversized-head", {.request_timeout = 2s, .max_header_bytes = 4096},
                              errc::response_too_large);
}

TEST_F(hostile_backend_test, endless_header_lines_stop_at_max_header_bytes) {
  // 100 lines a second of about 15 counted bytes: the 1 KiB limit is passed in under a
  // second, before the deadline.
  expect_failure_and_recovery("/endless-head", {.request_timeout = 2s, .max_header_bytes = 1024},
                              errc::response_too_large);
}

TEST_F(hostile_backend_test, body_over_max_body_bytes_is_response_too_large) {
  expect_failure_and_recovery("/huge-body", {.request_timeout = 2s, .max_body_bytes = 64 * 1024},
                              errc::response_too_large);
}

// client.hpp: max_header_bytes bounds the "status line plus header fields". A reason phrase
// that never ends passes 4 KiB within milliseconds.
TEST_F(hostile_backend_test, endless_status_line_stops_at_max_header_bytes) {
  expect_failure_and_recovery("/endless-status-line", {.request_timeout = 2s, .max_header_bytes = 4096},
                              errc::response_too_large);
}

// Interim 1xx responses are skipped, but their heads still count against max_header_bytes
// (the parser does not reset its count between them): "100 Continue" forever passes 4 KiB
// within milliseconds.
TEST_F(hostile_backend_test, endless_interim_responses_stop_at_max_header_bytes) {
  expect_failure_and_recovery("/endless-interim", {.request_timeout = 2s, .max_header_bytes = 4096},
                              errc::response_too_large);
}

// ---------------------------------------------------------------------------------------
// Too slow: timeout, at request_timeout (a whole-request deadline, not a per-read one).

TEST_F(hostile_backend_test, server_that_never_answers_is_timeout) {
  expect_failure_and_recovery("/never-answers", {.request_timeout = 500ms}, errc::timeout);
}

// Every read brings a byte, so only a deadline over the whole response ends it.
TEST_F(hostile_backend_test, response_trickling_one_byte_a_second_is_timeout) {
  expect_failure_and_recovery("/trickle", {.request_timeout = 1500ms}, errc::timeout);
}

// Under the default 64 KiB limit, header lines that keep coming end at the deadline.
TEST_F(hostile_backend_test, endless_header_lines_under_the_limit_are_timeout) {
  expect_failure_and_recovery("/endless-head", {.request_timeout = 500ms}, errc::timeout);
}

// A failure the client can see must not wait for the deadline: with a 20 s request_timeout,
// each of these still completes within the margin.
TEST_F(hostile_backend_test, quick_failures_do_not_wait_for_the_deadline) {
  http::client c(ctx_.get_executor(), {.request_timeout = 20s, .max_header_bytes = 4096,
                                       .max_body_bytes = 64 * 1024});
  for (const auto* path : {"/reset-mid-response", "/truncated-chunked", "/close-before-response",
                           "/garbage", "/cl-and-te", "/oversized-head", "/huge-body"}) {
    const auto a = get(c, path);
    EXPECT_TRUE(a.error) << path;
    EXPECT_LT(a.elapsed, margin) << path;
    EXPECT_EQ(a.open, 0u) << path;
  }
  expect_ok(c, "after every quick failure");
}

}  // namespace
