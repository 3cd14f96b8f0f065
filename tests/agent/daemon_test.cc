// The daemon as a whole, on the fake hypervisor and a fake clock: it starts, serves its first
// collection, reloads its config file, keeps events away once stopped, and stops.
#include "agent/daemon.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/agent/base/eventually.h"
#include "tests/agent/base/temp_dir.h"
#include "tests/agent/libvirt/fake_hypervisor.h"

namespace balloond {
namespace {

using ::balloond::testing::Eventually;

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeHypervisor;
using ::testing::HasSubstr;

class DaemonTest : public ::testing::Test {
 protected:
  DaemonTest() {
    settings_.server.listen = "unix:" + dir_ + "/rw.sock";
    settings_.server.listen_ro = "unix:" + dir_ + "/ro.sock";
    settings_.state_dir = dir_ + "/state";
    settings_.config_file = dir_ + "/balloond.textproto";
    WriteConfig("policy { mode: POLICY_MODE_OBSERVE }\n");
  }
  ~DaemonTest() override { daemon_.reset(); }
  void WriteConfig(const std::string& text) { std::ofstream(settings_.config_file) << text; }
  void Start() {
    Daemon::Environment environment{clock_,
                                    [this](Clock&, DomainChangeListener& changes, CallMeter&) {
                                      auto fake = std::make_unique<FakeHypervisor>(&changes);
                                      hypervisor_ = fake.get();
                                      hypervisor_->AddDomain("web1");
                                      return fake;
                                    }};
    environment.read_host = [] {
      HostMemory host;
      host.mem_total_bytes = 16LL << 30;
      host.mem_available_bytes = 12LL << 30;
      return absl::StatusOr<HostMemory>(host);
    };
    auto daemon = Daemon::Start(settings_, {}, std::move(environment));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
  }
  std::string Health() {
    auto health = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel("unix:" + dir_ + "/rw.sock", grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = health->Check(&ctx, {}, &resp);
    return s.ok() ? grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status())
                  : s.error_message();
  }
  testing::TempDir temp_{"daemon-test"};
  std::string dir_ = temp_.path();
  AgentSettings settings_;
  FakeClock clock_;
  FakeHypervisor* hypervisor_ = nullptr;  // the daemon's
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(DaemonTest, ServesOnceItsFirstCollectionIsIn) {
  Start();
  ASSERT_TRUE(Eventually([&] { return daemon_->serving(); }));
  EXPECT_EQ(Health(), "SERVING");
  EXPECT_TRUE(daemon_->snapshots().Find("web1").has_value());
  auto read = v1::BalloonReadService::NewStub(
      grpc::CreateChannel("unix:" + dir_ + "/ro.sock", grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  v1::ListDomainsResponse list;
  ASSERT_TRUE(read->ListDomains(&ctx, {}, &list).ok());
  ASSERT_EQ(list.domains_size(), 1);
  EXPECT_EQ(list.domains(0).name(), "web1");
}

TEST_F(DaemonTest, LibvirtLostIsNotServingAndItsReturnIsServingAgain) {
  Start();
  ASSERT_TRUE(Eventually([&] { return daemon_->serving(); }));
  hypervisor_->SetReachable(false);
  hypervisor_->RaiseEvent("");  // what libvirt's close callback does: collect now
  ASSERT_TRUE(Eventually([&] { return !daemon_->serving(); }));
  EXPECT_EQ(Health(), "NOT_SERVING");
  hypervisor_->SetReachable(true);
  EXPECT_TRUE(Eventually([&] {
    clock_.Advance(absl::Seconds(2));  // the next period, whenever the collector waits for it
    return daemon_->serving();
  }));
}

TEST_F(DaemonTest, AReloadTakesTheConfigFilesPolicyAndABrokenFileChangesNothing) {
  Start();
  EXPECT_NE(daemon_->policy().Get().mode(), v1::POLICY_MODE_ENFORCE);
  WriteConfig("policy { mode: POLICY_MODE_ENFORCE defaults { shares: 3000 } }\n");
  daemon_->Reload();
  EXPECT_EQ(daemon_->policy().Get().mode(), v1::POLICY_MODE_ENFORCE);
  EXPECT_EQ(daemon_->policy().Get().defaults().shares(), 3000);
  WriteConfig("policy { mode: NO_SUCH_MODE }\n");
  daemon_->Reload();
  EXPECT_EQ(daemon_->policy().Get().defaults().shares(), 3000) << "the running policy stays";
}

// libvirt's event thread may raise an event while balloond stops: it reaches nothing that stopped.
TEST_F(DaemonTest, EventsAfterStopReachNothing) {
  Start();
  ASSERT_TRUE(Eventually([&] { return daemon_->serving(); }));
  daemon_->Stop();
  hypervisor_->RaiseEvent("");  // under ASan: no use of the stopped collector's state
  daemon_->Stop();              // twice is once
  EXPECT_NE(access((dir_ + "/rw.sock").c_str(), F_OK), 0) << "the sockets are gone";
}

TEST_F(DaemonTest, AStateItCannotUseIsAnErrorSayingWhich) {
  std::filesystem::create_directories(settings_.state_dir);
  std::ofstream(settings_.state_dir + "/policy.textproto") << "mode: BROKEN\n";
  auto daemon =
      Daemon::Start(settings_, {}, {clock_, [](Clock&, DomainChangeListener& changes, CallMeter&) {
                                      return std::make_unique<FakeHypervisor>(&changes);
                                    }});
  ASSERT_FALSE(daemon.ok());
  EXPECT_THAT(std::string(daemon.status().message()), HasSubstr("policy.textproto:"));
  EXPECT_THAT(std::string(daemon.status().message()), HasSubstr("BROKEN"));
}

}  // namespace
}  // namespace balloond
