// coronet — HTTP/1.1 and gRPC as C++20 coroutines over standalone Asio.
// The umbrella header: includes every public header that this build provides.
#pragma once

#include <coronet/config.hpp>
#include <coronet/runtime.hpp>
#include <coronet/http/body_writer.hpp>
#include <coronet/http/message.hpp>
#include <coronet/http/router.hpp>
#include <coronet/http/server.hpp>
#include <coronet/http/client.hpp>
