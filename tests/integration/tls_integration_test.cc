// Orchestrators over the network: balloond's TLS listener with client certificates made by the
// test with openssl, a real libvirtd and a real guest, balloonctl --server and a raw gRPC client.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "policy/units.h"
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
  EXPECT_THAT(flood.out, HasSubstr("steady_streams_open=600"));
  EXPECT_THAT(flood.out, HasSubstr("ended RESOURCE_EXHAUSTED max_calls_per_connection=6"));
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

}  // namespace
}  // namespace balloond::testing
