#include <coronet/rpc/service.hpp>

#include <google/protobuf/descriptor.h>

#include <stdexcept>
#include <string>

namespace coronet::rpc::detail {

namespace {

const char* kind_name(method_kind kind) {
  switch (kind) {
    case method_kind::unary: return "unary";
    case method_kind::server_streaming: return "server streaming";
    case method_kind::client_streaming: return "client streaming";
    case method_kind::bidi: return "bidi streaming";
  }
  return "?";
}

method_kind kind_of(const google::protobuf::MethodDescriptor& m) {
  if (m.client_streaming()) return m.server_streaming() ? method_kind::bidi
                                                        : method_kind::client_streaming;
  return m.server_streaming() ? method_kind::server_streaming : method_kind::unary;
}

}  // namespace

// The generated CallbackService adds its methods in .proto order, which is the descriptor's
// order: the descriptor index is the index MarkMethodCallback expects.
int method_index(const char* service_name, std::string_view method, method_kind kind,
                 const google::protobuf::Descriptor* request,
                 const google::protobuf::Descriptor* response) {
  const auto* svc =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_name);
  if (svc == nullptr) {
    throw std::invalid_argument(std::string("coronet::rpc: unknown service ") + service_name);
  }
  const auto* m = svc->FindMethodByName(std::string(method));
  const std::string full = std::string(service_name) + "/" + std::string(method);
  if (m == nullptr) throw std::invalid_argument("coronet::rpc: no method " + full);
  if (kind_of(*m) != kind) {
    throw std::invalid_argument("coronet::rpc: " + full + " is " + kind_name(kind_of(*m)) +
                                ", the handler is " + kind_name(kind));
  }
  if (m->input_type() != request || m->output_type() != response) {
    throw std::invalid_argument("coronet::rpc: " + full + " takes " +
                                m->input_type()->full_name() + " and returns " +
                                m->output_type()->full_name() +
                                "; the handler's message types differ");
  }
  return m->index();
}

std::string method_path(const char* service_name, std::string_view method) {
  std::string path;
  path.reserve(std::char_traits<char>::length(service_name) + method.size() + 2);
  path.append("/").append(service_name).append("/").append(method);
  return path;
}

}  // namespace coronet::rpc::detail
