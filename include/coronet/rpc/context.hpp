// rpc::context — what a handler knows of its call, whichever protocol carried it.
//
// A service's handlers are written once and served over gRPC (grpc++), Connect and gRPC-Web
// (connect/server.hpp). Each call hands its handler an rpc::context: request metadata,
// deadline, peer, cancellation, and the response's headers and trailers, spelled the same
// for every protocol:
//
//     [](rpc::context& ctx, const Greeting& req, Greeting& resp) -> asio::awaitable<grpc::Status> {
//       if (!ctx.metadata("authorization")) co_return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "");
//       ctx.add_header("x-served-by", "coronet");
//       resp.set_message("Hello, " + req.message());
//       co_return grpc::Status::OK;
//     }
//
// Metadata keys are lower case. Values of keys ending in "-bin" are raw bytes: each protocol
// encodes them on the wire (base64) and decodes them on arrival. A handler that needs grpc++
// itself (its auth_context, say) reaches it through grpc() when the call came over gRPC.
//
// Cancellation: when the client cancels, the deadline passes or the server stops, the
// handler's coroutine receives a terminal cancellation (pending timers and client calls
// complete with operation_aborted) and cancelled() turns true.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grpc {
class CallbackServerContext;
}  // namespace grpc

namespace coronet::rpc {

/// The protocol a call came over.
enum class protocol { grpc, connect, grpc_web };

class context {
 public:
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  /// The protocol that carried the call.
  [[nodiscard]] rpc::protocol protocol() const noexcept { return protocol_; }
  /// The method's full name, as on the gRPC wire: "/HelloWorld/SayHello".
  [[nodiscard]] std::string_view method() const noexcept { return method_; }

  /// The first value of request metadata `key` (lower case); nullopt when absent.
  [[nodiscard]] virtual std::optional<std::string_view> metadata(std::string_view key) const = 0;
  /// Every request metadata entry, in arrival order. Over HTTP, the protocols' own headers
  /// (Content-Type, Connect-*, grpc-*, ...) are left out.
  [[nodiscard]] virtual std::vector<std::pair<std::string_view, std::string_view>>
  all_metadata() const = 0;

  /// When the call's deadline passes; time_point::max() when it has none.
  [[nodiscard]] std::chrono::system_clock::time_point deadline() const noexcept {
    return deadline_;
  }
  /// The client's address: "ipv4:127.0.0.1:41234", "ipv6:[::1]:41234".
  [[nodiscard]] virtual std::string peer() const = 0;
  /// Whether the call was cancelled (by the client, its deadline, or the server stopping).
  [[nodiscard]] virtual bool cancelled() const noexcept = 0;

  /// Adds a response header (gRPC: initial metadata). Before the first message a streaming
  /// handler writes; over Connect and gRPC-Web streams, headers added later travel with
  /// the trailers.
  virtual void add_header(std::string_view key, std::string_view value) = 0;
  /// Adds a response trailer (gRPC: trailing metadata; Connect unary: a "Trailer-" header).
  virtual void add_trailer(std::string_view key, std::string_view value) = 0;

  /// grpc++'s context when the call came over gRPC; null otherwise.
  [[nodiscard]] grpc::CallbackServerContext* grpc() const noexcept { return grpc_; }

 protected:
  context(rpc::protocol p, std::string_view method, grpc::CallbackServerContext* native,
          std::chrono::system_clock::time_point deadline) noexcept
      : protocol_(p), method_(method), grpc_(native), deadline_(deadline) {}
  ~context() = default;

 private:
  rpc::protocol protocol_;
  std::string_view method_;
  grpc::CallbackServerContext* grpc_;
  std::chrono::system_clock::time_point deadline_;
};

}  // namespace coronet::rpc
