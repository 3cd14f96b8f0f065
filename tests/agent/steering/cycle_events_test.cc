// What a policy cycle turns into events: beginnings and ends (pressure, a short host), what
// happened once (autodeflate, a hold's expiry), and the balloons enforce mode moved.
#include "agent/steering/cycle_events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "policy/durations.h"
#include "tests/agent/base/fake_clock.h"
#include "tests/agent/steering/event_recorder.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kGiB = 1LL << 30;

class CycleEventsTest : public ::testing::Test {
 protected:
  std::vector<v1::EventKind> Heard() { return recorder_.Heard(); }
  const std::vector<v1::Event>& last() const { return recorder_.last(); }
  // A host with a reserve of 2 GiB, its memory PSI threshold at 20%.
  static policy::HostCapacity Host(int64_t available, std::vector<policy::DomainCapacity> d = {},
                                   int64_t reserved = 0, int64_t unbacked = 0,
                                   std::optional<double> psi = std::nullopt) {
    policy::HostCapacity c;
    c.available_bytes = c.standing.available_bytes = available;
    c.reserve_bytes = c.standing.reserve_bytes = 2 * kGiB;
    c.standing.comfortable_available_bytes = 10 * kGiB;
    c.reserved_bytes = c.standing.reserved_bytes = reserved;
    c.unbacked_bytes = c.standing.unbacked_bytes = unbacked;
    c.standing.pressure_some_avg10 = psi;
    c.standing.pressure_threshold = 20;
    c.domains = std::move(d);
    return c;
  }
  static policy::DomainCapacity Guest(const std::string& name, bool pressure) {
    policy::DomainCapacity d;
    d.name = name;
    d.uuid = "u-" + name;
    d.pressure = pressure;
    d.pressure_why = pressure ? "12 MiB available" : "";
    return d;
  }

  FakeClock clock_;
  EventLog log_{clock_, "e"};
  CycleEvents cycle_{log_};
  ::balloond::testing::EventRecorder recorder_{log_};
};

TEST_F(CycleEventsTest, PressureIsToldWhenItBeginsAndWhenItEndsNotEveryCycle) {
  cycle_.Observe(Host(8 * kGiB, {Guest("web1", true), Guest("db1", false)}), {}, clock_.Now());
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_GUEST_PRESSURE_BEGAN));
  EXPECT_EQ(last()[0].domain(), "web1");
  EXPECT_EQ(last()[0].message(), "12 MiB available");
  cycle_.Observe(Host(8 * kGiB, {Guest("web1", true), Guest("db1", false)}), {}, clock_.Now());
  EXPECT_THAT(Heard(), IsEmpty());
  cycle_.Observe(Host(8 * kGiB, {Guest("web1", false), Guest("db1", false)}), {}, clock_.Now());
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_GUEST_PRESSURE_ENDED));
  // A pressed guest that stops is not said to be relieved.
  cycle_.Observe(Host(8 * kGiB, {Guest("db1", true)}), {}, clock_.Now());
  Heard();
  cycle_.Observe(Host(8 * kGiB, {}), {}, clock_.Now());
  EXPECT_THAT(Heard(), IsEmpty());
}

TEST_F(CycleEventsTest, TheHostRunningShortOfItsReserveBeginsAndEnds) {
  cycle_.Observe(Host(1 * kGiB), {}, clock_.Now());
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_HOST_SHORT_BEGAN));
  EXPECT_THAT(last()[0].message(), HasSubstr("the host had 1 GiB available (reserve 2 GiB)"));
  cycle_.Observe(Host(1 * kGiB), {}, clock_.Now());
  EXPECT_THAT(Heard(), IsEmpty());
  cycle_.Observe(Host(3 * kGiB), {}, clock_.Now());
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_HOST_SHORT_ENDED));
}

