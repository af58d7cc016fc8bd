// Connect streaming and gRPC-Web: messages in 5-byte-prefixed envelopes, the status in a
// last frame (Connect: flag 0x02 and a JSON end-of-stream message; gRPC-Web: flag 0x80 and
// a block of trailer lines). Both run unary, server-streaming and client-streaming handlers;
// a server stream is written as the handler produces it, through a chunked response body.
//
// The handler's headers (rpc::context::add_header) are HTTP headers, as Connect's and
// gRPC-Web's own servers send them: a server stream's head waits for its first message
// (http::stream_head::deferred), so headers added until then go out with it, or with the
// last frame when there is no message. Headers added after the head went out can only travel
// in the last frame, with the trailers.
#include "streams.hpp"

#include <coronet/http/body_writer.hpp>

#include <asio/detached.hpp>

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace coronet::connect::detail {

namespace {

enum class framing { connect, grpc_web };

/// The status frame that ends a response. Headers the handler added that have not gone out
/// as HTTP headers (added after the head was sent) travel in it, with the trailers.
std::string final_frame(framing f, const grpc::Status& st, const http_call_context* ctx) {
  metadata_list trailers;
  if (ctx != nullptr) {
    trailers = ctx->response_headers;
    trailers.insert(trailers.end(), ctx->response_trailers.begin(),
                    ctx->response_trailers.end());
  }
  std::string frame;
  if (f == framing::connect) {
    append_envelope(frame, flag_end_stream,
                    end_stream_json(st.error_code(), st.error_message(), trailers));
  } else {
    append_envelope(frame, flag_trailers,
                    grpc_web_trailers(st.error_code(), st.error_message(), trailers));
  }
  return frame;
}

/// Moves the headers the handler added so far into the response's HTTP headers ("-bin" values
/// in base64, padded for gRPC-Web as its clients expect).
void move_headers(http_call_context& ctx, http::fields& out, framing f) {
  add_metadata_headers(out, ctx.response_headers, "", f == framing::grpc_web);
  ctx.response_headers.clear();
}

/// The request's messages, taken out of their envelopes and decompressed.
struct request_messages {
  std::deque<std::string> inflated;  // storage for decompressed payloads
  std::vector<std::string_view> payloads;
};

std::optional<grpc::Status> read_envelopes(const mount_state& s, std::string_view body,
                                           std::string_view encoding, request_messages& out) {
  const auto limit = s.options.max_message_bytes;
  while (!body.empty()) {
    envelope e;
    switch (next_envelope(body, e, limit)) {
      case envelope_status::need_more:
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "truncated message envelope");
      case envelope_status::too_large:
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "message is larger than " + std::to_string(limit) + " bytes");
      case envelope_status::ok: break;
    }
    if ((e.flags & flag_compressed) == 0) {
      out.payloads.push_back(e.payload);
      continue;
    }
    if (encoding != "gzip") {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          "compressed message without a supported message encoding");
    }
    auto& inflated = out.inflated.emplace_back();
    if (e.payload.empty()) {
      out.payloads.emplace_back();
      continue;
    }
    switch (gzip_decompress(e.payload, limit, inflated)) {
      case inflate_status::ok: break;
      case inflate_status::too_large:
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "message is larger than " + std::to_string(limit) +
                                " bytes once decompressed");
      case inflate_status::corrupt:
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cannot decompress a message");
    }
    out.payloads.push_back(inflated);
  }
  return std::nullopt;
}

/// Sends a server-streaming handler's messages as envelopes of the response body; the first
/// one takes the handler's headers into the head, which goes out with it.
class body_sink final : public rpc::detail::message_sink {
 public:
  body_sink(http::body_writer& w, http_call_context& ctx, codec c, framing f,
            asio::any_io_executor ex)
      : writer_(w), ctx_(ctx), codec_(c), frame_(f), ex_(std::move(ex)) {}
  void start_write(const message& m, rpc::detail::pending_op<bool>& done, bool& failed) override {
    if (!writer_.head_sent()) move_headers(ctx_, writer_.headers(), frame_);
    buffer_.clear();
    append_envelope(buffer_, 0, encode(codec_, m));
    asio::co_spawn(
        ex_,
        [this, &done, &failed]() -> asio::awaitable<void> {
          const auto ec = co_await writer_.write(buffer_);
          if (ec) failed = true;
          done.complete(!ec);
        },
        asio::detached);
  }

