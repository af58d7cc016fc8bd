#include <coronet/rpc/server.hpp>

#include <coronet/rpc/detail/call_pool.hpp>
#include <coronet/rpc/detail/pending_op.hpp>

#include "scheduling.hpp"

#include "health_service.hpp"
#include "metrics_interceptor.hpp"

#include <coronet/metrics.hpp>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/impl/server_initializer.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>

#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <climits>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace coronet::rpc {

namespace {

// The plugins of one server, settled as gRPC builds it. libgrpc++_reflection puts its plugin
// into every builder of the process from the moment it is loaded, so no process-wide switch
// can turn reflection off for one server; this option can:
// - the reflection plugin is kept, added or removed as options.reflection says;
// - the health registry learns the services the server advertises (the list reflection
//   hands out) before the server starts, so none of them is NOT_FOUND once it is up.
class plugins_option final : public grpc::ServerBuilderOption {
 public:
  /// `started` (may be empty) receives the names of the services the server advertises.
  using services_callback = std::function<void(const std::vector<std::string>&)>;

  plugins_option(bool reflection, services_callback started)
      : reflection_(reflection), started_(std::move(started)) {}

  void UpdateArguments(grpc::ChannelArguments*) override {}

  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    constexpr std::string_view reflection_plugin = "proto_server_reflection";
    std::erase_if(*plugins, [&](const auto& p) { return p->name() == reflection_plugin; });
    if (reflection_) {
      plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
    }
    if (started_) plugins->push_back(std::make_unique<service_list>(std::move(started_)));
  }

 private:
  class service_list final : public grpc::ServerBuilderPlugin {
   public:
    explicit service_list(services_callback started) : started_(std::move(started)) {}
    std::string name() override { return "coronet_service_list"; }
    // Called once every service and every plugin before this one (reflection) has
    // registered its services, before the server starts.
    void InitServer(grpc::ServerInitializer* si) override { started_(*si->GetServiceList()); }
    void Finish(grpc::ServerInitializer*) override {}
    void ChangeArguments(const std::string&, void*) override {}

   private:
    services_callback started_;
  };

  bool reflection_;
  services_callback started_;
};

