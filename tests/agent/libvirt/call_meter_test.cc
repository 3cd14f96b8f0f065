#include "agent/libvirt/call_meter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/agent/base/fake_clock.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeClock;

struct Observed {
  std::string call;
  absl::Duration took;
  absl::StatusCode code;
};

class RecordingMeter : public CallMeter {
 public:
  void ObserveCall(absl::string_view call, absl::Duration took,
                   const absl::Status& status) override {
    seen.push_back({std::string(call), took, status.code()});
  }
  std::vector<Observed> seen;
};

TEST(CallMeterTest, MeteredTellsTheCallsNameDurationAndOutcomeAndReturnsItsResult) {
  FakeClock clock;
  RecordingMeter meter;
  absl::StatusOr<int> answer = Metered(meter, clock, "lookup_domain", [&]() -> absl::StatusOr<int> {
    clock.Advance(absl::Milliseconds(7));
    return 42;
  });
  absl::Status failed = Metered(meter, clock, "set_balloon_target", [&] {
    clock.Advance(absl::Seconds(2));
    return absl::DeadlineExceededError("QEMU did not answer in time");
  });

  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(*answer, 42);
  EXPECT_EQ(failed.code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_EQ(meter.seen.size(), 2u);
  EXPECT_EQ(meter.seen[0].call, "lookup_domain");
  EXPECT_EQ(meter.seen[0].took, absl::Milliseconds(7));
  EXPECT_EQ(meter.seen[0].code, absl::StatusCode::kOk);
  EXPECT_EQ(meter.seen[1].call, "set_balloon_target");
  EXPECT_EQ(meter.seen[1].took, absl::Seconds(2));
  EXPECT_EQ(meter.seen[1].code, absl::StatusCode::kDeadlineExceeded);
}

TEST(CallMeterTest, NoCallMeterKeepsNothingAndLetsTheCallThrough) {
  FakeClock clock;
  EXPECT_EQ(Metered(NoCallMeter(), clock, "job_active", [] { return absl::StatusOr<bool>(true); })
                .value(),
            true);
}

}  // namespace
}  // namespace balloond
