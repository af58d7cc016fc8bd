// The enveloped protocols: Connect streaming and gRPC-Web (streams.cpp).
#pragma once

#include "call.hpp"

namespace coronet::connect::detail {

/// A Connect server- or client-streaming call (application/connect+proto or +json).
asio::awaitable<http::response> connect_stream_call(const mount_state& s, const bound_method& m,
                                                    http::request& req, codec c,
                                                    std::string_view type);

/// A gRPC-Web call of any kind but bidi (application/grpc-web, +proto or +json).
asio::awaitable<http::response> grpc_web_call(const mount_state& s, const bound_method& m,
                                              http::request& req, codec c,
                                              std::string_view type);

}  // namespace coronet::connect::detail
