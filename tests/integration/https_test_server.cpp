// The server the HTTPS tests talk to: the same routes on a plaintext and a TLS port, a
// /whoami route that reports what the handshake agreed, and SIGHUP reloading the
// certificates. Prints "port N tls_port M" once listening; SIGTERM drains.
//
//   https_test_server --cert FILE --key FILE [--sni-cert FILE --sni-key FILE]
//                     [--client-ca FILE] [--optional-client-cert] [--header-timeout MS]
//                     [--threads N] [--no-tickets]
#include <coronet/coronet.hpp>
#include <coronet/tls.hpp>

#include <asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

namespace http = coronet::http;
namespace tls = coronet::tls;
using namespace std::chrono_literals;

namespace {

http::router routes() {
  http::router r;
  r.get("/", [](http::request&) -> asio::awaitable<http::response> {
    co_return http::response::text("Hello, World!");
  });
  r.get("/whoami", [](http::request& req) -> asio::awaitable<http::response> {
    const auto* p = req.tls_peer;
    if (!p) co_return http::response::text("plaintext\n");
    std::string out = std::string("version=") + p->version + "\ncipher=" + p->cipher +
                      "\nsni=" + p->server_name + "\nresumed=" + (p->resumed ? "yes" : "no") +
                      "\nverified=" + (p->verified ? "yes" : "no") + "\nsubject=" + p->subject +
                      "\ncn=" + p->common_name + "\n";
    co_return http::response::text(std::move(out));
  });
  r.get("/big/{kib}", [](http::request& req) -> asio::awaitable<http::response> {
    const auto kib = std::strtoul(std::string(req.param("kib")).c_str(), nullptr, 10);
    co_return http::response::bytes(std::string(kib * 1024, 'x'));
  });
  r.post("/echo", [](http::request& req) -> asio::awaitable<http::response> {
    co_return http::response::bytes(std::move(req.body));
  });
  r.get("/stream/{n}", [](http::request& req) -> asio::awaitable<http::response> {
    const int n = std::atoi(std::string(req.param("n")).c_str());
    co_return http::response::streamed([n](http::body_writer& w) -> asio::awaitable<void> {
      for (int i = 0; i < n; ++i) {
        if (co_await w.write("chunk " + std::to_string(i) + "\n")) co_return;
      }
    }, "text/plain");
  });
  return r;
}

asio::awaitable<void> reload_on_hup(asio::signal_set& hup, tls::server_context& ctx) {
  for (;;) {
    auto [ec, sig] = co_await hup.async_wait(coronet::detail::use_nothrow);
    if (ec) co_return;
    try {
      ctx.reload();
      std::cout << "reloaded" << std::endl;
    } catch (const tls::error& e) {
      std::cout << "reload failed: " << e.what() << std::endl;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  tls::server_config config;
  http::server_options options{.read_header_timeout = 2s, .drain_timeout = 2s};
  std::size_t threads = 2;
  std::string sni_cert;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : "";
    if (flag == "--cert") config.certificates.insert(config.certificates.begin(), {value, ""}), ++i;
    else if (flag == "--key") config.certificates.front().key_file = value, ++i;
    else if (flag == "--sni-cert") sni_cert = value, ++i;
    else if (flag == "--sni-key") config.certificates.push_back({sni_cert, value}), ++i;
    else if (flag == "--client-ca") config.client_ca_file = value, ++i;
    else if (flag == "--optional-client-cert") config.require_client_certificate = false;
    else if (flag == "--no-tickets") config.session_tickets = false;
    else if (flag == "--header-timeout") options.read_header_timeout = std::chrono::milliseconds(std::atoi(value)), ++i;
    else if (flag == "--threads") threads = std::strtoul(value, nullptr, 10), ++i;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  config.on_handshake_failure = [](const std::error_code& ec, const std::string& peer) {
    std::fprintf(stderr, "handshake failed from %s: %s\n", peer.c_str(), ec.message().c_str());
  };
  try {
    tls::server_context ctx(config);
    coronet::runtime rt({.threads = threads});
    http::server server(rt, routes(), options);
    server.listen("127.0.0.1", 0);
    server.listen_tls("127.0.0.1", 0, ctx);
    asio::signal_set hup(rt.context(0), SIGHUP);
    asio::co_spawn(rt.context(0), reload_on_hup(hup, ctx), asio::detached);
    rt.add_stop_hook([&hup]() -> asio::awaitable<void> {
      hup.cancel();
      co_return;
    });
    std::cout << "port " << server.port() << " tls_port " << server.tls_port() << std::endl;
    rt.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "https_test_server: %s\n", e.what());
    return 1;
  }
}
