// coronet::metrics without sockets: the text format (HELP and TYPE lines, escaping,
// histograms) and shards written from several threads, summed by a scrape.
#include <coronet/metrics.hpp>
#include <coronet/runtime.hpp>

#include "metrics/exposition.hpp"
#include "metrics/state.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

using coronet::detail::exposition;

// The one line of `text` that starts with `prefix` (the sample's name and labels), or "".
std::string line_of(const std::string& text, const std::string& prefix) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    const auto line = text.substr(pos, end - pos);
    if (line.starts_with(prefix)) return line;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return "";
}

TEST(metrics_exposition, families_start_with_help_and_type) {
  exposition out;
  out.family("x_requests_total", "counter", "Requests, counted.");
  out.sample("x_requests_total", {{"method", "GET"}}, std::uint64_t{3});
  EXPECT_EQ(out.take(),
            "# HELP x_requests_total Requests, counted.\n"
            "# TYPE x_requests_total counter\n"
            "x_requests_total{method=\"GET\"} 3\n");
}

TEST(metrics_exposition, label_values_escape_backslash_quote_and_newline) {
  exposition out;
  out.sample("x", {{"route", "/a\\b\"c\nd"}, {"k", "plain"}}, std::uint64_t{1});
  EXPECT_EQ(out.take(), "x{route=\"/a\\\\b\\\"c\\nd\",k=\"plain\"} 1\n");
}

TEST(metrics_exposition, help_text_escapes_backslash_and_newline_but_not_quotes) {
  exposition out;
  out.family("x", "gauge", "a \\ b\n\"c\"");
  EXPECT_EQ(out.take(), "# HELP x a \\\\ b\\n\"c\"\n# TYPE x gauge\n");
}

TEST(metrics_exposition, numbers_read_as_other_clients_write_them) {
  const auto show = [](double v) {
    std::string s;
    exposition::number(s, v);
    return s;
  };
  EXPECT_EQ(show(0.0001), "0.0001");
  EXPECT_EQ(show(2.5), "2.5");
  EXPECT_EQ(show(10), "10");
  EXPECT_EQ(show(0), "0");
  EXPECT_EQ(show(1e-5), "1e-05");
  EXPECT_EQ(show(std::numeric_limits<double>::infinity()), "+Inf");
}

