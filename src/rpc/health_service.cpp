#include "health_service.hpp"

#include "health_state.hpp"

#include "health.coronet.pb.h"

#include <asio/cancellation_type.hpp>
#include <asio/this_coro.hpp>

#include <optional>

namespace coronet::rpc::detail {

namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

HealthCheckResponse::ServingStatus to_proto(serving_status status) {
  return static_cast<HealthCheckResponse::ServingStatus>(status);
}

}  // namespace

health_service::health_service(rpc::health& health) {
  // Check takes a mutex for a map lookup and never suspends: started inline, it is answered
  // on the gRPC thread that received it, without a hand-off to an io thread.
  service_.handle<::grpc::health::v1::health::check>(
      [&health](coronet::rpc::context&, const HealthCheckRequest& request,
                HealthCheckResponse& response) -> asio::awaitable<grpc::Status> {
        const serving_status status = health.status(request.service());
        // The health checking protocol's answer for a name the server does not know. The
        // message does not echo the name: it is the client's text.
        if (status == serving_status::service_unknown) {
          co_return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
        }
        response.set_status(to_proto(status));
        co_return grpc::Status::OK;
      },
      {.inline_start = true});

  // Watch sends the status at once and then each change (changes that come faster than the
  // client reads collapse into the latest). A watch lasts as long as the client wants, so it
  // must not hold up a drain: the server's shutdown makes every status NOT_SERVING, and each
  // watch ends once it has sent that. Not inline: its wake-up timer belongs to its io thread.
  service_.handle<::grpc::health::v1::health::watch>(
      [&state = *health.state_](coronet::rpc::context&, const HealthCheckRequest& request,
                                server_writer<HealthCheckResponse>& writer)
          -> asio::awaitable<grpc::Status> {
        health_subscription subscription(state, request.service(),
                                         co_await asio::this_coro::executor);
        HealthCheckResponse response;
        std::optional<serving_status> sent;
        for (;;) {
          const auto [status, last] = subscription.current();
          if (status != sent) {
            response.set_status(to_proto(status));
            if (!co_await writer.write(response)) {
              co_return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
            }
            sent = status;
          } else if (last) {
            co_return grpc::Status::OK;
          } else {
            co_await subscription.changed();
            const auto cancel = co_await asio::this_coro::cancellation_state;
            if (cancel.cancelled() != asio::cancellation_type::none) {
              co_return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
            }
          }
        }
      });
}

}  // namespace coronet::rpc::detail
