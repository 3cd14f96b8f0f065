// What every call's handler stands on: its deadline, finishing whatever the work does.
#include "agent/api/service_context.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "balloon/v1/balloon.grpc.pb.h"
#include "tests/agent/base/fake_clock.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::testing::HasSubstr;

// ListDomains answers with the deadline balloond gives the call (seconds from now, as a name);
// GetHostStats runs work that throws, on a pool.
class Probe final : public v1::BalloonReadService::CallbackService {
 public:
  explicit Probe(Clock& clock) : clock_(clock), pool_("probe", 1) {}
  grpc::ServerUnaryReactor* ListDomains(grpc::CallbackServerContext* ctx,
                                        const v1::ListDomainsRequest*,
                                        v1::ListDomainsResponse* resp) override {
    const absl::Time deadline = RequestDeadline(clock_, *ctx, absl::Seconds(5), absl::Seconds(60));
    resp->add_domains()->set_name(
        absl::StrCat(absl::ToInt64Seconds(deadline - clock_.Now() + absl::Milliseconds(500))));
    return Finished(ctx, absl::OkStatus());
  }
  grpc::ServerUnaryReactor* GetHostStats(grpc::CallbackServerContext* ctx,
                                         const v1::GetHostStatsRequest*, v1::HostStats*) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    FinishOnPool(pool_, reactor, []() -> absl::Status { throw std::runtime_error("boom"); });
    return reactor;
  }
  WorkerPool& pool() { return pool_; }

 private:
  Clock& clock_;
  WorkerPool pool_;
};

class ServiceContextTest : public ::testing::Test {
 protected:
  ServiceContextTest() : probe_(RealClock()) {
    grpc::ServerBuilder builder;
    builder.RegisterService(&probe_);
    server_ = builder.BuildAndStart();
    stub_ = v1::BalloonReadService::NewStub(server_->InProcessChannel({}));
  }
  ~ServiceContextTest() override {
    server_->Shutdown();
    probe_.pool().Stop();
  }
  int64_t DeadlineSeconds(std::optional<absl::Duration> client) {
    grpc::ClientContext ctx;
    if (client) ctx.set_deadline(absl::ToChronoTime(absl::Now() + *client));
    v1::ListDomainsResponse resp;
    EXPECT_TRUE(stub_->ListDomains(&ctx, {}, &resp).ok());
    int64_t seconds = -1;
    EXPECT_TRUE(absl::SimpleAtoi(resp.domains(0).name(), &seconds));
    return seconds;
  }

  Probe probe_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::BalloonReadService::Stub> stub_;
};

TEST_F(ServiceContextTest, TheClientsDeadlineOrTheFallbackNeverPastTheCap) {
  EXPECT_EQ(DeadlineSeconds(absl::Seconds(3)), 3);
  EXPECT_EQ(DeadlineSeconds(std::nullopt), 5) << "no deadline: the fallback";
  EXPECT_EQ(DeadlineSeconds(absl::Hours(1)), 60) << "capped";
}

TEST_F(ServiceContextTest, WorkThatThrowsFinishesTheCallWithInternal) {
  grpc::ClientContext ctx;
  v1::HostStats resp;
  grpc::Status s = stub_->GetHostStats(&ctx, {}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(s.error_message(), HasSubstr("boom"));
}

TEST(ListenerContextTest, StoppedWorkersRefuseWorkWithUnavailable) {
  FakeClock clock;
  ListenerContext listener("test", {}, clock,
                           [](const grpc::CallbackServerContext&) { return std::string("me"); });
  listener.StopWorkers();
  EXPECT_EQ(listener.lookups().TrySubmit([] {}).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(listener.changes().TrySubmit([] {}).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace balloond
