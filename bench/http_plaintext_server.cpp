// The plaintext benchmark's server: GET / answers "Hello, World!", as the seed's Go server.
// With --tls-cert and --tls-key it serves the same over TLS instead, for bench/https_compare.sh.
//   http_plaintext_server [--listen HOST:PORT] [--threads N] [--tls-cert FILE --tls-key FILE]
// Prints "port N" once listening; SIGINT/SIGTERM stop it.
#include <coronet/coronet.hpp>
#if CORONET_HAS_TLS
#include <coronet/tls.hpp>
#endif

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace http = coronet::http;

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  unsigned port = 0;
  std::size_t threads = 1;
  std::string tls_cert;
  std::string tls_key;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--listen") {
      const auto colon = value.rfind(':');
      host = value.substr(0, colon);
      port = static_cast<unsigned>(std::stoul(value.substr(colon + 1)));
    } else if (flag == "--threads") {
      threads = std::stoul(value);
    } else if (flag == "--tls-cert") {
      tls_cert = value;
    } else if (flag == "--tls-key") {
      tls_key = value;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--listen HOST:PORT] [--threads N] [--tls-cert FILE --tls-key FILE]\n",
                   argv[0]);
      return 2;
    }
  }
  if (tls_cert.empty() != tls_key.empty()) {
    std::fprintf(stderr, "%s: --tls-cert and --tls-key go together\n", argv[0]);
    return 2;
  }
  coronet::runtime rt({.threads = threads});
  http::router routes;
  routes.get("/", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("Hello, World!");
  });
#if CORONET_HAS_TLS
  // Declared before the server, so it outlives the server's TLS connections.
  std::optional<coronet::tls::server_context> tls;
#endif
  http::server server(rt, std::move(routes), {.max_connections = 100'000});
  if (tls_cert.empty()) {
    server.listen(host, static_cast<std::uint16_t>(port));
    std::printf("port %u\n", server.port());
  } else {
#if CORONET_HAS_TLS
    coronet::tls::server_config cfg;
    cfg.certificates.push_back({.chain_file = tls_cert, .key_file = tls_key});
    tls.emplace(std::move(cfg));
    server.listen_tls(host, static_cast<std::uint16_t>(port), *tls);
    std::printf("port %u\n", server.tls_port());
#else
    std::fprintf(stderr, "%s: built without TLS (OpenSSL)\n", argv[0]);
    return 2;
#endif
  }
  std::fflush(stdout);
  rt.run();
}
