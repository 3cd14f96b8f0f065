// The KSM controller: when ksmd runs, at what pace, and that KSM goes back as balloond found it.
#include "policy/ksm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// A 24 GiB host (reserve 2.4 GiB) with `available` available.
HostStanding Standing(int64_t available) {
  HostInput host;
  host.total_bytes = 24 * kGiB;
  host.available_bytes = available;
  return StandingOf(WithDefaults({}).host(), host, 0, 0);
}

v1::HostPolicy Mode(v1::KsmMode mode) {
  v1::HostPolicy h = WithDefaults({}).host();
  h.mutable_ksm()->set_mode(mode);
  return h;
}

// A kernel's KSM, advanced by full scans that merge what the test says.
struct Kernel {
  KsmReading reading;
  Kernel() { reading.knobs = {0, 100, 20}; }  // the kernel's defaults
  void Apply(const KsmOutcome& o) {
    if (o.write) reading.knobs = *o.write;
  }
  // One full scan of `scanned` pages that merged `merged` more.
  void FullScan(int64_t scanned, int64_t merged) {
    ++reading.full_scans;
    reading.pages_scanned = reading.pages_scanned.value_or(0) + scanned;
    reading.pages_sharing += merged;
    reading.pages_shared += merged / 2;
  }
};

// One controller over a kernel, a cycle at a time.
struct Controller {
  v1::HostPolicy policy = WithDefaults({}).host();
  bool manages = true;
  Kernel kernel;
  KsmHistory history;
  absl::Time now = kStart;
  KsmOutcome last;

  KsmOutcome Cycle(int64_t available, absl::Duration after = absl::Seconds(2)) {
    now += after;
    last = DecideKsm(policy, manages, Standing(available), kernel.reading, history, now);
    history = last.history;
    kernel.Apply(last);
    return last;
  }
};

TEST(KsmControlTest, TheDefaultLeavesARoomyHostsKsmAlone) {
  Controller c;
  for (int i = 0; i < 30; ++i) {
    const KsmOutcome o = c.Cycle(20 * kGiB);
    EXPECT_FALSE(o.write.has_value());
    EXPECT_EQ(o.state, v1::KSM_STATE_LEFT_ALONE);
  }
  EXPECT_EQ(c.kernel.reading.knobs, (KsmKnobs{0, 100, 20}));
  EXPECT_THAT(c.history.explanation, HasSubstr("leaves KSM alone while the host is roomy"));
}

TEST(KsmControlTest, WhenShortRunsBelowTwiceTheReserveAndPutsKsmBackAboveTwoAndAHalf) {
  Controller c;
  // 24 GiB host: reserve 2.4 GiB; nearly short under 4.8 GiB, roomy again from 6 GiB.
  KsmOutcome o = c.Cycle(4 * kGiB);
  ASSERT_TRUE(o.write.has_value());
  EXPECT_EQ(o.write->run, 1);
  EXPECT_EQ(o.write->pages_to_scan, 1250 / 4);
  EXPECT_EQ(o.state, v1::KSM_STATE_RUNNING);
  EXPECT_THAT(c.history.explanation, HasSubstr("ksmd started: the host had 4 GiB free"));
  // Between the two levels it keeps running (hysteresis).
  EXPECT_FALSE(c.Cycle(5 * kGiB).write.has_value());
  EXPECT_EQ(c.kernel.reading.knobs.run, 1);
  o = c.Cycle(7 * kGiB);
  ASSERT_TRUE(o.write.has_value());
  EXPECT_EQ(*o.write, (KsmKnobs{0, 100, 20})) << "back as found";
  EXPECT_EQ(o.state, v1::KSM_STATE_LEFT_ALONE);
  EXPECT_THAT(c.history.explanation, HasSubstr("what is merged stays merged"));
}

TEST(KsmControlTest, AShortHostStartsAtTheFastestPace) {
  Controller c;
  const KsmOutcome o = c.Cycle(1 * kGiB);
  ASSERT_TRUE(o.write.has_value());
  EXPECT_EQ(o.write->pages_to_scan, 1250);
  EXPECT_THAT(c.history.explanation, HasSubstr("the host is short"));
}