// gRPC's address syntax: an IPv6 literal goes in brackets.
std::string grpc_address(std::string_view host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos && !host.starts_with('[');
  std::string address;
  if (v6) address += '[';
  address += host;
  if (v6) address += ']';
  address += ':';
  address += std::to_string(port);
  return address;
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

server& server::use(middleware m) {
  if (added_) throw std::logic_error("coronet::rpc::server::use: call use() before add()");
  if (!m) throw std::invalid_argument("coronet::rpc::server::use: empty middleware");
  middleware_.push_back(std::move(m));
  return *this;
}

void server::add_binding(detail::service_binding& service) {
  added_ = true;
  service.wrap_middleware(middleware_);
  bind(service);
}

void server::bind(detail::service_binding& service) {
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
  bindings_.push_back(&service);
}

void server::add(grpc::Service& service) { services_.push_back(&service); }

void server::listen(std::string_view host, std::uint16_t port) {
  if (server_) throw std::logic_error("coronet::rpc::server: listen() after start()");
  addresses_.push_back(grpc_address(host, port));
}

void server::listen_tls(std::string_view host, std::uint16_t port, server_tls tls) {
  if (server_) throw std::logic_error("coronet::rpc::server: listen_tls() after start()");
  tls_addresses_.emplace_back(grpc_address(host, port), std::move(tls));
}

void server::start() {
  if (server_) throw std::logic_error("coronet::rpc::server: started twice");
  // The threads gRPC starts for this server (its pollers, executors and timers, started
  // while it is built when it is the process's first gRPC object) inherit the calling
  // thread's policy: under batch_scheduling they get SCHED_BATCH like the io threads.
  const coronet::detail::batch_scheduling_scope batch(runtime_.options().batch_scheduling);
  grpc::ServerBuilder builder;
  // gRPC reports each bound port through its own int: the cleartext ports first, then the
  // TLS ones; port() is the first cleartext one's, tls_port() the first TLS one's.
  std::vector<std::string> addresses = addresses_;
  std::vector<int> ports(addresses_.size() + tls_addresses_.size(), 0);
  for (std::size_t i = 0; i < addresses_.size(); ++i) {
    builder.AddListeningPort(addresses_[i], grpc::InsecureServerCredentials(), &ports[i]);
  }
  for (std::size_t i = 0; i < tls_addresses_.size(); ++i) {
    const auto& [address, tls] = tls_addresses_[i];
    // Reads and checks the files: a fault throws here, before anything is bound.
    builder.AddListeningPort(address, detail::server_credentials(tls),
                             &ports[addresses_.size() + i]);
    addresses.push_back(address);
  }
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_send_message_bytes);
  if (options_.max_concurrent_streams > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams);
  }
  if (options_.max_metadata_bytes > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, options_.max_metadata_bytes);
  }
  if (const auto idle = options_.max_connection_idle.count(); idle > 0) {
    // gRPC's max_age filter, which every server connection gets, adopted ones included.
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                               static_cast<int>(std::min<decltype(idle)>(idle, INT_MAX)));
  }
  if (const auto age = options_.max_connection_age.count(); age > 0) {
    // Same filter: a client connected for this long gets a GOAWAY and reconnects, so long
    // lived clients spread over instances started after them.
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               static_cast<int>(std::min<decltype(age)>(age, INT_MAX)));
    const auto grace = options_.max_connection_age_grace.count();
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               static_cast<int>(std::min<decltype(grace)>(grace, INT_MAX)));
  }
  for (const auto& [name, value] : options_.channel_args) builder.AddChannelArgument(name, value);
  if (options_.health_service && !health_service_) {  // a start() that threw may come again
    health_service_ = std::make_unique<detail::health_service>(health_);
    bind(health_service_->binding());
  }
  // gRPC's default health service is never built, per server (not through the process-wide
  // EnableDefaultHealthCheckService): it has no protobuf descriptors, so reflection could
  // list it but not describe it. coronet serves its own, health_service_.
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  plugins_option::services_callback services_started;
  if (options_.health_service) {
    services_started = [this](const std::vector<std::string>& names) { health_.start(names); };
  }
  // A service serves one server at a time: counters a server before this one set go.
  for (auto* b : bindings_) b->set_counters([](const detail::bound_method&) { return nullptr; });
  if (options_.metrics) {
    // Before configure(): grpc++ keeps one list of interceptor factories, and a configure()
    // that sets its own replaces this one.
    auto hook = detail::metrics_interceptor(coronet::detail::metrics_access::state(*options_.metrics));
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
    interceptors.push_back(std::move(hook.factory));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
    // The coroutine services' calls are counted by their reactors, without an interceptor.
    for (auto* b : bindings_) {
      b->set_counters([&](const detail::bound_method& m) {
        const auto type = m.kind == method_kind::unary              ? 0
                          : m.kind == method_kind::client_streaming ? 1
                          : m.kind == method_kind::server_streaming ? 2
                                                                     : 3;
        return hook.counter_for(m.name, static_cast<std::uint8_t>(type));
      });
    }
    services_started = [learn = std::move(hook.learn), health = std::move(services_started)](
                           const std::vector<std::string>& names) {
      learn(names);
      if (health) health(names);
    };
  }
  builder.SetOption(std::make_unique<plugins_option>(options_.reflection, services_started));
  if (options_.configure) options_.configure(builder);
  for (auto* s : services_) builder.RegisterService(s);
  server_ = builder.BuildAndStart();
  for (std::size_t i = 0; i < ports.size(); ++i) {
    if (server_ && ports[i] != 0) continue;
    server_.reset();
    throw std::runtime_error("coronet::rpc::server: cannot listen on " + addresses[i]);
  }
  if (!server_) throw std::runtime_error("coronet::rpc::server: gRPC could not start the server");
  port_ = addresses_.empty() ? 0 : ports.front();
  tls_port_ = tls_addresses_.empty() ? 0 : ports[addresses_.size()];
}

void server::shutdown_blocking(std::chrono::milliseconds drain_timeout) {
  if (!server_) return;
  const auto deadline = std::chrono::system_clock::now() + drain_timeout;
  // Only the first caller shuts down; later ones wait in Wait() for the same end. Health
  // first: clients see NOT_SERVING, and the watches, which would otherwise run until the
  // drain timeout cancels them, end at once.
  std::call_once(shutdown_once_, [&] {
    health_.shut_down();
    // gRPC's Shutdown drops (CANCELLED) a call that arrives before its client has read the
    // GOAWAY; health-checking clients leave during the notice, so none arrives then.
    std::this_thread::sleep_for(std::min(options_.shutdown_notice, drain_timeout));
    server_->Shutdown(deadline);
  });
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
