// The servers as balloond builds them, on real UNIX sockets, with a fake hypervisor behind.
#include "agent/agent_server.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/fake_hypervisor.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeHypervisor;

class AgentServerTest : public ::testing::Test {
 protected:
  AgentServerTest() {
    char tmpl[] = "/tmp/agent-server-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    settings_.listen = "unix:" + dir_ + "/rw.sock";
    settings_.listen_ro = "unix:" + dir_ + "/ro.sock";
    settings_.state_dir = dir_ + "/state";
    settings_.limits.idle_timeout = absl::Seconds(1);
    policy_ = *PolicyStore::Open(settings_.state_dir, {});
    holds_ = *HoldStore::Open(settings_.state_dir);
  }
  ~AgentServerTest() override {
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  void Start() {
    auto server = AgentServer::Start(settings_, {hypervisor_, store_, clock_, collector_, *policy_,
                                                 decisions_, qom_traffic_, *holds_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  std::shared_ptr<grpc::Channel> Channel(const std::string& socket) {
    return grpc::CreateChannel("unix:" + dir_ + "/" + socket, grpc::InsecureChannelCredentials());
  }

  std::string dir_;
  AgentSettings settings_;
  FakeHypervisor hypervisor_;
  FakeClock clock_;
  SnapshotStore store_;
  DecisionLog decisions_;
  QomTraffic qom_traffic_;
  std::unique_ptr<PolicyStore> policy_;
  std::unique_ptr<HoldStore> holds_;
  Collector collector_{hypervisor_, store_, clock_, CollectorOptions{}};
  std::unique_ptr<AgentServer> server_;
};

TEST_F(AgentServerTest, AnIdleConnectionIsClosed) {
  Start();
  auto channel = Channel("ro.sock");
  auto stub = v1::BalloonReadService::NewStub(channel);
  grpc::ClientContext ctx;
  v1::ListDomainsResponse resp;
  ASSERT_TRUE(stub->ListDomains(&ctx, {}, &resp).ok());
  EXPECT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
  // The server sends GOAWAY after limits.idle_timeout (1 s here) without calls.
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    closed = channel->GetState(false) != GRPC_CHANNEL_READY;
  }
  EXPECT_TRUE(closed);
}

TEST_F(AgentServerTest, TheSocketsGetTheirModesAndALiveOneIsNotTakenOver) {
  Start();
  EXPECT_EQ(std::filesystem::status(dir_ + "/rw.sock").permissions() & std::filesystem::perms::all,
            std::filesystem::perms(0660));
  EXPECT_EQ(std::filesystem::status(dir_ + "/ro.sock").permissions() & std::filesystem::perms::all,
            std::filesystem::perms(0666));
  auto second = AgentServer::Start(settings_, {hypervisor_, store_, clock_, collector_, *policy_,
                                               decisions_, qom_traffic_, *holds_});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(AgentServerTest, ARequestOverOneMebibyteIsRefusedUnread) {
  Start();
  auto stub = v1::BalloonControlService::NewStub(Channel("rw.sock"));
  v1::UpdateDomainPolicyRequest req;
  req.set_domain(std::string(2 << 20, 'x'));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::Policy resp;
  grpc::Status s = stub->UpdateDomainPolicy(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("larger than max"));
}

}  // namespace
}  // namespace balloond
