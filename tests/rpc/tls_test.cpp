// gRPC over TLS (include/coronet/rpc/tls.hpp): coronet's coroutine client calling the
// hello.proto greeter on an rpc::server's TLS port, over 127.0.0.1, with the throw-away PKI
// that tests/support/make_test_pki.sh makes for this program.
#include "../support/run_coroutine.hpp"

#include <coronet/rpc/client.hpp>
#include <coronet/rpc/server.hpp>
#include <coronet/rpc/service.hpp>
#include <coronet/rpc/tls.hpp>
#include <coronet/runtime.hpp>

#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/credentials.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace rpc = coronet::rpc;

namespace {

// The PKI, made once for the whole program in a directory of its own and removed after.
class pki_environment final : public ::testing::Environment {
 public:
  void SetUp() override {
    char dir_template[] = "/tmp/coronet-tls-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    const std::string command = "bash " CORONET_TEST_PKI_SCRIPT " " + dir_.string();
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string file(const std::string& name) { return (dir_ / name).string(); }
  static const fs::path& dir() { return dir_; }

 private:
  static inline fs::path dir_;
};
const auto* const pki_env = ::testing::AddGlobalTestEnvironment(new pki_environment);

std::string pki(const std::string& name) { return pki_environment::file(name); }

rpc::server_tls server_certificate() {
  return {.certificate_chain_file = pki("server.pem"), .private_key_file = pki("server.key")};
}

rpc::server_tls mutual(bool require_client_certificate = true) {
  auto tls = server_certificate();
  tls.client_ca_file = pki("ca.pem");
  tls.require_client_certificate = require_client_certificate;
  return tls;
}

// The greeter serving one TLS port (and one cleartext port) on a runtime of its own. Its
// reply names the client certificate's common name as the handler finds it in
// auth_context(), "anonymous" without one.
class tls_greeter {
 public:
  explicit tls_greeter(rpc::server_tls tls) {
    hello_.handle<hello_world::say_hello>([](coronet::rpc::context& ctx, const Greeting& req,
                                 Greeting& resp) -> asio::awaitable<grpc::Status> {
      std::string who = "anonymous";
      const auto names = ctx.grpc()->auth_context()->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
      if (!names.empty()) who.assign(names.front().data(), names.front().size());
      resp.set_message("hello " + req.message() + " from " + who);
      co_return grpc::Status::OK;
    });
    server_.add(hello_);
    server_.listen("127.0.0.1", 0);
    server_.listen_tls("127.0.0.1", 0, std::move(tls));
    server_.start();
    runner_ = std::thread([this] { rt_.run(); });
  }
  ~tls_greeter() {
    rt_.stop();  // the stop hook drains the server
    runner_.join();
  }

  // By IP: the server certificate names IP:127.0.0.1 as well as DNS:localhost.
  [[nodiscard]] std::string tls_target() const {
    return "127.0.0.1:" + std::to_string(server_.tls_port());
  }
  [[nodiscard]] std::string cleartext_target() const {
    return "127.0.0.1:" + std::to_string(server_.port());
  }

