// libFuzzer target for the server's request-stream handling, without sockets: bytes go
// through coronet's request_parser (llhttp, head validation, chunked decoding, limits) the
// way connection.cpp feeds them, cut into reads at points the input chooses, pipelined
// messages and all. Every run is parsed twice, once in pieces and once whole, and the two
// must agree: a head check that depends on where reads happen to split is a smuggling bug.
//
// Input layout: byte 0 picks the limits, bytes 1..8 are the read sizes (cycled), the rest is
// the stream.
#include "http/parser.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using coronet::http::status;
using coronet::http::detail::parse_limits;
using coronet::http::detail::request_parser;
using event = request_parser::event;

struct parsed {
  std::string method, target, body;
  int version = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  bool keep_alive = false;
  bool operator==(const parsed&) const = default;
};

struct outcome {
  std::vector<parsed> requests;
  bool failed = false;
};

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) violated(what);
}

bool has_control(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

void check_head(const coronet::http::request& req, const parse_limits& limits) {
  check(!req.method.empty(), "head without a method");
  check(req.version == 10 || req.version == 11, "version other than 1.0 or 1.1");
  check(!req.target.empty() && !has_control(req.target), "empty target or CR/LF/NUL in it");
  std::size_t held = req.target.size();
  for (const auto& f : req.headers) {
    held += f.name.size() + f.value.size();
    check(!f.name.empty(), "empty header name");
    check(f.name.find_first_of(" \t:") == std::string::npos, "whitespace or colon in a name");
    check(!has_control(f.name) && !has_control(f.value), "CR/LF/NUL in a header field");
  }
  check(held <= limits.max_header_bytes, "more header bytes held than max_header_bytes");
}

// Feeds `stream` as the server does: each read appends to the unparsed bytes, and the parser
// is fed until it needs more. A message with a body pauses after its head (head_done); a
// message without one goes straight to message_done.
outcome parse(std::string_view stream, const std::vector<std::size_t>& reads, parse_limits limits) {
  request_parser p(limits);
  outcome out;
  std::string buffered;
  std::size_t pos = 0, next_read = 0;
  std::uint64_t announced = 0;
  bool chunked = false;
  bool saw_head = false;  // head_done came for the message in progress
  // Every event either consumes bytes or changes the parser's state; this bounds the loop.
  for (std::size_t rounds = 0;; ++rounds) {
    check(rounds < 8 * stream.size() + 64, "parser makes no progress");
    if (buffered.empty()) {
      if (pos == stream.size()) return out;  // the client stopped sending; fine
      const auto n = std::min(reads[next_read++ % reads.size()], stream.size() - pos);
      buffered.append(stream.substr(pos, n));
      pos += n;
    }
    const auto r = p.feed(buffered);
    check(r.consumed <= buffered.size(), "consumed more than it was given");
    buffered.erase(0, r.consumed);
    switch (r.ev) {
      case event::need_more:
        check(buffered.empty(), "need_more left bytes unconsumed");
        break;
      case event::error: {
        const auto s = status_for(p.error());
        check(s == status::bad_request || s == status::payload_too_large ||
                  s == status::request_header_fields_too_large,
              "error status other than 400, 413 or 431");
        check(!p.error_reason().empty(), "error without a reason");
        out.failed = true;
        return out;  // the server answers and closes: nothing after an error is parsed
      }
      case event::head_done:
        check_head(p.message(), limits);
        check(!p.idle(), "idle right after a head");
        chunked = p.chunked();
        announced = p.content_length();
        // The server refuses an announced body over the limit before reading it.
        if (!chunked && announced > limits.max_body_bytes) {
          out.failed = true;
          return out;
        }
        check(p.has_body(), "head_done for a message without a body");
        saw_head = true;
        break;
      case event::message_done: {
        auto& req = p.message();
        check_head(req, limits);
        check(p.idle(), "not idle after a complete message");
        check(req.body.size() <= limits.max_body_bytes, "body over the limit");
        if (!saw_head) {
          check(req.body.empty(), "a body without a head_done");
        } else if (!chunked) {
          check(req.body.size() == announced, "body length differs from Content-Length");
        }
        saw_head = false;
        out.requests.push_back({req.method, req.target, req.body, req.version, {}, p.keep_alive()});
        for (const auto& f : req.headers) out.requests.back().headers.emplace_back(f.name, f.value);
        if (!p.keep_alive()) return out;  // the server answers and stops reading
        break;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 9) return 0;
  const auto mode = data[0];
  // Small limits reach the 413 and 431 paths with small inputs; the defaults are the server's.
  const parse_limits limits{
      .max_header_bytes = (mode & 1) ? std::size_t{256} : std::size_t{16 * 1024},
      .max_body_bytes = (mode & 2) ? std::size_t{64} : std::size_t{8 * 1024 * 1024},
  };
  std::vector<std::size_t> reads;
  for (std::size_t i = 1; i < 9; ++i) reads.push_back(std::size_t{data[i]} % 64 + 1);
  const std::string_view stream(reinterpret_cast<const char*>(data) + 9, size - 9);

  const auto in_pieces = parse(stream, reads, limits);
  const auto whole = parse(stream, {stream.size() + 1}, limits);
  check(in_pieces.requests == whole.requests, "requests depend on how reads are split");
  check(in_pieces.failed == whole.failed, "rejection depends on how reads are split");
  return 0;
}
