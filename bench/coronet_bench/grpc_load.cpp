#include "grpc_load.hpp"

#include "options.hpp"

#include <coronet/rpc/client.hpp>

#include "bench.coronet.pb.h"
#include "bench.grpc.pb.h"
#include "hello.coronet.pb.h"
#include "hello.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

namespace coronet_bench {

namespace rpc = coronet::rpc;
using namespace std::chrono_literals;

int grpc_port_of(const run_spec& spec, const server_link& server) {
  if (spec.transport == "grpc-raw") return server.raw_port;
  if (spec.transport == "grpc-hop") return server.hop_port;
  return server.grpc_port;
}

namespace {

/// `count` channels to `port`, each over a TCP connection of its own: a local subchannel
/// pool per channel, and channel arguments that differ, so grpc++ cannot share one
/// connection between them. `lean` drops what a load generator does not use and pays for
/// on every call: the retry machinery, and the filters the minimal stack leaves out
/// (deadlines among them: lean calls carry none).
std::vector<std::shared_ptr<grpc::Channel>> open_channels(int port, std::size_t count,
                                                          std::string& error,
                                                          bool lean = false) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (std::size_t i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(max_message_bytes);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("coronet_bench.channel", static_cast<int>(i));
    if (lean) {
      args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
      args.SetInt(GRPC_ARG_MINIMAL_STACK, 1);
    }
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                             grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + 5s)) {
      error = "cannot connect to 127.0.0.1:" + std::to_string(port);
      return {};
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

std::shared_ptr<grpc::Channel> open_channel(int port, std::string& error) {
  auto channels = open_channels(port, 1, error);
  return channels.empty() ? nullptr : channels.front();
}

std::string status_text(const grpc::Status& status) {
  return "gRPC status " + std::to_string(status.error_code()) + ": " + status.error_message();
}

// A deadline well past the run's end: a call that never completes fails instead of
// outliving the objects its completion goes to.
std::chrono::system_clock::time_point call_deadline(clock_type::time_point end) {
  return std::chrono::system_clock::now() + (end - clock_type::now()) + 10s;
}

}  // namespace

// coronet's rpc::call: each completion goes from gRPC's thread back to the io_context.
measurement run_grpc_unary(const run_spec& spec, const server_link& server) {
  std::string error;
  const auto channels = open_channels(grpc_port_of(spec, server), spec.connections, error);
  if (channels.empty()) return failed_run(spec, error);
  std::vector<std::unique_ptr<HelloWorld::Stub>> stubs;
  for (const auto& channel : channels) stubs.push_back(HelloWorld::NewStub(channel));
  asio::io_context ctx(1);
  Greeting request;
  request.set_message(payload_text(spec.payload));
  const std::size_t expected = reply_text(request.message()).size();
  return drive(ctx, spec, server, spec.concurrency, [&](recorder& r, std::size_t worker) {
    auto& stub = *stubs[worker % stubs.size()];
    return request_loop(r, [&]() -> asio::awaitable<std::string> {
      grpc::ClientContext context;
      context.set_deadline(call_deadline(r.end));
      auto [status, reply] =
          co_await rpc::call(&HelloWorld::Stub::async::SayHello, stub, context, request);
      if (!status.ok()) co_return status_text(status);
      if (reply.message().size() != expected) co_return "unexpected reply";
      co_return std::string();
    });
  });
}

namespace {

// One unary call slot of the grpc++ clients below: a new call starts as the last one ends.
struct grpc_slot {
  HelloWorld::Stub* stub = nullptr;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Greeting>> reader;
  Greeting reply;
  grpc::Status status;
  clock_type::time_point sent;
};

struct grpc_load {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<HelloWorld::Stub>> stubs;
  std::vector<grpc_slot> slots;
  Greeting request;
  std::size_t expected = 0;
  bool lean = false;

