// Orchestrators over the network: balloond's TLS listener with client certificates made by the
// test with openssl, a real libvirtd and a real guest, balloonctl --server and a raw gRPC client.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/integration/testbed.h"

namespace balloond::testing {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The operator's CA, balloond's certificate for "localhost", and clients: a reader, an operator,
// an expired reader, and one from a CA balloond does not trust.
class TlsIntegrationTest : public ::testing::Test {
 protected:
  TlsIntegrationTest()
      : ca_(pki_.Ca("ca", "balloond test CA")),
        server_(pki_.Leaf("server", ca_, "/CN=localhost", "DNS:localhost")),
        reader_(pki_.Leaf("reader", ca_, "/CN=reader1", "URI:spiffe://example.org/reader")),
        operator_(pki_.Leaf("operator", ca_, "/CN=operator1", "URI:spiffe://example.org/operator")),
        expired_(pki_.Leaf("expired", ca_, "/CN=expired", "", /*days=*/-1)),
        other_ca_(pki_.Ca("other-ca", "another CA")),
        stranger_(pki_.Leaf("stranger", other_ca_, "/CN=stranger")) {}

  std::vector<std::string> TlsArgs() const {
    return {"--listen-tls=127.0.0.1:0", "--tls-cert=" + server_.cert, "--tls-key=" + server_.key,
            "--tls-client-ca=" + ca_.cert, "--tls-operator=spiffe://example.org/operator"};
  }
  // balloonctl over TLS as `client`, trusting `ca` for balloond's certificate.
  CommandResult Ctl(const Agent& agent, const TestPki::Files& client, std::vector<std::string> args,
                    const std::string& host = "localhost", const TestPki::Files* ca = nullptr) {
    std::vector<std::string> argv = {BALLOONCTL_BIN,
                                     absl::StrCat("--server=", host, ":", agent.TlsPort()),
                                     "--tls-ca=" + (ca ? *ca : ca_).cert,
                                     "--tls-cert=" + client.cert, "--tls-key=" + client.key};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }
  // A raw gRPC client: any certificate (even one balloonctl would refuse to send), or none.
  grpc::Status RawListDomains(const Agent& agent, const TestPki::Files* client) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadFile(ca_.cert);
    if (client != nullptr) {
      tls.pem_cert_chain = ReadFile(client->cert);
      tls.pem_private_key = ReadFile(client->key);
    }
    auto channel =
        grpc::CreateChannel(absl::StrCat("localhost:", agent.TlsPort()), grpc::SslCredentials(tls));
    v1::ListDomainsResponse resp;
    return v1::BalloonReadService::NewStub(channel)->ListDomains(Deadline(absl::Seconds(5)).get(),
                                                                 {}, &resp);
  }

  TestPki pki_;
  TestPki::Files ca_, server_, reader_, operator_, expired_, other_ca_, stranger_;
};

