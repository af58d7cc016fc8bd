#include <coronet/rpc/server.hpp>

#include <coronet/rpc/detail/call_pool.hpp>
#include <coronet/rpc/detail/pending_op.hpp>

#include "scheduling.hpp"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>

#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <climits>
#include <stdexcept>

namespace coronet::rpc {

namespace {

// gRPC reads the health switch when a server is built and keeps the reflection plugin in a
// process-wide list: serialize builds so each server gets the health setting it asked for.
std::mutex& build_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

server::server(runtime& rt, server_options options)
    : runtime_(rt), options_(std::move(options)) {
  stop_hook_ = rt.add_stop_hook([this]() -> asio::awaitable<void> { co_await shutdown(); });
}

server::~server() {
  runtime_.remove_stop_hook(stop_hook_);
  if (server_) shutdown_blocking(std::chrono::milliseconds(0));
  std::lock_guard lock(threads_mutex_);
  for (auto& t : shutdown_threads_) t.join();
}

void server::add(detail::service_binding& service) {
  // One call pool per io_context of the runtime, found by the context a round-robin
  // executor belongs to.
  std::vector<std::pair<asio::io_context*, detail::call_pool*>> pools;
  for (std::size_t i = 0; i < runtime_.size(); ++i) {
    auto& context = runtime_.context(i);
    pools.emplace_back(&context, &asio::use_service<detail::call_pool>(context));
  }
  service.set_call_site_source([&rt = runtime_, pools = std::move(pools)] {
    auto ex = rt.next_executor();
    detail::call_pool* pool = pools.front().second;
    for (const auto& [context, p] : pools) {
      if (context == &ex.context()) pool = p;
    }
    return detail::call_site{ex, pool};
  });
  services_.push_back(&service.native());
}

void server::add(grpc::Service& service) { services_.push_back(&service); }

void server::listen(std::string_view host, std::uint16_t port) {
  if (server_) throw std::logic_error("coronet::rpc::server: listen() after start()");
  // gRPC's address syntax: an IPv6 literal goes in brackets.
  const bool v6 = host.find(':') != std::string_view::npos && !host.starts_with('[');
  std::string address;
  if (v6) address += '[';
  address += host;
  if (v6) address += ']';
  address += ':';
  address += std::to_string(port);
  addresses_.push_back(std::move(address));
}

void server::start() {
  if (server_) throw std::logic_error("coronet::rpc::server: started twice");
  // The threads gRPC starts for this server (its pollers, executors and timers, started
  // while it is built when it is the process's first gRPC object) inherit the calling
  // thread's policy: under batch_scheduling they get SCHED_BATCH like the io threads.
  const coronet::detail::batch_scheduling_scope batch(runtime_.options().batch_scheduling);
  grpc::ServerBuilder builder;
  // gRPC reports each bound port through its own int; port() is the first one's.
  std::vector<int> ports(addresses_.size(), 0);
  for (std::size_t i = 0; i < addresses_.size(); ++i) {
    builder.AddListeningPort(addresses_[i], grpc::InsecureServerCredentials(), &ports[i]);
  }
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_send_message_bytes);
  if (options_.max_concurrent_streams > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams);
  }
  if (const auto idle = options_.max_connection_idle.count(); idle > 0) {
    // gRPC's max_age filter, which every server connection gets, adopted ones included.
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                               static_cast<int>(std::min<decltype(idle)>(idle, INT_MAX)));
  }
  for (const auto& [name, value] : options_.channel_args) builder.AddChannelArgument(name, value);
  if (options_.configure) options_.configure(builder);
  for (auto* s : services_) builder.RegisterService(s);
  {
    std::lock_guard lock(build_mutex());
    grpc::EnableDefaultHealthCheckService(options_.health_service);
    if (options_.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    server_ = builder.BuildAndStart();
  }
  for (std::size_t i = 0; i < ports.size(); ++i) {
    if (server_ && ports[i] != 0) continue;
    server_.reset();
    throw std::runtime_error("coronet::rpc::server: cannot listen on " + addresses_[i]);
  }
  if (!server_) throw std::runtime_error("coronet::rpc::server: gRPC could not start the server");
  port_ = ports.empty() ? 0 : ports.front();
}

void server::shutdown_blocking(std::chrono::milliseconds drain_timeout) {
  if (!server_) return;
  const auto deadline = std::chrono::system_clock::now() + drain_timeout;
  // Only the first caller shuts down; later ones wait in Wait() for the same end.
  std::call_once(shutdown_once_, [&] { server_->Shutdown(deadline); });
  server_->Wait();
  // The calls are over: end the call pools' parked workers, which otherwise count as work
  // of their io_contexts.
  for (std::size_t i = 0; i < runtime_.size(); ++i) {
    auto& context = runtime_.context(i);
    asio::post(context, [&context] { asio::use_service<detail::call_pool>(context).end_idle(); });
  }
}

asio::awaitable<void> server::shutdown() { return shutdown(options_.drain_timeout); }

asio::awaitable<void> server::shutdown(std::chrono::milliseconds drain_timeout) {
  if (!server_) co_return;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [this, drain_timeout](auto handler) {
        auto op = std::make_shared<detail::pending_op<>>();
        op->set(std::move(handler));
        std::lock_guard lock(threads_mutex_);
        shutdown_threads_.emplace_back([this, drain_timeout, op] {
          shutdown_blocking(drain_timeout);
          op->complete();
        });
      },
      asio::use_awaitable);
}

void server::adopt(asio::ip::tcp::socket socket) {
  if (!server_) return;  // not started (or shut down): the socket closes here
  // gRPC takes the descriptor over: Asio must let go of it first.
  std::error_code ec;
  socket.non_blocking(true, ec);
  const int fd = socket.release(ec);
  if (ec) return;
  grpc::AddInsecureChannelFromFd(server_.get(), fd);
}

}  // namespace coronet::rpc
