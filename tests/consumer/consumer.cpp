// Starts a coronet runtime, runs one task on it and exits: proves the subproject links.
#include <coronet/coronet.hpp>

#include <asio/post.hpp>

#include <cstdio>

int main() {
  coronet::runtime rt({.threads = 2, .handle_signals = false});
  asio::post(rt.next_executor(), [&rt] { rt.stop(); });
  rt.run();
  std::puts("coronet " CORONET_VERSION ": runtime started and stopped");
}
