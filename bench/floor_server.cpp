// The floor for the plaintext benchmark: the least an HTTP/1.1 server can do per request on
// this kernel. One thread, level-triggered epoll, no parsing: each read counts the "\r\n\r\n"
// that end request heads (across reads, too) and one write sends that many copies of a fixed
// answer. Good only for bodiless requests; it exists to be measured against.
//   floor_server [--listen HOST:PORT]
// Prints "port N" once listening; SIGINT/SIGTERM stop it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr char answer[] =
    "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
    "Hello, World!";
constexpr std::size_t answer_size = sizeof answer - 1;
constexpr std::size_t batch = 64;  // answers one write can send from the prepared buffer

struct conn {
  unsigned matched = 0;      // bytes of "\r\n\r\n" matched at the end of the last read
  std::size_t owed = 0;      // answers not yet written
  std::size_t offset = 0;    // bytes of the first owed answer already written
  bool want_out = false;     // registered for EPOLLOUT
};

std::vector<conn> conns;  // by descriptor
std::string answers;      // `batch` copies of the answer
volatile std::sig_atomic_t stop = 0;

// Counts the heads ended in data, carrying a partial "\r\n\r\n" over from the last read.
std::size_t count_heads(conn& c, const char* data, std::size_t n) {
  static constexpr char end[] = "\r\n\r\n";
  std::size_t heads = 0;
  unsigned m = c.matched;
  for (std::size_t i = 0; i < n; ++i) {
    const char ch = data[i];
    if (ch == end[m]) {
      if (++m == 4) {
        ++heads;
        m = 0;
      }
    } else {
      m = ch == '\r' ? 1 : 0;
    }
  }
  c.matched = m;
  return heads;
}

void close_conn(int epfd, int fd) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
  close(fd);
  conns[static_cast<std::size_t>(fd)] = conn{};
}

// Writes what is owed; false when the connection failed.
bool write_owed(int epfd, int fd, conn& c) {
  while (c.owed > 0) {
    const auto k = c.owed < batch ? c.owed : batch;
    const auto len = k * answer_size - c.offset;
    const auto n = send(fd, answers.data() + c.offset, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return false;
      break;
    }
    const auto done = c.offset + static_cast<std::size_t>(n);
    c.owed -= done / answer_size;
    c.offset = done % answer_size;
    if (static_cast<std::size_t>(n) < len) break;
  }
  const bool want = c.owed > 0;
  if (want != c.want_out) {
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    c.want_out = want;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  unsigned port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--listen") {
      const auto colon = value.rfind(':');
      host = value.substr(0, colon);
      port = static_cast<unsigned>(std::stoul(value.substr(colon + 1)));
    } else {
      std::fprintf(stderr, "usage: %s [--listen HOST:PORT]\n", argv[0]);
      return 2;
    }
  }
  for (std::size_t i = 0; i < batch; ++i) answers.append(answer, answer_size);

  struct sigaction sa{};
  sa.sa_handler = [](int) { stop = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(lfd, 1024) != 0) {
    std::perror("floor_server: listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("port %u\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  const int epfd = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);

  epoll_event events[256];
  char buf[16 * 1024];
  while (!stop) {
    const int ready = epoll_wait(epfd, events, 256, -1);
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          const int cfd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
          if (cfd < 0) break;
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (conns.size() <= static_cast<std::size_t>(cfd)) conns.resize(static_cast<std::size_t>(cfd) + 1);
          conns[static_cast<std::size_t>(cfd)] = conn{};
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = cfd;
          epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &cev);
        }
        continue;
      }
      auto& c = conns[static_cast<std::size_t>(fd)];
      if (events[i].events & EPOLLIN) {
        const auto n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          close_conn(epfd, fd);
          continue;
        }
        if (n > 0) c.owed += count_heads(c, buf, static_cast<std::size_t>(n));
      } else if (events[i].events & (EPOLLERR | EPOLLHUP)) {
        close_conn(epfd, fd);
        continue;
      }
      if (!write_owed(epfd, fd, c)) close_conn(epfd, fd);
    }
  }
  close(epfd);
  close(lfd);
}
