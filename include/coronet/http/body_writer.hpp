// http::body_writer — writes a streamed response body, chunk by chunk.
//
// A handler that returns `response::streamed(producer)` gets a body_writer in its producer
// once the head has been sent. Each write completes only when the socket has accepted the
// bytes, so a slow client slows the producer instead of growing memory.
//
//     co_return http::response::streamed([](http::body_writer& w) -> asio::awaitable<void> {
//       for (int i = 0; i < 3; ++i)
//         if (co_await w.write("tick\n")) co_return;   // the client went away
//     }, "text/plain");
#pragma once

#include <coronet/detail/asio.hpp>

#include <string_view>
#include <system_error>

namespace coronet::http {

class body_writer {
 public:
  virtual ~body_writer() = default;
  /// Writes one piece of the body. Completes when the socket has taken it; the returned error
  /// is set when the connection failed or timed out (stop producing then). Empty pieces are
  /// skipped (an empty chunk would end a chunked body).
  [[nodiscard]] virtual asio::awaitable<std::error_code> write(std::string_view data) = 0;
};

}  // namespace coronet::http
