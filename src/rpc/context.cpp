// rpc::context over grpc++'s CallbackServerContext: a call that came over gRPC.
#include <coronet/rpc/detail/reactors.hpp>

#include <grpcpp/server_context.h>

namespace coronet::rpc::detail {

grpc_call_context::grpc_call_context(std::string_view method, grpc::CallbackServerContext& ctx)
    : context(protocol::grpc, method, &ctx, ctx.deadline()) {}

std::optional<std::string_view> grpc_call_context::metadata(std::string_view key) const {
  const auto& md = grpc()->client_metadata();
  const auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return std::nullopt;
  return std::string_view(it->second.data(), it->second.size());
}

std::vector<std::pair<std::string_view, std::string_view>> grpc_call_context::all_metadata()
    const {
  std::vector<std::pair<std::string_view, std::string_view>> all;
  for (const auto& [k, v] : grpc()->client_metadata()) {
    all.emplace_back(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()));
  }
  return all;
}

std::string grpc_call_context::peer() const { return grpc()->peer(); }

bool grpc_call_context::cancelled() const noexcept { return grpc()->IsCancelled(); }

void grpc_call_context::add_header(std::string_view key, std::string_view value) {
  grpc()->AddInitialMetadata(std::string(key), std::string(value));
}

void grpc_call_context::add_trailer(std::string_view key, std::string_view value) {
  grpc()->AddTrailingMetadata(std::string(key), std::string(value));
}

}  // namespace coronet::rpc::detail
