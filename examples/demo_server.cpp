// coronet-demo: GET / ("Hello, World!") and the gRPC HelloWorld service, one process, one port.
//
//   GET /              200 "Hello, World!"            (HTTP/1.1)
//   GET /healthz       200 "ok"
//   POST /echo         200, the request body back
//   GET /hello/{name}  gateway: calls HelloWorld.SayHello(name) over gRPC and answers the
//                      reply; backend down: 502, backend too slow: 504
//   /HelloWorld/SayHello  HelloWorld.SayHello (hello.proto, no package), "Hello, " + message,
//                      one handler served over gRPC, Connect and gRPC-Web; plus the standard
//                      health service and server reflection (gRPC)
//
//   (`coronet-demo --help` shows a curl or buf curl line for each protocol.)
//
// HTTP/1.1 and gRPC share the --listen port: coronet::listener sends connections that open
// with the HTTP/2 preface to the gRPC server and the rest to the HTTP server. With
// --tls-cert/--tls-key the same routes are also served over HTTPS (--tls-listen) and the
// gRPC service over TLS on a port of gRPC's own (--grpc-tls-listen): grpc++ cannot take over
// a TLS connection from another party (docs/tls.md). SIGHUP re-reads the certificates.
#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <coronet/connect/server.hpp>
#include <coronet/coronet.hpp>
#include <coronet/listener.hpp>
#include <coronet/metrics.hpp>
#include <coronet/rpc/client.hpp>
#include <coronet/rpc/server.hpp>
#include <coronet/rpc/service.hpp>
#include <coronet/rpc/tls.hpp>
#include <coronet/tls.hpp>

#include <asio/signal_set.hpp>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace http = coronet::http;
namespace rpc = coronet::rpc;
using namespace std::chrono_literals;

