// http::client over https://, against coronet's HTTPS server (in-process, on a runtime
// thread) and nginx with TLS (skipped when nginx is not installed): verification against a
// custom CA, host and address names, each verification failure reported as such, client
// certificates, pooled TLS connections, session resumption and redirects between http and
// https. The PKI is made when the test starts (tests/support/make_test_pki.sh).
#include "../support/run_coroutine.hpp"

#include <coronet/coronet.hpp>
#include <coronet/tls.hpp>

#include <asio/ip/tcp.hpp>

#include <gtest/gtest.h>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

namespace http = coronet::http;
namespace tls = coronet::tls;
using namespace std::chrono_literals;
using coronet_test::run;

namespace {

std::filesystem::path pki_dir() {
  static const std::filesystem::path dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "coronet-pki-XXXXXX").string();
    std::filesystem::path d = mkdtemp(tmpl.data());
    const std::string cmd = std::string("bash ") + CORONET_TEST_PKI_SCRIPT + " " + d.string();
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("make_test_pki.sh failed");
    return d;
  }();
  return dir;
}
std::string pki(const char* name) { return (pki_dir() / name).string(); }

// A coronet server with a plaintext and a TLS port, on a runtime thread.
class tls_server {
 public:
  explicit tls_server(tls::server_config config) : tls_server(tls::server_context(std::move(config))) {}
  explicit tls_server(tls::server_context context) : ctx_(std::move(context)), rt_({.threads = 1}) {
    http::router r;
    r.get("/", [](http::request&) -> asio::awaitable<http::response> {
      co_return http::response::text("Hello, World!");
    });
    r.get("/whoami", [](http::request& req) -> asio::awaitable<http::response> {
      const auto* p = req.tls_peer;
      if (!p) co_return http::response::text("plaintext");
      co_return http::response::text(std::string(p->resumed ? "resumed " : "full ") +
                                     (p->verified ? p->common_name : "-"));
    });
    r.get("/to-https", [this](http::request&) -> asio::awaitable<http::response> {
      auto res = http::response::empty(http::status::found);
      res.headers.set("Location", "https://localhost:" + std::to_string(server_->tls_port()) + "/whoami");
      co_return res;
    });
    r.get("/to-http", [this](http::request&) -> asio::awaitable<http::response> {
      auto res = http::response::empty(http::status::found);
      res.headers.set("Location", "http://localhost:" + std::to_string(server_->port()) + "/whoami");
      co_return res;
    });
    server_ = std::make_unique<http::server>(rt_, std::move(r));
    server_->listen("127.0.0.1", 0);
    server_->listen_tls("127.0.0.1", 0, ctx_);
    thread_ = std::thread([this] { rt_.run(); });
  }
  ~tls_server() {
    rt_.stop();
    thread_.join();
  }
  std::string https(const std::string& host = "localhost") const {
    return "https://" + host + ":" + std::to_string(server_->tls_port());
  }
  std::string plain() const { return "http://localhost:" + std::to_string(server_->port()); }

 private:
  tls::server_context ctx_;
  coronet::runtime rt_;
  std::unique_ptr<http::server> server_;
  std::thread thread_;
};

tls::server_config serving(const char* cert, const char* key) {
  tls::server_config c;
  c.certificates.push_back({pki(cert), pki(key)});
  return c;
}

http::client_options trusting_test_ca() {
  http::client_options o;
  o.tls.ca_file = pki("ca.pem");
  return o;
}

void expect_verification_failure(const http::result<http::response>& r, const char* reason) {
  ASSERT_FALSE(r);
  EXPECT_EQ(&r.error().category(), &tls::verification_category()) << r.error().message();
  EXPECT_NE(r.error().message().find(reason), std::string::npos) << r.error().message();
}

TEST(https_client, verifies_and_pools_tls_connections) {
  tls_server s(serving("server.pem", "server.key"));
  asio::io_context io;
  http::client c(io.get_executor(), trusting_test_ca());
  for (int i = 0; i < 3; ++i) {
    auto r = run(io, c.get(s.https() + "/"));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->body, "Hello, World!");
  }
  EXPECT_EQ(c.open_connections(), 1u);  // one TLS connection carried all three
  auto by_address = run(io, c.get(s.https("127.0.0.1") + "/"));  // the certificate's IP SAN
  ASSERT_TRUE(by_address) << by_address.error().message();
  EXPECT_EQ(c.open_connections(), 2u);  // another origin, another connection
}

