// What a tls::server_context shares with the connections of its ports: the loaded SSL_CTXs,
// swapped as a whole by reload().
#pragma once

#include <coronet/tls.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace coronet::tls {

/// One load of the configuration: an SSL_CTX per certificate, the first the default one,
/// whose server-name callback moves a handshake to the certificate its SNI names. A
/// connection keeps the load it started with alive (the callback points into it).
struct loaded_contexts {
  loaded_contexts() = default;
  loaded_contexts(const loaded_contexts&) = delete;
  loaded_contexts& operator=(const loaded_contexts&) = delete;
  ~loaded_contexts();

  std::vector<SSL_CTX*> by_certificate;
  decltype(server_config::on_handshake_failure) on_failure;
};

struct server_context::state {
  std::optional<server_config> config;  // empty: a caller's SSL_CTX, nothing to reload

  [[nodiscard]] std::shared_ptr<const loaded_contexts> current() const {
    std::lock_guard lock(mutex);
    return loaded;
  }

  mutable std::mutex mutex;
  std::shared_ptr<const loaded_contexts> loaded;
};

}  // namespace coronet::tls
