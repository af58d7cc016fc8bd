// hello_http: the smallest coronet HTTP/1.1 server. GET / answers "Hello, World!"; SIGINT
// or SIGTERM drains it and it exits 0. Built in every build, HTTP-only included.
//
//     hello_http [PORT]        default 8080; 0 picks a free port (printed on start)
#include <coronet/coronet.hpp>

#include <cstdint>
#include <iostream>
#include <string>

namespace http = coronet::http;

int main(int argc, char** argv) {
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::stoi(argv[1]) : 8080);
  // snippet-begin hello_http
  coronet::runtime rt;  // one io_context per core
  http::router routes;
  routes.get("/", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("Hello, World!");
  });
  routes.get("/users/{id}", [](http::request& req) -> asio::awaitable<http::response> {
    co_return http::response::json("{\"id\": \"" + std::string(req.param("id")) + "\"}");
  });
  http::server server(rt, std::move(routes));
  server.listen("127.0.0.1", port);  // port 0 picks one: server.port()
  std::cout << "listening on 127.0.0.1:" << server.port() << std::endl;
  rt.run();  // Ctrl-C drains, then returns
  // snippet-end hello_http
}
