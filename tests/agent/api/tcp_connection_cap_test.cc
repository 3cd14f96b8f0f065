// The TLS listener's connection cap, on socket pairs standing in for accepted connections.
#include "agent/api/tcp_connection_cap.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/agent/base/fake_clock.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeClock;

// One end of a connected pair: the descriptor gRPC would have accepted.
int Accepted(std::vector<int>& peers) {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  peers.push_back(fds[1]);
  return fds[0];
}

TcpConnectionCap::Options Cap(int max_connections, int reserved_descriptors = 0) {
  TcpConnectionCap::Options o;
  o.max_connections = max_connections;
  o.reserved_descriptors = reserved_descriptors;
  o.max_per_source = 1000;
  o.max_per_identity = 1000;
  o.operator_connections = 0;
  return o;
}

// A listener on the loopback and the connections made to it, as gRPC would accept them.
class Loopback {
 public:
  Loopback() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listen_fd_, 16), 0);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Loopback() {
    for (int fd : fds_) close(fd);
    close(listen_fd_);
  }
  // A client's connection from this process: the accepted end, and gRPC's name of its peer.
  struct Accepted {
    int fd;
    std::string peer;
  };
  Accepted Connect() {
    const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    fds_.push_back(client);
    return AcceptOne();
  }
  Accepted AcceptOne() {
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    fds_.push_back(fd);
    return {fd, absl::StrCat("ipv4:127.0.0.1:", ntohs(peer.sin_port))};
  }
  int port() const { return port_; }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::vector<int> fds_;
};

TEST(TcpConnectionCapTest, PastTheCapConnectionsAreRefusedAndClosedOnesFreeTheirPlace) {
  FakeClock clock;
  TcpConnectionCap cap(Cap(2), clock);
  std::vector<int> peers;
  const int a = Accepted(peers), b = Accepted(peers), c = Accepted(peers);
  EXPECT_TRUE(cap.Admit(a));
  EXPECT_TRUE(cap.Admit(b));
  EXPECT_FALSE(cap.Admit(c));
  EXPECT_EQ(cap.open_connections(), 2);
  close(a);  // gRPC closed it
  EXPECT_TRUE(cap.Admit(c));
  close(b);
  close(c);
  for (int p : peers) close(p);
}

TEST(TcpConnectionCapTest, NoConnectionWhenTheDescriptorTableIsNearlyFull) {
  FakeClock clock;
  // Every descriptor counts as "near the limit" with this reserve.
  TcpConnectionCap cap(Cap(100, /*reserved_descriptors=*/1 << 21), clock);
  std::vector<int> peers;
  const int a = Accepted(peers);
  EXPECT_FALSE(cap.Admit(a));
  close(a);
  for (int p : peers) close(p);
}

// The review's finding 5, scenario A: one source holding connections that never handshake took all
// 128. A source's connections not yet known by a call are capped; once known, they leave its share.
TEST(TcpConnectionCapTest, ConnectionsNotYetKnownByACallAreCappedPerSource) {
  FakeClock clock;
  TcpConnectionCap::Options o = Cap(100);
  o.max_per_source = 2;
  TcpConnectionCap cap(o, clock);
  Loopback loopback;
  const auto a = loopback.Connect(), b = loopback.Connect(), c = loopback.Connect();
  EXPECT_TRUE(cap.Admit(a.fd));
  EXPECT_TRUE(cap.Admit(b.fd));
  EXPECT_FALSE(cap.Admit(c.fd)) << "a third silent connection of the same local user";
  EXPECT_TRUE(cap.AdmitCall(a.peer, "spiffe://o/operator", true).ok());
  const auto d = loopback.Connect();
  EXPECT_TRUE(cap.Admit(d.fd)) << "the one known by its call no longer counts as silent";
}

// On the loopback a source is a local user: another user's silent connections do not lock root's
// out.
TEST(TcpConnectionCapTest, OnTheLoopbackEachLocalUserIsASourceOfItsOwn) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
  FakeClock clock;
  TcpConnectionCap::Options o = Cap(100);
  o.max_per_source = 1;
  TcpConnectionCap cap(o, clock);
  Loopback loopback;
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t child = fork();
  if (child == 0) {  // nobody connects and holds its connection until told
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(1);
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(loopback.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(2);
    char c = 'x';
    if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) < 0) _exit(3);
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  const auto nobodys = loopback.AcceptOne();
  EXPECT_TRUE(cap.Admit(nobodys.fd));
  const auto roots = loopback.Connect();
  EXPECT_TRUE(cap.Admit(roots.fd)) << "root is another source than nobody";
  const auto second_of_root = loopback.Connect();
  EXPECT_FALSE(cap.Admit(second_of_root.fd));
  ASSERT_EQ(write(done[1], "x", 1), 1);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(status, 0);
  for (int fd : {ready[0], ready[1], done[0], done[1]}) close(fd);
}

// Scenario B: one reader certificate held every connection with a watch each. Each identity has a
// share, readers together leave room for operators, and a connection refused is closed.
TEST(TcpConnectionCapTest, IdentitiesHaveSharesAndReadersLeaveRoomForOperators) {
  FakeClock clock;
  TcpConnectionCap::Options o = Cap(7);
  o.max_per_identity = 2;
  o.operator_connections = 3;
  TcpConnectionCap cap(o, clock);
  Loopback loopback;
  std::vector<Loopback::Accepted> conns;
  for (int i = 0; i < 7; ++i) {
    conns.push_back(loopback.Connect());
    ASSERT_TRUE(cap.Admit(conns.back().fd));
  }
  EXPECT_TRUE(cap.AdmitCall(conns[0].peer, "reader-1", false).ok());
  EXPECT_TRUE(cap.AdmitCall(conns[0].peer, "reader-1", false).ok()) << "known: every call goes";
  EXPECT_TRUE(cap.AdmitCall(conns[1].peer, "reader-1", false).ok());
  absl::Status third = cap.AdmitCall(conns[2].peer, "reader-1", false);
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(third.message()), ::testing::HasSubstr("reader-1 already holds 2"));
  EXPECT_THAT(std::string(third.message()),
              ::testing::HasSubstr("limits.max_tls_connections_per_identity"));
  EXPECT_FALSE(cap.AdmitCall(conns[2].peer, "reader-1", false).ok()) << "and stays refused";

  EXPECT_TRUE(cap.AdmitCall(conns[3].peer, "reader-2", false).ok());
  EXPECT_TRUE(cap.AdmitCall(conns[4].peer, "reader-2", false).ok());
  absl::Status reader = cap.AdmitCall(conns[5].peer, "reader-3", false);
  EXPECT_THAT(std::string(reader.message()), ::testing::HasSubstr("kept for operators"))
      << "7 connections, 3 for operators: readers have 4";
  EXPECT_THAT(std::string(reader.message()),
              ::testing::HasSubstr("limits.tls_operator_connections"));
  EXPECT_TRUE(cap.AdmitCall(conns[6].peer, "operator", true).ok());

  // The refused connections are shut down a moment later (their clients read why first).
  clock.Advance(absl::Seconds(2));
  cap.open_connections();
  char byte;
  EXPECT_EQ(recv(conns[2].fd, &byte, 1, MSG_DONTWAIT), 0) << "shut down";
  EXPECT_EQ(recv(conns[0].fd, &byte, 1, MSG_DONTWAIT), -1) << "still open (nothing to read)";
}

}  // namespace
}  // namespace balloond
