// The process_* families every Prometheus client library exports, read from Linux's /proc.
#pragma once

#include "metrics/exposition.hpp"

namespace coronet::detail {

/// process_cpu_seconds_total, process_open_fds, process_max_fds,
/// process_resident_memory_bytes, process_virtual_memory_bytes, process_start_time_seconds.
/// A figure the system does not give is left out.
void write_process_metrics(exposition& out);

}  // namespace coronet::detail
