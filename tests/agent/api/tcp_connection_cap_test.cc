// The TLS listener's connection cap, on socket pairs standing in for accepted connections.
#include "agent/api/tcp_connection_cap.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

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

TEST(TcpConnectionCapTest, PastTheCapConnectionsAreRefusedAndClosedOnesFreeTheirPlace) {
  FakeClock clock;
  TcpConnectionCap cap({/*max_connections=*/2, /*reserved_descriptors=*/0}, clock);
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
  TcpConnectionCap cap({/*max_connections=*/100, /*reserved_descriptors=*/1 << 21}, clock);
  std::vector<int> peers;
  const int a = Accepted(peers);
  EXPECT_FALSE(cap.Admit(a));
  close(a);
  for (int p : peers) close(p);
}

}  // namespace
}  // namespace balloond