TEST(https_client, resumes_sessions_on_new_connections) {
  tls_server s(serving("server.pem", "server.key"));
  asio::io_context io;
  http::client c(io.get_executor(), trusting_test_ca());
  EXPECT_EQ(run(io, c.get(s.https() + "/whoami"))->body, "full -");
  c.close_idle();
  EXPECT_EQ(run(io, c.get(s.https() + "/whoami"))->body, "resumed -");
  auto no_resume = trusting_test_ca();
  no_resume.tls.session_resumption = false;
  http::client fresh(io.get_executor(), no_resume);
  EXPECT_EQ(run(io, fresh.get(s.https() + "/whoami"))->body, "full -");
  fresh.close_idle();
  EXPECT_EQ(run(io, fresh.get(s.https() + "/whoami"))->body, "full -");
}

TEST(https_client, unknown_ca_wrong_host_and_expired_are_reported_as_such) {
  asio::io_context io;
  {
    tls_server s(serving("server.pem", "server.key"));
    http::client system_store(io.get_executor());  // the test CA is not in it
    expect_verification_failure(run(io, system_store.get(s.https() + "/")), "unable to get local issuer");
  }
  {
    tls_server s(serving("other.pem", "other.key"));  // for other.test only
    http::client c(io.get_executor(), trusting_test_ca());
    const auto r = run(io, c.get(s.https() + "/"));
    expect_verification_failure(r, "hostname mismatch");
    EXPECT_EQ(r.error().value(), X509_V_ERR_HOSTNAME_MISMATCH);
    expect_verification_failure(run(io, c.get(s.https("127.0.0.1") + "/")), "IP address mismatch");
    EXPECT_EQ(c.open_connections(), 0u);  // nothing half-open is pooled
  }
  {
    tls_server s(serving("expired-server.pem", "expired-server.key"));
    http::client c(io.get_executor(), trusting_test_ca());
    expect_verification_failure(run(io, c.get(s.https() + "/")), "certificate has expired");
    // Verification off (tests only): the same server is accepted.
    auto lax = trusting_test_ca();
    lax.tls.verify = false;
    http::client unchecked(io.get_executor(), lax);
    EXPECT_EQ(run(io, unchecked.get(s.https() + "/"))->body, "Hello, World!");
  }
}

TEST(https_client, presents_a_client_certificate) {
  auto config = serving("server.pem", "server.key");
  config.client_ca_file = pki("ca.pem");
  tls_server s(config);
  asio::io_context io;
  auto with_cert = trusting_test_ca();
  with_cert.tls.client_certificate = {pki("client.pem"), pki("client.key")};
  http::client c(io.get_executor(), with_cert);
  EXPECT_EQ(run(io, c.get(s.https() + "/whoami"))->body, "full test-client");
  http::client without(io.get_executor(), trusting_test_ca());
  EXPECT_FALSE(run(io, without.get(s.https() + "/whoami")));
}

TEST(https_client, follows_redirects_between_http_and_https) {
  tls_server s(serving("server.pem", "server.key"));
  asio::io_context io;
  auto o = trusting_test_ca();
  o.follow_redirects = 3;
  http::client c(io.get_executor(), o);
  EXPECT_EQ(run(io, c.get(s.plain() + "/to-https"))->body, "full -");
  EXPECT_EQ(run(io, c.get(s.https() + "/to-http"))->body, "plaintext");
}

