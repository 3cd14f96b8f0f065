// Probing (policy/probe.cc): idle guests shrunk a step at a time while they do not refault.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "policy/cycle.h"
#include "policy/policy.h"
#include "policy/settings.h"
#include "policy/sizes.h"
#include "tests/policy/policy_run.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

// Probing (DomainPolicy.probe): an idle guest on a comfortable host is shrunk a step at a time
// while it does not refault, and given memory back at once when it does.
namespace probing {

// Probing with no room kept for jumps: the tests of its steps and back-offs (those of the slack
// are below).
v1::Policy Probing() {
  v1::Policy p = Enforce();
  p.mutable_defaults()->set_probe(true);
  p.mutable_defaults()->set_probe_slack_fraction(0);
  return p;
}

// A comfortable 24 GiB host (20 GiB available).
PolicyRun Comfortable(v1::Policy policy = Probing()) {
  return PolicyRun(std::move(policy), Host(24 * kGiB, 20 * kGiB));
}

// Cycles (2 s each) for `seconds`; `faults_per_second(guest)` is what the guest's major faults
// grow by each second at its size then.
std::vector<Decision> RunFor(PolicyRun& run, int seconds,
                             const std::function<int64_t(const FakeGuest&)>& faults_per_second) {
  std::vector<Decision> all;
  for (int t = 0; t < seconds; t += 2) {
    run.guest(0).major_faults += 2 * faults_per_second(run.guest(0));
    auto d = run.Cycle();
    all.insert(all.end(), d.begin(), d.end());
  }
  return all;
}

int Count(const std::vector<Decision>& decisions, v1::DecisionReason reason) {
  return static_cast<int>(std::count_if(decisions.begin(), decisions.end(),
                                        [&](const Decision& d) { return d.reason == reason; }));
}

TEST(ProbingTest, AnIdleGuestIsShrunkAStepPerIntervalDownToItsFloorAndNotGivenItBack) {
  PolicyRun run = Comfortable();
  run.Add(Guest("idle").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  const std::vector<Decision> first = RunFor(run, 4, [](const FakeGuest&) { return 0; });
  ASSERT_EQ(Count(first, v1::DECISION_REASON_PROBE), 1);
  // 2% of 4 GiB is 82 MiB: one step is at most 64 MiB.
  EXPECT_EQ(first[0].target_bytes, 4 * kGiB - 64 * kMiB);
  EXPECT_THAT(first[0].explanation, HasSubstr("probing idle: 0.0 refaults/s at 4 GiB"));
  // Ten minutes: one step each 5 s, never a give-back on this comfortable host.
  const std::vector<Decision> rest = RunFor(run, 600, [](const FakeGuest&) { return 0; });
  EXPECT_EQ(Count(rest, v1::DECISION_REASON_HOST_GIVE_BACK), 0);
  EXPECT_GT(Count(rest, v1::DECISION_REASON_PROBE), 30);
  // At its floor (use + headroom and what the kernel keeps), with that as its working set.
  const int64_t floor = 512 * kMiB + 128 * kMiB + kOverhead;
  EXPECT_NEAR(static_cast<double>(run.guest(0).actual), static_cast<double>(floor),
              static_cast<double>(8 * kMiB));
  EXPECT_TRUE(RunFor(run, 60, [](const FakeGuest&) { return 0; }).empty());
}

TEST(ProbingTest, RefaultsBelowTheWorkingSetBackOffAtOnceAndNameIt) {
  PolicyRun run = Comfortable();
  run.Add(Guest("cache").Max(2 * kGiB).Actual(2 * kGiB).Used(300 * kMiB));
  // Its hot set needs 1.5 GiB: below that, rereading it costs 50 major faults a second.
  const auto hot = [](const FakeGuest& g) { return g.actual < 1536 * kMiB ? 50 : 0; };
  std::vector<Decision> all = RunFor(run, 300, hot);
  ASSERT_GE(Count(all, v1::DECISION_REASON_PROBE_BACKOFF), 1);
  const Decision& backoff = *std::find_if(all.begin(), all.end(), [](const Decision& d) {
    return d.reason == v1::DECISION_REASON_PROBE_BACKOFF;
  });
  EXPECT_GE(backoff.target_bytes, 1536 * kMiB);  // back above the hot set in one decision
  EXPECT_THAT(backoff.explanation, HasSubstr("50.0 refaults/s"));
  EXPECT_THAT(backoff.explanation, HasSubstr("its working set is about"));
  // It settles around its hot set, never far below it, and never deep into refaults.
  all = RunFor(run, 600, hot);
  EXPECT_GE(run.guest(0).actual, 1536 * kMiB - 64 * kMiB);
  EXPECT_LE(run.guest(0).actual, 1536 * kMiB + 4 * 64 * kMiB);
  // Each back-off in a row pauses twice as long: few refault bursts (30 s, 1, 2, 4 minutes...).
  EXPECT_LE(Count(all, v1::DECISION_REASON_PROBE_BACKOFF), 4);
}

TEST(ProbingTest, AWorkingSetFoundIsNotProbedBelowAgainForTenMinutes) {
  PolicyRun run = Comfortable();
  run.Add(Guest("cache").Max(2 * kGiB).Actual(2 * kGiB).Used(300 * kMiB));
  const auto hot = [](const FakeGuest& g) { return g.actual < 1536 * kMiB ? 50 : 0; };
  RunFor(run, 300, hot);  // found: one back-off
  // For the rest of the ten minutes, probing comes back down to the working set and stops there.
  const std::vector<Decision> later = RunFor(run, 270, hot);
  EXPECT_EQ(Count(later, v1::DECISION_REASON_PROBE_BACKOFF), 0);
  EXPECT_GE(run.guest(0).actual, 1536 * kMiB);
  // Then (ten minutes after it was found, about 100 s in) it is looked below once more.
  const std::vector<Decision> recheck = RunFor(run, 180, hot);
  EXPECT_EQ(Count(recheck, v1::DECISION_REASON_PROBE_BACKOFF), 1);
}

TEST(ProbingTest, RefaultsTooManyForAProbeAreReliefThatRemembersTheWorkingSet) {
  PolicyRun run = Comfortable();
  run.Add(Guest("files").Max(2 * kGiB).Actual(2 * kGiB).Used(300 * kMiB));
  // Below 1.5 GiB its hot set misses by thousands of pages a second: pressure, not a probe's
  // refault; relief gives the memory back, and that is where its working set begins.
  const auto hot = [](const FakeGuest& g) { return g.actual < 1536 * kMiB ? 2000 : 0; };
  std::vector<Decision> all = RunFor(run, 300, hot);
  const auto relief = std::find_if(all.begin(), all.end(), [](const Decision& d) {
    return d.reason == v1::DECISION_REASON_GUEST_PRESSURE;
  });
  ASSERT_NE(relief, all.end());
  EXPECT_THAT(relief->explanation, HasSubstr("2000 major faults/s"));
  EXPECT_THAT(relief->explanation, HasSubstr("its working set is about"));
  // Probing does not go below it again soon: no more relief for refaults in the next minutes.
  all = RunFor(run, 240, hot);
  EXPECT_EQ(Count(all, v1::DECISION_REASON_GUEST_PRESSURE), 0);
  EXPECT_GE(run.guest(0).actual, 1536 * kMiB);
}

TEST(ProbingTest, AGuestThatFaultsAtTheSizeItWasGivenIsLeftAlone) {
  PolicyRun run = Comfortable();
  run.Add(Guest("streamer").Max(2 * kGiB).Actual(2 * kGiB).Used(300 * kMiB));
  // Streaming reads fault whatever its size: probing can tell nothing, and neither shrinks it
  // nor grows it.
  EXPECT_TRUE(RunFor(run, 120, [](const FakeGuest&) { return 80; }).empty());
}

TEST(ProbingTest, AGrowingGuestIsNotProbedAndAShortHostLeavesItToReclaim) {
  PolicyRun run = Comfortable();
  run.Add(Guest("growing").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  std::vector<Decision> all;
  for (int i = 0; i < 30; ++i) {
    run.guest(0).used += 48 * kMiB;  // 24 MiB/s: more than a step per interval
    auto d = run.Cycle();
    all.insert(all.end(), d.begin(), d.end());
  }
  EXPECT_EQ(Count(all, v1::DECISION_REASON_PROBE), 0);
  // A short host: reclaim acts, probing waits.
  PolicyRun short_host = Comfortable();
  short_host.host().available_bytes = 1 * kGiB;
  short_host.Add(Guest("idle").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  const std::vector<Decision> reclaimed =
      RunFor(short_host, 20, [](const FakeGuest&) { return 0; });
  EXPECT_GT(Count(reclaimed, v1::DECISION_REASON_HOST_RECLAIM), 0);
  EXPECT_EQ(Count(reclaimed, v1::DECISION_REASON_PROBE), 0);
}

// Slack (DomainPolicy.probe_slack_fraction): room above the guest's use for a jump.
TEST(ProbingSlackTest, ANewGuestKeepsHalfItsMaximumAboveItsUse) {
  v1::Policy policy = Enforce();
  policy.mutable_defaults()->set_probe(true);
  PolicyRun run = Comfortable(policy);
  run.Add(Guest("new").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  const std::vector<Decision> all = RunFor(run, 900, [](const FakeGuest&) { return 0; });
  ASSERT_GT(Count(all, v1::DECISION_REASON_PROBE), 5);
  // Its use, what its kernel keeps, and 2 GiB: within a step above that, never below.
  const int64_t lowest = 512 * kMiB + kOverhead + 2 * kGiB;
  EXPECT_GE(run.guest(0).actual, lowest);
  EXPECT_LE(run.guest(0).actual, lowest + 64 * kMiB);
  EXPECT_THAT(all.back().explanation,
              HasSubstr("keeps 2 GiB above its use for jumps: 50% of its maximum until its jumps "
                        "are known"));
}

TEST(ProbingSlackTest, OnceItsJumpsAreKnownTheLargestIsWhatIsKept) {
  v1::Policy policy = Enforce();
  policy.mutable_defaults()->set_probe(true);
  policy.mutable_defaults()->mutable_probe_slack_learn()->set_seconds(600);
  PolicyRun run = Comfortable(policy);
  run.Add(Guest("jumpy").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  RunFor(run, 20, [](const FakeGuest&) { return 0; });
  // A report job: 400 MiB more within a report, gone by the next.
  run.guest(0).used += 400 * kMiB;
  RunFor(run, 2, [](const FakeGuest&) { return 0; });
  run.guest(0).used -= 400 * kMiB;
  RunFor(run, 500, [](const FakeGuest&) { return 0; });
  const int64_t use = 512 * kMiB + kOverhead;
  EXPECT_GE(run.guest(0).actual, use + 2 * kGiB) << "while new: half its maximum";
  EXPECT_LE(run.guest(0).actual, use + 2 * kGiB + 64 * kMiB);
  // Watched for ten minutes, its jumps are known: the largest and a quarter more.
  const std::vector<Decision> later = RunFor(run, 600, [](const FakeGuest&) { return 0; });
  EXPECT_GE(run.guest(0).actual, use + 500 * kMiB);
  EXPECT_LE(run.guest(0).actual, use + 500 * kMiB + 64 * kMiB);
  ASSERT_FALSE(later.empty());
  EXPECT_THAT(later.back().explanation, HasSubstr("its largest jump in a day 400 MiB"));
}

TEST(ProbingSlackTest, AnAutodeflateBalloonIsASafetyNetThatHalvesTheSlack) {
  v1::Policy policy = Enforce();
  policy.mutable_defaults()->set_probe(true);
  PolicyRun run = Comfortable(policy);
  FakeGuest guest = Guest("netted").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB);
  guest.autodeflate = true;
  run.Add(guest);
  const std::vector<Decision> all = RunFor(run, 900, [](const FakeGuest&) { return 0; });
  const int64_t lowest = 512 * kMiB + kOverhead + 1 * kGiB;
  EXPECT_GE(run.guest(0).actual, lowest);
  EXPECT_LE(run.guest(0).actual, lowest + 64 * kMiB);
  ASSERT_FALSE(all.empty());
  EXPECT_THAT(all.back().explanation, HasSubstr("halved: autodeflate catches a jump"));
}

TEST(ProbingTest, OffByDefaultAndObservedProbesMoveNothing) {
  PolicyRun off = Comfortable(Enforce());
  off.Add(Guest("idle").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  EXPECT_TRUE(RunFor(off, 60, [](const FakeGuest&) { return 0; }).empty());
  v1::Policy observe = Probing();
  observe.set_mode(v1::POLICY_MODE_OBSERVE);
  PolicyRun observed = Comfortable(observe);
  observed.Add(Guest("idle").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  const std::vector<Decision> proposed = RunFor(observed, 60, [](const FakeGuest&) { return 0; });
  // One proposal, not one per interval: the balloon stayed where it was.
  EXPECT_EQ(Count(proposed, v1::DECISION_REASON_PROBE), 1);
  EXPECT_EQ(observed.guest(0).actual, 4 * kGiB);
}

}  // namespace probing

}  // namespace
}  // namespace balloond::policy
