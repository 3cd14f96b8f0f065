#include "agent/api/health_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/agent/api/service_fixture.h"

namespace balloond {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr char kRead[] = "balloon.v1.BalloonReadService";

class HealthServiceTest : public testing::ServiceFixture {
 protected:
  HealthServiceTest() {
    Serve({&health_});
    stub_ = grpc::health::v1::Health::NewStub(Channel());
  }
  ~HealthServiceTest() override { Shutdown(); }

  grpc::Status Check(const std::string& service, HealthCheckResponse* out) {
    HealthCheckRequest req;
    req.set_service(service);
    return stub_->Check(Context().get(), req, out);
  }

  HealthService health_{listener_, {kRead}};
  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
};

TEST_F(HealthServiceTest, TheServerAndItsServicesAreNotServingUntilToldAndAnOtherIsNotFound) {
  HealthCheckResponse status;
  ASSERT_TRUE(Check("", &status).ok());
  EXPECT_EQ(status.status(), HealthCheckResponse::NOT_SERVING);
  ASSERT_TRUE(Check(kRead, &status).ok());
  EXPECT_EQ(status.status(), HealthCheckResponse::NOT_SERVING);

  health_.SetServing(true);
  ASSERT_TRUE(Check("", &status).ok());
  EXPECT_EQ(status.status(), HealthCheckResponse::SERVING);
  ASSERT_TRUE(Check(kRead, &status).ok());
  EXPECT_EQ(status.status(), HealthCheckResponse::SERVING);

  grpc::Status unknown = Check("balloon.v1.BalloonControlService", &status);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown.error_message(), ::testing::HasSubstr("serves no service of that name"));
}

// A watcher hears the current status at once and each change after it, once; a watch of a service
// the listener does not serve says SERVICE_UNKNOWN and stays open, as the protocol asks; closing
// the watches ends every one with the status given.
TEST_F(HealthServiceTest, WatchersHearEachChangeOnceAndTheirEnd) {
  grpc::ClientContext ctx, unknown_ctx;
  HealthCheckRequest req;
  req.set_service(kRead);
  auto watch = stub_->Watch(&ctx, req);
  req.set_service("no.such.Service");
  auto unknown = stub_->Watch(&unknown_ctx, req);

  HealthCheckResponse status;
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), HealthCheckResponse::NOT_SERVING);
  ASSERT_TRUE(unknown->Read(&status));
  EXPECT_EQ(status.status(), HealthCheckResponse::SERVICE_UNKNOWN);

  // One change at a time: a watch sends only the newest of the changes waiting behind a write.
  health_.SetServing(true);
  health_.SetServing(true);  // no change: nothing sent
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), HealthCheckResponse::SERVING);
  health_.SetServing(false);
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), HealthCheckResponse::NOT_SERVING);

  health_.CloseWatches(grpc::Status(grpc::StatusCode::UNAVAILABLE, "balloond stops"));
  EXPECT_FALSE(watch->Read(&status));
  grpc::Status ended = watch->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ended.error_message(), "balloond stops");
  EXPECT_FALSE(unknown->Read(&status));
  EXPECT_EQ(unknown->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace balloond
