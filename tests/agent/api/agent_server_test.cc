// The servers as balloond builds them, on real UNIX sockets, with a fake hypervisor behind.
#include "agent/api/agent_server.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/agent/api/service_fixture.h"
#include "tests/agent/base/temp_dir.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeHypervisor;

// The servers on real sockets, over the services' parts from ServiceFixture (its in-process server
// is not used here).
class AgentServerTest : public ::balloond::testing::ServiceFixture {
 protected:
  AgentServerTest() {
    settings_.listen = "unix:" + dir_ + "/rw.sock";
    settings_.listen_ro = "unix:" + dir_ + "/ro.sock";
    settings_.limits.idle_timeout = absl::Seconds(1);
  }
  ~AgentServerTest() override {
    if (server_) server_->Shutdown();
  }
  void Start() {
    auto server = AgentServer::Start(settings_, services_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  std::shared_ptr<grpc::Channel> Channel(const std::string& socket) {
    return grpc::CreateChannel("unix:" + dir_ + "/" + socket, grpc::InsecureChannelCredentials());
  }

  testing::TempDir temp_{"agent-server-test"};
  std::string dir_ = temp_.path();
  ServerSettings settings_;
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
  auto second = AgentServer::Start(settings_, services_);
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

// A watch keeps its request for the stream's life: the read-only socket takes only small ones.
TEST_F(AgentServerTest, TheReadOnlySocketRefusesAPaddedRequestUnread) {
  Start();
  auto stub = v1::BalloonReadService::NewStub(Channel("ro.sock"));
  v1::WatchMemoryStatsRequest req;
  req.set_domain(std::string(32 << 10, 'x'));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto reader = stub->WatchMemoryStats(&ctx, req);
  v1::MemoryStats m;
  EXPECT_FALSE(reader->Read(&m));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("larger than max"));
}

// gRPC's health protocol is balloond's own service, counted like every watch: a client cannot hold
// more health streams than the listener's watches allow, and watchers hear when libvirt comes back.
TEST_F(AgentServerTest, HealthWatchesCountAgainstTheWatchLimitAndFollowTheStatus) {
  settings_.limits.max_watches = 2;
  Start();
  auto health = grpc::health::v1::Health::NewStub(Channel("ro.sock"));
  struct Watch {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<grpc::health::v1::HealthCheckResponse>> reader;
  };
  std::vector<std::unique_ptr<Watch>> watches;
  grpc::health::v1::HealthCheckResponse status;
  for (int i = 0; i < 3; ++i) {  // one after the other: the third is the one past the limit
    watches.push_back(std::make_unique<Watch>());
    grpc::health::v1::HealthCheckRequest req;
    req.set_service("balloon.v1.BalloonReadService");
    watches.back()->reader = health->Watch(&watches.back()->ctx, req);
    if (i == 2) break;
    ASSERT_TRUE(watches[i]->reader->Read(&status));
    EXPECT_EQ(status.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  }
  EXPECT_FALSE(watches[2]->reader->Read(&status));
  grpc::Status refused = watches[2]->reader->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("limits.max_watches"));

  server_->SetServing(true);
  ASSERT_TRUE(watches[0]->reader->Read(&status));
  EXPECT_EQ(status.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  // Check answers; the read-only socket has no control service to report on.
  grpc::ClientContext check_ctx;
  grpc::health::v1::HealthCheckRequest check;
  grpc::health::v1::HealthCheckResponse checked;
  ASSERT_TRUE(health->Check(&check_ctx, check, &checked).ok());
  EXPECT_EQ(checked.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  grpc::ClientContext control_ctx;
  check.set_service("balloon.v1.BalloonControlService");
  EXPECT_EQ(health->Check(&control_ctx, check, &checked).error_code(), grpc::StatusCode::NOT_FOUND);
  for (int i = 0; i < 2; ++i) watches[i]->ctx.TryCancel();
}

}  // namespace
}  // namespace balloond
