// protoc-gen-coronet: protoc's plugin protocol on stdin/stdout, around the generator.
#include "generator.hpp"

#include <google/protobuf/compiler/plugin.h>

int main(int argc, char* argv[]) {
  const coronet::protoc_gen::generator generator;
  return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}
