// libFuzzer target for the client's response-stream handling, without sockets: bytes go
// through coronet's response_parser (llhttp, interim 1xx, chunked and close-delimited
// bodies, limits) the way client.cpp feeds them, cut into reads at points the input
// chooses; a keep-alive response is followed by the next one, as on a pooled connection, and
// the end of the input is the server closing. Every run is parsed twice, once in pieces and
// once whole, and the two must agree: a response that depends on where reads split is a
// response-splitting bug.
//
// Input layout: byte 0 picks the limits and the request kind, bytes 1..8 are the read sizes
// (cycled), the rest is the stream.
#include "http/parser.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using coronet::http::client_errc;
using response_limits = coronet::http::detail::parse_limits;
using coronet::http::detail::response_parser;
using event = response_parser::event;

struct parsed {
  unsigned status = 0;
  int version = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = false;
  bool operator==(const parsed&) const = default;
};

struct outcome {
  std::vector<parsed> responses;
  bool failed = false;
  client_errc error = client_errc::protocol_error;
};

struct request_kind {
  bool head = false;        // HEAD: the answer has no body
  bool limit_body = true;   // false as for client::stream(), which drains the body as it comes
};

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) violated(what);
}

void check_error(const response_parser& p) {
  const auto e = coronet::http::detail::errc_for(p.error());
  check(e == client_errc::protocol_error || e == client_errc::response_too_large ||
            e == client_errc::connection_closed,
        "error other than protocol_error, response_too_large or connection_closed");
  check(!p.error_reason().empty(), "error without a reason");
}

// Checks a complete response and returns it for the comparison of the two parses.
parsed check_response(response_parser& p, const response_limits& limits, request_kind kind) {
  auto& res = p.message();
  const auto status = static_cast<unsigned>(res.status);
  // Interim 1xx answers are skipped and 101 is refused, so a complete one is final.
  check(status >= 200 && status <= 999, "complete response with a status outside 200..999");
  check(p.head_done(), "message_done before head_done");
  check(p.version() == 10 || p.version() == 11, "version other than 1.0 or 1.1");
  std::size_t held = 0;
  for (const auto& f : res.headers) held += f.name.size() + f.value.size();
  check(held <= limits.max_header_bytes, "more header bytes held than max_header_bytes");
  if (kind.limit_body) check(res.body.size() <= limits.max_body_bytes, "body over max_body_bytes");
  if (kind.head || status == 204 || status == 304) {
    check(res.body.empty(), "a body after HEAD, 204 or 304");
  }
  parsed out{status, p.version(), {}, res.body, p.keep_alive()};
  for (const auto& f : res.headers) out.headers.emplace_back(f.name, f.value);
  return out;
}

// Feeds `stream` as the client does: each read is fed whole until the parser needs more;
// after a keep-alive response the parser starts on the next one; at the end of the stream
// finish() stands for the server closing the connection.
outcome parse(std::string_view stream, const std::vector<std::size_t>& reads,
              response_limits limits, request_kind kind) {
  response_parser p(limits);
  p.start(kind.head, kind.limit_body);
  outcome out;
  std::string_view buffered;
  std::size_t pos = 0, next_read = 0;
  // Every round consumes bytes, reads more, or ends: this bounds the loop.
  for (std::size_t rounds = 0;; ++rounds) {
    check(rounds < 4 * stream.size() + 64, "parser makes no progress");
    if (buffered.empty()) {
      if (pos == stream.size()) {
        if (!p.started()) return out;  // between responses: the server closed an idle connection
        const auto r = p.finish();
        check(r.consumed == 0, "finish() consumed bytes");
        if (r.ev == event::message_done) {
          out.responses.push_back(check_response(p, limits, kind));
        } else {
          check(r.ev == event::error, "finish() asked for more");
          check_error(p);
          out.failed = true;
          out.error = coronet::http::detail::errc_for(p.error());
        }
        return out;
      }
      const auto n = std::min(reads[next_read++ % reads.size()], stream.size() - pos);
      buffered = stream.substr(pos, n);
      pos += n;
    }
    const auto r = p.feed(buffered);
    check(r.consumed <= buffered.size(), "consumed more than it was given");
    switch (r.ev) {
      case event::need_more:
        check(r.consumed == buffered.size(), "need_more left bytes unconsumed");
        check(p.started(), "bytes fed but the response is not started");
        buffered = {};
        break;
      case event::head_done:
        check(p.head_done(), "head_done without a head");
        buffered.remove_prefix(r.consumed);
        break;
      case event::error:
        check_error(p);
        out.failed = true;
        out.error = coronet::http::detail::errc_for(p.error());
        return out;  // the client closes the connection: nothing after an error is parsed
      case event::message_done: {
        buffered.remove_prefix(r.consumed);
        out.responses.push_back(check_response(p, limits, kind));
        const auto again = p.feed(buffered);
        check(again.ev == event::message_done && again.consumed == 0,
              "a complete response took more bytes before start()");
        if (!p.keep_alive()) return out;  // the client closes after this response
        p.start(kind.head, kind.limit_body);
        break;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 9) return 0;
  const auto mode = data[0];
  // Small limits reach the response_too_large paths with small inputs.
  const response_limits limits{
      .max_header_bytes = (mode & 1) ? std::size_t{256} : std::size_t{64 * 1024},
      .max_body_bytes = (mode & 2) ? std::size_t{64} : std::size_t{1024 * 1024},
  };
  const request_kind kind{.head = (mode & 4) != 0, .limit_body = (mode & 8) == 0};
  std::vector<std::size_t> reads;
  for (std::size_t i = 1; i < 9; ++i) reads.push_back(std::size_t{data[i]} % 64 + 1);
  const std::string_view stream(reinterpret_cast<const char*>(data) + 9, size - 9);

  const auto in_pieces = parse(stream, reads, limits, kind);
  const auto whole = parse(stream, {stream.size() + 1}, limits, kind);
  check(in_pieces.responses == whole.responses, "responses depend on how reads are split");
  check(in_pieces.failed == whole.failed, "failure depends on how reads are split");
  // A head both over max_header_bytes and malformed may fail either way: llhttp hands over a
  // field that ends at a read boundary before it sees the byte that makes it invalid, and
  // the count of the bytes held can pass the limit on that piece. Any other error must agree.
  const auto too_large_or_malformed = [](client_errc e) {
    return e == client_errc::response_too_large || e == client_errc::protocol_error;
  };
  check(in_pieces.error == whole.error ||
            (too_large_or_malformed(in_pieces.error) && too_large_or_malformed(whole.error)),
        "the kind of failure depends on how reads are split");
  return 0;
}