TEST(metrics_exposition, histogram_buckets_are_cumulative_and_end_with_inf_sum_and_count) {
  exposition out;
  const std::array<std::uint64_t, 3> bounds = {1'000'000, 10'000'000, 100'000'000};  // ns
  const std::array<std::uint64_t, 4> counts = {2, 0, 3, 1};
  out.histogram("x_seconds", {{"route", "/r"}}, bounds, counts, 1'500'000'000, 1e9);
  EXPECT_EQ(out.take(),
            "x_seconds_bucket{route=\"/r\",le=\"0.001\"} 2\n"
            "x_seconds_bucket{route=\"/r\",le=\"0.01\"} 2\n"
            "x_seconds_bucket{route=\"/r\",le=\"0.1\"} 5\n"
            "x_seconds_bucket{route=\"/r\",le=\"+Inf\"} 6\n"
            "x_seconds_sum{route=\"/r\"} 1.5\n"
            "x_seconds_count{route=\"/r\"} 6\n");
}

TEST(metrics_histogram, a_value_on_a_bound_falls_in_that_bucket) {
  coronet::detail::histogram<3> h;
  const std::array<std::uint64_t, 3> bounds = {1, 2, 4};
  for (std::uint64_t v : {0, 1, 2, 3, 4, 5, 100}) h.observe(bounds, v);
  EXPECT_EQ(coronet::detail::read(h.buckets[0]), 2u);  // 0, 1
  EXPECT_EQ(coronet::detail::read(h.buckets[1]), 1u);  // 2
  EXPECT_EQ(coronet::detail::read(h.buckets[2]), 2u);  // 3, 4
  EXPECT_EQ(coronet::detail::read(h.buckets[3]), 2u);  // 5, 100
  EXPECT_EQ(coronet::detail::read(h.sum), 115u);
}

TEST(metrics, shards_written_by_several_threads_are_summed_by_a_scrape) {
  coronet::metrics m;
  auto& state = *coronet::detail::metrics_access::state(m);
  state.http_used = true;
  constexpr int threads = 4;
  constexpr int per_thread = 20'000;
  const std::string route = "/users/{id}";  // route 0 of one router
  std::atomic<bool> done{false};
  // A scrape running meanwhile sees whole counters (and ThreadSanitizer no race).
  std::thread scraper([&] {
    while (!done.load()) (void)m.scrape();
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&] {
      auto& shard = state.acquire();
      for (int i = 0; i < per_thread; ++i) {
        auto& s = shard.http_route(0, route, coronet::detail::http_method_index("GET"));
        coronet::detail::bump(s.by_class[1]);
        s.duration.observe(coronet::detail::duration_bounds_ns, 200'000);  // 0.2 ms
        coronet::detail::bump(shard.received_bytes, 10);
        coronet::detail::bump(shard.accepted);
      }
      state.release(shard);
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  scraper.join();
  const auto text = m.scrape();
  const auto total = std::to_string(threads * per_thread);
  EXPECT_EQ(line_of(text, "coronet_http_requests_total{"),
            "coronet_http_requests_total{method=\"GET\",route=\"/users/{id}\",code=\"2xx\"} " + total);
  EXPECT_EQ(line_of(text, "coronet_http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"0.0001\"}"),
            "coronet_http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"0.0001\"} 0");
  EXPECT_EQ(line_of(text, "coronet_http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"0.00025\"}"),
            "coronet_http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/{id}\",le=\"0.00025\"} " + total);
  EXPECT_EQ(line_of(text, "coronet_http_request_duration_seconds_count{"),
            "coronet_http_request_duration_seconds_count{method=\"GET\",route=\"/users/{id}\"} " + total);
  EXPECT_EQ(line_of(text, "coronet_http_received_bytes_total "),
            "coronet_http_received_bytes_total " + std::to_string(threads * per_thread * 10));
  EXPECT_EQ(line_of(text, "coronet_http_connections_open "), "coronet_http_connections_open " + total);
}

TEST(metrics, a_thread_gives_its_shard_back_when_it_ends) {
  coronet::metrics m;
  auto& state = *coronet::detail::metrics_access::state(m);
  const auto id = state.grpc_method_id("/pkg.Greeter/SayHello", 0);
  for (int round = 0; round < 3; ++round) {
    std::thread([&] { coronet::detail::bump(state.thread_shard().grpc_method(id).started); }).join();
  }
  EXPECT_EQ(state.shards.size(), 1u);  // reused, counts and all
  const auto text = m.scrape();
  EXPECT_EQ(line_of(text, "coronet_grpc_server_started_total{"),
            "coronet_grpc_server_started_total{grpc_service=\"pkg.Greeter\",grpc_method=\"SayHello\","
            "grpc_type=\"unary\"} 3");
}

TEST(metrics, process_figures_and_io_threads_are_reported) {
  coronet::metrics m;
  coronet::runtime rt({.threads = 2, .handle_signals = false});
  m.track(rt);
  const auto text = m.scrape();
  EXPECT_EQ(line_of(text, "coronet_io_threads "), "coronet_io_threads 2");
  for (const char* name : {"process_cpu_seconds_total ", "process_open_fds ", "process_max_fds ",
                           "process_resident_memory_bytes ", "process_start_time_seconds "}) {
    EXPECT_NE(line_of(text, name), "") << name;
    EXPECT_NE(text.find(std::string("# TYPE ") + name), std::string::npos) << name;
  }
  // Nothing counted HTTP or gRPC here: those families stay out.
  EXPECT_EQ(text.find("coronet_http_"), std::string::npos);
  EXPECT_EQ(text.find("coronet_grpc_"), std::string::npos);
}

}  // namespace
