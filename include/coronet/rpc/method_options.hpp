// coronet::rpc::method_options — how the calls of a method start; see service.hpp.
#pragma once

namespace coronet::rpc {

/// How the calls of a method start (service::handle).
struct method_options {
  /// false (default): the handler runs on an io thread of the server's runtime from its
  /// first line; the gRPC thread that delivered the call only hands it over. That hand-off
  /// wakes the io thread once per call and the Finish made there wakes a gRPC thread: two
  /// thread switches per call when they share a CPU.
  ///
  /// true: the handler starts on the gRPC thread that delivered the call and runs there
  /// until it first suspends; whatever it awaits then resumes it on its io thread (its
  /// executor, `co_await asio::this_coro::executor`, is the io_context's either way). A
  /// handler that completes without suspending costs what a hand-written callback reactor
  /// costs: no hand-off at all. Only for handlers whose code before their first suspension
  /// neither blocks nor takes long nor touches state owned by an io thread, since gRPC's
  /// thread serves other calls and connections meanwhile. `co_await
  /// asio::post(asio::use_awaitable)` moves such a handler to its io thread explicitly.
  bool inline_start = false;
};

}  // namespace coronet::rpc
