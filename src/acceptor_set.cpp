#include "acceptor_set.hpp"

#include <asio/ip/address.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <string>

namespace coronet::detail {

namespace {

using asio::ip::tcp;
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

tcp::endpoint resolve(asio::io_context& ctx, std::string_view host, std::uint16_t port) {
  std::error_code ec;
  const auto address = asio::ip::make_address(std::string(host), ec);
  if (!ec) return {address, port};
  tcp::resolver resolver(ctx);
  return *resolver.resolve(std::string(host), std::to_string(port)).begin();  // throws when none
}

}  // namespace

struct acceptor_set::entry {
  entry(asio::io_context& ctx, std::size_t i, accept_handler h) : acceptor(ctx), index(i), on_accept(std::move(h)) {}
  tcp::acceptor acceptor;
  std::size_t index;
  accept_handler on_accept;
};

void acceptor_set::listen(runtime& rt, std::string_view host, std::uint16_t port, int backlog,
                          accept_handler on_accept) {
  auto endpoint = resolve(rt.context(0), host, port);
  if (endpoint.port() != 0) {
    tcp::acceptor probe(rt.context(0));
    probe.open(endpoint.protocol());
    probe.set_option(tcp::acceptor::reuse_address(true));
    probe.bind(endpoint);
  }
  std::vector<std::shared_ptr<entry>> entries;
  for (std::size_t i = 0; i < rt.size(); ++i) {
    auto e = std::make_shared<entry>(rt.context(i), i, on_accept);
    e->acceptor.open(endpoint.protocol());
    e->acceptor.set_option(tcp::acceptor::reuse_address(true));
    e->acceptor.set_option(reuse_port(true));
    e->acceptor.bind(endpoint);
    e->acceptor.listen(backlog);
    endpoint.port(e->acceptor.local_endpoint().port());  // port 0: the rest join the chosen one
    entries.push_back(std::move(e));
  }
  port_ = endpoint.port();
  for (auto& e : entries) {
    asio::co_spawn(e->acceptor.get_executor(), accept_loop(e), asio::detached);
    entries_.push_back(std::move(e));
  }
}

asio::awaitable<void> acceptor_set::accept_loop(std::shared_ptr<entry> e) {
  for (;;) {
    auto [ec, socket] = co_await e->acceptor.async_accept(use_nothrow);
    if (!ec) {
      // Accepted before the acceptor closed (its completion may run after): served all the
      // same, like the rest of the queue.
      e->on_accept(e->index, std::move(socket));
      if (!e->acceptor.is_open()) co_return;
      continue;
    }
    if (!e->acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    // Out of descriptors or buffers (EMFILE, ENFILE, ENOBUFS): pause instead of spinning a
    // core on an accept that keeps failing; connections closing meanwhile free what we need.
    asio::steady_timer pause(e->acceptor.get_executor(), std::chrono::milliseconds(50));
    co_await pause.async_wait(use_nothrow);
  }
}

// On the acceptor's thread: accept without waiting until the queue is empty, then close. A
// handshake completing between the last accept and the close is still reset; that window is
// a few system calls wide instead of the whole queue.
void acceptor_set::drain_and_close(entry& e) {
  std::error_code ec;
  if (!e.acceptor.is_open()) return;
  e.acceptor.non_blocking(true, ec);
  for (std::size_t taken = 0; !ec && taken < 65536; ++taken) {
    tcp::socket socket(e.acceptor.get_executor());
    e.acceptor.accept(socket, ec);
    if (!ec) e.on_accept(e.index, std::move(socket));
    // Out of descriptors mid-drain: what is left is reset with the close, as before.
  }
  e.acceptor.close(ec);
}

void acceptor_set::close() {
  for (auto& e : entries_) {
    asio::post(e->acceptor.get_executor(), [e] { drain_and_close(*e); });
  }
  // From now on each acceptor is owned only by work on its own context (its accept loop and
  // the close above), so it goes when that context does, never after it: the owner of this
  // set may outlive some of the runtime's contexts.
  entries_.clear();
}

asio::awaitable<void> acceptor_set::close_drained() {
  // One entry at a time off the member, with no range-for over a local container: GCC 12
  // destroys such a container twice when the coroutine ends.
  while (!entries_.empty()) {
    auto e = std::move(entries_.back());
    entries_.pop_back();
    const auto ex = e->acceptor.get_executor();
    co_await asio::co_spawn(ex, drain_on_own_thread(std::move(e)), asio::use_awaitable);
  }
}

asio::awaitable<void> acceptor_set::drain_on_own_thread(std::shared_ptr<entry> e) {
  drain_and_close(*e);
  co_return;
}

}  // namespace coronet::detail
