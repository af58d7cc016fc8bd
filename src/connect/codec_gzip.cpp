// gzip for Connect-Content-Encoding / Content-Encoding / grpc-encoding, on zlib. Inflation is
// bounded by the caller's limit as it happens, so a small body that expands to gigabytes
// costs the limit, not the expansion.
#include "connect/codec.hpp"

#include <zlib.h>

#include <algorithm>
#include <limits>
#include <new>

namespace coronet::connect::detail {

namespace {

// zlib counts in uInt: feed and drain at most this much per call.
constexpr std::size_t max_chunk = std::numeric_limits<uInt>::max();
// windowBits 15 plus 16: a gzip (RFC 1952) wrapper, not zlib's own.
constexpr int gzip_window_bits = MAX_WBITS + 16;

Bytef* bytes(const char* p) noexcept {
  // zlib's next_in is not const-qualified (unless ZLIB_CONST), but is only read.
  return reinterpret_cast<Bytef*>(const_cast<char*>(p));
}

}  // namespace

std::string gzip_compress(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip_window_bits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::bad_alloc();
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(std::min(data.size(), max_chunk))));
  std::size_t in_pos = 0;
  std::size_t produced = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.avail_in == 0 && in_pos < data.size()) {
      const auto n = std::min(data.size() - in_pos, max_chunk);
      zs.next_in = bytes(data.data() + in_pos);
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    if (produced == out.size()) out.resize(out.size() * 2);
    const auto room = std::min(out.size() - produced, max_chunk);
    zs.next_out = bytes(out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    rc = deflate(&zs, in_pos == data.size() ? Z_FINISH : Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      deflateEnd(&zs);
      throw std::bad_alloc();  // only a failed allocation gets here with valid arguments
    }
  }
  deflateEnd(&zs);
  out.resize(produced);
  return out;
}

inflate_status gzip_decompress(std::string_view data, std::size_t limit, std::string& out) {
  out.clear();
  z_stream zs{};
  if (inflateInit2(&zs, gzip_window_bits) != Z_OK) throw std::bad_alloc();
  struct end_guard {
    z_stream* zs;
    ~end_guard() { inflateEnd(zs); }
  } guard{&zs};

  std::size_t in_pos = 0;
  std::size_t produced = 0;
  for (;;) {
    if (zs.avail_in == 0 && in_pos < data.size()) {
      const auto n = std::min(data.size() - in_pos, max_chunk);
      zs.next_in = bytes(data.data() + in_pos);
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    // Once `limit` bytes are out, inflate into a one-byte probe: a byte there means the
    // stream holds more than the limit; none and the end of the stream means it fits.
    char probe = 0;
    const bool at_limit = produced == limit;
    if (!at_limit && produced == out.size()) {
      const auto grow = std::max<std::size_t>({out.size(), data.size() * 2, 16 * 1024});
      out.resize(out.size() + std::min(grow, limit - out.size()));
    }
    const auto room = at_limit ? 1 : std::min(out.size() - produced, max_chunk);
    zs.next_out = bytes(at_limit ? &probe : out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const auto made = room - zs.avail_out;
    if (at_limit && made > 0) {
      out.resize(produced);
      return inflate_status::too_large;
    }
    produced += made;
    if (rc == Z_STREAM_END) break;
    const bool input_left = zs.avail_in > 0 || in_pos < data.size();
    if (rc == Z_OK || (rc == Z_BUF_ERROR && input_left)) continue;
    out.resize(produced);
    return inflate_status::corrupt;  // bad data, or Z_BUF_ERROR with no input: truncated
  }
  out.resize(produced);
  if (zs.avail_in > 0 || in_pos < data.size()) return inflate_status::corrupt;  // trailing
  return inflate_status::ok;
}

}  // namespace coronet::connect::detail
