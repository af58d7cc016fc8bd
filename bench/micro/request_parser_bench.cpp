// Throughput of the request parser (llhttp plus coronet's head validation and request
// building), in bytes/s: one typical 200-byte request at a time, and a pipelined batch of 16
// parsed from one buffer, as the server sees them after a read.
#include "http/parser.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

namespace {

using coronet::http::detail::request_parser;

// A browser-like GET of exactly 200 bytes.
std::string typical_request() {
  std::string r =
      "GET /api/v1/users/42?fields=name,email HTTP/1.1\r\n"
      "Host: api.example.com\r\n"
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
      "Accept: application/json\r\n"
      "Accept-Encoding: gzip, deflate\r\n"
      "X-Pad: ";
  const std::string tail = "\r\n\r\n";
  r.append(200 - r.size() - tail.size(), 'a');
  return r + tail;
}

// Parses every complete request in `data`; returns how many there were (0 on an error).
int parse_all(request_parser& parser, std::string_view data) {
  int messages = 0;
  for (;;) {
    const auto result = parser.feed(data);
    data.remove_prefix(result.consumed);
    switch (result.ev) {
      case request_parser::event::message_done:
        ++messages;
        benchmark::DoNotOptimize(parser.message().target.data());
        if (data.empty()) return messages;
        break;
      case request_parser::event::head_done:
        break;  // a GET has no body: the next feed completes the message
      case request_parser::event::need_more:
        return messages;
      case request_parser::event::error:
        return 0;
    }
  }
}

void run(benchmark::State& state, const std::string& input, int expected) {
  request_parser parser;
  for (auto _ : state) {
    if (parse_all(parser, input) != expected) {
      state.SkipWithError("the parser did not return every request");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * input.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * expected);
}

void single_200_byte_request(benchmark::State& state) { run(state, typical_request(), 1); }

void pipelined_batch_of_16(benchmark::State& state) {
  std::string batch;
  for (int i = 0; i < 16; ++i) batch += typical_request();
  run(state, batch, 16);
}

BENCHMARK(single_200_byte_request);
BENCHMARK(pipelined_batch_of_16);

}  // namespace

BENCHMARK_MAIN();
