// protoc-gen-coronet's code generator: for each .proto, a header `<name>.coronet.pb.h` next to
// grpc_cpp_plugin's `<name>.grpc.pb.h`, holding one coronet::rpc method tag per method of
// each service (the shape <coronet/rpc/method.hpp> describes). protoc runs it as a plugin:
//
//     protoc --plugin=protoc-gen-coronet=path/to/protoc-gen-coronet --coronet_out=OUT x.proto
#pragma once

#include <google/protobuf/compiler/code_generator.h>

#include <cstdint>
#include <string>

namespace coronet::protoc_gen {

class generator final : public google::protobuf::compiler::CodeGenerator {
 public:
  /// Writes `file`'s tags header through `context`. Takes no parameter: anything given with
  /// `--coronet_opt` is an error, reported through `error`.
  bool Generate(const google::protobuf::FileDescriptor* file, const std::string& parameter,
                google::protobuf::compiler::GeneratorContext* context,
                std::string* error) const override;

  /// proto3 `optional` fields change nothing in a tag, so they are fine here.
  [[nodiscard]] std::uint64_t GetSupportedFeatures() const override {
    return FEATURE_PROTO3_OPTIONAL;
  }
};

/// The header text for `file`, as Generate writes it.
[[nodiscard]] std::string tags_header(const google::protobuf::FileDescriptor& file);

}  // namespace coronet::protoc_gen