  /// Channels and stubs for `spec`; slot i calls through channel i % connections.
  std::string open(const run_spec& spec, const server_link& server) {
    std::string error;
    lean = !spec.client.ends_with("-stock");
    channels = open_channels(grpc_port_of(spec, server), spec.connections, error, lean);
    if (channels.empty()) return error;
    for (const auto& channel : channels) stubs.push_back(HelloWorld::NewStub(channel));
    slots.resize(spec.concurrency);
    for (std::size_t i = 0; i < slots.size(); ++i) slots[i].stub = stubs[i % stubs.size()].get();
    request.set_message(payload_text(spec.payload));
    expected = reply_text(request.message()).size();
    return {};
  }

  /// Checks a finished call into `r`; true if it succeeded.
  bool check(recorder& r, grpc_slot& s, bool ok) const {
    if (!ok) {
      r.fail("completion queue: the call did not finish");
    } else if (!s.status.ok()) {
      r.fail(status_text(s.status));
    } else if (s.reply.message().size() != expected) {
      r.fail("unexpected reply");
    } else {
      r.record(s.sent, clock_type::now());
      return true;
    }
    return false;
  }
};

}  // namespace

// grpc++'s completion-queue API, the cheapest grpc++ client: the thread that waits on the
// queue runs the completion and starts the next call itself, with no hop to another thread.
// `threads` threads, each with its own queue and every threads-th slot. Closed loop only.
measurement run_grpc_cq(const run_spec& spec, const server_link& server) {
  grpc_load load;
  if (auto error = load.open(spec, server); !error.empty()) return failed_run(spec, error);
  const recorder base(spec);
  std::vector<recorder> recorders(spec.threads, base);
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues;
  for (std::size_t t = 0; t < spec.threads; ++t)
    queues.push_back(std::make_unique<grpc::CompletionQueue>());

  auto start_call = [&](grpc_slot& s, grpc::CompletionQueue& cq) {
    s.context = std::make_unique<grpc::ClientContext>();
    if (!load.lean) s.context->set_deadline(call_deadline(base.end));
    s.reply.Clear();
    s.sent = clock_type::now();
    s.reader = s.stub->AsyncSayHello(s.context.get(), load.request, &cq);
    s.reader->Finish(&s.reply, &s.status, &s);
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < spec.threads; ++t) {
    threads.emplace_back([&, t] {
      auto& r = recorders[t];
      auto& cq = *queues[t];
      std::size_t outstanding = 0;
      for (std::size_t i = t; i < load.slots.size(); i += spec.threads, ++outstanding)
        start_call(load.slots[i], cq);
      void* tag = nullptr;
      bool ok = false;
      // Without deadlines on the calls, a call that never completes is cancelled here.
      const auto give_up = std::chrono::system_clock::now() + (base.end - clock_type::now()) + 15s;
      bool cancelled = false;
      while (outstanding > 0) {
        const auto next = cq.AsyncNext(&tag, &ok, cancelled ? gpr_inf_future(GPR_CLOCK_REALTIME)
                                                            : grpc::TimePoint(give_up).raw_time());
        if (next == grpc::CompletionQueue::SHUTDOWN) break;
        if (next == grpc::CompletionQueue::TIMEOUT) {
          r.fail("calls still outstanding 15 s after the end");
          for (std::size_t i = t; i < load.slots.size(); i += spec.threads)
            if (load.slots[i].context) load.slots[i].context->TryCancel();
          cancelled = true;
          continue;
        }
        auto& s = *static_cast<grpc_slot*>(tag);
        // A failed slot stops rather than spinning on errors.
        if (load.check(r, s, ok) && r.running()) {
          start_call(s, cq);
        } else {
          --outstanding;
        }
      }
      cq.Shutdown();
      while (cq.Next(&tag, &ok)) {
      }
    });
  }
  auto cpu = sample_window(base, server);
  for (auto& t : threads) t.join();
  recorder all = base;
  for (auto& r : recorders) all.merge(r);
  return summarize(spec, all, cpu, server);
}

// grpc++'s callback API without coronet: each completion runs on a gRPC thread and starts
// the next call from there.
measurement run_grpc_callback(const run_spec& spec, const server_link& server) {
  grpc_load load;
  if (auto error = load.open(spec, server); !error.empty()) return failed_run(spec, error);
  recorder r(spec);
  std::mutex mutex;  // guards r and outstanding: callbacks run on several gRPC threads
  std::condition_variable idle;
  std::size_t outstanding = load.slots.size();

  std::function<void(grpc_slot&)> start_call = [&](grpc_slot& s) {
    s.context = std::make_unique<grpc::ClientContext>();
    if (!load.lean) s.context->set_deadline(call_deadline(r.end));
    s.reply.Clear();
    s.sent = clock_type::now();
    s.stub->async()->SayHello(s.context.get(), &load.request, &s.reply,
                              [&, slot = &s](grpc::Status status) {
                                bool again = false;
                                {
                                  std::lock_guard lock(mutex);
                                  slot->status = std::move(status);
                                  again = load.check(r, *slot, true) && r.running();
                                  if (!again && --outstanding == 0) idle.notify_all();
                                }
                                if (again) start_call(*slot);
                              });
  };
  for (auto& s : load.slots) start_call(s);
  auto cpu = sample_window(r, server);
  std::unique_lock lock(mutex);
  if (!idle.wait_until(lock, r.end + 15s, [&] { return outstanding == 0; })) {
    r.fail("calls still outstanding 15 s after the end");
    for (auto& s : load.slots) s.context->TryCancel();
    // The callbacks refer to this frame: wait for every one of them.
    idle.wait(lock, [&] { return outstanding == 0; });
  }
  return summarize(spec, r, cpu, server);
}

// Each worker asks for streams of `stream_messages_per_call` Greetings; a message's latency
// is the gap since the previous one (or since the call started).
measurement run_grpc_server_stream(const run_spec& spec, const server_link& server) {
  std::string error;
  auto channel = open_channel(server.grpc_port, error);
  if (!channel) return failed_run(spec, error);
  auto stub = coronet::bench::v1::Bench::NewStub(channel);
  asio::io_context ctx(1);
  Greeting request;
  request.set_message(std::to_string(stream_messages_per_call));
  return drive(ctx, spec, server, spec.concurrency,
               [&](recorder& r, std::size_t) -> asio::awaitable<void> {
    while (r.running()) {
      auto context = std::make_unique<grpc::ClientContext>();
      context->set_deadline(call_deadline(r.end));
      auto call = rpc::stream(&coronet::bench::v1::Bench::Stub::async::ServerStream, *stub,
                              request, std::move(context));
      int received = 0;
      auto last = clock_type::now();
      for (Greeting g; co_await call.read(g);) {
        const auto now = clock_type::now();
        r.record(last, now);
        last = now;
        ++received;
      }
      auto status = co_await call.finish();
      if (!status.ok() || received != stream_messages_per_call) {
        r.fail("server stream: status " + std::to_string(status.error_code()) + ", " +
               std::to_string(received) + " messages");
        co_return;
      }
    }
  });
}

// One bidi stream per worker, ping-pong: write a Greeting, read its echo.
measurement run_grpc_bidi(const run_spec& spec, const server_link& server) {
  std::string error;
  auto channel = open_channel(server.grpc_port, error);
  if (!channel) return failed_run(spec, error);
  auto stub = coronet::bench::v1::Bench::NewStub(channel);
  asio::io_context ctx(1);
  Greeting ping;
  ping.set_message("ping");
  return drive(ctx, spec, server, spec.concurrency,
               [&](recorder& r, std::size_t) -> asio::awaitable<void> {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(call_deadline(r.end));
    auto call = rpc::stream(&coronet::bench::v1::Bench::Stub::async::Bidi, *stub,
                            std::move(context));
    Greeting echo;
    while (r.running()) {
      const auto sent = clock_type::now();
      if (!co_await call.write(ping) || !co_await call.read(echo)) {
        r.fail("bidi stream ended early");
        break;
      }
      if (echo.message() != "echo: ping") {
        r.fail("unexpected echo");
        break;
      }
      r.record(sent, clock_type::now());
    }
    co_await call.writes_done();
    while (co_await call.read(echo)) {
    }
    auto status = co_await call.finish();
    if (!status.ok()) r.fail("bidi status " + std::to_string(status.error_code()));
  });
}

}  // namespace coronet_bench
