// The plaintext benchmark's server: GET / answers "Hello, World!", as the seed's Go server.
//   http_plaintext_server [--listen HOST:PORT] [--threads N]
// Prints "port N" once listening; SIGINT/SIGTERM stop it.
#include <coronet/coronet.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace http = coronet::http;

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  unsigned port = 0;
  std::size_t threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--listen") {
      const auto colon = value.rfind(':');
      host = value.substr(0, colon);
      port = static_cast<unsigned>(std::stoul(value.substr(colon + 1)));
    } else if (flag == "--threads") {
      threads = std::stoul(value);
    } else {
      std::fprintf(stderr, "usage: %s [--listen HOST:PORT] [--threads N]\n", argv[0]);
      return 2;
    }
  }
  coronet::runtime rt({.threads = threads});
  http::router routes;
  routes.get("/", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("Hello, World!");
  });
  http::server server(rt, std::move(routes), {.max_connections = 100'000});
  server.listen(host, static_cast<std::uint16_t>(port));
  std::printf("port %u\n", server.port());
  std::fflush(stdout);
  rt.run();
}
