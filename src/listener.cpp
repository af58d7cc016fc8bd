#include <coronet/listener.hpp>

#include <asio/ip/address.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

namespace coronet {

namespace {

using asio::ip::tcp;
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
using coronet::detail::use_nothrow;
using namespace std::chrono_literals;

constexpr std::string_view h2_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

}  // namespace

struct detail::listener_state {
  listener_state(http::server& h, listener_options o) : http(h), options(o) {}
  http::server& http;
  listener_options options;
  listener::socket_handler http2;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::uint16_t port = 0;
  bool closed = false;
};

namespace {

// Peeks (MSG_PEEK: nothing is consumed) until the bytes either match the whole HTTP/2
// preface or differ from it; usually one peek, since "GET " or "POST" differ at once.
asio::awaitable<void> sniff(std::shared_ptr<detail::listener_state> s, tcp::socket socket) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex, s->options.sniff_timeout);
  bool expired = false;
  timer.async_wait([&](const std::error_code& ec) {
    if (ec) return;
    expired = true;
    std::error_code ignored;
    socket.cancel(ignored);
  });
  std::array<char, h2_preface.size()> head{};
  bool http2 = false;
  for (;;) {
    auto [ec, n] = co_await socket.async_receive(asio::buffer(head), tcp::socket::message_peek, use_nothrow);
    if (ec || expired || n == 0) {
      timer.cancel();
      co_return;  // closed, reset or too slow before saying anything useful
    }
    const std::string_view seen(head.data(), n);
    if (seen != h2_preface.substr(0, n)) break;  // HTTP/1.1 (or garbage the server rejects)
    if (n == h2_preface.size()) {
      http2 = true;
      break;
    }
    // A prefix of the preface: wait for more bytes to arrive, then look again.
    auto [wec] = co_await socket.async_wait(tcp::socket::wait_read, use_nothrow);
    if (wec || expired) {
      timer.cancel();
      co_return;
    }
  }
  timer.cancel();
  if (http2) {
    if (s->http2) s->http2(std::move(socket));
    co_return;  // without a handler the socket closes here
  }
  s->http.adopt(std::move(socket));
}

asio::awaitable<void> accept_loop(std::shared_ptr<detail::listener_state> s, tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // EMFILE and friends: back off rather than spin on an accept that keeps failing.
      asio::steady_timer pause(acceptor.get_executor(), 50ms);
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(acceptor.get_executor(), sniff(s, std::move(socket)), asio::detached);
  }
}

}  // namespace

listener::listener(runtime& rt, http::server& http, listener_options options)
    : runtime_(rt), state_(std::make_shared<detail::listener_state>(http, options)) {
  stop_hook_ = rt.add_stop_hook([this]() -> asio::awaitable<void> {
    close();
    co_return;
  });
}

listener::~listener() {
  runtime_.remove_stop_hook(stop_hook_);
  close();
}

void listener::on_http2(socket_handler handler) { state_->http2 = std::move(handler); }

void listener::listen(std::string_view host, std::uint16_t port) {
  auto& first = runtime_.context(0);
  tcp::endpoint endpoint;
  std::error_code ec;
  const auto address = asio::ip::make_address(std::string(host), ec);
  if (!ec) {
    endpoint = {address, port};
  } else {
    tcp::resolver resolver(first);
    endpoint = *resolver.resolve(std::string(host), std::to_string(port)).begin();
  }
  if (endpoint.port() != 0) {
    // SO_REUSEPORT would silently share a port someone else listens on: refuse that.
    tcp::acceptor probe(first);
    probe.open(endpoint.protocol());
    probe.set_option(tcp::acceptor::reuse_address(true));
    probe.bind(endpoint);
  }
  for (std::size_t i = 0; i < runtime_.size(); ++i) {
    auto acceptor = std::make_unique<tcp::acceptor>(runtime_.context(i));
    acceptor->open(endpoint.protocol());
    acceptor->set_option(tcp::acceptor::reuse_address(true));
    acceptor->set_option(reuse_port(true));
    acceptor->bind(endpoint);
    acceptor->listen(state_->options.backlog);
    endpoint.port(acceptor->local_endpoint().port());
    state_->acceptors.push_back(std::move(acceptor));
  }
  state_->port = endpoint.port();
  for (auto& a : state_->acceptors) {
    asio::co_spawn(a->get_executor(), accept_loop(state_, *a), asio::detached);
  }
}

std::uint16_t listener::port() const noexcept { return state_->port; }

void listener::close() {
  for (auto& a : state_->acceptors) {
    // Closed on its own thread: the accept loop may be using it right now.
    asio::post(a->get_executor(), [s = state_, acceptor = a.get()] {
      std::error_code ignored;
      acceptor->close(ignored);
    });
  }
}

}  // namespace coronet
