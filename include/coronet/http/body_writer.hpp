// http::body_writer — writes a streamed response body, chunk by chunk.
//
// A handler that returns `response::streamed(producer)` gets a body_writer in its producer.
// Each write completes only when the socket has accepted the bytes, so a slow client slows
// the producer instead of growing memory.
//
//     co_return http::response::streamed([](http::body_writer& w) -> asio::awaitable<void> {
//       for (int i = 0; i < 3; ++i)
//         if (co_await w.write("tick\n")) co_return;   // the client went away
//     }, "text/plain");
//
// By default the head (status line and headers) is on the wire before the producer runs. A
// producer that learns its headers as it works asks for `http::stream_head::deferred`: the
// head then waits for its first write and goes out in one write with it (or alone when the
// producer ends without writing), and until then the producer may still add headers:
//
//     co_return http::response::streamed([](http::body_writer& w) -> asio::awaitable<void> {
//       auto rows = co_await query();                 // nothing on the wire yet
//       w.headers().set("X-Row-Count", std::to_string(rows.size()));
//       for (const auto& row : rows)
//         if (co_await w.write(row)) co_return;       // the first write sends the head too
//     }, "text/csv", http::status::ok, http::stream_head::deferred);
#pragma once

#include <coronet/detail/asio.hpp>
#include <coronet/http/message.hpp>

#include <string_view>
#include <system_error>

namespace coronet::http {

class body_writer {
 public:
  virtual ~body_writer() = default;
  /// Writes one piece of the body (and, with a deferred head, the head before the first one).
  /// Completes when the socket has taken it; the returned error is set when the connection
  /// failed or timed out (stop producing then). Empty pieces are skipped (an empty chunk would
  /// end a chunked body) and do not send a deferred head.
  ///
  /// When the answer can have no body (a HEAD request, or a status such as 204 or 304), a
  /// deferred head's first write sends the head alone and completes with
  /// `asio::error::operation_aborted`, as does every write after it: stop producing then.
  /// (An immediate head's producer is not run at all in that case.)
  [[nodiscard]] virtual asio::awaitable<std::error_code> write(std::string_view data) = 0;

  /// The response's header fields, which a producer with `stream_head::deferred` may add to
  /// or change until its first non-empty write. The rules of handlers' fields apply (framing
  /// fields are ignored; a field with CR, LF or NUL turns the answer into a 500, and the first
  /// write then completes with `asio::error::operation_aborted`). Changes made once
  /// head_sent() is true are not sent.
  [[nodiscard]] virtual fields& headers() noexcept = 0;

  /// Whether the head has been sent. Always true for `stream_head::immediate`; for a deferred
  /// head, from the first non-empty write on.
  [[nodiscard]] virtual bool head_sent() const noexcept = 0;
};

}  // namespace coronet::http
