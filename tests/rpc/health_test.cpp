// grpc.health.v1.Health as coronet serves it (src/rpc/health_service.cpp) and what the server's
// reflection says about it, over 127.0.0.1 with grpc++'s own stubs as the client.
#include "rpc_fixture.hpp"

#include <coronet/rpc/health.hpp>

#include "grpc/health/v1/health.grpc.pb.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

using namespace coronet_test;
using namespace std::chrono_literals;
namespace rpc = coronet::rpc;
using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

namespace {

constexpr const char* bench_name = "coronet.bench.v1.Bench";

class health_client {
 public:
  explicit health_client(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(Health::NewStub(channel)) {}

  /// Check(service): the status code and, when OK, the serving status.
  std::pair<grpc::StatusCode, HealthCheckResponse::ServingStatus> check(const std::string& service) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    const grpc::Status status = stub_->Check(&ctx, request, &response);
    return {status.error_code(), response.status()};
  }

  /// A Watch call, read message by message from the test's thread.
  struct watch {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> reader;

    /// The next status sent, or UNKNOWN with `ended` set when the stream is over.
    HealthCheckResponse::ServingStatus next() {
      HealthCheckResponse r;
      if (!reader->Read(&r)) {
        ended = true;
        return HealthCheckResponse::UNKNOWN;
      }
      return r.status();
    }
    bool ended = false;
  };

  std::unique_ptr<watch> watch_service(const std::string& service) {
    auto w = std::make_unique<watch>();
    w->ctx.set_deadline(std::chrono::system_clock::now() + 60s);
    HealthCheckRequest request;
    request.set_service(service);
    w->reader = stub_->Watch(&w->ctx, request);
    return w;
  }

 private:
  std::unique_ptr<Health::Stub> stub_;
};

/// A unary call with raw bytes (a one-message call works for a bidi method as well): the
/// status and the response's bytes.
std::pair<grpc::Status, std::string> raw_call(const std::shared_ptr<grpc::Channel>& channel,
                                              const std::string& method,
                                              const std::string& request_bytes) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  std::string bytes;
  std::vector<grpc::Slice> slices;
  if (status.ok() && response.Dump(&slices).ok()) {
    for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return {status, bytes};
}

constexpr const char* reflection_method =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// ServerReflectionRequest{list_services: ""} (field 7) and {file_containing_symbol: s} (4).
std::string list_services_request() { return std::string("\x3a\x00", 2); }
std::string file_containing_symbol_request(const std::string& symbol) {
  std::string request{'\x22', static_cast<char>(symbol.size())};  // symbols here are short
  request += symbol;
  return request;
}

std::shared_ptr<grpc::Channel> channel_to(rpc::server& server) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                             grpc::InsecureChannelCredentials());
}

}  // namespace