namespace {

constexpr const char* usage =
    "usage: coronet-demo [options]\n"
    "  --listen HOST:PORT        HTTP/1.1 and gRPC on one port (default 127.0.0.1:8080; port 0\n"
    "                            picks a free one)\n"
    "  --grpc-listen HOST:PORT   also serve gRPC alone on this port\n"
    "  --grpc-idle-timeout MS    close a gRPC connection with no call for this long (default\n"
    "                            300000; 0: never)\n"
    "  --max-connections N       HTTP/1.1 connections held at once; more are answered 503\n"
    "                            (default 10000)\n"
    "  --header-timeout MS       time a client has to send a request head (default 10000)\n"
    "  --preface-timeout MS      time an HTTP/2 client has to send its preface and SETTINGS\n"
    "                            (default 10000)\n"
    "  --grpc-max-connections N  gRPC connections held at once; more get GOAWAY (default\n"
    "                            10000)\n"
    "  --grpc-max-streams N      calls in flight per gRPC connection (default: no limit)\n"
    "  --grpc-max-metadata N     largest request metadata, in bytes (default: gRPC's)\n"
    "  --grpc-max-message N      largest request message, in bytes (default 4194304)\n"
    "  --drain-timeout MS        on SIGTERM, how long in-flight HTTP requests and gRPC calls\n"
    "                            may run before they are cut off (default 10000)\n"
    "  --drain-idle-grace MS     on SIGTERM, how long idle HTTP keep-alive connections stay\n"
    "                            open (a request on one is answered with Connection: close);\n"
    "                            behind a proxy, above its upstream keep-alive timeout\n"
    "                            (default 0: closed at once; docs/deploy.md)\n"
    "  --http2-drain-grace MS    on SIGTERM, how long gRPC connections are still served as\n"
    "                            usual before GOAWAY, unless their clients close them first;\n"
    "                            behind nginx, above its upstream keepalive_timeout and\n"
    "                            keepalive_time (default 0: GOAWAY at once; docs/deploy.md)\n"
    "  --backend HOST:PORT       where GET /hello/{name} sends SayHello (default: itself)\n"
    "  --backend-timeout MS      deadline of that call (default 2000)\n"
    "  --tls-cert FILE           also serve HTTPS and gRPC over TLS with this certificate\n"
    "                            chain (PEM); SIGHUP re-reads it\n"
    "  --tls-key FILE            the certificate's private key (PEM)\n"
    "  --tls-listen HOST:PORT    the HTTPS port (default 127.0.0.1:8443)\n"
    "  --grpc-tls-listen HOST:PORT  the gRPC over TLS port (default 127.0.0.1:8444)\n"
    "  --client-ca FILE          mutual TLS: require client certificates from these CAs\n"
    "  --debug                   log failed TLS handshakes to stderr\n"
    "  --no-metrics              no GET /metrics, nothing counted\n"
    "  --cors-origin ORIGIN      let browsers on ORIGIN call the service over Connect and\n"
    "                            gRPC-Web (repeatable; * for any)\n"
    "  --threads N               io threads (default: one per core)\n"
    "  --batch-scheduling        io threads and gRPC's threads under Linux SCHED_BATCH: for a\n"
    "                            throughput-bound server whose threads share CPUs\n"
    "  --help, --version\n"
    "\n"
    "HelloWorld.SayHello over each protocol, on the one port:\n"
    "  curl -H 'content-type: application/json' -d '{\"message\":\"x\"}' \\\n"
    "       http://127.0.0.1:8080/HelloWorld/SayHello                        (Connect)\n"
    "  buf curl --protocol grpcweb --schema proto/hello.proto -d '{\"message\":\"x\"}' \\\n"
    "       http://127.0.0.1:8080/HelloWorld/SayHello                        (gRPC-Web)\n"
    "  buf curl --protocol grpc --http2-prior-knowledge -d '{\"message\":\"x\"}' \\\n"
    "       http://127.0.0.1:8080/HelloWorld/SayHello                        (gRPC)\n";

struct options {
  std::string listen = "127.0.0.1:8080";
  std::string grpc_listen;
  std::string backend;
  http::server_options http;
  rpc::server_options grpc;
  coronet::listener_options port;
  std::chrono::milliseconds backend_timeout = 2000ms;
  std::size_t threads = 0;
  bool batch_scheduling = false;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_listen = "127.0.0.1:8443";
  std::string grpc_tls_listen = "127.0.0.1:8444";
  std::string client_ca;
  bool debug = false;
  bool metrics = true;
  std::vector<std::string> cors_origins;
};

std::pair<std::string, std::uint16_t> split_host_port(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) {
    throw std::invalid_argument("expected HOST:PORT, got '" + s + "'");
  }
  auto host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const auto port = std::stoul(s.substr(colon + 1));
  if (port > 65535) throw std::invalid_argument("port out of range in '" + s + "'");
  return {host, static_cast<std::uint16_t>(port)};
}

