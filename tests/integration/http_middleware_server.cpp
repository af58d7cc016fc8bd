// The server http_middleware_test.py talks to: a router whose own hooks answer CORS
// preflights and write an access log line per request to stdout, an /api group behind a
// bearer token (a middleware, inside those hooks), and handlers that throw. The router's
// hooks lead every route's chain, so the server runs them itself; the 404 and 405 answers go
// through the chain as one handler. Prints "port N" once listening; SIGTERM drains.
#include <coronet/coronet.hpp>

#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>

namespace http = coronet::http;

namespace {

std::optional<http::response> cors_preflight(http::request& req) {
  if (req.method != "OPTIONS" || !req.headers.get("access-control-request-method")) return std::nullopt;
  auto res = http::response::empty(http::status::no_content);
  res.headers.set("Access-Control-Allow-Origin", "*");
  res.headers.set("Access-Control-Allow-Methods", "GET, POST");
  res.headers.set("Access-Control-Allow-Headers", "Authorization");
  return res;
}

void cors_origin(const http::request&, http::response& res) {
  res.headers.set("Access-Control-Allow-Origin", "*");
}

// Outside cors: it logs the preflights cors answers too. A 500 is the server's, after this.
void access_log(const http::request& req, http::response& res) {
  std::printf("access %s %s %u\n", req.method.c_str(), req.target.c_str(), static_cast<unsigned>(res.status));
  std::fflush(stdout);
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
  r.after(access_log).before(cors_preflight).after(cors_origin);
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