// A context the user configured with OpenSSL directly (what asio::ssl::context's
// native_handle() is): the server takes it as it is.
TEST(https_client, a_server_context_from_the_users_ssl_ctx) {
  SSL_CTX* own = SSL_CTX_new(TLS_server_method());
  ASSERT_EQ(SSL_CTX_use_certificate_chain_file(own, pki("server.pem").c_str()), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey_file(own, pki("server.key").c_str(), SSL_FILETYPE_PEM), 1);
  SSL_CTX_set_min_proto_version(own, TLS1_3_VERSION);
  tls_server s{tls::server_context(own)};
  SSL_CTX_free(own);  // the context took its own reference
  asio::io_context io;
  http::client c(io.get_executor(), trusting_test_ca());
  auto r = run(io, c.get(s.https() + "/whoami"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "full -");
}

TEST(https_client, bad_configuration_fails_at_construction) {
  asio::io_context io;
  http::client_options o;
  o.tls.ca_file = "/nonexistent/ca.pem";
  try {
    http::client c(io.get_executor(), o);
    FAIL() << "no tls::error";
  } catch (const tls::error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/ca.pem"), std::string::npos) << e.what();
  }
  tls::server_config bad;
  bad.certificates.push_back({pki("server.pem"), pki("other.key")});
  try {
    tls::server_context ctx(bad);
    FAIL() << "no tls::error";
  } catch (const tls::error& e) {
    EXPECT_NE(std::string(e.what()).find("key values mismatch"), std::string::npos) << e.what();
  }
}

// nginx with TLS (Debian's nginx-light has the SSL module), as a child process.
class nginx_tls {
 public:
  nginx_tls(const char* cert, const char* key) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "coronet-nginx-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    {
      asio::io_context tmp;
      asio::ip::tcp::acceptor a(tmp, {asio::ip::make_address("127.0.0.1"), 0});
      port_ = a.local_endpoint().port();
    }
    const auto d = dir_.string();
    std::ofstream(dir_ / "index.html") << "from nginx";
    std::ofstream(dir_ / "nginx.conf")
        << "daemon off; master_process off; worker_processes 1; pid " << d << "/nginx.pid; error_log "
        << d << "/error.log;\nevents { worker_connections 64; }\n"
        << "http { access_log off; client_body_temp_path " << d << "; proxy_temp_path " << d
        << "; fastcgi_temp_path " << d << "; uwsgi_temp_path " << d << "; scgi_temp_path " << d << ";\n"
        << "  server { listen 127.0.0.1:" << port_ << " ssl; root " << d << ";\n"
        << "    ssl_certificate " << pki(cert) << "; ssl_certificate_key " << pki(key) << ";\n"
        << "    ssl_protocols TLSv1.2 TLSv1.3; }\n}\n";
    pid_ = fork();
    if (pid_ == 0) {
      execl(CORONET_TEST_NGINX, CORONET_TEST_NGINX, "-p", d.c_str(), "-c", (d + "/nginx.conf").c_str(), "-e",
            (d + "/error.log").c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~nginx_tls() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }
  std::string url() const { return "https://localhost:" + std::to_string(port_) + "/"; }

 private:
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// The first request retries while nginx starts.
http::result<http::response> get_when_up(asio::io_context& io, http::client& c, const std::string& u) {
  http::result<http::response> r = http::client_errc::connection_refused;
  for (int i = 0; i < 50 && r.error() == http::client_errc::connection_refused; ++i) {
    std::this_thread::sleep_for(50ms);
    r = run(io, c.get(u));
  }
  return r;
}

TEST(https_client, against_nginx) {
  if (*CORONET_TEST_NGINX == '\0') GTEST_SKIP() << "nginx is not installed (apt-get install nginx-light)";
  asio::io_context io;
  {
    nginx_tls ng("server.pem", "server.key");
    http::client c(io.get_executor(), trusting_test_ca());
    auto r = get_when_up(io, c, ng.url());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->body, "from nginx");
    EXPECT_EQ(run(io, c.get(ng.url()))->body, "from nginx");
    EXPECT_EQ(c.open_connections(), 1u);
  }
  {
    nginx_tls ng("rogue-server.pem", "rogue-server.key");  // signed by a CA we do not trust
    http::client c(io.get_executor(), trusting_test_ca());
    expect_verification_failure(get_when_up(io, c, ng.url()), "unable to get local issuer");
  }
  {
    nginx_tls ng("expired-server.pem", "expired-server.key");
    http::client c(io.get_executor(), trusting_test_ca());
    expect_verification_failure(get_when_up(io, c, ng.url()), "certificate has expired");
  }
}

}  // namespace
