// What every call's handler stands on: its deadline, finishing whatever the work does.
#include "agent/api/service_context.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "balloon/v1/balloon.grpc.pb.h"
#include "tests/agent/base/eventually.h"
#include "tests/agent/base/fake_clock.h"

namespace balloond {
namespace {

using ::balloond::testing::Eventually;
namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::testing::HasSubstr;

// Calls admitted by a listener whose clients may leave 40 KiB of answers unread:
// ListDomains answers with the deadline balloond gives the call (seconds from now, as a name),
// padded to the size the request's page_size asks for; GetHostStats runs work that throws, on a
// pool.
class Probe final : public v1::BalloonReadService::CallbackService {
 public:
  explicit Probe(Clock& clock)
      : clock_(clock),
        listener_("probe", Settings(), clock,
                  [](const grpc::CallbackServerContext&) { return std::string("uid 1000"); }) {}
  grpc::ServerUnaryReactor* ListDomains(grpc::CallbackServerContext* ctx,
                                        const v1::ListDomainsRequest* req,
                                        v1::ListDomainsResponse* resp) override {
    UnaryCall* call = listener_.Begin(*ctx, resp);
    if (!call->admitted()) return call;
    const absl::Time deadline = RequestDeadline(clock_, *ctx, absl::Seconds(5), absl::Seconds(60));
    resp->add_domains()->set_name(
        absl::StrCat(absl::ToInt64Seconds(deadline - clock_.Now() + absl::Milliseconds(500))));
    resp->set_next_page_token(std::string(static_cast<size_t>(req->page_size()), 'x'));
    return call->Complete(absl::OkStatus());
  }
  grpc::ServerUnaryReactor* GetHostStats(grpc::CallbackServerContext* ctx,
                                         const v1::GetHostStatsRequest*,
                                         v1::HostStats* resp) override {
    return FinishOnPool(listener_.lookups(), listener_.Begin(*ctx, resp),
                        []() -> absl::Status { throw std::runtime_error("boom"); });
  }
  ListenerContext& listener() { return listener_; }

 private:
  static ListenerContext::Settings Settings() {
    ListenerContext::Settings s;
    // Room for two small answers (a call's 16 KiB and a few bytes each): gRPC may be done with
    // one call a moment after its client has the answer and sends the next.
    s.calls.max_unread_bytes_per_client = 40 << 10;
    return s;
  }
  Clock& clock_;
  ListenerContext listener_;
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
    probe_.listener().StopWorkers();
  }
  int64_t DeadlineSeconds(std::optional<absl::Duration> client) {
    // gRPC may hold the last answer (and its unread bytes) a moment after the client has it: wait
    // for it to let go, so that this call is judged by its deadline alone.
    EXPECT_TRUE(Eventually([&] { return probe_.listener().limits().calls_in_flight() == 0; }));
    grpc::ClientContext ctx;
    if (client) ctx.set_deadline(absl::ToChronoTime(absl::Now() + *client));
    v1::ListDomainsResponse resp;
    grpc::Status status = stub_->ListDomains(&ctx, {}, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    int64_t seconds = -1;
    if (resp.domains_size() == 1) {
      EXPECT_TRUE(absl::SimpleAtoi(resp.domains(0).name(), &seconds));
    }
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

// An answer counts against its client's unread bytes while gRPC holds it; one that would pass them
// is not sent, and the call says why.
TEST_F(ServiceContextTest, AnAnswerPastTheClientsUnreadBytesIsRefusedWithItsSetting) {
  v1::ListDomainsRequest small, big;
  small.set_page_size(100);
  big.set_page_size(8000);  // 4 x 8000 bytes and a call's 16 KiB: past 40 KiB alone
  grpc::ClientContext ok_ctx, big_ctx;
  v1::ListDomainsResponse resp;
  EXPECT_TRUE(stub_->ListDomains(&ok_ctx, small, &resp).ok());
  EXPECT_EQ(resp.next_page_token().size(), 100u);
  grpc::Status s = stub_->ListDomains(&big_ctx, big, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("bytes of answers it has not read yet; this one"));
  EXPECT_THAT(s.error_message(), HasSubstr("limits.max_unread_bytes_per_client"));
  // Once gRPC is done with a call, its place and its answer's bytes are given back.
  EXPECT_TRUE(Eventually([&] { return probe_.listener().limits().calls_in_flight() == 0; }));
  EXPECT_EQ(probe_.listener().limits().unread_bytes(), 0);
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
