// Who holds the far end of a loopback connection, asked of the real kernel: over IPv4, IPv6, an
// IPv4 client of a dual-stack listener, and another user's connection.
#include "agent/api/loopback_peer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

namespace balloond {
namespace {

// A listener on `family`'s loopback (AF_INET6: dual-stack, on every address).
class Listener {
 public:
  explicit Listener(int family) {
    fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage addr = Address(family, 0);
    if (family == AF_INET6) reinterpret_cast<sockaddr_in6&>(addr).sin6_addr = in6addr_any;
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
          listen(fd_, 16) == 0;
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in&>(addr).sin_port
                                    : reinterpret_cast<sockaddr_in6&>(addr).sin6_port);
  }
  ~Listener() { close(fd_); }
  bool ok() const { return ok_; }
  int port() const { return port_; }
  int Accept() { return accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC); }

  // The loopback of `family` at `port`.
  static sockaddr_storage Address(int family, int port) {
    sockaddr_storage addr{};
    if (family == AF_INET) {
      auto& in = reinterpret_cast<sockaddr_in&>(addr);
      in.sin_family = AF_INET;
      in.sin_port = htons(static_cast<uint16_t>(port));
      in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
      auto& in6 = reinterpret_cast<sockaddr_in6&>(addr);
      in6.sin6_family = AF_INET6;
      in6.sin6_port = htons(static_cast<uint16_t>(port));
      in6.sin6_addr = in6addr_loopback;
    }
    return addr;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  bool ok_ = false;
};

// A client socket of `family` connected to the loopback at `port`; -1 if it could not connect.
int Connect(int family, int port) {
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage addr = Listener::Address(family, port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(LoopbackPeerTest, AnIpv4ConnectionIsThisProcesssUser) {
  Listener listener(AF_INET);
  ASSERT_TRUE(listener.ok());
  const int client = Connect(AF_INET, listener.port());
  ASSERT_GE(client, 0);
  const int accepted = listener.Accept();
  EXPECT_EQ(LoopbackPeerUid(accepted), geteuid());
  close(accepted);
  close(client);
}

TEST(LoopbackPeerTest, Ipv6AndIpv4ClientsOfADualStackListenerAreFound) {
  Listener listener(AF_INET6);
  if (!listener.ok()) GTEST_SKIP() << "no IPv6 on this machine";
  for (int family : {AF_INET6, AF_INET}) {  // ::1, then 127.0.0.1 as ::ffff:127.0.0.1
    const int client = Connect(family, listener.port());
    ASSERT_GE(client, 0) << family;
    const int accepted = listener.Accept();
    EXPECT_EQ(LoopbackPeerUid(accepted), geteuid()) << family;
    close(accepted);
    close(client);
  }
}

TEST(LoopbackPeerTest, AnotherUsersConnectionIsTheirs) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
  Listener listener(AF_INET);
  ASSERT_TRUE(listener.ok());
  int done[2];
  ASSERT_EQ(pipe(done), 0);
  const pid_t child = fork();
  if (child == 0) {  // nobody connects and holds its connection until told
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(1);
    if (Connect(AF_INET, listener.port()) < 0) _exit(2);
    char c;
    if (read(done[0], &c, 1) < 0) _exit(3);
    _exit(0);
  }
  const int accepted = listener.Accept();
  EXPECT_EQ(LoopbackPeerUid(accepted), 65534u);
  ASSERT_EQ(write(done[1], "x", 1), 1);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(status, 0);
  close(accepted);
  close(done[0]);
  close(done[1]);
}

TEST(LoopbackPeerTest, NobodyWhenTheClientIsGoneOrItIsNoTcpSocket) {
  Listener listener(AF_INET);
  ASSERT_TRUE(listener.ok());
  const int client = Connect(AF_INET, listener.port());
  ASSERT_GE(client, 0);
  const int accepted = listener.Accept();
  const linger reset{1, 0};  // gone at once: no FIN_WAIT socket left behind
  setsockopt(client, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  close(client);
  EXPECT_EQ(LoopbackPeerUid(accepted), std::nullopt);
  close(accepted);
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  EXPECT_EQ(LoopbackPeerUid(fds[0]), std::nullopt);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace balloond
