// A throw-away certificate for the benchmark's HTTPS port: ECDSA P-256, self-signed for
// localhost and 127.0.0.1, made in memory when the server starts (the load side does not
// verify it: the benchmark measures the transport, not the PKI).
#pragma once

#include <string>

namespace coronet_bench {

/// Writes cert.pem and key.pem into a new directory under the system's temp dir and returns
/// its path. Throws std::runtime_error.
std::string write_self_signed_certificate();

}  // namespace coronet_bench
