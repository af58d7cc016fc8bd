// coronet::rpc method tags: one type per method of a .proto service, generated at build time
// by protoc-gen-coronet next to grpc_cpp_plugin's output (`hello.coronet.pb.h` for
// hello.proto). A tag names a method to the compiler, so that binding a handler of the wrong
// kind or message types, or to a method that does not exist, fails to compile:
//
//     #include "hello.coronet.pb.h"       // namespace hello_world { struct say_hello; }
//     greeter.handle<hello_world::say_hello>(handler);
//
// A service `HelloWorld` in package `foo.v1` gets the namespace `foo::v1::hello_world`; each
// method a struct named after it in snake case (`SayHello` → `say_hello`; a C++ keyword gets
// a trailing underscore).
#pragma once

#include <concepts>
#include <string_view>

namespace coronet::rpc {

/// The four kinds of RPC, as the .proto declares a method.
enum class method_kind { unary, server_streaming, client_streaming, bidi };

/// What a generated tag holds:
///
///     struct say_hello {
///       using service = ::HelloWorld;            // grpc_cpp_plugin's service class
///       using request = ::Greeting;
///       using response = ::Greeting;
///       static constexpr method_kind kind = method_kind::unary;
///       static constexpr int index = 0;          // its position in the service
///       static constexpr std::string_view name = "SayHello";
///       static constexpr std::string_view path = "/HelloWorld/SayHello";
///       static constexpr bool no_side_effects = false;   // idempotency_level
///     };
template <class M>
concept method_tag = requires {
  typename M::service;
  typename M::request;
  typename M::response;
  { M::kind } -> std::convertible_to<method_kind>;
  { M::index } -> std::convertible_to<int>;
  { M::name } -> std::convertible_to<std::string_view>;
  { M::path } -> std::convertible_to<std::string_view>;
  { M::no_side_effects } -> std::convertible_to<bool>;
};

}  // namespace coronet::rpc
