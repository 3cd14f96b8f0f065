// Balloons moved by someone other than balloond: told apart from balloond's own moves, announced
// once, shown as a problem, counted; broken holds re-applied or released.
#include "agent/steering/outside_changes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/durations.h"
#include "policy/sizes.h"
#include "tests/agent/base/fake_clock.h"
#include "tests/agent/base/temp_dir.h"
#include "tests/agent/libvirt/fake_hypervisor.h"
#include "tests/agent/steering/event_recorder.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeHypervisor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class OutsideChangesTest : public ::testing::Test {
 protected:
  OutsideChangesTest() {
    uuid_ = hypervisor_.AddDomain("web1");
    Seen(512 * kMiB);  // first sight: where it starts
    clock_.Advance(OutsideChanges::kSettling);
  }
  // A collection finds the balloon at `bytes`.
  void Seen(int64_t bytes, int id = 1) {
    DomainSnapshot snap;
    snap.info.name = "web1";
    snap.info.uuid = uuid_;
    snap.info.id = id;
    snap.info.max_memory_bytes = 1024 * kMiB;
    snap.actual_bytes = bytes;
    snap.balloon = BalloonStatus::kActive;
    snapshot_ = snap;
    outside_.OnSnapshot(snap);
    clock_.Advance(absl::Seconds(1));
  }
  void Hold(int64_t bytes) {
    v1::Hold hold;
    hold.set_domain("web1");
    hold.set_uuid(uuid_);
    hold.set_target_bytes(bytes);
    hold.set_set_by("uid 0");
    *hold.mutable_until() = ToProtoTimestamp(clock_.Now() + absl::Hours(1));
    ASSERT_TRUE(holds_->Set(hold, clock_.Now()).ok());
  }
  void ActOnBrokenHolds(v1::HoldBreakAction action) {
    outside_.ActOnBrokenHolds(hypervisor_, {{uuid_, snapshot_}}, action,
                              clock_.Now() + absl::Seconds(5));
  }
  std::vector<int64_t> TargetsSent() {
    std::vector<int64_t> sent;
    hypervisor_.WithDomain(uuid_, [&](testing::FakeDomain& d) { sent = d.targets_set; });
    return sent;
  }

  FakeClock clock_;
  FakeHypervisor hypervisor_;
  testing::TempDir temp_{"outside-changes-test"};
  std::unique_ptr<HoldStore> holds_ = *HoldStore::Open(temp_.path());
  EventLog events_{clock_, "test"};
  ::balloond::testing::EventRecorder recorder_{events_};
  OutsideChanges outside_{{events_, *holds_, clock_}};
  std::string uuid_;
  DomainSnapshot snapshot_;
};

TEST_F(OutsideChangesTest, BalloondsOwnMovesAreNotFromOutside) {
  outside_.Expect(uuid_, 300 * kMiB);
  Seen(450 * kMiB);
  Seen(320 * kMiB);
  Seen(300 * kMiB);
  Seen(300 * kMiB + 512 * kKiB);  // page rounding
  EXPECT_THAT(recorder_.Heard(), IsEmpty());
  EXPECT_EQ(outside_.total(), 0u);
  EXPECT_FALSE(outside_.Recent(uuid_).has_value());
}

// `virsh setmem` on a domain balloond had set: one event (however many collections the move
// takes), a problem for `list`, a count.
TEST_F(OutsideChangesTest, AMoveAwayFromBalloondsTargetIsAnnouncedOnce) {
  outside_.Expect(uuid_, 400 * kMiB);
  Seen(400 * kMiB);
  Seen(450 * kMiB);
  Seen(512 * kMiB);
  EXPECT_THAT(recorder_.Heard(), ElementsAre(v1::EVENT_KIND_BALLOON_CHANGED_OUTSIDE));
  EXPECT_EQ(recorder_.last()[0].message(),
            "balloon changed from outside balloond: 400 MiB \u2192 450 MiB (balloond last set "
            "400 MiB); virsh setmem, another agent (MOM) or a second balloond?");
  EXPECT_EQ(recorder_.last()[0].bytes(), 450 * kMiB);
  EXPECT_EQ(outside_.total(), 1u);
  ASSERT_TRUE(outside_.Recent(uuid_).has_value());
  EXPECT_THAT(OutsideChanges::Problem(*outside_.Recent(uuid_)),
              HasSubstr("balloon changed from outside balloond at "));
  clock_.Advance(OutsideChanges::kShown);
  EXPECT_FALSE(outside_.Recent(uuid_).has_value()) << "shown for a while, not forever";
}

// Another agent moving the balloon a megabyte at a time is seen once its steps add up.
TEST_F(OutsideChangesTest, ASlowDriftIsSeenWhenItAddsUpToAMove) {
  outside_.Expect(uuid_, 512 * kMiB);
  for (int i = 1; i <= 8; ++i) Seen(512 * kMiB - i * kMiB);
  EXPECT_THAT(recorder_.Heard(), ElementsAre(v1::EVENT_KIND_BALLOON_CHANGED_OUTSIDE));
  EXPECT_THAT(recorder_.last()[0].message(), HasSubstr("512 MiB \u2192 "));
}

