// The server's socket read (src/http/drained_read.hpp) over real loopback sockets: a read that
// drains the socket makes the next one wait for readiness, and no byte may be missed for it,
// whatever order the bytes, the readiness events and the next read come in.
#include "http/drained_read.hpp"

#include <asio/connect.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/write.hpp>
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>

namespace {

using asio::ip::tcp;
using coronet::http::detail::async_read_drained;
using coronet::http::detail::reactor_of;

struct result {
  std::error_code ec;
  std::size_t n = 0;
};

class DrainedRead : public ::testing::Test {
 protected:
  DrainedRead() {
    tcp::acceptor acceptor(ctx, {asio::ip::make_address("127.0.0.1"), 0});
    peer.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    server.non_blocking(true);
  }

  // Starts a read into buf; the result lands in `out`.
  void start_read(std::string& buf, std::optional<result>& out) {
    out.reset();
    async_read_drained(reactor_of(ctx), server, asio::buffer(buf),
                       [&out](std::error_code ec, std::size_t n) { out = result{ec, n}; });
  }

  // Runs handlers until `out` is set, at most about two seconds.
  bool wait_for(std::optional<result>& out) {
    for (int i = 0; i < 2000 && !out; ++i) {
      ctx.restart();
      ctx.run_for(std::chrono::milliseconds(1));
    }
    return out.has_value();
  }

  // Reads once and waits for it: the bytes read, or "<error: ...>" / "<no completion>".
  std::string read_once(std::string& buf) {
    std::optional<result> r;
    start_read(buf, r);
    if (!wait_for(r)) return "<no completion>";
    if (r->ec) return "<error: " + r->ec.message() + ">";
    return buf.substr(0, r->n);
  }

  // Runs the reactor for a while with no read queued, so it sees any readiness event.
  void idle_reactor() {
    for (int i = 0; i < 5; ++i) {
      ctx.restart();
      ctx.run_for(std::chrono::milliseconds(1));
    }
  }

  void send(std::string_view s) { asio::write(peer, asio::buffer(s)); }

  asio::io_context ctx;
  // Keeps run_for() polling the reactor even when no read is queued.
  asio::executor_work_guard<asio::io_context::executor_type> busy = asio::make_work_guard(ctx);
  tcp::socket server{ctx};
  tcp::socket peer{ctx};
};

TEST_F(DrainedRead, ShortReadThenLaterBytesStillArrive) {
  std::string buf(64, '\0');
  send("first");
  EXPECT_EQ(read_once(buf), "first");

  // The socket is drained: the next read is queued, and completes once bytes come.
  std::optional<result> r;
  start_read(buf, r);
  ctx.restart();
  ctx.poll();
  EXPECT_FALSE(r.has_value());
  send("second");
  ASSERT_TRUE(wait_for(r));
  EXPECT_FALSE(r->ec);
  EXPECT_EQ(buf.substr(0, r->n), "second");
}

TEST_F(DrainedRead, BytesThatArriveBetweenReadsAreNotMissed) {
  std::string buf(64, '\0');
  send("a");
  EXPECT_EQ(read_once(buf), "a");
  // Bytes arrive while no read is queued, and the reactor sees their readiness event before
  // the next read starts: that read must try the socket rather than wait for another event.
  send("b");
  idle_reactor();
  EXPECT_EQ(read_once(buf), "b");
}

TEST_F(DrainedRead, FullReadLeavesTheRestForTheNextRead) {
  std::string buf(4, '\0');
  send("abcdefgh");
  EXPECT_EQ(read_once(buf), "abcd");
  EXPECT_EQ(read_once(buf), "efgh");
}

TEST_F(DrainedRead, StreamInRandomPiecesArrivesWhole) {
  std::mt19937 rng(7);
  std::string sent, got, buf(97, '\0');
  for (int i = 0; i < 300; ++i) {
    const auto len = std::uniform_int_distribution<int>(1, 300)(rng);
    std::string piece(static_cast<std::size_t>(len), static_cast<char>('a' + i % 26));
    sent += piece;
    // Every order: bytes before the read; the read waiting first; bytes whose readiness
    // event the reactor saw while no read was queued.
    std::optional<result> r;
    if (i % 3 == 1) {
      start_read(buf, r);
      ctx.restart();
      ctx.poll();
      send(piece);
    } else {
      send(piece);
      if (i % 3 == 2) idle_reactor();
      start_read(buf, r);
    }
    ASSERT_TRUE(wait_for(r));
    ASSERT_FALSE(r->ec);
    got.append(buf, 0, r->n);
    while (got.size() < sent.size()) {
      const auto more = read_once(buf);
      ASSERT_NE(more.front(), '<') << more;
      got += more;
    }
  }
  EXPECT_EQ(got, sent);
}

TEST_F(DrainedRead, EndOfStreamIsEof) {
  std::string buf(16, '\0');
  std::optional<result> r;
  start_read(buf, r);
  peer.close();
  ASSERT_TRUE(wait_for(r));
  EXPECT_EQ(r->ec, asio::error::eof);
}

TEST_F(DrainedRead, CancelCompletesTheQueuedRead) {
  std::string buf(16, '\0');
  std::optional<result> r;
  start_read(buf, r);
  ctx.restart();
  ctx.poll();
  ASSERT_FALSE(r.has_value());
  server.cancel();
  ASSERT_TRUE(wait_for(r));
  EXPECT_EQ(r->ec, asio::error::operation_aborted);
}

TEST_F(DrainedRead, EmptyBufferCompletesAtOnce) {
  std::string buf;
  std::optional<result> r;
  start_read(buf, r);
  ASSERT_TRUE(wait_for(r));
  EXPECT_FALSE(r->ec);
  EXPECT_EQ(r->n, 0u);
}

TEST(DrainedReadLifetime, QueuedReadIsFreedWithItsContext) {
  // Under the sanitizer build, a leak or a call into the destroyed handler fails this test.
  auto called = std::make_shared<bool>(false);
  std::string buf(16, '\0');
  {
    asio::io_context ctx;
    tcp::acceptor acceptor(ctx, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::socket peer(ctx), server(ctx);
    peer.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    server.non_blocking(true);
    async_read_drained(reactor_of(ctx), server, asio::buffer(buf),
                       [called, keep = std::make_unique<int>(1)](std::error_code, std::size_t) { *called = true; });
    ctx.poll();
  }
  EXPECT_FALSE(*called);
  EXPECT_EQ(called.use_count(), 1);
}

}  // namespace
