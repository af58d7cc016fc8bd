// connect::mount: the routes, the dispatch on Content-Type, and Connect's unary protocol
// (POST and GET). Streams and gRPC-Web are in streams.cpp.
#include <coronet/connect/server.hpp>

#include "call.hpp"
#include "streams.hpp"

#include <memory>
#include <string>

namespace coronet::connect::detail {

namespace {

constexpr std::string_view accept_unary =
    "application/json, application/proto, application/grpc-web, application/grpc-web+proto, "
    "application/grpc-web+json";
constexpr std::string_view accept_stream =
    "application/connect+json, application/connect+proto, application/grpc-web, "
    "application/grpc-web+proto, application/grpc-web+json";

http::status status_of(int code) { return static_cast<http::status>(code); }

/// A Connect unary error: Connect's HTTP status and a JSON body; the handler's headers and
/// trailers, if any, as headers.
http::response unary_error(const grpc::Status& st, const http_call_context* ctx) {
  auto res = http::response::bytes(error_json(st.error_code(), st.error_message()),
                                   "application/json",
                                   status_of(http_status_of(st.error_code())));
  if (ctx != nullptr) {
    add_metadata_headers(res.headers, ctx->response_headers, "", false);
    add_metadata_headers(res.headers, ctx->response_trailers, "Trailer-", false);
  }
  return res;
}

http::response unary_error(grpc::StatusCode code, std::string message) {
  return unary_error(grpc::Status(code, std::move(message)), nullptr);
}

http::response unsupported_media(std::string_view accept) {
  auto res = http::response::empty(http::status::unsupported_media_type);
  res.headers.set("Accept-Post", accept);
  return res;
}

/// Decompresses a request body per its `encoding` into `out`, within the message limit.
/// An empty body is never decompressed.
std::optional<grpc::Status> inflate(const mount_state& s, std::string_view encoding,
                                    std::string_view body, std::string& out) {
  if (encoding.empty() || encoding == "identity" || body.empty()) return std::nullopt;
  if (encoding != "gzip") {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "unknown compression \"" + std::string(encoding) +
                            "\": supported encodings are gzip");
  }
  switch (gzip_decompress(body, s.options.max_message_bytes, out)) {
    case inflate_status::ok: return std::nullopt;
    case inflate_status::too_large:
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "message is larger than " +
                              std::to_string(s.options.max_message_bytes) +
                              " bytes once decompressed");
    case inflate_status::corrupt: break;
  }
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cannot decompress the gzip body");
}

/// Runs a unary call whose request message is `bytes` in codec `c`, and answers it.
asio::awaitable<http::response> unary_call(const mount_state& s, const bound_method& m,
                                           const http::request& req, codec c,
                                           std::string_view bytes, std::string_view encoding,
                                           bool gzip_ok) {
  std::string inflated;
  if (auto failed = inflate(s, encoding, bytes, inflated)) co_return unary_error(*failed, nullptr);
  if (!inflated.empty()) bytes = inflated;
  if (bytes.size() > s.options.max_message_bytes) {
    co_return unary_error(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "message is larger than " + std::to_string(s.options.max_message_bytes) +
                              " bytes");
  }
  std::optional<std::chrono::nanoseconds> timeout;
  if (auto t = req.headers.get("connect-timeout-ms")) {
    auto ms = parse_connect_timeout(*t);
    if (!ms) {
      co_return unary_error(grpc::StatusCode::INVALID_ARGUMENT,
                            "Connect-Timeout-Ms must be 1 to 10 digits");
    }
    timeout = *ms;
  }
  const auto& erased = m.erased;
  std::unique_ptr<message> request(erased.request_prototype->New());
  std::unique_ptr<message> response(erased.response_prototype->New());
  if (auto error = decode(c, bytes, *request)) {
    co_return unary_error(grpc::StatusCode::INVALID_ARGUMENT, std::move(*error));
  }
  http_call_context ctx(rpc::protocol::connect, m, req.headers, req.remote, deadline_of(timeout));
  const auto status = co_await run_call(m, ctx, timeout, [&] {
    return erased.unary(erased.handler, ctx, *request, *response);
  });
  if (!status.ok()) co_return unary_error(status, &ctx);
  auto body = encode(c, *response);
  const bool compress = gzip_ok && body.size() >= s.options.compress_min_bytes;
  if (compress) body = gzip_compress(body);
  auto res = http::response::bytes(std::move(body),
                                   c == codec::json ? "application/json" : "application/proto");
  if (compress) res.headers.set("Content-Encoding", "gzip");
  add_metadata_headers(res.headers, ctx.response_headers, "", false);
  add_metadata_headers(res.headers, ctx.response_trailers, "Trailer-", false);
  co_return res;
}

/// Connect's unary POST.
asio::awaitable<http::response> connect_post(const mount_state& s, const bound_method& m,
                                             http::request& req, codec c) {
  if (auto v = req.headers.get("connect-protocol-version"); v && *v != "1") {
    co_return unary_error(grpc::StatusCode::INVALID_ARGUMENT,
                          "Connect-Protocol-Version must be 1");
  }
  const auto encoding = req.headers.get("content-encoding").value_or("");
  const auto accept = req.headers.get("accept-encoding").value_or("");
  co_return co_await unary_call(s, m, req, c, req.body, encoding, accepts_gzip(accept));
}