TEST(KsmControlTest, ThePaceFollowsWhatAFullScanMerged) {
  Controller c;
  c.policy = Mode(v1::KSM_MODE_ALWAYS);
  c.Cycle(20 * kGiB);
  ASSERT_EQ(c.kernel.reading.knobs.pages_to_scan, 312);
  // No full scan yet: nothing to pace by.
  EXPECT_FALSE(c.Cycle(20 * kGiB).write.has_value());
  // 5% of what it looked at merged: twice as fast, up to the maximum.
  c.kernel.FullScan(100'000, 5'000);
  EXPECT_EQ(c.Cycle(20 * kGiB).write->pages_to_scan, 624);
  EXPECT_THAT(c.history.explanation, HasSubstr("ksmd faster (312 -> 624 pages)"));
  c.kernel.FullScan(100'000, 5'000);
  EXPECT_EQ(c.Cycle(20 * kGiB).write->pages_to_scan, 1248);
  c.kernel.FullScan(100'000, 5'000);
  EXPECT_EQ(c.Cycle(20 * kGiB).write->pages_to_scan, 1250);
  c.kernel.FullScan(100'000, 5'000);
  EXPECT_FALSE(c.Cycle(20 * kGiB).write.has_value()) << "already at the maximum";
  // 0.5% merged: the pace stays.
  c.kernel.FullScan(100'000, 500);
  EXPECT_FALSE(c.Cycle(20 * kGiB).write.has_value());
  // Nothing merged: half as fast, each scan, down to the slowest.
  for (int64_t expect : {625, 312, 156, 78, 64}) {
    c.kernel.FullScan(100'000, 0);
    const KsmOutcome o = c.Cycle(20 * kGiB);
    ASSERT_TRUE(o.write.has_value());
    EXPECT_EQ(o.write->pages_to_scan, expect);
  }
  EXPECT_THAT(c.history.explanation, HasSubstr("ksmd slower (78 -> 64 pages)"));
}

TEST(KsmControlTest, ScansThatGainNothingAtTheSlowestPaceStopKsmdForTenMinutes) {
  Controller c;
  c.policy = Mode(v1::KSM_MODE_ALWAYS);
  c.policy.mutable_ksm()->set_max_pages_to_scan(64);
  c.Cycle(20 * kGiB);
  ASSERT_EQ(c.kernel.reading.knobs, (KsmKnobs{1, 64, 20}));
  for (int i = 0; i < 2; ++i) {
    c.kernel.FullScan(100'000, 0);
    EXPECT_FALSE(c.Cycle(20 * kGiB).write.has_value());
  }
  c.kernel.FullScan(100'000, 0);
  KsmOutcome o = c.Cycle(20 * kGiB);
  ASSERT_TRUE(o.write.has_value());
  EXPECT_EQ(o.write->run, 0);
  EXPECT_EQ(o.state, v1::KSM_STATE_STOPPED);
  EXPECT_THAT(c.history.explanation, HasSubstr("tries again in 10m"));
  EXPECT_FALSE(c.Cycle(20 * kGiB, absl::Minutes(9)).write.has_value());
  o = c.Cycle(20 * kGiB, absl::Minutes(1));
  ASSERT_TRUE(o.write.has_value());
  EXPECT_EQ(o.write->run, 1);
  EXPECT_THAT(c.history.explanation, HasSubstr("ksmd tries again after resting"));
}

TEST(KsmControlTest, ModeOffPutsBackWhatItFoundAndUnmergesOnlyWhenTold) {
  for (bool unmerge : {false, true}) {
    Controller c;
    c.kernel.reading.knobs = {1, 500, 50};  // someone else ran it
    c.policy = Mode(v1::KSM_MODE_ALWAYS);
    c.Cycle(20 * kGiB);
    ASSERT_EQ(c.kernel.reading.knobs, (KsmKnobs{1, 312, 20}));
    c.policy = Mode(v1::KSM_MODE_OFF);
    c.policy.mutable_ksm()->set_unmerge_when_off(unmerge);
    const KsmOutcome o = c.Cycle(20 * kGiB);
    ASSERT_TRUE(o.write.has_value());
    EXPECT_EQ(*o.write, (KsmKnobs{unmerge ? 2 : 1, 500, 50}));
    EXPECT_EQ(o.state, v1::KSM_STATE_LEFT_ALONE);
    // Then it is left alone: a later change by someone else stays.
    c.kernel.reading.knobs = {0, 100, 20};
    EXPECT_FALSE(c.Cycle(20 * kGiB).write.has_value());
  }
}

TEST(KsmControlTest, ThePolicyOffLeavesKsmAsFound) {
  Controller c;
  c.policy = Mode(v1::KSM_MODE_ALWAYS);
  c.Cycle(20 * kGiB);
  c.manages = false;
  const KsmOutcome o = c.Cycle(20 * kGiB);
  ASSERT_TRUE(o.write.has_value());
  EXPECT_EQ(*o.write, (KsmKnobs{0, 100, 20}));
  EXPECT_THAT(c.history.explanation, HasSubstr("the policy is off"));
}

TEST(KsmControlTest, AChangeFromOutsideIsSetBackWithTheReason) {
  Controller c;
  c.policy = Mode(v1::KSM_MODE_ALWAYS);
  c.Cycle(20 * kGiB);
  c.kernel.reading.knobs = {1, 5000, 1};
  const KsmOutcome o = c.Cycle(20 * kGiB);
  ASSERT_TRUE(o.write.has_value());
  EXPECT_EQ(*o.write, (KsmKnobs{1, 312, 20}));
  EXPECT_THAT(c.history.explanation, HasSubstr("someone made it running, 5000 pages every 1 ms"));
}

TEST(KsmControlTest, OnlySavingThatLastedTenMinutesCounts) {
  KsmHistory h;
  h.TrackSaving(100 * kMiB, kStart);
  EXPECT_EQ(h.LastingSavedBytes(kStart + absl::Minutes(5)), 0) << "not watched long enough";
  for (int minute = 1; minute <= 12; ++minute) {
    h.TrackSaving(minute == 6 ? 40 * kMiB : 100 * kMiB, kStart + absl::Minutes(minute));
  }
  EXPECT_EQ(h.LastingSavedBytes(kStart + absl::Minutes(12)), 40 * kMiB);
  EXPECT_EQ(h.LastingSavedBytes(kStart + absl::Minutes(17)), 100 * kMiB) << "the dip aged out";
}

TEST(KsmControlTest, SettingsAreValidated) {
  v1::Policy p;
  p.mutable_host()->mutable_ksm()->set_max_pages_to_scan(10);
  EXPECT_THAT(std::string(ValidatePolicy(p).message()), HasSubstr("host.ksm.max_pages_to_scan"));
  p.mutable_host()->mutable_ksm()->set_max_pages_to_scan(2000);
  p.mutable_host()->mutable_ksm()->set_mode(static_cast<v1::KsmMode>(42));
  EXPECT_THAT(std::string(ValidatePolicy(p).message()), HasSubstr("host.ksm.mode"));
  EXPECT_EQ(WithDefaults({}).host().ksm().mode(), v1::KSM_MODE_WHEN_SHORT);
}

}  // namespace
}  // namespace balloond::policy
