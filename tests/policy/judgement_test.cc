// One judgement per cycle: the capacity figures and the decisions read the same assessments and
// the same host condition.
#include "policy/judgement.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "policy/capacity.h"
#include "policy/policy.h"
#include "policy/sizes.h"
#include "tests/policy/test_guest.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;

// Two idle 4 GiB guests on a 24 GiB host with 5 GiB available and a 2 GiB reserve.
Judgement IdleGuests(const State& state = State()) {
  v1::Policy policy = Enforce();
  policy.mutable_host()->set_reserve_bytes(2 * kGiB);
  policy.mutable_host()->set_reserve_fraction(0.01);
  std::vector<DomainInput> guests;
  for (const char* name : {"a", "b"}) {
    FakeGuest g = Guest(name).Max(4 * kGiB).Actual(4 * kGiB).Used(kGiB);
    g.reported_at = kStart;
    guests.push_back(g.Input());
  }
  return Judge(policy, Host(24 * kGiB, 5 * kGiB), guests, state, kStart);
}

// Reservations of 4 GiB leave 1 GiB free, under the reserve: the capacity calls the host short,
// the cycle reclaims for it, and it takes what the capacity called reclaimable, no more.
TEST(JudgementTest, CapacityAndDecisionsReadOneJudgementAndAgreeOnTheHost) {
  Judgement j = IdleGuests();
  const HostCapacity capacity = CapacityOf(j, 4 * kGiB);
  EXPECT_EQ(capacity.standing.Condition(), HostCondition::kShort);
  const Outcome outcome = Decide(std::move(j), 4 * kGiB);
  EXPECT_EQ(outcome.host, HostCondition::kShort);
  int64_t taken = 0;
  for (const Decision& d : outcome.decisions) {
    EXPECT_EQ(d.reason, v1::DECISION_REASON_HOST_RECLAIM);
    taken += d.previous_bytes - d.target_bytes;
  }
  EXPECT_GT(taken, 0);
  EXPECT_LE(taken, capacity.reclaimable_bytes);
}

TEST(JudgementTest, ReservationsMadeBetweenCyclesChangeTheCapacityAsThoughJudgedWithThem) {
  const Judgement j = IdleGuests();
  const HostCapacity later = WithReserved(CapacityOf(j, 0), 3 * kGiB);
  const HostCapacity judged = CapacityOf(j, 3 * kGiB);
  EXPECT_EQ(later.reserved_bytes, 3 * kGiB);
  EXPECT_EQ(later.placeable_bytes, judged.placeable_bytes);
  EXPECT_EQ(later.standing.Condition(), judged.standing.Condition());
  EXPECT_EQ(later.standing.FreeBytes(), judged.standing.FreeBytes());
}

// Judging advances each guest's history once: the decisions' state is the next cycle's history.
TEST(JudgementTest, EachGuestIsAssessedOnceFromItsHistory) {
  Judgement first = IdleGuests();
  ASSERT_EQ(first.assessed.size(), 2u);
  EXPECT_FALSE(first.assessed[0].history.rates.last_report.has_value() &&
               first.assessed[0].history.rates.known)
      << "one report seen: no rates yet";
  const Outcome outcome = Decide(std::move(first), 0);
  const Judgement second = IdleGuests(outcome.state);
  EXPECT_TRUE(second.assessed[0].history.rates.last_report.has_value());
  EXPECT_EQ(second.assessed[0].input, &second.domains[0]) << "assessments point at their inputs";
}

}  // namespace
}  // namespace balloond::policy
