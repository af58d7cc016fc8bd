// One listening port on every io_context of a runtime: an acceptor per context, all bound to
// the same address with SO_REUSEPORT, so the kernel spreads connections and each one starts
// on its context's thread. Used by http::server and coronet::listener alike.
#pragma once

#include <coronet/runtime.hpp>

#include <asio/ip/tcp.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace coronet::detail {

class acceptor_set {
 public:
  /// Receives each accepted socket on the thread of the context it belongs to; `index` is the
  /// context's index in the runtime.
  using accept_handler = std::function<void(std::size_t index, asio::ip::tcp::socket)>;

  /// Binds host:port (0: a free port, the same for every acceptor) on each of the runtime's
  /// contexts and starts accepting. A port someone else already listens on is an error (a
  /// plain bind is tried first: SO_REUSEPORT alone would share it silently). Throws
  /// std::system_error when the address cannot be bound.
  void listen(runtime& rt, std::string_view host, std::uint16_t port, int backlog, accept_handler on_accept);

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

  /// Stops accepting: each acceptor, on its own thread (its loop may be using it), first
  /// takes the connections already queued in it (handing them to the accept handler), then
  /// closes. Closing a listening socket resets the connections still in its queue, and a
  /// proxy that has already sent a request on one cannot know whether it was served.
  void close();
  /// close(), completing when every acceptor has taken its queue and closed.
  asio::awaitable<void> close_drained();

 private:
  struct entry;
  static asio::awaitable<void> accept_loop(std::shared_ptr<entry> e);
  static void drain_and_close(entry& e);
  static asio::awaitable<void> drain_on_own_thread(std::shared_ptr<entry> e);

  std::vector<std::shared_ptr<entry>> entries_;
  std::uint16_t port_ = 0;
};

}  // namespace coronet::detail
