// connect::mount — serves a coroutine service over Connect and gRPC-Web on the HTTP/1.1
// server, from the same service object (and the same handlers) that grpc++ serves.
//
//     rpc::service<HelloWorld> greeter;
//     greeter.handle<hello_world::say_hello>(say_hello);
//     grpc_server.add(greeter);                  // gRPC, over HTTP/2
//     http::router routes;
//     connect::mount(routes, greeter);           // Connect and gRPC-Web, over HTTP/1.1
//
// Each bound method gets the route `POST /Service/Method` ("/pkg.Service/Method" when the
// .proto has a package), dispatched on the request's Content-Type:
//   application/proto, application/json          Connect unary
//   application/connect+proto, +json             Connect streaming (server or client)
//   application/grpc-web, +proto, +json          gRPC-Web (unary, server or client streaming)
// A method declared `option idempotency_level = NO_SIDE_EFFECTS` also answers Connect's
// `GET /Service/Method?encoding=json&message=...`. Bidi methods need HTTP/2: over HTTP/1.1
// they answer 505, as connect-go does. Handlers run on the io thread of the connection that
// carried the call, inside the service's middleware.
//
// Errors follow each protocol: a Connect unary error is a JSON body
// {"code":"not_found","message":"..."} with the HTTP status of Connect's table; streams and
// gRPC-Web end with the status in their last frame. Unsupported content types get 415 with
// Accept-Post. The details (status table, GET, compression, CORS, limits) are in
// docs/connect.md.
#pragma once

#include <coronet/http/router.hpp>
#include <coronet/rpc/service.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace coronet::connect {

struct server_options {
  /// The largest request message, after decompression: beyond it, resource_exhausted (a
  /// gzip bomb costs this much memory at most). The HTTP server's max_body_size bounds the
  /// body as sent.
  std::size_t max_message_bytes = 4 * 1024 * 1024;
  /// Responses this large or larger are gzip-compressed for clients that accept gzip.
  std::size_t compress_min_bytes = 1024;
  /// Origins a browser may call from (CORS), e.g. "https://app.example"; "*" for any. Empty:
  /// no CORS headers and no preflight routes.
  std::vector<std::string> allowed_origins{};
  /// Further response headers a cross-origin page may read, beyond the protocols' own
  /// (Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, Content-Type and the encodings):
  /// the metadata the handlers add, e.g. "X-Request-Id", and for Connect unary trailers
  /// their "Trailer-" names. Browsers hide any other.
  std::vector<std::string> exposed_headers{};
  /// Which protocols to serve.
  bool connect = true;
  bool grpc_web = true;
};

namespace detail {
void mount(http::router& routes, rpc::detail::service_binding& service, server_options options);
}  // namespace detail

/// Adds routes to `routes` serving every method bound on `service` so far over Connect and
/// gRPC-Web. Bind the methods first. `service` must outlive the routes.
template <class Grpc>
void mount(http::router& routes, rpc::service<Grpc>& service, server_options options = {}) {
  detail::mount(routes, service, std::move(options));
}

}  // namespace coronet::connect