TEST(health, check_answers_serving_for_the_server_and_every_service_it_advertises) {
  served_bench served;
  health_client client(channel_to(served.server()));
  for (const char* name : {"", bench_name, "grpc.health.v1.Health",
                           "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_EQ(client.check(name), std::pair(grpc::StatusCode::OK, HealthCheckResponse::SERVING))
        << '"' << name << '"';
  }
}

TEST(health, check_answers_not_found_for_a_service_the_server_does_not_know) {
  served_bench served;
  health_client client(channel_to(served.server()));
  EXPECT_EQ(client.check("no.such.Service").first, grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(served.server().health().status("no.such.Service"),
            rpc::serving_status::service_unknown);
}

TEST(health, set_serving_changes_what_check_answers_and_makes_new_names_known) {
  served_bench served;
  health_client client(channel_to(served.server()));
  auto& health = served.server().health();

  // snippet-begin health_set_serving
  health.set_serving("coronet.bench.v1.Bench", false);  // from any thread
  // snippet-end health_set_serving
  EXPECT_EQ(client.check(bench_name).second, HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(client.check("").second, HealthCheckResponse::SERVING);  // each name on its own
  health.set_serving(bench_name, true);
  EXPECT_EQ(client.check(bench_name).second, HealthCheckResponse::SERVING);

  health.set_serving("shop.v1.Cart", false);
  EXPECT_EQ(client.check("shop.v1.Cart"), std::pair(grpc::StatusCode::OK, HealthCheckResponse::NOT_SERVING));
  EXPECT_EQ(health.status("shop.v1.Cart"), rpc::serving_status::not_serving);
}

TEST(health, a_status_set_before_start_is_kept) {
  coronet::runtime rt({.threads = 1, .handle_signals = false});
  observations seen;
  rpc::service<Bench> bench;
  bind_bench(bench, seen);
  // snippet-begin health_before_start
  rpc::server server(rt);
  server.add(bench);
  server.listen("127.0.0.1", 0);
  server.health().set_serving("coronet.bench.v1.Bench", false);  // its backend is not up yet
  server.start();  // "" and every other service the server advertises: SERVING
  // snippet-end health_before_start
  std::thread runner([&] { rt.run(); });

  health_client client(channel_to(server));
  EXPECT_EQ(client.check(bench_name).second, HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(client.check("").second, HealthCheckResponse::SERVING);
  rt.stop();
  runner.join();
}

TEST(health, watch_streams_the_status_at_once_and_then_each_change) {
  served_bench served;
  health_client client(channel_to(served.server()));
  auto& health = served.server().health();
  auto watch = client.watch_service(bench_name);

  EXPECT_EQ(watch->next(), HealthCheckResponse::SERVING);
  health.set_serving(bench_name, false);
  EXPECT_EQ(watch->next(), HealthCheckResponse::NOT_SERVING);
  health.set_serving("", false);  // another name: nothing for this watch
  health.set_serving(bench_name, true);
  EXPECT_EQ(watch->next(), HealthCheckResponse::SERVING);
  watch->ctx.TryCancel();
}

TEST(health, watch_of_an_unknown_service_streams_service_unknown_until_the_service_is_set) {
  served_bench served;
  health_client client(channel_to(served.server()));
  auto watch = client.watch_service("shop.v1.Cart");

  EXPECT_EQ(watch->next(), HealthCheckResponse::SERVICE_UNKNOWN);
  served.server().health().set_serving("shop.v1.Cart", true);
  EXPECT_EQ(watch->next(), HealthCheckResponse::SERVING);
  watch->ctx.TryCancel();
}

TEST(health, shutdown_sends_not_serving_to_every_watch_and_ends_it_long_before_the_drain_timeout) {
  served_bench served({.drain_timeout = 30s});
  health_client client(channel_to(served.server()));
  auto known = client.watch_service(bench_name);
  auto unknown = client.watch_service("shop.v1.Cart");
  ASSERT_EQ(known->next(), HealthCheckResponse::SERVING);
  ASSERT_EQ(unknown->next(), HealthCheckResponse::SERVICE_UNKNOWN);

  const auto start = std::chrono::steady_clock::now();
  served.server().shutdown_blocking(30s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // not held up by the watches

  EXPECT_EQ(known->next(), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(unknown->next(), HealthCheckResponse::NOT_SERVING);
  for (auto* w : {known.get(), unknown.get()}) {
    w->next();
    EXPECT_TRUE(w->ended);
    EXPECT_EQ(w->reader->Finish().error_code(), grpc::StatusCode::OK);
  }
}

TEST(health, set_serving_after_shutdown_is_ignored) {
  served_bench served;
  served.server().shutdown_blocking(1s);
  auto& health = served.server().health();
  health.set_serving(bench_name, true);
  health.set_serving("", true);
  EXPECT_EQ(health.status(bench_name), rpc::serving_status::not_serving);
  EXPECT_EQ(health.status(""), rpc::serving_status::not_serving);
}

TEST(health, a_cancelled_watch_does_not_hold_up_the_drain) {
  served_bench served({.drain_timeout = 30s});
  health_client client(channel_to(served.server()));
  auto watch = client.watch_service(bench_name);
  ASSERT_EQ(watch->next(), HealthCheckResponse::SERVING);
  watch->ctx.TryCancel();
  watch->next();
  EXPECT_TRUE(watch->ended);
  EXPECT_EQ(watch->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  const auto start = std::chrono::steady_clock::now();
  served.server().shutdown_blocking(30s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(health, without_the_health_service_health_is_unimplemented) {
  served_bench served({.health_service = false});
  health_client client(channel_to(served.server()));
  EXPECT_EQ(client.check("").first, grpc::StatusCode::UNIMPLEMENTED);
  // Reflection does not advertise it either.
  auto [status, services] = raw_call(channel_to(served.server()), reflection_method,
                                     list_services_request());
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_NE(services.find(bench_name), std::string::npos);
  EXPECT_EQ(services.find("grpc.health.v1.Health"), std::string::npos);
}

TEST(reflection, describes_the_health_service_from_its_proto) {
  served_bench served;
  auto [status, answer] = raw_call(channel_to(served.server()), reflection_method,
                                   file_containing_symbol_request("grpc.health.v1.Health"));
  ASSERT_TRUE(status.ok()) << status.error_message();
  // A FileDescriptorProto under its canonical name, with the messages the methods take.
  EXPECT_NE(answer.find("grpc/health/v1/health.proto"), std::string::npos);
  EXPECT_NE(answer.find("HealthCheckRequest"), std::string::npos);
  EXPECT_NE(answer.find("Watch"), std::string::npos);
}

TEST(reflection, is_decided_per_server) {
  served_bench with({.reflection = true});
  served_bench without({.reflection = false});
  auto [served, services] = raw_call(channel_to(with.server()), reflection_method,
                                     list_services_request());
  ASSERT_TRUE(served.ok()) << served.error_message();
  EXPECT_NE(services.find("grpc.reflection.v1alpha.ServerReflection"), std::string::npos);
  EXPECT_NE(services.find("grpc.health.v1.Health"), std::string::npos);
  EXPECT_EQ(raw_call(channel_to(without.server()), reflection_method, list_services_request())
                .first.error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // Health does not advertise what the server does not serve.
  health_client client(channel_to(without.server()));
  EXPECT_EQ(client.check("grpc.reflection.v1alpha.ServerReflection").first,
            grpc::StatusCode::NOT_FOUND);
}
