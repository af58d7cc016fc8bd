// The server http_middleware_test.py talks to: a router whose own middleware answers CORS
// preflights and writes an access log line per request to stdout, an /api group behind a
// bearer token, and handlers that throw. Prints "port N" once listening; SIGTERM drains.
#include <coronet/coronet.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace http = coronet::http;

namespace {

asio::awaitable<http::response> cors(http::request& req, http::next_handler next) {
  if (req.method == "OPTIONS" && req.headers.get("access-control-request-method")) {
    auto res = http::response::empty(http::status::no_content);
    res.headers.set("Access-Control-Allow-Origin", "*");
    res.headers.set("Access-Control-Allow-Methods", "GET, POST");
    res.headers.set("Access-Control-Allow-Headers", "Authorization");
    co_return res;
  }
  auto res = co_await next(req);
  res.headers.set("Access-Control-Allow-Origin", "*");
  co_return res;
}

asio::awaitable<http::response> access_log(http::request& req, http::next_handler next) {
  // Outside cors: it logs the preflights cors answers too. A 500 is the server's, after this.
  auto res = co_await next(req);
  std::printf("access %s %s %u\n", req.method.c_str(), req.target.c_str(),
              static_cast<unsigned>(res.status));
  std::fflush(stdout);
  co_return res;
}

asio::awaitable<http::response> bearer_token(http::request& req, http::next_handler next) {
  if (req.headers.get("authorization") != "Bearer secret") {
    auto res = http::response::text("Unauthorized\n", http::status::unauthorized);
    res.headers.set("WWW-Authenticate", "Bearer");
    co_return res;
  }
  co_return co_await next(req);
}

asio::awaitable<http::response> unavailable_on_throw(http::request& req, http::next_handler next) {
  try {
    co_return co_await next(req);
  } catch (const std::exception& e) {
    co_return http::response::text(std::string("unavailable: ") + e.what() + "\n",
                                   http::status::service_unavailable);
  }
}

asio::awaitable<http::response> fail(http::request&) {
  throw std::runtime_error("handler failed");
  co_return http::response::empty(http::status::ok);
}

http::router routes() {
  http::router r;
  r.use(access_log).use(cors);
  r.get("/", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("Hello, World!");
  });
  r.get("/throw", fail);
  auto api = r.group("/api");
  api.use(bearer_token);
  api.get("/secret", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("secret data\n");
  });
  api.group("/guarded").use(unavailable_on_throw).get("/throw", fail);
  return r;
}

}  // namespace

int main() {
  coronet::runtime rt({.threads = 2});
  http::server server(rt, routes());
  server.listen("127.0.0.1", 0);
  std::printf("port %u\n", server.port());
  std::fflush(stdout);
  rt.run();
  return 0;
}