// The events say "short" whenever the policy reclaims for the host (the 12-06 review: with PSI high
// or reservations held the policy reclaimed while HOST_SHORT_BEGAN never fired).
TEST_F(CycleEventsTest, TheHostIsShortByThePolicysRuleFromPressureOrReservationsToo) {
  cycle_.Observe(Host(8 * kGiB, {}, 0, 0, /*psi=*/35.0), {}, clock_.Now());
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_HOST_SHORT_BEGAN));
  EXPECT_THAT(last()[0].message(), HasSubstr("memory pressure 35.0%"));
  cycle_.Observe(Host(8 * kGiB), {}, clock_.Now());
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_HOST_SHORT_ENDED));
  // 5 GiB available, 3 GiB of it reserved, 1 GiB promised to guests: 1 GiB free, under 2.
  cycle_.Observe(Host(5 * kGiB, {}, 3 * kGiB, 1 * kGiB), {}, clock_.Now());
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_HOST_SHORT_BEGAN));
  EXPECT_THAT(last()[0].message(), HasSubstr("3 GiB of it reserved for VMs to come"));
  EXPECT_THAT(last()[0].message(), HasSubstr("1 GiB of it free for the guests"));
}

TEST_F(CycleEventsTest, WhatAnAutodeflateBalloonGaveIsToldWithItsSize) {
  policy::DomainCapacity web1 = Guest("web1", true);
  web1.deflated_by_itself = 3 << 20;
  cycle_.Observe(Host(8 * kGiB, {web1}), {}, clock_.Now());
  EXPECT_THAT(Heard(),
              ElementsAre(v1::EVENT_KIND_AUTODEFLATE, v1::EVENT_KIND_GUEST_PRESSURE_BEGAN));
  EXPECT_EQ(last()[0].bytes(), 3 << 20);
}

TEST_F(CycleEventsTest, AHoldThatRanOutExpiresOneThatWasReleasedIsLeftToTheRelease) {
  v1::Hold expiring;
  expiring.set_domain("web1");
  expiring.set_uuid("u-web1");
  expiring.set_target_bytes(kGiB);
  *expiring.mutable_until() = ToProtoTimestamp(clock_.Now() + absl::Seconds(30));
  v1::Hold released = expiring;
  released.set_domain("db1");
  released.set_uuid("u-db1");
  *released.mutable_until() = ToProtoTimestamp(clock_.Now() + absl::Hours(1));
  cycle_.Observe(Host(8 * kGiB), {{"u-web1", expiring}, {"u-db1", released}}, clock_.Now());
  EXPECT_THAT(Heard(), IsEmpty());
  clock_.Advance(absl::Minutes(1));
  cycle_.Observe(Host(8 * kGiB), {}, clock_.Now());
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_HOLD_EXPIRED));
  EXPECT_EQ(last()[0].domain(), "web1");
  EXPECT_EQ(last()[0].bytes(), kGiB);
}

TEST_F(CycleEventsTest, EnforcedDecisionsAreToldByWhatTheyDidObservedOnesAreNot) {
  v1::Decision d;
  d.set_domain("web1");
  d.set_uuid("u-web1");
  d.set_sequence(41);
  d.set_mode(v1::POLICY_MODE_ENFORCE);
  d.set_target_bytes(kGiB);
  d.set_applied(true);
  d.set_explanation("web1 grown");
  for (auto reason : {v1::DECISION_REASON_GUEST_PRESSURE, v1::DECISION_REASON_HOST_RECLAIM,
                      v1::DECISION_REASON_HOST_GIVE_BACK, v1::DECISION_REASON_UNCOOPERATIVE}) {
    d.set_reason(reason);
    cycle_.OnDecision(d);
  }
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_RELIEF, v1::EVENT_KIND_RECLAIM,
                                   v1::EVENT_KIND_GIVE_BACK, v1::EVENT_KIND_BALLOON_NOT_FOLLOWING));
  EXPECT_EQ(last()[0].decision_sequence(), 41u);
  EXPECT_EQ(last()[0].bytes(), kGiB);
  d.set_applied(false);
  d.set_error("QEMU did not answer");
  cycle_.OnDecision(d);
  Heard();
  EXPECT_THAT(last()[0].message(), HasSubstr("did not take the target: QEMU did not answer"));
  d.set_mode(v1::POLICY_MODE_OBSERVE);
  cycle_.OnDecision(d);
  EXPECT_THAT(Heard(), IsEmpty());
}

}  // namespace
}  // namespace balloond
