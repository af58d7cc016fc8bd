// coronet — HTTP/1.1 and gRPC as C++20 coroutines over standalone Asio.
// The umbrella header: includes every public header that this build provides (the rpc
// headers only in a build with gRPC, CORONET_HAS_GRPC).
#pragma once

#include <coronet/config.hpp>
#include <coronet/runtime.hpp>
#include <coronet/listener.hpp>
#include <coronet/metrics.hpp>
#include <coronet/http/body_writer.hpp>
#include <coronet/http/client.hpp>
#include <coronet/http/client_error.hpp>
#include <coronet/http/message.hpp>
#include <coronet/http/router.hpp>
#include <coronet/http/server.hpp>
#include <coronet/http/url.hpp>
#if CORONET_HAS_GRPC
#include <coronet/connect/client.hpp>
#include <coronet/connect/server.hpp>
#include <coronet/rpc/channel.hpp>
#include <coronet/rpc/client.hpp>
#include <coronet/rpc/context.hpp>
#include <coronet/rpc/method.hpp>
#include <coronet/rpc/method_options.hpp>
#include <coronet/rpc/server.hpp>
#include <coronet/rpc/service.hpp>
#include <coronet/rpc/stream.hpp>
#endif