/// Connect's unary GET, for methods without side effects: the message in the query.
asio::awaitable<http::response> connect_get(const mount_state& s, const bound_method& m,
                                            http::request& req) {
  auto query = parse_query(req.query());
  if (!query) co_return unary_error(grpc::StatusCode::INVALID_ARGUMENT, "malformed query");
  auto param = [&](std::string_view name) -> std::optional<std::string_view> {
    for (const auto& [k, v] : *query) {
      if (k == name) return std::string_view(v);
    }
    return std::nullopt;
  };
  if (auto v = param("connect"); v && *v != "v1") {
    co_return unary_error(grpc::StatusCode::INVALID_ARGUMENT, "connect must be v1");
  }
  const auto encoding = param("encoding");
  if (!encoding || (*encoding != "json" && *encoding != "proto")) {
    auto res = unary_error(grpc::StatusCode::INVALID_ARGUMENT,
                           "encoding must be json or proto");
    res.status = http::status::unsupported_media_type;
    co_return res;
  }
  const codec c = *encoding == "json" ? codec::json : codec::proto;
  std::string bytes(param("message").value_or(""));
  if (param("base64").value_or("") == "1") {
    auto decoded = base64_decode(bytes);
    if (!decoded) {
      co_return unary_error(grpc::StatusCode::INVALID_ARGUMENT, "message is not base64");
    }
    bytes = std::move(*decoded);
  }
  const auto compression = param("compression").value_or("");
  const auto accept = req.headers.get("accept-encoding").value_or("");
  co_return co_await unary_call(s, m, req, c, bytes, compression, accepts_gzip(accept));
}

/// A method's POST: picks the protocol from the Content-Type.
asio::awaitable<http::response> post(const mount_state& s, const bound_method& m,
                                     http::request& req) {
  bool charset_ok = true;
  const auto type = media_type(req.headers.get("content-type").value_or(""), charset_ok);
  const bool streaming = m.kind != rpc::method_kind::unary;
  const auto accept = streaming ? accept_stream : accept_unary;
  if (!charset_ok) co_return unsupported_media(accept);
  if (m.kind == rpc::method_kind::bidi) {
    // As connect-go: a bidi client on HTTP/1.1 could wait forever for a full-duplex
    // exchange, so it is told plainly and the connection closes.
    auto res = http::response::empty(http::status::http_version_not_supported);
    res.headers.set("Connection", "close");
    co_return res;
  }
  if (s.options.grpc_web && type.starts_with("application/grpc-web")) {
    if (type == "application/grpc-web" || type == "application/grpc-web+proto") {
      co_return co_await grpc_web_call(s, m, req, codec::proto, type);
    }
    if (type == "application/grpc-web+json") {
      co_return co_await grpc_web_call(s, m, req, codec::json, type);
    }
    co_return unsupported_media(accept);
  }
  if (s.options.connect) {
    if (!streaming && (type == "application/proto" || type == "application/json")) {
      co_return co_await connect_post(s, m, req, type == "application/json" ? codec::json
                                                                             : codec::proto);
    }
    if (streaming && (type == "application/connect+proto" || type == "application/connect+json")) {
      co_return co_await connect_stream_call(
          s, m, req, type == "application/connect+json" ? codec::json : codec::proto, type);
    }
  }
  co_return unsupported_media(accept);
}

/// A CORS preflight: allowed origins get what browsers ask for, others a 403.
http::response preflight(const mount_state& s, const http::request& req, bool get_too) {
  http::response res = http::response::empty(http::status::no_content);
  add_cors_headers(s, req, res);
  if (!res.headers.contains("Access-Control-Allow-Origin")) {
    return http::response::text("origin not allowed\n", http::status::forbidden);
  }
  res.headers.set("Access-Control-Allow-Methods", get_too ? "POST, GET" : "POST");
  res.headers.set("Access-Control-Allow-Headers",
                  req.headers.get("access-control-request-headers")
                      .value_or("Content-Type, Connect-Protocol-Version, Connect-Timeout-Ms, "
                                "Grpc-Timeout, X-Grpc-Web, X-User-Agent"));
  res.headers.set("Access-Control-Max-Age", "7200");
  return res;
}

}  // namespace


void mount(http::router& routes, rpc::detail::service_binding& service, server_options options) {
  auto state = std::make_shared<const mount_state>(mount_state{&service, std::move(options)});
  for (const auto& m : service.methods()) {
    const bound_method* method = &m;
    routes.post(m.name, [state, method](http::request& req) -> asio::awaitable<http::response> {
      auto res = co_await post(*state, *method, req);
      add_cors_headers(*state, req, res);
      co_return res;
    });
    if (m.no_side_effects && m.kind == rpc::method_kind::unary && state->options.connect) {
      routes.get(m.name, [state, method](http::request& req) -> asio::awaitable<http::response> {
        auto res = co_await connect_get(*state, *method, req);
        add_cors_headers(*state, req, res);
        co_return res;
      });
    }
    if (!state->options.allowed_origins.empty()) {
      const bool get_too = m.no_side_effects && m.kind == rpc::method_kind::unary;
      routes.add("OPTIONS", m.name,
                 [state, get_too](http::request& req) -> asio::awaitable<http::response> {
                   co_return preflight(*state, req, get_too);
                 });
    }
  }
}

}  // namespace coronet::connect::detail
