// connect::call's work, out of the template: building the Connect unary request, sending it
// under the call's deadline, and turning whatever comes back (a message, a Connect error, any
// other HTTP answer, a transport failure) into a status.
#include <coronet/connect/client.hpp>

#include "call.hpp"
#include "codec.hpp"

#include <cctype>
#include <string>
#include <tuple>
#include <variant>

namespace coronet::connect::detail {

namespace {

codec codec_of(encoding e) { return e == encoding::json ? codec::json : codec::proto; }

std::string_view content_type_of(encoding e) {
  return e == encoding::json ? "application/json" : "application/proto";
}

// Whether a metadata key names binary values: it ends in "-bin", in any case.
bool ends_with_bin(std::string_view key) {
  if (key.size() < 4) return false;
  const auto tail = key.substr(key.size() - 4);
  for (std::size_t i = 0; i < 4; ++i) {
    if (std::tolower(static_cast<unsigned char>(tail[i])) != "-bin"[i]) return false;
  }
  return true;
}

/// A transport failure of the HTTP client, as a status.
grpc::Status transport_status(std::error_code ec) {
  using http::client_errc;
  if (ec == client_errc::timeout) {
    return {grpc::StatusCode::DEADLINE_EXCEEDED, "request timed out: " + ec.message()};
  }
  if (ec == client_errc::cancelled) return {grpc::StatusCode::CANCELLED, ec.message()};
  if (ec == client_errc::response_too_large) {
    return {grpc::StatusCode::RESOURCE_EXHAUSTED, ec.message()};
  }
  return {grpc::StatusCode::UNAVAILABLE, ec.message()};
}

/// Decompresses a response body per its Content-Encoding, within `limit`; nullopt when it
/// needs none. An empty body is never decompressed.
std::optional<grpc::Status> inflate(std::string_view content_encoding, std::string& body,
                                    std::size_t limit) {
  if (content_encoding.empty() || content_encoding == "identity" || body.empty()) {
    if (body.size() > limit) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "response message larger than " + std::to_string(limit) + " bytes");
    }
    return std::nullopt;
  }
  if (content_encoding != "gzip") {
    return grpc::Status(grpc::StatusCode::INTERNAL, "response compressed with unsupported \"" +
                                                        std::string(content_encoding) + "\"");
  }
  std::string out;
  switch (gzip_decompress(body, limit, out)) {
    case inflate_status::ok: body = std::move(out); return std::nullopt;
    case inflate_status::too_large:
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "response message larger than " + std::to_string(limit) +
                              " bytes after decompression");
    case inflate_status::corrupt: break;
  }
  return grpc::Status(grpc::StatusCode::INTERNAL, "corrupt gzip response body");
}

/// What a non-200 answer means: its Connect error, or the code Connect infers from the HTTP
/// status when the body is not one (a proxy's error page, say).
grpc::Status error_of(int http_status, std::string_view body) {
  if (auto err = parse_error_json(body)) return {err->first, std::move(err->second)};
  return {code_from_http_status(http_status), "HTTP status " + std::to_string(http_status)};
}

/// Turns a complete HTTP answer into the call's status, parsing `response` when it is OK.
grpc::Status read_answer(http::response& res, const prepared_call& call,
                         google::protobuf::Message& response) {
  const int status = static_cast<int>(res.status);
  const auto content_encoding = res.headers.get("content-encoding").value_or("");
  if (auto failed = inflate(content_encoding, res.body, call.max_message_bytes)) {
    // An error body we cannot read still says the call failed: fall back to its status.
    if (status != 200) return error_of(status, "");
    return *failed;
  }
  if (status != 200) return error_of(status, res.body);

  bool charset_ok = true;
  const auto type = media_type(res.headers.get("content-type").value_or(""), charset_ok);
  if (type != content_type_of(call.codec) || !charset_ok) {
    return {grpc::StatusCode::INTERNAL,
            "unexpected response content type \"" + type + "\" (asked for " +
                std::string(content_type_of(call.codec)) + ")"};
  }
  if (auto why = decode(codec_of(call.codec), res.body, response)) {
    return {grpc::StatusCode::INTERNAL, std::move(*why)};
  }
  return grpc::Status::OK;
}

}  // namespace

prepared_call prepare(std::string_view base_url, std::string_view path,
                      const google::protobuf::Message& request, call_options options) {
  prepared_call call;
  call.codec = options.codec;
  call.timeout = options.timeout;
  call.max_message_bytes = options.max_message_bytes;

  auto& req = call.request;
  req.method = "POST";
  while (!base_url.empty() && base_url.back() == '/') base_url.remove_suffix(1);
  req.url.reserve(base_url.size() + path.size());
  req.url.append(base_url).append(path);
  req.body = encode(codec_of(options.codec), request);

  auto& h = req.headers;
  h.add("Content-Type", content_type_of(options.codec));
  h.add("Connect-Protocol-Version", "1");
  h.add("Accept-Encoding", "gzip");
  if (options.timeout.count() > 0) {
    h.add("Connect-Timeout-Ms", std::to_string(options.timeout.count()));
  }
  if (options.gzip_request && !req.body.empty()) {
    req.body = gzip_compress(req.body);
    h.add("Content-Encoding", "gzip");
  }
  for (const auto& [key, value] : options.metadata) {
    h.add(key, ends_with_bin(key) ? base64_encode(value, false) : value);
  }
  return call;
}

asio::awaitable<grpc::Status> unary(http::client& client, prepared_call call,
                                    google::protobuf::Message& response) {
  using namespace asio::experimental::awaitable_operators;
  http::result<http::response> answer;
  if (call.timeout.count() > 0) {
    // The request races the deadline; the loser is cancelled (a request's connection is then
    // closed, never pooled), so an abandoned call leaves nothing behind.
    asio::steady_timer deadline(co_await asio::this_coro::executor, call.timeout);
    auto won = co_await (client.request(std::move(call.request)) ||
                         deadline.async_wait(coronet::detail::use_nothrow));
    if (won.index() == 1) {
      // The timer ends early only when the caller cancelled the call.
      if (std::get<0>(std::get<1>(won))) {
        co_return grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled");
      }
      co_return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                             "deadline of " + std::to_string(call.timeout.count()) +
                                 " ms exceeded");
    }
    answer = std::move(std::get<0>(won));
  } else {
    answer = co_await client.request(std::move(call.request));
  }
  if (!answer) co_return transport_status(answer.error());
  co_return read_answer(*answer, call, response);
}

}  // namespace coronet::connect::detail