std::optional<options> parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << usage;
      std::exit(0);
    }
    if (flag == "--version") {
      std::cout << "coronet-demo " CORONET_VERSION "\n";
      std::exit(0);
    }
    if (flag == "--batch-scheduling") {
      o.batch_scheduling = true;
      continue;
    }
    if (flag == "--debug") {
      o.debug = true;
      continue;
    }
    if (flag == "--no-metrics") {
      o.metrics = false;
      continue;
    }
    if (i + 1 >= argc) return std::nullopt;
    const std::string value = argv[++i];
    if (flag == "--listen") o.listen = value;
    else if (flag == "--grpc-listen") o.grpc_listen = value;
    else if (flag == "--grpc-idle-timeout") o.grpc.max_connection_idle = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--max-connections") o.http.max_connections = std::stoul(value);
    else if (flag == "--header-timeout") o.http.read_header_timeout = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--grpc-max-connections") o.port.max_http2_connections = std::stoul(value);
    else if (flag == "--preface-timeout") o.port.sniff_timeout = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--grpc-max-streams") o.grpc.max_concurrent_streams = std::stoi(value);
    else if (flag == "--grpc-max-metadata") o.grpc.max_metadata_bytes = std::stoi(value);
    else if (flag == "--grpc-max-message") o.grpc.max_receive_message_bytes = std::stoi(value);
    else if (flag == "--drain-timeout") o.http.drain_timeout = o.grpc.drain_timeout = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--drain-idle-grace") o.http.drain_idle_grace = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--http2-drain-grace") o.port.http2_drain_grace = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--cors-origin") o.cors_origins.push_back(value);
    else if (flag == "--backend") o.backend = value;
    else if (flag == "--backend-timeout") o.backend_timeout = std::chrono::milliseconds(std::stoul(value));
    else if (flag == "--threads") o.threads = std::stoul(value);
    else if (flag == "--tls-cert") o.tls_cert = value;
    else if (flag == "--tls-key") o.tls_key = value;
    else if (flag == "--tls-listen") o.tls_listen = value;
    else if (flag == "--grpc-tls-listen") o.grpc_tls_listen = value;
    else if (flag == "--client-ca") o.client_ca = value;
    else return std::nullopt;
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    throw std::invalid_argument("--tls-cert and --tls-key go together");
  }
  return o;
}

// HelloWorld.SayHello from proto/hello.proto: "Hello, " + message.
asio::awaitable<grpc::Status> say_hello(coronet::rpc::context&, const Greeting& request,
                                        Greeting& reply) {
  reply.set_message("Hello, " + request.message());
  co_return grpc::Status::OK;
}

// Service to service: an HTTP handler that awaits a gRPC call, with a deadline.
http::handler gateway(HelloWorld::Stub*& backend, std::chrono::milliseconds timeout) {
  return [&backend, timeout](http::request& req) -> asio::awaitable<http::response> {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    Greeting greeting;
    greeting.set_message(std::string(req.param("name")));
    auto [status, reply] = co_await rpc::call(&HelloWorld::Stub::async::SayHello, *backend, ctx, greeting);
    if (status.ok()) co_return http::response::text(reply.message());
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      co_return http::response::text("backend did not answer within " + std::to_string(timeout.count()) +
                                         " ms\n",
                                     http::status::gateway_timeout);
    }
    co_return http::response::text("backend failed: " + status.error_message() + "\n",
                                   http::status::bad_gateway);
  };
}

