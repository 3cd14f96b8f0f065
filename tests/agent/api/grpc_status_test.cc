// The service edge's statuses: code and message kept, the reason sent as google.rpc.ErrorInfo.
#include "agent/api/grpc_status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/base/error_reason.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace balloond {
namespace {

TEST(GrpcStatusTest, StatusesKeepTheirCodeAndMessage) {
  grpc::Status s = ToGrpcStatus(absl::NotFoundError("no domain named 'x'"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "no domain named 'x'");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

// What a client's error-details decoder finds: google.rpc.Status with one ErrorInfo.
google::rpc::ErrorInfo InfoOf(const grpc::Status& s) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(s.error_details()));
  EXPECT_EQ(details.code(), static_cast<int>(s.error_code()));
  EXPECT_EQ(details.message(), s.error_message());
  google::rpc::ErrorInfo info;
  EXPECT_EQ(details.details_size(), 1);
  if (details.details_size() == 1) {
    EXPECT_TRUE(details.details(0).UnpackTo(&info));
  }
  return info;
}

TEST(GrpcStatusTest, ErrorsCarryTheirReasonAsErrorInfo) {
  const google::rpc::ErrorInfo info = InfoOf(ToGrpcStatus(WithReason(
      absl::NotFoundError("no domain named 'x'"), "DOMAIN_NOT_FOUND", {{"domain", "x"}})));
  EXPECT_EQ(info.reason(), "DOMAIN_NOT_FOUND");
  EXPECT_EQ(info.domain(), "balloond");
  EXPECT_EQ(info.metadata().at("domain"), "x");
  // An error made without a reason is named by its code.
  EXPECT_EQ(InfoOf(ToGrpcStatus(absl::InvalidArgumentError("bad"))).reason(), "INVALID_ARGUMENT");
}

}  // namespace
}  // namespace balloond
