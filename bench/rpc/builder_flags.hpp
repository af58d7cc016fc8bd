// Server settings from the command line, shared by both benchmark servers so that a
// comparison changes the same thing on each side:
//   --arg NAME=VALUE   a channel argument (an integer when VALUE is one, else a string)
//   --max-threads N    a grpc::ResourceQuota with SetMaxThreads(N)
#pragma once

#include <grpcpp/resource_quota.h>
#include <grpcpp/server_builder.h>

#include <charconv>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

class builder_flags {
 public:
  /// Consumes argv[i] (and its value) when it is one of ours; returns false otherwise.
  bool parse(int argc, char** argv, int& i) {
    if (i + 1 >= argc) return false;
    if (std::strcmp(argv[i], "--arg") == 0) {
      const std::string kv = argv[++i];
      const auto eq = kv.find('=');
      if (eq == std::string::npos) throw std::invalid_argument("--arg wants NAME=VALUE: " + kv);
      std::string name = kv.substr(0, eq), value = kv.substr(eq + 1);
      int number = 0;
      const auto r = std::from_chars(value.data(), value.data() + value.size(), number);
      if (r.ec == std::errc{} && r.ptr == value.data() + value.size()) {
        steps_.push_back([name, number](grpc::ServerBuilder& b) { b.AddChannelArgument(name, number); });
      } else {
        steps_.push_back([name, value](grpc::ServerBuilder& b) { b.AddChannelArgument(name, value); });
      }
      return true;
    }
    if (std::strcmp(argv[i], "--max-threads") == 0) {
      const int n = std::stoi(argv[++i]);
      steps_.push_back([n](grpc::ServerBuilder& b) {
        grpc::ResourceQuota quota("bench");
        quota.SetMaxThreads(n);
        b.SetResourceQuota(quota);
      });
      return true;
    }
    return false;
  }

  void apply(grpc::ServerBuilder& b) const {
    for (const auto& step : steps_) step(b);
  }

 private:
  std::vector<std::function<void(grpc::ServerBuilder&)>> steps_;
};

}  // namespace bench
