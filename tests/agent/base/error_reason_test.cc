// Reasons travel with a status from where the error is made to the API's edge.
#include "agent/base/error_reason.h"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>

#include "absl/status/statusor.h"

namespace balloond {
namespace {

TEST(ErrorReasonTest, AReasonAndItsMetadataTravelWithTheStatus) {
  absl::Status s = WithReason(absl::NotFoundError("no reservation \"r-9\""),
                              "RESERVATION_NOT_FOUND", {{"id", "r-9"}, {"note", "a b=c"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "no reservation \"r-9\"");
  auto [reason, metadata] = ReasonOf(s);
  EXPECT_EQ(reason, "RESERVATION_NOT_FOUND");
  EXPECT_EQ(metadata, (std::map<std::string, std::string>{{"id", "r-9"}, {"note", "a b=c"}}));
  // Passed on unchanged (a StatusOr's status, a copy), the reason stays.
  absl::StatusOr<int> failed = s;
  EXPECT_EQ(ReasonOf(failed.status()).first, "RESERVATION_NOT_FOUND");
}

TEST(ErrorReasonTest, AStatusWithoutOneHasNoneAndOkStaysOk) {
  EXPECT_EQ(ReasonOf(absl::InternalError("x")).first, "");
  EXPECT_TRUE(ReasonOf(absl::InternalError("x")).second.empty());
  EXPECT_TRUE(WithReason(absl::OkStatus(), "NEVER").ok());
}

TEST(ErrorReasonTest, WorkThatThrowsIsAnInternalErrorAndWorkThatReturnsKeepsItsStatus) {
  EXPECT_EQ(StatusOfWork([] { return absl::NotFoundError("gone"); }).code(),
            absl::StatusCode::kNotFound);
  absl::Status thrown =
      StatusOfWork([]() -> absl::Status { throw std::runtime_error("bad utf-8"); });
  EXPECT_EQ(thrown.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(thrown.message(), "balloond failed: bad utf-8");
  EXPECT_EQ(StatusOfWork([]() -> absl::Status { throw 7; }).code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace balloond
