#include "scenarios.hpp"

#include "connect_load.hpp"
#include "external.hpp"
#include "grpc_load.hpp"
#include "http_load.hpp"

#include <algorithm>
#include <cstdio>

namespace coronet_bench {

namespace {

void plan_fair(planner& p) {
  for (const auto& l : levels) {
    const std::size_t n = l.in_flight;
    // The completion-queue client needs several threads to keep a server busy (see the
    // grpc-clients scenario); one call in flight needs one.
    const std::size_t cq_threads = std::min<std::size_t>(4, n);
    auto row = [&](std::string transport, std::string client, std::size_t connections,
                   runner run, runner external) {
      const std::size_t threads = run == &run_grpc_cq ? cq_threads : 1;
      p.add({.scenario = "fair", .transport = std::move(transport), .client = std::move(client),
             .payload = 16, .connections = connections, .concurrency = n, .threads = threads,
             .level = l.level, .run = run, .external = external});
    };
    // HTTP/1.1 keep-alive: a connection per request in flight. Pipelined: all of them on
    // one connection at 16, 32 on each of 16 connections at 512.
    row("http-rpc", "coronet", n, &run_http_rpc, &run_wrk);
    if (n > 1) row("http-rpc", "pipelined", n == 16 ? 1 : l.connections, &run_http_pipelined, &run_wrk);
    // Connect and gRPC-Web: the gRPC rows' greeter on the HTTP/1.1 port, keep-alive as
    // http-rpc (no external tool speaks them at a fixed shape), each request built once and
    // sent through http::client as http-rpc's is: the server's CPU per call depends on the
    // pace of the load, and connect::call's own per-call work slowed it (the connect
    // scenario has connect::call's rows).
    row("connect-proto", "coronet", n, &run_connect_raw, nullptr);
    row("connect-json", "coronet", n, &run_connect_raw, nullptr);
    row("grpc-web", "coronet", n, &run_grpc_web, nullptr);
    for (const char* transport : {"grpc", "grpc-hop", "grpc-raw"}) {
      // Simple: coronet's rpc::call over one channel. Best: grpc++'s completion queue over
      // one channel and over 16 (each its own connection), compared with h2load's figure.
      row(transport, "coronet", 1, &run_grpc_unary, nullptr);
      row(transport, "grpc-cq", 1, &run_grpc_cq, &run_h2load);
      if (n > 1) row(transport, "grpc-cq", l.connections, &run_grpc_cq, &run_h2load);
    }
  }
}

// Which grpc++ client configuration loads a server most cheaply, at 16 channels x 32.
void plan_grpc_clients(planner& p) {
  auto row = [&](std::string client, std::size_t channels, std::size_t threads, runner run,
                 runner external = nullptr) {
    p.add({.scenario = "grpc-clients", .transport = "grpc-raw", .client = std::move(client),
           .payload = 16, .connections = channels, .concurrency = 512, .threads = threads,
           .run = run, .external = external});
  };
  row("coronet", 1, 1, &run_grpc_unary);
  row("coronet", 16, 1, &run_grpc_unary);
  row("grpc-cb-stock", 16, 1, &run_grpc_callback);
  row("grpc-cb", 16, 1, &run_grpc_callback);
  row("grpc-cq-stock", 16, 4, &run_grpc_cq);
  row("grpc-cq", 1, 1, &run_grpc_cq);
  row("grpc-cq", 16, 1, &run_grpc_cq);
  row("grpc-cq", 16, 2, &run_grpc_cq);
  row("grpc-cq", 1, 4, &run_grpc_cq);
  row("grpc-cq", 16, 4, &run_grpc_cq, &run_h2load);
  row("grpc-cq", 16, 8, &run_grpc_cq);
}

}  // namespace

const std::vector<scenario>& scenario_table() {
  static const std::vector<scenario> table = {
      {"fair", "the unary Greeting over HTTP/1.1 (keep-alive, pipelined), Connect (proto, JSON) "
               "and gRPC-Web (keep-alive), and gRPC (coroutine server inline_start and "
               "hand-off, raw server; rpc::call on one channel, grpc++ completion queues on 1 "
               "and 16 channels) at 1, 16 and 512 in flight; feeds the summary",
       &plan_fair},
      {"http", "GET / over keep-alive connections, --concurrency of them",
       [](planner& p) {
         const auto c = p.o.concurrency;
         p.add({.scenario = "http", .transport = "http", .connections = c, .concurrency = c,
                .rate = p.o.rate, .run = &run_http_get, .external = &run_wrk});
       }},
      {"https", "GET / over keep-alive TLS 1.3 connections, --concurrency of them (wrk over TLS "
                "with --check-external)",
       [](planner& p) {
         const auto c = p.o.concurrency;
         p.add({.scenario = "https", .transport = "https", .connections = c, .concurrency = c,
                .rate = p.o.rate, .run = &run_http_get, .external = &run_wrk});
       }},
      {"https-pipelined", "GET / over TLS, --concurrency connections with 16 requests on the "
                          "wire each (driven by wrk: coronet's client does not pipeline)",
       [](planner& p) {
         const auto c = p.o.concurrency;
         p.add({.scenario = "https-pipelined", .transport = "https", .client = "wrk",
                .connections = c, .concurrency = c * pipeline_depth, .run = &run_wrk});
       }},
      {"http-pipelined", "GET /, --concurrency connections with 16 requests on the wire each",
       [](planner& p) {
         const auto c = p.o.concurrency;
         p.add({.scenario = "http-pipelined", .transport = "http", .client = "pipelined",
                .connections = c, .concurrency = c * pipeline_depth, .run = &run_http_pipelined,
                .external = &run_wrk});
       }},
      {"http-rpc", "the unary Greeting as an application/proto POST, keep-alive",
       [](planner& p) {
         const auto c = p.o.concurrency;
         p.add({.scenario = "http-rpc", .transport = "http-rpc", .payload = 16, .connections = c,
                .concurrency = c, .rate = p.o.rate, .run = &run_http_rpc, .external = &run_wrk});
       }},
      {"connect", "SayHello from the gRPC greeter's service object over Connect (proto, JSON) "
                  "and gRPC-Web (http::client), next to http-rpc, keep-alive; and Connect once "
                  "more through connect::call (client connect-call)",
       [](planner& p) {
         const auto c = p.o.concurrency;
         for (const char* t : {"http-rpc", "connect-proto", "connect-json", "grpc-web"}) {
           const std::string_view transport(t);
           p.add({.scenario = "connect", .transport = t, .payload = 16, .connections = c,
                  .concurrency = c, .rate = p.o.rate,
                  .run = transport == "http-rpc"   ? &run_http_rpc
                         : transport == "grpc-web" ? &run_grpc_web
                                                   : &run_connect_raw});
         }
         for (const char* t : {"connect-proto", "connect-json"}) {
           p.add({.scenario = "connect", .transport = t, .client = "connect-call", .payload = 16,
                  .connections = c, .concurrency = c, .rate = p.o.rate,
                  .run = &run_connect_unary});
         }
       }},
      {"grpc", "SayHello on the coroutine service (inline_start), rpc::call over one channel",
       [](planner& p) {
         p.add({.scenario = "grpc", .transport = "grpc", .payload = 16, .connections = 1,
                .concurrency = p.o.concurrency, .rate = p.o.rate, .run = &run_grpc_unary,
                .external = &run_h2load});
       }},
      {"grpc-hop", "SayHello on the coroutine service with default options (handler handed to "
                   "the io thread), rpc::call over one channel",
       [](planner& p) {
         p.add({.scenario = "grpc-hop", .transport = "grpc-hop", .payload = 16, .connections = 1,
                .concurrency = p.o.concurrency, .rate = p.o.rate, .run = &run_grpc_unary,
                .external = &run_h2load});
       }},
      {"grpc-raw", "SayHello on the raw callback-API server, rpc::call over one channel",
       [](planner& p) {
         p.add({.scenario = "grpc-raw", .transport = "grpc-raw", .payload = 16, .connections = 1,
                .concurrency = p.o.concurrency, .rate = p.o.rate, .run = &run_grpc_unary,
                .external = &run_h2load});
       }},
      {"grpc-stream", "server streaming and bidi ping-pong, --concurrency streams",
       [](planner& p) {
         const auto c = p.o.concurrency;
         p.add({.scenario = "grpc-stream", .transport = "server-stream", .concurrency = c,
                .unit = "msg", .run = &run_grpc_server_stream});
         p.add({.scenario = "grpc-stream", .transport = "bidi", .concurrency = c, .unit = "msg",
                .run = &run_grpc_bidi});
       }},
      {"grpc-clients", "grpc++ client configurations against the raw server at 16 x 32",
       &plan_grpc_clients},
      {"payload-sweep", "http-rpc and grpc (one channel) with 16 B to 1 MiB messages",
       [](planner& p) {
         const auto c = p.o.concurrency;
         for (std::size_t bytes : {16u, 1024u, 64u * 1024u, 1024u * 1024u}) {
           p.add({.scenario = "payload-sweep", .transport = "http-rpc", .payload = bytes,
                  .connections = c, .concurrency = c, .run = &run_http_rpc}, true);
           p.add({.scenario = "payload-sweep", .transport = "grpc", .payload = bytes,
                  .connections = 1, .concurrency = c, .run = &run_grpc_unary}, true);
         }
       }},
      {"concurrency-sweep", "http, http-rpc, connect-proto, connect-json, grpc-web, grpc, "
                            "grpc-raw (coronet's clients, one channel) at 1 to 256 in flight",
       [](planner& p) {
         for (std::size_t n : {1u, 4u, 16u, 64u, 256u}) {
           p.add({.scenario = "concurrency-sweep", .transport = "http", .connections = n,
                  .concurrency = n, .rate = p.o.rate, .run = &run_http_get}, true);
           p.add({.scenario = "concurrency-sweep", .transport = "http-rpc", .payload = 16,
                  .connections = n, .concurrency = n, .rate = p.o.rate, .run = &run_http_rpc},
                 true);
           for (const char* t : {"connect-proto", "connect-json", "grpc-web"})
             p.add({.scenario = "concurrency-sweep", .transport = t, .payload = 16,
                    .connections = n, .concurrency = n, .rate = p.o.rate,
                    .run = std::string_view(t) == "grpc-web" ? &run_grpc_web : &run_connect_raw},
                   true);
           for (const char* t : {"grpc", "grpc-raw"})
             p.add({.scenario = "concurrency-sweep", .transport = t, .payload = 16,
                    .connections = 1, .concurrency = n, .rate = p.o.rate,
                    .run = &run_grpc_unary}, true);
         }
       }},
  };
  return table;
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  for (const auto& s : scenario_table()) names.emplace_back(s.name);
  return names;
}

std::string scenario_help() {
  std::string text;
  for (const auto& s : scenario_table()) {
    char line[64];
    std::snprintf(line, sizeof line, "  %-20s ", std::string(s.name).c_str());
    text += line;
    // Wrapped at 90 columns under the description's start.
    std::size_t column = 23;
    for (const auto& word : split(s.description, ' ')) {
      if (column + word.size() + 1 > 90) {
        text += "\n" + std::string(23, ' ');
        column = 23;
      }
      text += (column > 23 ? " " : "") + word;
      column += word.size() + 1;
    }
    text += "\n";
  }
  return text;
}

}  // namespace coronet_bench
