#include <coronet/rpc/channel.hpp>

#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <climits>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

namespace coronet::rpc {

namespace {

// The names go into JSON as they are: a policy is a plain word, a service a dotted name
// ("grpc.health.v1.Health"); neither needs escaping.
bool plain_name(std::string_view name, bool dots) {
  return std::all_of(name.begin(), name.end(), [dots](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || (dots && c == '.');
  });
}

int clamped_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::min<std::chrono::milliseconds::rep>(d.count(), INT_MAX));
}

// The policy and the per-call behaviour live in a service config, the one place gRPC reads
// a retry policy and wait-for-ready for every method from. `"name": [{}]` makes the method
// config the default of every service and method. It is the channel's default config: a
// name resolver could bring another, but gRPC's DNS resolver looks for none unless asked
// (GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION is true by default).
std::string service_config(const channel_options& o) {
  std::string json = R"({"loadBalancingConfig":[{")" + o.load_balancing_policy + R"(":{}}],)";
  if (o.health_check_service) {
    json += R"("healthCheckConfig":{"serviceName":")" + *o.health_check_service + R"("},)";
  }
  json += R"("methodConfig":[{"name":[{}])";
  if (o.wait_for_ready) json += R"(,"waitForReady":true)";
  if (o.max_attempts > 1) {
    // gRPC refuses a policy of one attempt (and caps more than five at five).
    json += R"(,"retryPolicy":{"maxAttempts":)" + std::to_string(std::min(o.max_attempts, 5)) +
            R"(,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,)"
            R"("retryableStatusCodes":["UNAVAILABLE"]})";
  }
  json += "}]}";
  return json;
}

}  // namespace

std::shared_ptr<grpc::Channel> balanced_channel(std::string_view target,
                                                const channel_options& options) {
  if (target.empty()) {
    throw std::invalid_argument("coronet::rpc::balanced_channel: empty target");
  }
  if (options.max_attempts < 1) {
    throw std::invalid_argument("coronet::rpc::balanced_channel: max_attempts must be 1 or more");
  }
  if (options.load_balancing_policy.empty() || !plain_name(options.load_balancing_policy, false)) {
    throw std::invalid_argument("coronet::rpc::balanced_channel: load_balancing_policy \"" +
                                options.load_balancing_policy + "\" is not a policy name");
  }
  if (options.health_check_service && !plain_name(*options.health_check_service, true)) {
    throw std::invalid_argument("coronet::rpc::balanced_channel: health_check_service \"" +
                                *options.health_check_service + "\" is not a service name");
  }
  // The caller's arguments win, and none is set twice (which of two gRPC reads is not
  // something to rely on): each of ours goes in only where `args` lacks it.
  grpc::ChannelArguments args = options.args;
  std::set<std::string_view> given;
  const grpc_channel_args c_args = options.args.c_channel_args();
  for (std::size_t i = 0; i < c_args.num_args; ++i) given.insert(c_args.args[i].key);
  auto set_int = [&](const char* key, int value) {
    if (!given.contains(key)) args.SetInt(key, value);
  };
  if (!given.contains(GRPC_ARG_SERVICE_CONFIG)) args.SetServiceConfigJSON(service_config(options));
  if (options.local_subchannel_pool) set_int(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (options.max_reconnect_backoff.count() > 0) {
    const int ms = clamped_ms(options.max_reconnect_backoff);
    set_int(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, ms);
    // The first wait (1 s by default) must not exceed the cap either.
    set_int(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(ms, 1000));
  }
  if (options.keepalive_time.count() > 0) {
    set_int(GRPC_ARG_KEEPALIVE_TIME_MS, clamped_ms(options.keepalive_time));
    if (options.keepalive_timeout.count() > 0) {
      set_int(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, clamped_ms(options.keepalive_timeout));
    }
  }
  const std::string name(target);
  if (options.tls) return secure_channel(name, *options.tls, std::move(args));
  return grpc::CreateCustomChannel(name, grpc::InsecureChannelCredentials(), args);
}

}  // namespace coronet::rpc