 private:
  coronet::runtime rt_{{.threads = 1, .handle_signals = false}};
  rpc::service<HelloWorld> hello_;
  rpc::server server_{rt_};
  std::thread runner_;
};

// A channel whose connections are its own: channels otherwise share connected subchannels
// process-wide, and a test that expects a handshake would get a connection made earlier.
std::shared_ptr<grpc::Channel> channel_to(const std::string& target, const rpc::channel_tls& tls) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return rpc::secure_channel(target, tls, args);
}

struct outcome {
  grpc::StatusCode code;
  std::string reply;
  std::string server_name;  // the server certificate's common name, as the client saw it
};

// The context the client calls resume on, one for the whole program: gRPC's thread lets
// go of the call's work count on it only after posting the completion, i.e. possibly after
// the awaiting coroutine has resumed and returned, so it must outlive every call.
asio::io_context& client_context() {
  static asio::io_context io;
  return io;
}

// One SayHello through coronet's coroutine client, from this thread.
outcome say_hello(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = HelloWorld::NewStub(channel);
  return coronet_test::run(client_context(), [&]() -> asio::awaitable<outcome> {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    Greeting request;
    request.set_message("tls");
    auto [status, reply] =
        co_await rpc::call(&HelloWorld::Stub::async::SayHello, *stub, ctx, request);
    std::string server_name;
    if (status.ok()) {
      const auto names = ctx.auth_context()->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
      if (!names.empty()) server_name.assign(names.front().data(), names.front().size());
    }
    co_return outcome{status.error_code(), reply.message(), server_name};
  }());
}

outcome say_hello(const std::string& target, const rpc::channel_tls& tls) {
  return say_hello(channel_to(target, tls));
}

TEST(tls, a_client_trusting_the_ca_is_served_beside_the_cleartext_port) {
  tls_greeter greeter(server_certificate());
  const auto secure = say_hello(greeter.tls_target(), {.ca_file = pki("ca.pem")});
  EXPECT_EQ(secure.code, grpc::StatusCode::OK);
  EXPECT_EQ(secure.reply, "hello tls from anonymous");
  EXPECT_EQ(secure.server_name, "localhost");
  const auto clear = say_hello(
      grpc::CreateChannel(greeter.cleartext_target(), grpc::InsecureChannelCredentials()));
  EXPECT_EQ(clear.code, grpc::StatusCode::OK);
  EXPECT_EQ(clear.reply, "hello tls from anonymous");
}

TEST(tls, a_server_certificate_from_an_unknown_ca_fails_unavailable) {
  tls_greeter greeter(server_certificate());
  EXPECT_EQ(say_hello(greeter.tls_target(), {.ca_file = pki("rogue-ca.pem")}).code,
            grpc::StatusCode::UNAVAILABLE);
}

TEST(tls, a_server_certificate_for_another_name_fails_unavailable) {
  tls_greeter greeter(server_certificate());
  EXPECT_EQ(say_hello(greeter.tls_target(),
                      {.ca_file = pki("ca.pem"), .target_name_override = "other.test"})
                .code,
            grpc::StatusCode::UNAVAILABLE);
}

TEST(tls, mutual_tls_serves_a_client_certificate_and_the_handler_sees_its_common_name) {
  tls_greeter greeter(mutual());
  const auto r = say_hello(greeter.tls_target(), {.ca_file = pki("ca.pem"),
                                                  .certificate_file = pki("client.pem"),
                                                  .private_key_file = pki("client.key")});
  EXPECT_EQ(r.code, grpc::StatusCode::OK);
  EXPECT_EQ(r.reply, "hello tls from test-client");
}

TEST(tls, mutual_tls_refuses_a_client_without_a_certificate) {
  tls_greeter greeter(mutual());
  EXPECT_EQ(say_hello(greeter.tls_target(), {.ca_file = pki("ca.pem")}).code,
            grpc::StatusCode::UNAVAILABLE);
}

TEST(tls, mutual_tls_refuses_a_self_signed_client_certificate) {
  tls_greeter greeter(mutual());
  EXPECT_EQ(say_hello(greeter.tls_target(), {.ca_file = pki("ca.pem"),
                                             .certificate_file = pki("selfsigned-client.pem"),
                                             .private_key_file = pki("selfsigned-client.key")})
                .code,
            grpc::StatusCode::UNAVAILABLE);
}

TEST(tls, mutual_tls_refuses_an_expired_client_certificate) {
  tls_greeter greeter(mutual());
  EXPECT_EQ(say_hello(greeter.tls_target(), {.ca_file = pki("ca.pem"),
                                             .certificate_file = pki("expired-client.pem"),
                                             .private_key_file = pki("expired-client.key")})
                .code,
            grpc::StatusCode::UNAVAILABLE);
}

TEST(tls, an_optional_client_certificate_lets_anonymous_clients_in_but_not_bad_certificates) {
  tls_greeter greeter(mutual(/*require_client_certificate=*/false));
  EXPECT_EQ(say_hello(greeter.tls_target(), {.ca_file = pki("ca.pem")}).reply,
            "hello tls from anonymous");
  EXPECT_EQ(say_hello(greeter.tls_target(), {.ca_file = pki("ca.pem"),
                                             .certificate_file = pki("client.pem"),
                                             .private_key_file = pki("client.key")})
                .reply,
            "hello tls from test-client");
  EXPECT_EQ(say_hello(greeter.tls_target(), {.ca_file = pki("ca.pem"),
                                             .certificate_file = pki("selfsigned-client.pem"),
                                             .private_key_file = pki("selfsigned-client.key")})
                .code,
            grpc::StatusCode::UNAVAILABLE);
}

// Replaces `to` by `from` in one rename, so the watcher never reads half a file.
void replace_file(const fs::path& from, const fs::path& to) {
  const fs::path staging = to.string() + ".new";
  fs::copy_file(from, staging, fs::copy_options::overwrite_existing);
  fs::rename(staging, to);
}

TEST(tls, a_rotated_certificate_is_served_to_new_handshakes_without_a_restart) {
  const fs::path dir = pki_environment::dir() / "rotating";
  fs::create_directories(dir);
  replace_file(pki_environment::dir() / "server.pem", dir / "server.pem");
  replace_file(pki_environment::dir() / "server.key", dir / "server.key");
  tls_greeter greeter({.certificate_chain_file = (dir / "server.pem").string(),
                       .private_key_file = (dir / "server.key").string(),
                       .reload_interval = 1s});
  const rpc::channel_tls as_localhost{.ca_file = pki("ca.pem")};
  const rpc::channel_tls as_other{.ca_file = pki("ca.pem"), .target_name_override = "other.test"};
  const auto before = say_hello(greeter.tls_target(), as_localhost);
  EXPECT_EQ(before.code, grpc::StatusCode::OK);
  EXPECT_EQ(before.server_name, "localhost");
  // A connection made before the rotation, kept open across it.
  const auto old_connection = channel_to(greeter.tls_target(), as_localhost);
  EXPECT_EQ(say_hello(old_connection).code, grpc::StatusCode::OK);

  // other.pem names DNS:other.test: a client that expects that name is served once the
  // server has taken up the new files (the watcher looks once a second).
  replace_file(pki_environment::dir() / "other.key", dir / "server.key");
  replace_file(pki_environment::dir() / "other.pem", dir / "server.pem");
  outcome after{};
  const auto give_up = std::chrono::steady_clock::now() + 15s;
  do {
    std::this_thread::sleep_for(200ms);
    after = say_hello(greeter.tls_target(), as_other);
  } while (after.code != grpc::StatusCode::OK && std::chrono::steady_clock::now() < give_up);
  EXPECT_EQ(after.code, grpc::StatusCode::OK);
  EXPECT_EQ(after.server_name, "other.test");
  // New handshakes no longer see the old certificate; the old connection still serves.
  EXPECT_EQ(say_hello(greeter.tls_target(), as_localhost).code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(say_hello(old_connection).code, grpc::StatusCode::OK);
}

// start() with `tls` must throw std::runtime_error whose message names `file`.
void expect_start_refuses(const rpc::server_tls& tls, const std::string& file) {
  coronet::runtime rt({.threads = 1, .handle_signals = false});
  rpc::server server(rt);
  server.listen_tls("127.0.0.1", 0, tls);
  try {
    server.start();
    ADD_FAILURE() << "start() accepted a bad " << file;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
  }
}

TEST(tls, start_refuses_a_missing_file_naming_it) {
  auto tls = server_certificate();
  tls.private_key_file = pki("no-such.key");
  expect_start_refuses(tls, tls.private_key_file);
  tls = mutual();
  tls.client_ca_file = pki("no-such-ca.pem");
  expect_start_refuses(tls, tls.client_ca_file);
}

TEST(tls, start_refuses_a_file_that_is_not_pem_naming_it) {
  const std::string garbage = pki("garbage.pem");
  std::ofstream(garbage) << "-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                            "-----END CERTIFICATE-----\n";
  auto tls = server_certificate();
  tls.certificate_chain_file = garbage;
  expect_start_refuses(tls, garbage);
  tls = server_certificate();
  tls.private_key_file = garbage;
  expect_start_refuses(tls, garbage);
  tls = server_certificate();
  tls.private_key_file = pki("server.pem");  // a certificate where the key should be
  expect_start_refuses(tls, tls.private_key_file);
}

TEST(tls, start_refuses_the_key_of_another_certificate) {
  auto tls = server_certificate();
  tls.private_key_file = pki("other.key");
  expect_start_refuses(tls, tls.private_key_file);
}

TEST(tls, secure_channel_refuses_a_missing_ca_file_naming_it) {
  try {
    rpc::secure_channel("127.0.0.1:1", {.ca_file = pki("no-such-ca.pem")});
    ADD_FAILURE() << "secure_channel accepted a missing CA file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-ca.pem"), std::string::npos) << e.what();
  }
  EXPECT_THROW(rpc::secure_channel("127.0.0.1:1", {.certificate_file = pki("client.pem")}),
               std::invalid_argument);
}

}  // namespace
