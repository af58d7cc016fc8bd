// One Connect or gRPC-Web call on the HTTP/1.1 server: the rpc::context its handler sees, the
// codecs between bytes and messages, and running the handler behind its middleware with the
// call's deadline. Shared by the unary (server.cpp) and streaming (streams.cpp) paths.
#pragma once

#include <coronet/connect/server.hpp>
#include <coronet/http/message.hpp>
#include <coronet/rpc/context.hpp>
#include <coronet/rpc/detail/erased_method.hpp>
#include <coronet/rpc/detail/reactors.hpp>

#include "codec.hpp"

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coronet::connect::detail {

using rpc::detail::bound_method;
using message = google::protobuf::Message;

/// What every route of one mount() shares.
struct mount_state {
  rpc::detail::service_binding* service;
  server_options options;
  std::string exposed;  // Access-Control-Expose-Headers, put together once
};

enum class codec { proto, json };

using metadata_list = metadata;  // keys lower case, "-bin" values raw

/// rpc::context for a call that came over HTTP/1.1.
class http_call_context final : public rpc::context {
 public:
  /// `headers` must outlive the call (the streaming paths keep a copy).
  http_call_context(rpc::protocol p, const bound_method& m, const http::fields& headers,
                    asio::ip::tcp::endpoint remote,
                    std::chrono::system_clock::time_point deadline) noexcept
      : context(p, m.name, nullptr, deadline), headers_(&headers), remote_(remote) {}

  std::optional<std::string_view> metadata(std::string_view key) const override;
  std::vector<std::pair<std::string_view, std::string_view>> all_metadata() const override;
  std::string peer() const override;
  bool cancelled() const noexcept override { return cancelled_; }
  void add_header(std::string_view key, std::string_view value) override {
    response_headers.emplace_back(lower(key), std::string(value));
  }
  void add_trailer(std::string_view key, std::string_view value) override {
    response_trailers.emplace_back(lower(key), std::string(value));
  }

  void cancel() noexcept { cancelled_ = true; }
  /// What the handler added, in order.
  metadata_list response_headers;
  metadata_list response_trailers;

 private:
  static std::string lower(std::string_view s);
  const std::vector<std::pair<std::string, std::string>>& entries() const;

  const http::fields* headers_;
  asio::ip::tcp::endpoint remote_;
  bool cancelled_ = false;
  // The request's metadata, keys lower case and "-bin" values decoded: built on first use.
  mutable std::optional<std::vector<std::pair<std::string, std::string>>> entries_;
};

/// Runs the method's handler behind the service's middleware, bounded by `timeout` when set:
/// past it the handler is cancelled and the call ends with DEADLINE_EXCEEDED. An exception
/// leaving the handler ends it with UNKNOWN.
template <class Invoke>
class http_call final : public rpc::detail::chained_call {
 public:
  http_call(const bound_method& m, http_call_context& ctx, Invoke invoke)
      : chained_call(*m.chain, rpc::call_info{m.name, m.kind, ctx}), invoke_(std::move(invoke)) {}
  asio::awaitable<grpc::Status> start() { return chained() ? run_chain() : invoke(); }
  asio::awaitable<grpc::Status> invoke() override { return invoke_(); }

 private:
  Invoke invoke_;
};

/// The status of a call whose handler threw, called in the catch block: UNKNOWN, with the
/// exception's message when it is a std::exception.
grpc::Status handler_failure() noexcept;

/// Whether run_call runs the handler alone: no deadline to race, no middleware.
inline bool runs_alone(const bound_method& m,
                       const std::optional<std::chrono::nanoseconds>& timeout) noexcept {
  return !timeout && m.chain->empty();
}

/// Runs `call` to its status, with the deadline `timeout` (none when nullopt).
asio::awaitable<grpc::Status> run_bounded(
    std::function<asio::awaitable<grpc::Status>()> start, http_call_context& ctx,
    std::optional<std::chrono::nanoseconds> timeout);

/// Runs `invoke` (the handler) as run_bounded does, behind the method's middleware.
template <class Invoke>
asio::awaitable<grpc::Status> run_call(const bound_method& m, http_call_context& ctx,
                                       std::optional<std::chrono::nanoseconds> timeout,
                                       Invoke invoke) {
  if (runs_alone(m, timeout)) {
    // Most calls: nothing to race and no chain, so the handler's own awaitable, without the
    // frames of either (exceptions end the call as run_bounded ends it).
    try {
      co_return co_await invoke();
    } catch (...) {
      co_return handler_failure();
    }
  }
  http_call<Invoke> call(m, ctx, std::move(invoke));
  co_return co_await run_bounded([&call] { return call.start(); }, ctx, timeout);
}

/// The call's deadline as a time point, for rpc::context.
std::chrono::system_clock::time_point deadline_of(std::optional<std::chrono::nanoseconds> t);

/// Parses `bytes` into `m` (proto or JSON, unknown JSON fields ignored). The error says why.
[[nodiscard]] std::optional<std::string> decode(codec c, std::string_view bytes, message& m);
/// Serializes `m`.
[[nodiscard]] std::string encode(codec c, const message& m);

/// The media type of a Content-Type value, lower case, without parameters; `charset_ok` is
/// false when a charset other than utf-8 is named.
std::string media_type(std::string_view content_type, bool& charset_ok);
/// The same, viewing `content_type` itself when it is already bare and lower case (as
/// clients send it), else `storage` holding the media type.
std::string_view media_type(std::string_view content_type, bool& charset_ok,
                            std::string& storage);

/// Whether an Accept-Encoding style list names gzip.
[[nodiscard]] bool accepts_gzip(std::string_view list) noexcept;

/// Adds `entries` as HTTP headers, "-bin" values in base64 (`pad` for gRPC-Web), each key
/// prefixed with `prefix` ("Trailer-" for Connect unary trailers).
void add_metadata_headers(http::fields& out, const metadata_list& entries, std::string_view prefix,
                          bool pad);

/// Access-Control-Expose-Headers for `options`: the protocols' headers and the user's.
/// Throws std::invalid_argument for a name that is not an HTTP field name.
std::string exposed_headers(const server_options& options);

/// The CORS headers of an answer to `req` when its Origin is allowed.
void add_cors_headers(const mount_state& s, const http::request& req, http::response& res);

}  // namespace coronet::connect::detail
