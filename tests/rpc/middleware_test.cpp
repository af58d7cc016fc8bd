// rpc::middleware around coroutine handlers, over 127.0.0.1 with grpc++'s client and
// python3-grpcio: order, answering early, metadata, exceptions, cancellation, every RPC kind.
// meson runs it twice, the second time with every method bound {.inline_start = true}.
#include "rpc_fixture.hpp"
#include "run_process.hpp"

#include <coronet/rpc/middleware.hpp>

#include "grpc/health/v1/health.grpc.pb.h"

#include <grpcpp/client_context.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using namespace coronet_test;
namespace rpc = coronet::rpc;

namespace {

// The Bench service with middleware, on a server of its own. The middleware is installed
// after the methods are bound: it applies to them all the same.
class served_with_middleware : public served_bench {
 public:
  explicit served_with_middleware(std::vector<rpc::middleware> chain,
                                  std::vector<rpc::middleware> server_chain = {})
      : served_bench({}, [&](rpc::service<Bench>& bench, rpc::server& server) {
          for (auto& m : chain) bench.use(std::move(m));
          for (auto& m : server_chain) server.use(std::move(m));
        }) {}
};

// What middleware running on the server's threads wrote down.
struct journal {
  std::mutex mutex;
  std::vector<std::string> lines;
  void add(std::string line) {
    std::lock_guard lock(mutex);
    lines.push_back(std::move(line));
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mutex);
    return std::exchange(lines, {});
  }
};

rpc::middleware tracing(journal& j, std::string name) {
  return [&j, name](rpc::call_info& call, rpc::next_handler next) -> asio::awaitable<grpc::Status> {
    j.add(name + "> " + std::string(call.method));
    auto status = co_await next();
    j.add("<" + name + " " + std::to_string(status.error_code()));
    co_return status;
  };
}

// UNAUTHENTICATED unless the client sent "authorization: Bearer secret".
rpc::middleware authenticate() {
  return [](rpc::call_info& call, rpc::next_handler next) -> asio::awaitable<grpc::Status> {
    if (call.context.metadata("authorization") != "Bearer secret") {
      co_return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong token");
    }
    co_return co_await next();
  };
}

// Initial metadata on the way in, trailing metadata on the way out.
rpc::middleware tagging() {
  return [](rpc::call_info& call, rpc::next_handler next) -> asio::awaitable<grpc::Status> {
    call.context.add_header("x-served-by", "coronet");
    auto status = co_await next();
    call.context.add_trailer("x-method", std::string(call.method));
    co_return status;
  };
}

std::string metadata(const std::multimap<grpc::string_ref, grpc::string_ref>& md, const char* key) {
  const auto it = md.find(key);
  return it == md.end() ? std::string("(none)") : std::string(it->second.data(), it->second.size());
}

TEST(rpc_middleware, runs_outer_first_in_and_reversed_out) {
  journal j;
  served_with_middleware s({tracing(j, "a"), tracing(j, "b")});
  grpc::ClientContext ctx;
  Greeting reply;
  const auto status = s.stub().Unary(&ctx, greeting("hi"), &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.message(), "hi");
  EXPECT_EQ(j.take(), (std::vector<std::string>{"a> /coronet.bench.v1.Bench/Unary",
                                                "b> /coronet.bench.v1.Bench/Unary", "<b 0", "<a 0"}));
  EXPECT_EQ(s.seen().finished, 1);
}

TEST(rpc_middleware, a_middleware_refuses_a_call_without_reaching_the_handler) {
  served_with_middleware s({authenticate()});
  grpc::ClientContext anonymous;
  Greeting reply;
  const auto refused = s.stub().Unary(&anonymous, greeting("hi"), &reply);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(refused.error_message(), "missing or wrong token");
  EXPECT_EQ(s.seen().finished, 0);

  grpc::ClientContext known;
  known.AddMetadata("authorization", "Bearer secret");
  EXPECT_TRUE(s.stub().Unary(&known, greeting("hi"), &reply).ok());
  EXPECT_EQ(s.seen().finished, 1);
}

