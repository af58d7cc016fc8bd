// The one place that spells out where Asio keeps the pieces coronet uses.
// Asio 1.22 has awaitable operators, as_tuple and channels under asio::experimental;
// later releases move some of them into asio proper. An Asio upgrade touches this file only.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace coronet::detail {

using asio::experimental::as_tuple;

/// `co_await op(..., use_nothrow)` yields a tuple of (error_code, results...) instead of
/// throwing: the hot paths treat socket errors as values.
inline constexpr auto use_nothrow = as_tuple(asio::use_awaitable);

}  // namespace coronet::detail
