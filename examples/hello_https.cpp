// hello_https: an HTTPS server and an https:// client in one program. The server answers
// GET / with the TLS version it agreed; the client calls it once, prints the answer (or why
// the certificate was not accepted) and stops the runtime. Built when TLS is.
//
//     hello_https CERT KEY CA      PEM files: the server's chain and key, the CA to trust
#include <coronet/coronet.hpp>
#include <coronet/tls.hpp>

#include <iostream>
#include <string>

namespace http = coronet::http;
namespace tls = coronet::tls;

namespace {

asio::awaitable<void> call(std::string url, std::string ca_file, coronet::runtime& rt) {
  // snippet-begin https_client
  http::client_options options;
  options.tls.ca_file = ca_file;  // default: the system's CA store
  http::client client(co_await asio::this_coro::executor, options);
  auto res = co_await client.get(url);
  if (!res) {
    // e.g. "certificate verification failed: hostname mismatch"
    std::cerr << url << ": " << res.error().message() << "\n";
  } else {
    std::cout << res->body << "\n";
  }
  // snippet-end https_client
  rt.stop();
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 4) {
    std::cerr << "usage: hello_https CERT KEY CA\n";
    return 2;
  }
  // snippet-begin https_server
  coronet::runtime rt;
  http::router routes;
  routes.get("/", [](http::request& req) -> asio::awaitable<http::response> {
    const tls::peer* peer = req.tls_peer;  // null on a plaintext port
    co_return http::response::text(std::string("Hello over ") + (peer ? peer->version : "plaintext"));
  });
  tls::server_config config;
  config.certificates.push_back({.chain_file = argv[1], .key_file = argv[2]});
  tls::server_context context(config);  // loads the files now: tls::error names a bad one
  http::server server(rt, std::move(routes));
  server.listen_tls("127.0.0.1", 0, context);  // TLS 1.2 and 1.3, ALPN http/1.1
  // snippet-end https_server
  const auto url = "https://localhost:" + std::to_string(server.tls_port()) + "/";
  asio::co_spawn(rt.context(0), call(url, argv[3], rt), asio::detached);
  rt.run();
  return 0;
} catch (const std::exception& e) {
  std::cerr << "hello_https: " << e.what() << "\n";
  return 1;
}