std::string address(const std::string& host, std::uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// SIGHUP: the HTTPS certificates are read again (gRPC's port re-reads its files by itself).
asio::awaitable<void> reload_on_hangup(asio::signal_set& hup, coronet::tls::server_context& tls) {
  for (;;) {
    auto [ec, signal] = co_await hup.async_wait(coronet::detail::use_nothrow);
    if (ec) co_return;
    try {
      tls.reload();
      std::printf("coronet-demo: certificates reloaded\n");
    } catch (const coronet::tls::error& e) {
      std::fprintf(stderr, "coronet-demo: reload failed, keeping the previous certificates: %s\n", e.what());
    }
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const auto opts = parse(argc, argv);
  if (!opts) {
    std::cerr << usage;
    return 2;
  }
  const auto [host, port] = split_host_port(opts->listen);

  coronet::runtime rt({.threads = opts->threads, .batch_scheduling = opts->batch_scheduling});
  // One registry for both servers, scraped at GET /metrics (docs/metrics.md).
  coronet::metrics metrics;
  metrics.track(rt);
  auto grpc_options = opts->grpc;
  auto http_options = opts->http;
  if (opts->metrics) {
    grpc_options.metrics = &metrics;
    http_options.metrics = &metrics;
  }

  rpc::service<HelloWorld> greeter;
  // say_hello never suspends and never blocks: started inline, it runs whole on the gRPC
  // thread that delivered the call, with no hand-off to an io thread (docs/grpc.md).
  greeter.handle<hello_world::say_hello>(say_hello, {.inline_start = true});
  rpc::server grpc_server(rt, grpc_options);
  grpc_server.add(greeter);
  if (!opts->grpc_listen.empty()) {
    const auto [grpc_host, grpc_port] = split_host_port(opts->grpc_listen);
    grpc_server.listen(grpc_host, grpc_port);
  }
  const bool with_tls = !opts->tls_cert.empty();
  if (with_tls) {
    const auto [grpc_host, grpc_port] = split_host_port(opts->grpc_tls_listen);
    // gRPC re-reads the files itself, every 10 s: SIGHUP need not reach it.
    grpc_server.listen_tls(grpc_host, grpc_port,
                           {.certificate_chain_file = opts->tls_cert, .private_key_file = opts->tls_key,
                            .client_ca_file = opts->client_ca, .reload_interval = 10s});
  }
  grpc_server.start();

  HelloWorld::Stub* backend = nullptr;
  http::router routes;
  routes.get("/", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("Hello, World!");
  });
  routes.get("/healthz", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("ok\n");
  });
  routes.post("/echo", [](http::request& req) -> asio::awaitable<http::response> {
    co_return http::response::bytes(std::move(req.body), "text/plain");
  });
  routes.get("/hello/{name}", gateway(backend, opts->backend_timeout));
  if (opts->metrics) routes.get("/metrics", metrics.endpoint());
  // The same greeter over Connect and gRPC-Web, on HTTP/1.1 (docs/connect.md).
  coronet::connect::mount(routes, greeter, {.allowed_origins = opts->cors_origins});
  http::server http_server(rt, std::move(routes), http_options);

  coronet::listener shared_port(rt, http_server, opts->port);
  shared_port.on_http2([&grpc_server](asio::ip::tcp::socket s) { grpc_server.adopt(std::move(s)); });
  shared_port.listen(host, port);

  std::optional<coronet::tls::server_context> tls;
  std::optional<asio::signal_set> hangup;
  std::string tls_host;
  if (with_tls) {
    coronet::tls::server_config config;
    config.certificates.push_back({opts->tls_cert, opts->tls_key});
    config.client_ca_file = opts->client_ca;
    if (opts->debug) {
      config.on_handshake_failure = [](const std::error_code& ec, const std::string& peer) {
        std::fprintf(stderr, "coronet-demo: TLS handshake from %s failed: %s\n", peer.c_str(), ec.message().c_str());
      };
    }
    tls.emplace(std::move(config));
    const auto [https_host, https_port] = split_host_port(opts->tls_listen);
    tls_host = https_host;
    http_server.listen_tls(https_host, https_port, *tls);
    hangup.emplace(rt.context(0), SIGHUP);
    asio::co_spawn(rt.context(0), reload_on_hangup(*hangup, *tls), asio::detached);
    rt.add_stop_hook([&hangup]() -> asio::awaitable<void> {
      hangup->cancel();
      co_return;
    });
  }

  const auto self = address(host, shared_port.port());
  auto stub = HelloWorld::NewStub(
      grpc::CreateChannel(opts->backend.empty() ? self : opts->backend, grpc::InsecureChannelCredentials()));
  backend = stub.get();

  std::printf("coronet-demo listening on %s (HTTP/1.1 and gRPC)\n", self.c_str());
  if (grpc_server.port() != 0) std::printf("coronet-demo gRPC also on port %d\n", grpc_server.port());
  if (with_tls) {
    std::printf("coronet-demo HTTPS on %s\n", address(tls_host, http_server.tls_port()).c_str());
    std::printf("coronet-demo gRPC over TLS on %s\n",
                address(split_host_port(opts->grpc_tls_listen).first, grpc_server.tls_port()).c_str());
  }
  std::fflush(stdout);
  // SIGINT/SIGTERM: the port stops accepting (its queue is still served), the graces let a
  // proxy close its pooled connections itself, then both servers drain; run() returns.
  rt.run();
  std::printf("coronet-demo stopped\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "coronet-demo: %s\n", e.what());
  return 1;
}