 private:
  http::body_writer& writer_;
  http_call_context& ctx_;
  codec codec_;
  framing frame_;
  asio::any_io_executor ex_;
  std::string buffer_;
};

/// Hands a client-streaming handler the request's messages, one per read.
class list_source final : public rpc::detail::message_source {
 public:
  list_source(const std::vector<std::string_view>& payloads, codec c) : payloads_(payloads), codec_(c) {}
  void start_read(message& m, rpc::detail::pending_op<bool>& done, bool& ended) override {
    if (next_ < payloads_.size()) {
      if (auto error = decode(codec_, payloads_[next_++], m)) {
        failure = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(*error));
        next_ = payloads_.size();
      } else {
        done.complete(true);
        return;
      }
    }
    ended = true;
    done.complete(false);
  }
  std::optional<grpc::Status> failure;  // a message that did not decode ends the stream

 private:
  const std::vector<std::string_view>& payloads_;
  codec codec_;
  std::size_t next_ = 0;
};

/// Everything a streamed response needs once the route's handler has returned.
struct stream_job {
  const mount_state* state;
  const bound_method* method;
  framing frame;
  codec c;
  rpc::protocol protocol;
  http::fields headers;  // the request's, for rpc::context
  asio::ip::tcp::endpoint remote;
  std::optional<std::chrono::nanoseconds> timeout;
  std::unique_ptr<message> request;
};

asio::awaitable<void> produce(std::shared_ptr<stream_job> job, http::body_writer& w) {
  const auto& m = *job->method;
  http_call_context ctx(job->protocol, m, job->headers, job->remote, deadline_of(job->timeout));
  body_sink sink(w, ctx, job->c, job->frame, co_await asio::this_coro::executor);
  const auto status = co_await run_call(m, ctx, job->timeout, [&] {
    return m.erased.server_streaming(m.erased.handler, ctx, *job->request, sink);
  });
  // No message went out: the head goes with the last frame.
  if (!w.head_sent()) move_headers(ctx, w.headers(), job->frame);
  (void)co_await w.write(final_frame(job->frame, status, &ctx));
}

/// A whole answer (unary or client-streaming): the response message when the call succeeded
/// and the last frame; the handler's headers as HTTP headers, its trailers in the last frame.
http::response whole_answer(framing f, const grpc::Status& status, http_call_context& ctx,
                            codec c, const message& response, const std::string& content_type) {
  auto res = http::response::bytes({}, content_type);
  if (status.ok()) append_envelope(res.body, 0, encode(c, response));
  move_headers(ctx, res.headers, f);
  res.body += final_frame(f, status, &ctx);
  return res;
}