TEST(rpc_middleware, server_middleware_runs_outside_the_service_s_and_spares_health) {
  journal j;
  served_with_middleware s({tracing(j, "service")}, {tracing(j, "server"), authenticate()});
  grpc::ClientContext known;
  known.AddMetadata("authorization", "Bearer secret");
  Greeting reply;
  ASSERT_TRUE(s.stub().Unary(&known, greeting("hi"), &reply).ok());
  EXPECT_EQ(j.take(), (std::vector<std::string>{"server> /coronet.bench.v1.Bench/Unary",
                                                "service> /coronet.bench.v1.Bench/Unary",
                                                "<service 0", "<server 0"}));
  grpc::ClientContext anonymous;
  EXPECT_EQ(s.stub().Unary(&anonymous, greeting("hi"), &reply).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // The health service is the server's own: a load balancer's probe needs no credentials.
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(s.port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext probe;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse answer;
  EXPECT_TRUE(health->Check(&probe, request, &answer).ok());
  // Installed after a service was added, it would not reach that service: refused.
  EXPECT_THROW(s.server().use(authenticate()), std::logic_error);
}

TEST(rpc_middleware, metadata_a_middleware_adds_reaches_the_client) {
  served_with_middleware s({tagging()});
  grpc::ClientContext ctx;
  Greeting reply;
  ASSERT_TRUE(s.stub().Unary(&ctx, greeting("hi"), &reply).ok());
  EXPECT_EQ(metadata(ctx.GetServerInitialMetadata(), "x-served-by"), "coronet");
  EXPECT_EQ(metadata(ctx.GetServerTrailingMetadata(), "x-method"), "/coronet.bench.v1.Bench/Unary");
}

TEST(rpc_middleware, call_info_names_the_method_and_its_kind) {
  journal j;
  served_with_middleware s({[&j](rpc::call_info& call, rpc::next_handler next) -> asio::awaitable<grpc::Status> {
    j.add(std::string(call.method) + " " + std::to_string(static_cast<int>(call.kind)) +
          (call.context.peer().empty() ? " no peer" : " peer"));
    co_return co_await next();
  }});
  grpc::ClientContext unary;
  Greeting reply;
  ASSERT_TRUE(s.stub().Unary(&unary, greeting("x"), &reply).ok());
  grpc::ClientContext bidi;
  auto stream = s.stub().Bidi(&bidi);
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_EQ(j.take(), (std::vector<std::string>{"/coronet.bench.v1.Bench/Unary 0 peer",
                                                "/coronet.bench.v1.Bench/Bidi 3 peer"}));
}

TEST(rpc_middleware, an_exception_becomes_unknown_and_a_middleware_may_catch_one) {
  served_with_middleware throwing({[](rpc::call_info&, rpc::next_handler) -> asio::awaitable<grpc::Status> {
    throw std::runtime_error("middleware failure");
    co_return grpc::Status::OK;
  }});
  grpc::ClientContext a;
  Greeting reply;
  EXPECT_EQ(throwing.stub().Unary(&a, greeting("hi"), &reply).error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(throwing.seen().finished, 0);

  served_with_middleware catching({[](rpc::call_info&, rpc::next_handler next) -> asio::awaitable<grpc::Status> {
    try {
      co_return co_await next();
    } catch (const std::exception& e) {
      co_return grpc::Status(grpc::StatusCode::INTERNAL, std::string("caught: ") + e.what());
    }
  }});
  grpc::ClientContext b;
  const auto status = catching.stub().Unary(&b, greeting("throw"), &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(status.error_message(), "caught: handler failure");
  // Uncaught, the handler's exception is UNKNOWN as without middleware.
  served_with_middleware passing({[](rpc::call_info&, rpc::next_handler next) { return next(); }});
  grpc::ClientContext c;
  EXPECT_EQ(passing.stub().Unary(&c, greeting("throw"), &reply).error_code(), grpc::StatusCode::UNKNOWN);
}

TEST(rpc_middleware, streaming_calls_run_through_the_chain) {
  journal j;
  served_with_middleware s({tracing(j, "a"), tagging()});
  {
    grpc::ClientContext ctx;
    auto reader = s.stub().ServerStream(&ctx, greeting("3"));
    std::vector<std::string> got;
    for (Greeting g; reader->Read(&g);) got.push_back(g.message());
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(got, (std::vector<std::string>{"0", "1", "2"}));
    EXPECT_EQ(metadata(ctx.GetServerTrailingMetadata(), "x-method"), "/coronet.bench.v1.Bench/ServerStream");
  }
  {
    grpc::ClientContext ctx;
    Greeting joined;
    auto writer = s.stub().ClientStream(&ctx, &joined);
    writer->Write(greeting("x"));
    writer->Write(greeting("y"));
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
    EXPECT_EQ(joined.message(), "x,y");
  }
  {
    grpc::ClientContext ctx;
    auto stream = s.stub().Bidi(&ctx);
    stream->Write(greeting("ping"));
    Greeting echo;
    ASSERT_TRUE(stream->Read(&echo));
    EXPECT_EQ(echo.message(), "echo: ping");
    stream->WritesDone();
    ASSERT_TRUE(stream->Finish().ok());
    EXPECT_EQ(metadata(ctx.GetServerInitialMetadata(), "x-served-by"), "coronet");
  }
  EXPECT_EQ(j.take().size(), 6u);
}

TEST(rpc_middleware, a_deadline_cancels_the_handler_under_the_chain) {
  journal j;
  served_with_middleware s({tracing(j, "a"), tracing(j, "b")});
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 200ms);
  Greeting reply;
  const auto status = s.stub().Unary(&ctx, greeting("sleep:10000"), &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The handler saw the cancellation and the middleware its CANCELLED status, soon.
  for (int i = 0; i < 100 && s.seen().handler_cancelled == 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(s.seen().handler_cancelled, 1);
  std::vector<std::string> lines;
  for (int i = 0; i < 100 && lines.size() < 4; ++i) {
    for (auto& line : j.take()) lines.push_back(std::move(line));
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"a> /coronet.bench.v1.Bench/Unary",
                                             "b> /coronet.bench.v1.Bench/Unary", "<b 1", "<a 1"}));
}

TEST(rpc_middleware, python_grpcio_sees_the_refusal_and_the_metadata) {
  served_with_middleware s({tagging(), authenticate()});
  auto [code, out] = run_process(CORONET_TEST_PYTHON " " CORONET_TEST_DIR "/middleware_client.py " +
                                 std::to_string(s.port()) + " 2>&1");
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "ok\n");
}

}  // namespace
