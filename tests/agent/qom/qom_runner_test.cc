// A client's QOM query through the runner, against the fake hypervisor (QMP recorded from
// QEMU 7.2).
#include "agent/qom/qom_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/synchronization/notification.h"
#include "tests/agent/libvirt/fake_hypervisor.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeDomain;
using ::balloond::testing::FakeHypervisor;
using ::testing::HasSubstr;

class QomRunnerTest : public ::testing::Test {
 protected:
  // A query that lists `path` and counts its properties.
  QomRunner::Query ListInto(int* properties) {
    return [properties](DomainMonitor& m) {
      auto listed = m.QomList("/machine/peripheral");
      if (!listed.ok()) return listed.status();
      *properties = static_cast<int>(listed->size());
      return absl::OkStatus();
    };
  }
  absl::Time Soon() { return clock_.Now() + absl::Seconds(5); }

  FakeClock clock_;
  FakeHypervisor hypervisor_;
  QomTraffic traffic_{clock_};
  QomPathGuard guard_;
  BalloonPathCache balloon_paths_;
  QomRunner runner_{hypervisor_, traffic_, guard_, balloon_paths_};
};

TEST_F(QomRunnerTest, AQueryRunsAndTeachesTheBalloonsPathOfItsQemu) {
  const std::string uuid = hypervisor_.AddDomain("web1", /*id=*/7);
  int properties = 0;
  ASSERT_TRUE(runner_.Run({uuid, 7, "/machine/peripheral"}, Soon(), ListInto(&properties)).ok());
  EXPECT_GT(properties, 0);
  EXPECT_EQ(balloon_paths_.Get(ProcessKey(uuid, 7)), "/machine/peripheral/balloon0");
  EXPECT_FALSE(balloon_paths_.Get(ProcessKey(uuid, 8)))
      << "another QEMU of the domain is not known";
}

TEST_F(QomRunnerTest, APathThroughALinkIsRefusedBeforeTheQueryRuns) {
  const std::string uuid = hypervisor_.AddDomain("rng");
  hypervisor_.WithDomain(uuid, [](FakeDomain& d) { d.qom_tree = "qemu-7.2/rng-layout"; });
  bool ran = false;
  absl::Status s =
      runner_.Run({uuid, 1, "/machine/peripheral/rng0/rng"}, Soon(), [&ran](DomainMonitor&) {
        ran = true;
        return absl::OkStatus();
      });
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_THAT(s.message(), HasSubstr("link<rng-backend>"));
  EXPECT_FALSE(ran);
  EXPECT_FALSE(balloon_paths_.Get(ProcessKey(uuid, 1))) << "a refused query teaches nothing";
}

TEST_F(QomRunnerTest, WhileTheCollectorHoldsTheMonitorsAQueryWaitsNoLongerThanItsDeadline) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  traffic_.Pause(absl::Seconds(1));
  bool ran = false;
  absl::Status s = runner_.Run({uuid, 1, "/machine"}, clock_.Now(), [&ran](DomainMonitor&) {
    ran = true;
    return absl::OkStatus();
  });
  traffic_.Resume();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("waited in line"));
  EXPECT_FALSE(ran);
}

TEST_F(QomRunnerTest, SubmitGoesThroughTheGateAndTellsTheOutcome) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  QomGateSettings settings;
  settings.queries_per_second = 1;
  settings.burst = 1;
  QomGate gate(settings, clock_);
  absl::Notification done;
  absl::Status outcome = absl::UnknownError("not told");
  int properties = 0;
  ASSERT_TRUE(runner_
                  .Submit(gate, "uid 1000", {uuid, 1, "/machine/peripheral"}, Soon(),
                          ListInto(&properties),
                          [&](absl::Status s) {
                            outcome = s;
                            done.Notify();
                          })
                  .ok());
  done.WaitForNotification();
  EXPECT_TRUE(outcome.ok()) << outcome;
  EXPECT_GT(properties, 0);

  bool told = false;
  absl::Status refused = runner_.Submit(gate, "uid 1000", {uuid, 1, "/machine/peripheral"}, Soon(),
                                        ListInto(&properties), [&](absl::Status) { told = true; });
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << "past the client's rate";
  gate.Stop();
  EXPECT_FALSE(told) << "a refused query is never run";
}

}  // namespace
}  // namespace balloond