TEST_F(OutsideChangesTest, AnyMoveOfABalloonBalloondNeverSetIsFromOutside) {
  Seen(300 * kMiB);
  EXPECT_THAT(recorder_.Heard(), ElementsAre(v1::EVENT_KIND_BALLOON_CHANGED_OUTSIDE));
  EXPECT_THAT(recorder_.last()[0].message(), HasSubstr("(balloond had not set it)"));
}

TEST_F(OutsideChangesTest, APassPastBalloondsTargetIsFromOutside) {
  outside_.Expect(uuid_, 400 * kMiB);
  Seen(300 * kMiB);  // closer to nothing: past the target
  EXPECT_THAT(recorder_.Heard(), ElementsAre(v1::EVENT_KIND_BALLOON_CHANGED_OUTSIDE));
}

TEST_F(OutsideChangesTest, ABootingDomainAndANewRunSettleFirst) {
  Seen(256 * kMiB, /*id=*/2);  // restarted: a new run, its balloon where it starts
  Seen(200 * kMiB, /*id=*/2);  // its driver inflating to <currentMemory>
  EXPECT_THAT(recorder_.Heard(), IsEmpty());
  clock_.Advance(OutsideChanges::kSettling);
  Seen(400 * kMiB, /*id=*/2);
  EXPECT_THAT(recorder_.Heard(), ElementsAre(v1::EVENT_KIND_BALLOON_CHANGED_OUTSIDE));
}

TEST_F(OutsideChangesTest, ABrokenHoldIsReappliedByDefault) {
  Hold(400 * kMiB);
  outside_.Expect(uuid_, 400 * kMiB);
  Seen(400 * kMiB);
  Seen(512 * kMiB);  // virsh setmem 512M
  EXPECT_THAT(recorder_.Heard(), ElementsAre(v1::EVENT_KIND_BALLOON_CHANGED_OUTSIDE));
  EXPECT_THAT(recorder_.last()[0].message(),
              HasSubstr("it broke the hold at 400 MiB set by uid 0"));
  ActOnBrokenHolds(v1::HOLD_BREAK_ACTION_REAPPLY);
  EXPECT_THAT(TargetsSent(), ElementsAre(400 * kMiB));
  EXPECT_THAT(recorder_.Heard(), ElementsAre(v1::EVENT_KIND_TARGET_SET));
  EXPECT_THAT(recorder_.last()[0].message(),
              HasSubstr("balloon target set to 400 MiB (was 512 MiB) by balloond: the hold set by "
                        "uid 0 was broken from outside and is re-applied"));
  // Its way back is balloond's own move.
  Seen(450 * kMiB);
  Seen(400 * kMiB);
  EXPECT_THAT(recorder_.Heard(), IsEmpty());
  ActOnBrokenHolds(v1::HOLD_BREAK_ACTION_REAPPLY);
  EXPECT_THAT(TargetsSent(), ElementsAre(400 * kMiB)) << "acted on once";
}

TEST_F(OutsideChangesTest, ABrokenHoldIsReleasedWhenThePolicySaysSo) {
  Hold(400 * kMiB);
  outside_.Expect(uuid_, 400 * kMiB);
  Seen(400 * kMiB);
  Seen(300 * kMiB);
  recorder_.Heard();
  ActOnBrokenHolds(v1::HOLD_BREAK_ACTION_RELEASE);
  EXPECT_THAT(TargetsSent(), IsEmpty());
  EXPECT_FALSE(holds_->Find(uuid_, clock_.Now()).has_value());
  EXPECT_THAT(recorder_.Heard(), ElementsAre(v1::EVENT_KIND_HOLD_RELEASED));
  EXPECT_THAT(
      recorder_.last()[0].message(),
      HasSubstr("hold at 400 MiB set by uid 0 released: broken from outside (300 MiB now)"));
}

// MOM or a second agent undoing the hold again and again: balloond gives up the hold rather than
// fight.
TEST_F(OutsideChangesTest, AHoldBrokenThreeTimesInTenMinutesIsReleased) {
  Hold(400 * kMiB);
  outside_.Expect(uuid_, 400 * kMiB);
  Seen(400 * kMiB);
  for (int i = 0; i < 3; ++i) {
    if (i > 0) Seen(400 * kMiB);  // back where the hold is
    clock_.Advance(absl::Seconds(30));
    Seen(600 * kMiB);
    ActOnBrokenHolds(v1::HOLD_BREAK_ACTION_REAPPLY);
  }
  EXPECT_THAT(TargetsSent(), ElementsAre(400 * kMiB, 400 * kMiB));
  EXPECT_FALSE(holds_->Find(uuid_, clock_.Now()).has_value());
  const std::vector<v1::EventKind> heard = recorder_.Heard();
  EXPECT_EQ(heard.back(), v1::EVENT_KIND_HOLD_RELEASED);
  EXPECT_THAT(recorder_.last().back().message(),
              HasSubstr("3 times in ten minutes: something keeps moving this balloon"));
}

TEST_F(OutsideChangesTest, AHoldReplacedSinceIsLeftAlone) {
  Hold(400 * kMiB);
  outside_.Expect(uuid_, 400 * kMiB);
  Seen(400 * kMiB);
  Seen(512 * kMiB);
  Hold(512 * kMiB);  // the operator agreed: `balloonctl set web1 512M`
  ActOnBrokenHolds(v1::HOLD_BREAK_ACTION_REAPPLY);
  EXPECT_THAT(TargetsSent(), IsEmpty());
}

}  // namespace
}  // namespace balloond