TEST_F(TlsIntegrationTest, ReadersReadAndOnlyOperatorsMoveTheBalloon) {
  DestroyLeftoverGuests();
  Guest guest(BootedGuest("tls"));
  Agent agent(TlsArgs());
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_GT(agent.TlsPort(), 0) << agent.Log();

  // A reader lists and reads statistics, and sees health, over TLS.
  CommandResult r = Ctl(agent, reader_, {"list"});
  ASSERT_EQ(r.exit_code, 0) << r.err << agent.Log();
  EXPECT_THAT(r.out, HasSubstr(guest.name()));
  ASSERT_TRUE(WaitFor(
      [&] {
        CommandResult s = Ctl(agent, reader_, {"-o", "json", "stats", guest.name()});
        return s.exit_code == 0 && s.out.find("availableMemoryBytes") != std::string::npos;
      },
      absl::Seconds(30)));
  EXPECT_EQ(Ctl(agent, reader_, {"health"}).exit_code, 0);
  r = Ctl(agent, reader_, {"--timeout=3s", "stats", guest.name(), "--watch"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;

  // A reader's SetBalloonTarget is refused, naming who balloond saw and what would allow it.
  const int64_t before = guest.UsedMemoryKiB();
  r = Ctl(agent, reader_, {"set", guest.name(), "256M"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(r.err, HasSubstr("SAN URI spiffe://example.org/reader"));
  EXPECT_THAT(r.err, HasSubstr("--tls-operator=spiffe://example.org/reader"));
  r = Ctl(agent, reader_, {"policy", "mode", "enforce"});
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED"));
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(guest.UsedMemoryKiB(), before) << "a reader moved the balloon";

  // An operator's moves it, libvirt agrees, and a reader flooding the TLS listener meanwhile
  // (watch streams past the per-connection cap, QOM loops) only meets the limits.
  CommandResult flood;
  std::thread flooder([&] {
    flood =
        RunCommand({FLOOD_CLIENT_BIN, absl::StrCat("--server=localhost:", agent.TlsPort()),
                    "--tls_ca=" + ca_.cert, "--tls_cert=" + reader_.cert,
                    "--tls_key=" + reader_.key, "--domain=" + guest.name(), "--connections=10",
                    "--streams_per_connection=60", "--bursts=70", "--qom_loopers=4", "--seconds=8"},
                   absl::Minutes(2));
  });
  absl::SleepFor(absl::Seconds(2));
  r = Ctl(agent, operator_, {"set", guest.name(), "384M", "--wait"});
  flooder.join();
  EXPECT_EQ(flood.exit_code, 0) << flood.err;
  // One certificate's share of the listener's watches, whatever its connections.
  EXPECT_THAT(flood.out, HasSubstr("steady_streams_open=64"));
  EXPECT_THAT(flood.out, HasSubstr("ended RESOURCE_EXHAUSTED max_watches_per_client"));
  EXPECT_THAT(flood.out, HasSubstr("qom RESOURCE_EXHAUSTED qom_queries_per_second"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("balloon reached 384 MiB"));
  EXPECT_TRUE(WaitFor([&] { return guest.UsedMemoryKiB() == 384 * 1024; }, absl::Seconds(10)))
      << guest.UsedMemoryKiB();
  EXPECT_THAT(agent.Log(), HasSubstr("spiffe://example.org/operator"));  // who changed it
}

TEST_F(TlsIntegrationTest, ClientsWithoutAGoodCertificateAreRefusedAtTheHandshake) {
  Agent agent(TlsArgs());
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_TRUE(RawListDomains(agent, &reader_).ok());

  // No certificate, one from another CA, an expired one: the handshake fails, nothing is served.
  const std::vector<const TestPki::Files*> refused = {nullptr, &stranger_, &expired_};
  for (const TestPki::Files* client : refused) {
    grpc::Status s = RawListDomains(agent, client);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << (client ? client->cert : "no certificate") << ": " << s.error_message();
  }
  EXPECT_THAT(agent.Log(), HasSubstr("peer did not return a certificate"));
  EXPECT_THAT(agent.Log(), HasSubstr("certificate verify failed"));

  // balloonctl says what was wrong and what to check.
  CommandResult r = Ctl(agent, stranger_, {"list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(
      r.err,
      HasSubstr("did not accept the client certificate (CN stranger, issued by CN=another CA"));
  r = Ctl(agent, expired_, {"list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("expired on"));
  r = Ctl(agent, reader_, {"list"}, "127.0.0.1");  // balloond's certificate names only localhost
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("is not for the name in --server"));
  r = Ctl(agent, reader_, {"list"}, "localhost", &other_ca_);  // trusting the wrong CA
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("not signed by a CA in --tls-ca"));
  r = RunCommand({BALLOONCTL_BIN, absl::StrCat("--server=localhost:", agent.TlsPort()),
                  "--tls-ca=" + ca_.cert, "list"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--server needs --tls-cert"));
}

TEST_F(TlsIntegrationTest, RotatedCertificateFilesAreUsedWithoutARestart) {
  DestroyLeftoverGuests();
  Guest guest(PausedGuest("tlsrot"));
  // balloond reads its certificate from files cert-manager (say) replaces.
  const std::string live_cert = pki_.dir() + "/live.crt", live_key = pki_.dir() + "/live.key";
  RunCommand({"cp", server_.cert, live_cert});
  RunCommand({"cp", server_.key, live_key});
  Agent agent({"--listen-tls=127.0.0.1:0", "--tls-cert=" + live_cert, "--tls-key=" + live_key,
               "--tls-client-ca=" + ca_.cert});
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  const pid_t pid = agent.pid();

  // A watch open over the old certificate keeps running through the rotation.
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadFile(ca_.cert);
  tls.pem_cert_chain = ReadFile(reader_.cert);
  tls.pem_private_key = ReadFile(reader_.key);
  auto old_channel =
      grpc::CreateChannel(absl::StrCat("localhost:", agent.TlsPort()), grpc::SslCredentials(tls));
  auto stub = v1::BalloonReadService::NewStub(old_channel);
  auto ctx = Deadline(absl::Seconds(60));
  v1::WatchMemoryStatsRequest req;
  req.set_domain(guest.name());
  ASSERT_TRUE(WaitFor(
      [&] {
        return Ctl(agent, reader_, {"stats", guest.name()}).exit_code == 0;
      },
      absl::Seconds(10)));
  auto watch = stub->WatchMemoryStats(ctx.get(), req);
  v1::MemoryStats m;
  ASSERT_TRUE(watch->Read(&m));

  // The new certificate comes from a new CA: only a client trusting that CA can tell it is in use.
  TestPki::Files ca2 = pki_.Ca("ca2", "balloond test CA 2");
  TestPki::Files server2 = pki_.Leaf("server2", ca2, "/CN=localhost", "DNS:localhost");
  EXPECT_NE(Ctl(agent, reader_, {"health"}, "localhost", &ca2).exit_code, 0);
  RunCommand({"cp", server2.key, live_key + ".new"});
  RunCommand({"cp", server2.cert, live_cert + ".new"});
  RunCommand({"mv", live_key + ".new", live_key});
  RunCommand({"mv", live_cert + ".new", live_cert});
  const absl::Time rotated = absl::Now();
  ASSERT_TRUE(
      WaitFor([&] { return Ctl(agent, reader_, {"health"}, "localhost", &ca2).exit_code == 0; },
              absl::Seconds(20)))
      << agent.Log();
  std::cout << "a new connection used the rotated certificate "
            << absl::FormatDuration(absl::Trunc(absl::Now() - rotated, absl::Milliseconds(100)))
            << " after the files were replaced\n";
  EXPECT_NE(Ctl(agent, reader_, {"health"}).exit_code, 0) << "the old certificate is still served";
  EXPECT_EQ(agent.pid(), pid);
  EXPECT_EQ(kill(pid, 0), 0) << "balloond restarted";
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(watch->Read(&m)) << "the open watch was cut";
  ctx->TryCancel();
}

// Rotated files that do not check out (an expired certificate, a key of another certificate) are
// not taken: the old pair goes on serving new connections, and the log says why; a good rotation
// afterwards is taken.
TEST_F(TlsIntegrationTest, BrokenRotatedFilesAreNotTakenAndTheOldOnesServe) {
  const std::string live_cert = pki_.dir() + "/live2.crt", live_key = pki_.dir() + "/live2.key";
  RunCommand({"cp", server_.cert, live_cert});
  RunCommand({"cp", server_.key, live_key});
  Agent agent({"--listen-tls=127.0.0.1:0", "--tls-cert=" + live_cert, "--tls-key=" + live_key,
               "--tls-client-ca=" + ca_.cert});
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_EQ(Ctl(agent, reader_, {"health"}).exit_code, 0);

  const TestPki::Files expired =
      pki_.Leaf("server-expired", ca_, "/CN=localhost", "DNS:localhost", /*days=*/-1);
  RunCommand({"cp", expired.cert, live_cert});
  RunCommand({"cp", expired.key, live_key});
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(agent.Log(), "not taken"); }, absl::Seconds(15)))
      << agent.Log();
  EXPECT_THAT(agent.Log(), HasSubstr("expired"));
  absl::SleepFor(absl::Seconds(6));  // past gRPC's own re-read of the files it watches
  EXPECT_EQ(Ctl(agent, reader_, {"health"}).exit_code, 0) << "the expired certificate was served";

  // Half a rotation: a new certificate beside the old key.
  const TestPki::Files fresh = pki_.Leaf("server-fresh", ca_, "/CN=localhost", "DNS:localhost");
  RunCommand({"cp", fresh.cert, live_cert});
  RunCommand({"cp", server_.key, live_key});
  absl::SleepFor(absl::Seconds(11));
  EXPECT_EQ(Ctl(agent, reader_, {"health"}).exit_code, 0) << "a mismatched pair was served";

  RunCommand({"cp", fresh.key, live_key});
  EXPECT_TRUE(
      WaitFor([&] { return absl::StrContains(agent.Log(), "check out again"); }, absl::Seconds(15)))
      << agent.Log();
  EXPECT_EQ(Ctl(agent, reader_, {"health"}).exit_code, 0);
}

// A CA that lets a requester choose the CN makes no operator: with a SAN in the certificate, its CN
// is not an identity, even when it spells an operator's URI.
TEST_F(TlsIntegrationTest, ACommonNameThatSpellsAnOperatorsUriMakesNoOperator) {
  const TestPki::Files posing =
      pki_.Leaf("posing", ca_, R"(/CN=spiffe:\/\/example\/ns\/ops\/sa\/rebalancer)",
                "URI:spiffe://example/ns/app/sa/reader");
  std::vector<std::string> args = TlsArgs();
  args.push_back("--tls-operator=spiffe://example/ns/ops/sa/rebalancer");
  Agent agent(args);
  ASSERT_GT(agent.TlsPort(), 0) << agent.Log();
  CommandResult r = Ctl(agent, posing, {"set", "any-domain", "256M"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(r.err, HasSubstr("--tls-operator=spiffe://example/ns/app/sa/reader"));
  // A bare name that is no URI is refused at start, saying how to write a DNS name or a CN.
  CommandResult bare = RunCommand({BALLOOND_BIN, "--listen-tls=127.0.0.1:0",
                                   "--tls-cert=" + server_.cert, "--tls-key=" + server_.key,
                                   "--tls-client-ca=" + ca_.cert, "--tls-operator=rebalancer"});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_THAT(bare.err, HasSubstr("dns:rebalancer"));
}

// A TCP connection from `source` (an address of 127/8) to 127.0.0.1:`port`; -1 if refused.
int ConnectFrom(const std::string& source, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{}, to{};
  from.sin_family = to.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  to.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// True when the server closed the connection (end of file) within `wait`.
bool ClosedByServer(int fd, absl::Duration wait) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(wait))) <= 0) return false;
  char c;
  return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

// Connections that never start a handshake, from many addresses: balloond holds no more than its
// cap, its descriptors stay bounded, local clients are served meanwhile, and TLS clients get in
// again once the flood is gone.
TEST_F(TlsIntegrationTest, ConnectionsWithoutHandshakesNeverCrowdOutTheOthers) {
  const std::string config = absl::StrCat("/tmp/bdtest-tls-cap-", getpid(), ".textproto");
  {
    std::ofstream out(config);
    // Every flooding address is this machine's, and root's: the cap on one source's silent
    // connections (8) is lifted here to show the cap on them all.
    out << "limits { max_tls_connections: 16 max_tls_connections_per_source: 1000 }\n";
  }
  std::vector<std::string> args = TlsArgs();
  args.push_back("--config=" + config);
  Agent agent(args);
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  const int port = agent.TlsPort();
  ASSERT_GT(port, 0) << agent.Log();
  const int fds_before = OpenFds(agent.pid());

  std::vector<int> flood;
  for (int host = 2; host < 52; ++host) {
    for (int i = 0; i < 3; ++i) {
      const int fd = ConnectFrom(absl::StrCat("127.0.0.", host), port);
      if (fd >= 0) flood.push_back(fd);
    }
  }
  ASSERT_EQ(flood.size(), 150u);
  int held = 0;
  for (int fd : flood) held += ClosedByServer(fd, absl::Milliseconds(200)) ? 0 : 1;
  EXPECT_EQ(held, 16) << "connections balloond kept open";
  EXPECT_LE(OpenFds(agent.pid()), fds_before + 16 + 4);
  EXPECT_THAT(agent.Log(), HasSubstr("TLS connection(s) or calls (last from uid 0 at 127.0.0."));
  // Local clients never noticed.
  CommandResult local = agent.Ctl({"--timeout=5s", "list"});
  EXPECT_EQ(local.exit_code, 0) << local.err;

  for (int fd : flood) close(fd);
  EXPECT_TRUE(WaitFor([&] { return RawListDomains(agent, &reader_).ok(); }, absl::Seconds(10)))
      << agent.Log();
  unlink(config.c_str());
}

// A connection does not live for ever: past limits.tls_max_connection_age (and a grace as long)
// balloond ends it, so that a client must connect, and show a valid certificate, again.
TEST_F(TlsIntegrationTest, AConnectionEndsAfterItsMaximumAge) {
  DestroyLeftoverGuests();
  Guest guest(PausedGuest("tls-age"));
  const std::string config = absl::StrCat("/tmp/bdtest-tls-age-", getpid(), ".textproto");
  {
    std::ofstream out(config);
    out << "limits { tls_max_connection_age { seconds: 10 } }\n";
  }
  std::vector<std::string> args = TlsArgs();
  args.push_back("--config=" + config);
  Agent agent(args);
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  const absl::Time start = absl::Now();
  CommandResult watch = Ctl(agent, reader_, {"--timeout=90s", "decisions", "--watch"});
  const absl::Duration lasted = absl::Now() - start;
  EXPECT_EQ(watch.exit_code, 1) << watch.out;
  EXPECT_GE(lasted, absl::Seconds(9));
  EXPECT_LE(lasted, absl::Seconds(40)) << "10 s of age and at most 10 s of grace";
  unlink(config.c_str());
}

}  // namespace
}  // namespace balloond::testing
