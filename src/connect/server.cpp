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

/// A finished answer as an awaitable, for the paths that are not coroutines.
asio::awaitable<http::response> ready(http::response res) { co_return res; }

/// The request headers a POST reads, found in one pass over them (the first of each name,
/// as http::fields::get finds it).
struct post_headers {
  std::optional<std::string_view> content_type, protocol_version, content_encoding,
      accept_encoding, timeout;

  explicit post_headers(const http::fields& fields) noexcept {
    const auto take = [](std::optional<std::string_view>& slot, std::string_view name,
                         const http::fields::field& f) {
      if (!slot && http::iequals(f.name, name)) slot = f.value;
    };
    for (const auto& f : fields) {
      switch (f.name.size()) {
        case 12: take(content_type, "content-type", f); break;
        case 15: take(accept_encoding, "accept-encoding", f); break;
        case 16: take(content_encoding, "content-encoding", f); break;
        case 18: take(timeout, "connect-timeout-ms", f); break;
        case 24: take(protocol_version, "connect-protocol-version", f); break;
        default: break;
      }
    }
  }
};

/// Runs a unary call whose request message is `bytes` in codec `c`, and answers it.
/// `timeout_ms` is the Connect-Timeout-Ms header, if any. Every view outlives the call.
asio::awaitable<http::response> unary_call(const mount_state& s, const bound_method& m,
                                           const http::request& req, codec c,
                                           std::string_view bytes, std::string_view encoding,
                                           bool gzip_ok,
                                           std::optional<std::string_view> timeout_ms) {
  std::string inflated;
  if (auto failed = inflate(s, encoding, bytes, inflated)) co_return unary_error(*failed, nullptr);
  if (!inflated.empty()) bytes = inflated;
  if (bytes.size() > s.options.max_message_bytes) {
    co_return unary_error(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "message is larger than " + std::to_string(s.options.max_message_bytes) +
                              " bytes");
  }
  std::optional<std::chrono::nanoseconds> timeout;
  if (timeout_ms) {
    auto ms = parse_connect_timeout(*timeout_ms);
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

/// Connect's unary POST. Not a coroutine: the call's own frame is the only one.
asio::awaitable<http::response> connect_post(const mount_state& s, const bound_method& m,
                                             http::request& req, codec c,
                                             const post_headers& h) {
  if (h.protocol_version && *h.protocol_version != "1") {
    return ready(unary_error(grpc::StatusCode::INVALID_ARGUMENT,
                             "Connect-Protocol-Version must be 1"));
  }
  return unary_call(s, m, req, c, req.body, h.content_encoding.value_or(""),
                    accepts_gzip(h.accept_encoding.value_or("")), h.timeout);
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
  co_return co_await unary_call(s, m, req, c, bytes, compression, accepts_gzip(accept),
                                req.headers.get("connect-timeout-ms"));
}

/// A method's POST: picks the protocol from the Content-Type. Not a coroutine: it hands on
/// the awaitable of the protocol's call (the media types passed on are the constants, which
/// outlive it, never `type`, which may not).
asio::awaitable<http::response> post(const mount_state& s, const bound_method& m,
                                     http::request& req) {
  const post_headers h(req.headers);
  bool charset_ok = true;
  std::string storage;
  const auto type = media_type(h.content_type.value_or(""), charset_ok, storage);
  const bool streaming = m.kind != rpc::method_kind::unary;
  const auto accept = streaming ? accept_stream : accept_unary;
  if (!charset_ok) return ready(unsupported_media(accept));
  if (m.kind == rpc::method_kind::bidi) {
    // As connect-go: a bidi client on HTTP/1.1 could wait forever for a full-duplex
    // exchange, so it is told plainly and the connection closes.
    auto res = http::response::empty(http::status::http_version_not_supported);
    res.headers.set("Connection", "close");
    return ready(std::move(res));
  }
  constexpr std::string_view grpc_web = "application/grpc-web";
  constexpr std::string_view grpc_web_proto = "application/grpc-web+proto";
  constexpr std::string_view grpc_web_json = "application/grpc-web+json";
  constexpr std::string_view connect_proto = "application/connect+proto";
  constexpr std::string_view connect_json = "application/connect+json";
  if (s.options.grpc_web && type.starts_with(grpc_web)) {
    if (type == grpc_web) return grpc_web_call(s, m, req, codec::proto, grpc_web);
    if (type == grpc_web_proto) return grpc_web_call(s, m, req, codec::proto, grpc_web_proto);
    if (type == grpc_web_json) return grpc_web_call(s, m, req, codec::json, grpc_web_json);
    return ready(unsupported_media(accept));
  }
  if (s.options.connect) {
    if (!streaming && (type == "application/proto" || type == "application/json")) {
      return connect_post(s, m, req, type == "application/json" ? codec::json : codec::proto, h);
    }
    if (streaming && type == connect_proto) {
      return connect_stream_call(s, m, req, codec::proto, connect_proto);
    }
    if (streaming && type == connect_json) {
      return connect_stream_call(s, m, req, codec::json, connect_json);
    }
  }
  return ready(unsupported_media(accept));
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
  auto exposed = exposed_headers(options);
  auto state = std::make_shared<const mount_state>(
      mount_state{&service, std::move(options), std::move(exposed)});
  for (const auto& m : service.methods()) {
    const bound_method* method = &m;
    const bool get = m.no_side_effects && m.kind == rpc::method_kind::unary &&
                     state->options.connect;
    if (state->options.allowed_origins.empty()) {
      // No CORS headers to add: the call's awaitable is the route's.
      routes.post(m.name, [state, method](http::request& req) {
        return post(*state, *method, req);
      });
      if (get) {
        routes.get(m.name, [state, method](http::request& req) {
          return connect_get(*state, *method, req);
        });
      }
      continue;
    }
    routes.post(m.name, [state, method](http::request& req) -> asio::awaitable<http::response> {
      auto res = co_await post(*state, *method, req);
      add_cors_headers(*state, req, res);
      co_return res;
    });
    if (get) {
      routes.get(m.name, [state, method](http::request& req) -> asio::awaitable<http::response> {
        auto res = co_await connect_get(*state, *method, req);
        add_cors_headers(*state, req, res);
        co_return res;
      });
    }
    const bool get_too = m.no_side_effects && m.kind == rpc::method_kind::unary;
    routes.add("OPTIONS", m.name,
               [state, get_too](http::request& req) -> asio::awaitable<http::response> {
                 co_return preflight(*state, req, get_too);
               });
  }
}

}  // namespace coronet::connect::detail
