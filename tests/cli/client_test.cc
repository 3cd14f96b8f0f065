#include "cli/client.h"

#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "tests/paths.h"

namespace balloond {
namespace {

using ::testing::HasSubstr;

std::string TlsData(const std::string& name) {
  return std::string(BALLOOND_TESTDATA_DIR) + "/tls/" + name;
}

ConnectionOptions Remote(const std::string& client) {
  ConnectionOptions o;
  o.server = "localhost:7443";
  o.tls_ca = TlsData("ca.crt");
  o.tls_cert = TlsData(client + ".crt");
  o.tls_key = TlsData(client + ".key");
  return o;
}

TEST(ConnectionTest, TheEnvironmentFillsWhatFlagsLeaveOut) {
  std::map<std::string, std::string> env = {{"BALLOONCTL_SERVER", "h:1"},
                                            {"BALLOONCTL_TLS_CA", "ca"},
                                            {"BALLOONCTL_TLS_CERT", "cert"},
                                            {"BALLOONCTL_TLS_KEY", "key"}};
  auto getenv = [&](const char* v) { return env.count(v) ? env[v].c_str() : nullptr; };
  ConnectionOptions flags;
  flags.tls_cert = "mine";
  ConnectionOptions o = WithEnvironment(flags, getenv);
  EXPECT_EQ(o.server, "h:1");
  EXPECT_EQ(o.tls_ca, "ca");
  EXPECT_EQ(o.tls_cert, "mine");
  flags.socket = "/run/x.sock";  // a socket given on the command line beats BALLOONCTL_SERVER
  EXPECT_EQ(WithEnvironment(flags, getenv).server, "");
}

TEST(ConnectionTest, SocketsDefaultByWhatTheCommandNeeds) {
  EXPECT_THAT(Connection::Open({}, false)->Describe(), HasSubstr(kDefaultReadOnlySocket));
  EXPECT_THAT(Connection::Open({}, true)->Describe(), HasSubstr(kDefaultSocket));
  ConnectionOptions o;
  o.socket = "/tmp/x.sock";
  EXPECT_THAT(Connection::Open(o, true)->Describe(), HasSubstr("/tmp/x.sock"));
}

TEST(ConnectionTest, RemoteOptionsThatCannotWorkAreRefusedBeforeAnyCall) {
  ConnectionOptions both = Remote("reader");
  both.socket = "/tmp/x.sock";
  EXPECT_EQ(Connection::Open(both, false).status().code(), absl::StatusCode::kInvalidArgument);

  ConnectionOptions no_cert = Remote("reader");
  no_cert.tls_cert.clear();
  auto s = Connection::Open(no_cert, false).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("BALLOONCTL_TLS_CERT"));

  ConnectionOptions wrong_key = Remote("reader");
  wrong_key.tls_key = TlsData("server.key");
  EXPECT_THAT(std::string(Connection::Open(wrong_key, false).status().message()),
              HasSubstr("is not the key"));

  auto expired = Connection::Open(Remote("expired"), false).status();
  EXPECT_EQ(expired.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(expired.message()), HasSubstr("expired on"));
}

TEST(ConnectionTest, TlsFailuresAreExplainedWithWhatToCheck) {
  auto c = Connection::Open(Remote("stranger"), false);
  ASSERT_TRUE(c.ok()) << c.status();
  const grpc::StatusCode unavailable = grpc::StatusCode::UNAVAILABLE;
  // gRPC's words for each failure (1.51), and what balloonctl adds.
  EXPECT_THAT(
      c->Explain({unavailable, "last error: UNAVAILABLE: ipv4:127.0.0.1:7443: Socket closed"}),
      HasSubstr("did not accept the client certificate (CN stranger, issued by CN=another CA"));
  EXPECT_THAT(c->Explain({unavailable,
                          "Ssl handshake failed: SSL_ERROR_SSL: error:0A000086:SSL "
                          "routines::certificate verify failed"}),
              HasSubstr("not signed by a CA in --tls-ca"));
  EXPECT_THAT(c->Explain({unavailable, "Peer name 127.0.0.1 is not in peer certificate"}),
              HasSubstr("certificate is not for the name in --server"));
  EXPECT_THAT(c->Explain({unavailable, "Failed to connect to remote host: Connection refused"}),
              HasSubstr("nothing answers at localhost:7443"));
  EXPECT_THAT(c->Explain({grpc::StatusCode::PERMISSION_DENIED, "may read but not change"}),
              HasSubstr("[PERMISSION_DENIED]"));
}

TEST(ConnectionTest, SocketFailuresAreExplained) {
  ConnectionOptions o;
  o.socket = "/nonexistent/balloond.sock";
  auto c = Connection::Open(o, false);
  // balloonctl's sentence first, gRPC's after it.
  EXPECT_EQ(c->Explain({grpc::StatusCode::UNAVAILABLE,
                        "failed to connect to all addresses; last error: UNKNOWN: No such file"}),
            "is balloond running and listening on /nonexistent/balloond.sock? (systemctl status "
            "balloond, or --socket=PATH) [UNAVAILABLE] (gRPC: failed to connect to all addresses; "
            "last error: UNKNOWN: No such file)");
  EXPECT_THAT(c->Explain({grpc::StatusCode::UNAVAILABLE, "connect: Permission denied"}),
              HasSubstr("run as root or as a member of its group"));
  EXPECT_THAT(c->Explain({grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"}),
              HasSubstr("raise --timeout"));
}

// The group to join is named, as the socket has it.
TEST(ConnectionTest, APermissionDeniedNamesTheSocketsGroup) {
  const std::string path = ::testing::TempDir() + "/group-test.sock";
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  const struct group* own = ::getgrgid(::getegid());  // the file's group
  ASSERT_NE(own, nullptr);
  const std::string name = own->gr_name;
  ConnectionOptions o;
  o.socket = path;
  auto c = Connection::Open(o, false);
  EXPECT_THAT(c->Explain({grpc::StatusCode::UNAVAILABLE, "connect: Permission denied"}),
              HasSubstr("run as root or as a member of its group '" + name +
                        "' (sudo usermod -aG " + name + " $USER, then log in again)"));
  std::remove(path.c_str());
}

TEST(ConnectionTest, DeadlinesAreExplained) {
  ConnectionOptions o;
  auto c = Connection::Open(o, false);
  EXPECT_THAT(c->Explain({grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"}),
              HasSubstr("raise --timeout"));
}

}  // namespace
}  // namespace balloond