/// Serves an enveloped call: `frame` says which protocol's last frame and headers.
asio::awaitable<http::response> enveloped_call(const mount_state& s, const bound_method& m,
                                               http::request& req, codec c,
                                               std::string_view type, framing frame) {
  const bool web = frame == framing::grpc_web;
  const std::string content_type(type == "application/grpc-web" ? "application/grpc-web+proto"
                                                                : type);
  // An error before the handler runs: gRPC-Web answers with its status in the headers
  // (trailers-only), Connect with an end-of-stream frame.
  auto early = [&](const grpc::Status& st) {
    if (web) {
      auto res = http::response::bytes("", content_type);
      res.headers.set("grpc-status", std::to_string(static_cast<int>(st.error_code())));
      if (!st.error_message().empty()) {
        res.headers.set("grpc-message", percent_encode_message(st.error_message()));
      }
      return res;
    }
    return http::response::bytes(final_frame(frame, st, nullptr), content_type);
  };

  std::optional<std::chrono::nanoseconds> timeout;
  if (web) {
    if (auto t = req.headers.get("grpc-timeout")) {
      timeout = parse_grpc_timeout(*t);
      if (!timeout) co_return early({grpc::StatusCode::INVALID_ARGUMENT, "malformed grpc-timeout"});
    }
  } else {
    if (auto v = req.headers.get("connect-protocol-version"); v && *v != "1") {
      co_return early({grpc::StatusCode::INVALID_ARGUMENT, "Connect-Protocol-Version must be 1"});
    }
    if (auto t = req.headers.get("connect-timeout-ms")) {
      auto ms = parse_connect_timeout(*t);
      if (!ms) {
        co_return early({grpc::StatusCode::INVALID_ARGUMENT,
                         "Connect-Timeout-Ms must be 1 to 10 digits"});
      }
      timeout = *ms;
    }
  }
  const auto encoding =
      req.headers.get(web ? "grpc-encoding" : "connect-content-encoding").value_or("identity");
  if (encoding != "identity" && encoding != "gzip") {
    co_return early({grpc::StatusCode::UNIMPLEMENTED,
                     "unknown compression \"" + std::string(encoding) +
                         "\": supported encodings are gzip"});
  }
  request_messages in;
  if (auto failed = read_envelopes(s, req.body, encoding, in)) co_return early(*failed);

  const auto& erased = m.erased;
  const auto protocol = web ? rpc::protocol::grpc_web : rpc::protocol::connect;
  if (m.kind == rpc::method_kind::client_streaming) {
    std::unique_ptr<message> response(erased.response_prototype->New());
    list_source source(in.payloads, c);
    http_call_context ctx(protocol, m, req.headers, req.remote, deadline_of(timeout));
    auto status = co_await run_call(m, ctx, timeout, [&] {
      return erased.client_streaming(erased.handler, ctx, source, *response);
    });
    if (source.failure) status = *source.failure;
    co_return whole_answer(frame, status, ctx, c, *response, content_type);
  }

  if (in.payloads.size() != 1) {
    co_return early({grpc::StatusCode::INVALID_ARGUMENT,
                     "expected exactly one request message, got " +
                         std::to_string(in.payloads.size())});
  }
  std::unique_ptr<message> request(erased.request_prototype->New());
  if (auto error = decode(c, in.payloads.front(), *request)) {
    co_return early({grpc::StatusCode::INVALID_ARGUMENT, std::move(*error)});
  }

  if (m.kind == rpc::method_kind::unary) {
    // gRPC-Web unary (Connect's unary has its own protocol, server.cpp): the handler's
    // headers go out as HTTP headers, its trailers in the last frame.
    std::unique_ptr<message> response(erased.response_prototype->New());
    http_call_context ctx(protocol, m, req.headers, req.remote, deadline_of(timeout));
    const auto status = co_await run_call(m, ctx, timeout, [&] {
      return erased.unary(erased.handler, ctx, *request, *response);
    });
    co_return whole_answer(frame, status, ctx, c, *response, content_type);
  }

  auto job = std::make_shared<stream_job>(stream_job{&s, &m, frame, c, protocol, req.headers,
                                                     req.remote, timeout, std::move(request)});
  co_return http::response::streamed([job](http::body_writer& w) { return produce(job, w); },
                                     content_type, http::status::ok,
                                     http::stream_head::deferred);
}

}  // namespace

asio::awaitable<http::response> connect_stream_call(const mount_state& s, const bound_method& m,
                                                    http::request& req, codec c,
                                                    std::string_view type) {
  return enveloped_call(s, m, req, c, type, framing::connect);
}

asio::awaitable<http::response> grpc_web_call(const mount_state& s, const bound_method& m,
                                              http::request& req, codec c,
                                              std::string_view type) {
  return enveloped_call(s, m, req, c, type, framing::grpc_web);
}

}  // namespace coronet::connect::detail
