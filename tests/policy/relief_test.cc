// Relief (policy/relief.cc): guests under pressure are given memory at once, the most urgent
// first, and guests whose reports stopped get memory back.
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

TEST(PolicyReliefTest, AGuestUnderPressureGetsItsHeadroomBackInOneStep) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("busy").Max(4 * kGiB).Actual(512 * kMiB).Used(430 * kMiB));
  auto decisions = run.Cycle();  // 512 - 40 - 430 = 42 MiB available: under the 64 MiB watermark
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  EXPECT_EQ(decisions[0].target_bytes, 430 * kMiB + 128 * kMiB + kOverhead);
  EXPECT_THAT(decisions[0].explanation, HasSubstr("under its low watermark"));
  EXPECT_EQ(decisions[0].inputs.guest_available_bytes(), 42 * kMiB);
  EXPECT_EQ(g.actual, decisions[0].target_bytes);
}

TEST(PolicyReliefTest, AGrowingGuestGetsWhatItWillNeedBeforeTheNextReport) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("leak").Max(4 * kGiB).Actual(1 * kGiB).Used(700 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());  // 284 MiB available: fine
  g.used = 900 * kMiB;               // +100 MiB/s over the 2 s period
  auto decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 1u);
  // use + headroom (15% of 900 MiB = 135 MiB) + overhead + 2 periods of growth (400 MiB)
  EXPECT_EQ(decisions[0].target_bytes, 900 * kMiB + 135 * kMiB + kOverhead + 400 * kMiB);
  EXPECT_DOUBLE_EQ(decisions[0].inputs.used_growth_bytes_per_second(), 100.0 * kMiB);
}

TEST(PolicyReliefTest, UseGrowingIntoTheCacheStartsReliefBeforeMemAvailableIsLow) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("login").Max(4 * kGiB).Actual(kGiB).Used(760 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());  // 224 MiB available (most of it page cache in a real guest)
  g.used = 800 * kMiB;               // +20 MiB/s: 184 MiB available, 104 MiB after two periods
  auto decisions = run.Cycle();
  // 104 MiB is above the 64 MiB watermark, but under the 128 MiB headroom: relief starts now.
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  EXPECT_EQ(decisions[0].target_bytes, 800 * kMiB + 128 * kMiB + kOverhead + 80 * kMiB);
  EXPECT_THAT(decisions[0].explanation, HasSubstr("less than its headroom of 128 MiB left"));
  // Growing as fast with plenty left is no pressure.
  PolicyRun roomy = NeutralHost();
  FakeGuest& r = roomy.Add(Guest("roomy").Max(4 * kGiB).Actual(2 * kGiB).Used(760 * kMiB));
  roomy.Cycle();
  r.used = 800 * kMiB;
  EXPECT_TRUE(roomy.Cycle().empty());
}

TEST(PolicyReliefTest, UseThatGrewWhileTheBalloonMovedIsNoGrowthPressure) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("idle").Max(4 * kGiB).Actual(1100 * kMiB).Used(760 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());
  // Inflated by 76 MiB between two reports: its pages show as use the guest took (+20 MiB/s).
  g.actual = 1024 * kMiB;
  g.used = 800 * kMiB;
  EXPECT_TRUE(run.Cycle().empty());
}

// Guests a and b, reporting `used`, grow by 200 MiB in a cycle (100 MiB/s) and are relieved for
// it; their growth then stops, and the host has nothing left above its minimum available.
void RelieveGrowthThatStops(PolicyRun& run, FakeGuest& a, FakeGuest& b, int64_t used) {
  ASSERT_TRUE(run.Cycle().empty());
  a.used = b.used = used + 200 * kMiB;
  std::map<std::string, Decision> relieved = ByName(run.Cycle());
  ASSERT_EQ(relieved.count("a"), 1u);
  ASSERT_EQ(relieved.count("b"), 1u);
  run.host().available_bytes = 256 * kMiB;  // the host paid for it: nothing left to give
  ASSERT_TRUE(run.Cycle().empty());         // growth stopped
}

TEST(PolicyReliefTest, InAStormGuestsJustRelievedLendWhatTheyGotBeyondTheirPeakAndHeadroom) {
  // Two guests relieved for fast growth got two periods of growth ahead; their growth stopped.
  // A third then runs short on a host that cannot pay: the two lend what they got beyond peak
  // use + headroom, though they were relieved a moment ago, and never more.
  PolicyRun run = TightHost(Enforce(), 2 * kGiB, 300 * kMiB);
  FakeGuest& a = run.Add(Guest("a").Max(4 * kGiB).Actual(kGiB).Used(700 * kMiB));
  FakeGuest& b = run.Add(Guest("b").Max(4 * kGiB).Actual(kGiB).Used(700 * kMiB));
  FakeGuest& c = run.Add(Guest("c").Max(4 * kGiB).Actual(468 * kMiB).Used(300 * kMiB));
  ASSERT_NO_FATAL_FAILURE(RelieveGrowthThatStops(run, a, b, 700 * kMiB));  // c at its floor
  const int64_t keeps = 900 * kMiB + 135 * kMiB + kOverhead;  // peak + 15% headroom + overhead
  ASSERT_GT(a.actual, keeps + 300 * kMiB);
  c.used = 450 * kMiB;  // no memory available: c is short
  // Nothing to grant c from (no decision for it yet); a and b lend.
  std::map<std::string, Decision> storm = ByName(run.Cycle());
  EXPECT_EQ(storm.count("c"), 0u);
  int lenders = 0;
  for (const FakeGuest* g : {&a, &b}) {
    auto it = storm.find(g->name);
    if (it == storm.end()) continue;
    ++lenders;
    EXPECT_EQ(it->second.reason, v1::DECISION_REASON_HOST_RECLAIM);
    EXPECT_THAT(it->second.explanation, HasSubstr("relieved a moment ago: keeps its use"));
    EXPECT_THAT(it->second.explanation, HasSubstr("+ headroom 135 MiB, lending what it got"));
    EXPECT_GE(g->actual, keeps);
  }
  EXPECT_GE(lenders, 1);
  // What they lent reaches c in the next cycle, as the host gets it back.
  const int64_t lent = (storm.count("a") ? storm["a"].previous_bytes - a.actual : 0) +
                       (storm.count("b") ? storm["b"].previous_bytes - b.actual : 0);
  EXPECT_GT(lent, 100 * kMiB);
  run.host().available_bytes = 256 * kMiB + lent;
  std::map<std::string, Decision> paid = ByName(run.Cycle());
  ASSERT_EQ(paid.count("c"), 1u);
  EXPECT_EQ(paid["c"].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  EXPECT_THAT(paid["c"].explanation, Not(HasSubstr("limited to")));
}

TEST(PolicyReliefTest, InAStormJustRelievedGuestsLendTheirHeadroomBeyondTwiceTheirWatermark) {
  // As above with large guests, whose 15% headroom is far more than twice the 64 MiB watermark,
  // and a third whose need is more than what a and b got beyond peak + headroom: they lend part
  // of their headroom too, keeping their use + 128 MiB (+ overhead), never less.
  PolicyRun run = TightHost(Enforce(), 2 * kGiB, 300 * kMiB);
  FakeGuest& a = run.Add(Guest("a").Max(8 * kGiB).Actual(2560 * kMiB).Used(2048 * kMiB));
  FakeGuest& b = run.Add(Guest("b").Max(8 * kGiB).Actual(2560 * kMiB).Used(2048 * kMiB));
  FakeGuest& c = run.Add(Guest("c").Max(8 * kGiB).Actual(1600 * kMiB).Used(1400 * kMiB));
  ASSERT_NO_FATAL_FAILURE(RelieveGrowthThatStops(run, a, b, 2048 * kMiB));
  c.used = 1900 * kMiB;  // c runs out and needs ~600 MiB
  const int64_t before = a.actual + b.actual;
  std::map<std::string, Decision> storm = ByName(run.Cycle());
  EXPECT_EQ(storm.count("c"), 0u);
  const int64_t kept_before = 2248 * kMiB + 2248 * kMiB * 15 / 100 + kOverhead;  // peak+headroom
  const int64_t keeps = 2248 * kMiB + 2 * 64 * kMiB + kOverhead;
  for (const FakeGuest* g : {&a, &b}) {
    ASSERT_EQ(storm.count(g->name), 1u) << g->name;
    EXPECT_EQ(storm[g->name].reason, v1::DECISION_REASON_HOST_RECLAIM);
    EXPECT_THAT(storm[g->name].explanation, HasSubstr("relieved a moment ago: keeps its use"));
    EXPECT_THAT(storm[g->name].explanation, HasSubstr("+ twice its low watermark"));
    EXPECT_GE(g->actual, keeps) << g->name;
  }
  EXPECT_LT(std::min(a.actual, b.actual), kept_before);  // headroom lent, not only growth ahead
  EXPECT_GE(before - a.actual - b.actual, 500 * kMiB);
}

// libvirt takes a <stats period> up to INT_MAX seconds: the growth expected before the next report
// is then beyond any machine, and must neither wrap (UBSan) nor ask for more than the maximum.
TEST(PolicyReliefTest, AGuestReportingOnceInDecadesGrowsNoFurtherThanItsMaximum) {
  constexpr int64_t kTiB = 1024 * kGiB;
  PolicyRun run(Enforce(), Host(1024 * kTiB, 512 * kTiB));
  FakeGuest& g = run.Add(Guest("slow")
                             .Max(512 * kTiB)
                             .Actual(256 * kTiB)
                             .Used(kTiB)
                             .ReportingEvery(absl::Seconds(INT32_MAX)));
  run.Cycle();
  g.used = 200 * kTiB;  // 100 TiB/s for 68 years: far beyond what an int64 of bytes holds
  auto decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].target_bytes, 512 * kTiB);
}

TEST(PolicyReliefTest, SwapInAndMajorFaultRatesAreImmediatePressure) {
  for (bool swap : {true, false}) {
    PolicyRun run = NeutralHost();
    FakeGuest& g = run.Add(Guest("thrash").Max(2 * kGiB).Actual(kGiB).Used(800 * kMiB));
    EXPECT_TRUE(run.Cycle().empty());  // 184 MiB available, above the watermark
    if (swap) {
      g.swap_in += 20 * kMiB;  // 10 MiB/s
    } else {
      g.major_faults += 2000;  // 1000/s
    }
    auto decisions = run.Cycle();
    ASSERT_EQ(decisions.size(), 1u) << swap;
    EXPECT_EQ(decisions[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
    EXPECT_THAT(decisions[0].explanation, HasSubstr(swap ? "swapping in" : "major faults"));
  }
}

TEST(PolicyReliefTest, FaultsMeasuredPartlyBeforeAReliefDoNotGrantItAgainFaultsAfterGrantMore) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("thrash").Max(2 * kGiB).Actual(kGiB).Used(800 * kMiB));
  g.frozen = true;  // its reports are taken half a second before each cycle, as QEMU's are
  const auto cycle = [&] {
    g.reported_at = run.now() + absl::Milliseconds(1500);
    return run.Cycle();
  };
  EXPECT_TRUE(cycle().empty());
  g.major_faults += 2000;         // 1000/s
  ASSERT_EQ(cycle().size(), 1u);  // relieved
  // The next report's faults were counted over an interval that began before the relief: they
  // say nothing of it. The one after does.
  g.major_faults += 2000;
  EXPECT_TRUE(cycle().empty());
  g.major_faults += 2000;  // still partly in the period after it
  EXPECT_TRUE(cycle().empty());
  g.major_faults += 2000;
  auto again = cycle();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_THAT(again[0].explanation, HasSubstr("1000 major faults/s"));
  // The first relief was not enough: this one grants twice its headroom, the next four times.
  const int64_t headroom = 128 * kMiB;
  EXPECT_EQ(again[0].target_bytes - again[0].previous_bytes, 2 * headroom);
  EXPECT_THAT(again[0].explanation, HasSubstr("2 times its headroom: the last relief was not"));
  for (int i = 0; i < 2; ++i) {
    g.major_faults += 2000;
    EXPECT_TRUE(cycle().empty());
  }
  g.major_faults += 2000;
  auto third = cycle();
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].target_bytes - third[0].previous_bytes, 4 * headroom);
  // Enough at last: the faults stop, and the next relief starts from one headroom again.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(cycle().empty());
  g.major_faults += 2000;
  auto fresh = cycle();
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].target_bytes - fresh[0].previous_bytes, headroom);
}

TEST(PolicyReliefTest, FaultsFallingByHalfAfterAReliefAreTheGuestReadingBackWhatItLost) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("reader").Max(2 * kGiB).Actual(kGiB).Used(800 * kMiB));
  g.frozen = true;
  const auto cycle = [&](int64_t faults_per_second) {
    g.reported_at = run.now() + absl::Milliseconds(1500);
    g.major_faults += 2 * faults_per_second;
    return run.Cycle();
  };
  EXPECT_TRUE(cycle(0).empty());
  ASSERT_EQ(cycle(1000).size(), 1u);  // relieved
  EXPECT_TRUE(cycle(1000).empty());   // measured partly before the relief
  EXPECT_TRUE(cycle(1000).empty());   // partly in the period after it
  EXPECT_TRUE(cycle(400).empty());    // over 200/s, but falling by more than half: catching up
  auto steady = cycle(400);           // not falling any more: not enough
  ASSERT_EQ(steady.size(), 1u);
  EXPECT_THAT(steady[0].explanation, HasSubstr("400 major faults/s"));
}

TEST(PolicyReliefTest, ReliefNeverTakesTheHostBelowItsMinimumAvailable) {
  PolicyRun run(Enforce(), Host(24 * kGiB, 256 * kMiB + 100 * kMiB));
  run.Add(Guest("busy").Max(4 * kGiB).Actual(512 * kMiB).Used(460 * kMiB));
  auto decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].target_bytes, 512 * kMiB + 100 * kMiB);
  EXPECT_THAT(decisions[0].explanation, HasSubstr("limited to 100 MiB"));
}

TEST(PolicyReliefTest, WhenTheHostCannotPayForAllTheGuestThatRunsOutSoonestGoesFirst) {
  // 500 MiB above the host's minimum available: all that "fast" needs and what keeps "slow" off
  // its watermark, not what both need; a reserve below that, so the host is not short.
  v1::Policy p = Enforce();
  PolicyRun run = TightHost(p, 500 * kMiB, 300 * kMiB);
  FakeGuest& fast = run.Add(Guest("fast").Max(4 * kGiB).Actual(kGiB).Used(700 * kMiB));
  FakeGuest& slow = run.Add(Guest("slow").Max(4 * kGiB).Actual(512 * kMiB).Used(372 * kMiB));
  ASSERT_TRUE(run.Cycle().empty());  // 284 and 100 MiB available: no pressure yet
  // Two seconds later fast grows 100 MiB/s with 84 MiB available (0.2 s from its 64 MiB
  // watermark), slow 10 MiB/s with 80 MiB (2 s from it). By MemAvailable alone, slow would go
  // first.
  fast.used = 900 * kMiB;
  slow.used = 392 * kMiB;
  std::map<std::string, Decision> by_name = ByName(run.Cycle());
  ASSERT_EQ(by_name.count("fast"), 1u);
  ASSERT_EQ(by_name.count("slow"), 1u);
  EXPECT_THAT(by_name["fast"].explanation, Not(HasSubstr("limited to")));
  EXPECT_THAT(by_name["slow"].explanation, HasSubstr("limited to"));
  // Limited, slow still got what keeps it off its watermark until its next report: its use, the
  // watermark, the overhead and two 2 s periods of its 10 MiB/s growth.
  EXPECT_GE(slow.actual, 392 * kMiB + 64 * kMiB + kOverhead + 40 * kMiB);
}

TEST(PolicyReliefTest, ABurstOfGuestsRunningOutKeepsEachOffItsWatermarkBeforeAnyGetsHeadroom) {
  // Four guests run out at once; the host can pay each what keeps it off its watermark, not
  // everyone's headroom. Served whole in turn, the first two would take it all and the last two
  // would wait for memory taken from others.
  PolicyRun run = TightHost(Enforce(), 300 * kMiB, 300 * kMiB);
  std::vector<FakeGuest*> guests;
  for (const char* name : {"a", "b", "c", "d"}) {
    guests.push_back(&run.Add(Guest(name).Max(4 * kGiB).Actual(kGiB).Used(900 * kMiB)));
  }
  for (FakeGuest* g : guests) g->used = 950 * kMiB;  // 34 MiB available: under the watermark
  std::map<std::string, Decision> by_name = ByName(run.Cycle());
  int64_t granted = 0;
  for (const FakeGuest* g : guests) {
    ASSERT_EQ(by_name.count(g->name), 1u) << g->name;
    EXPECT_EQ(by_name[g->name].reason, v1::DECISION_REASON_GUEST_PRESSURE);
    EXPECT_GE(g->actual, 950 * kMiB + 64 * kMiB + kOverhead) << g->name;
    granted += g->actual - kGiB;
  }
  EXPECT_EQ(granted, 300 * kMiB);  // and the rest of the budget went to headroom
}

TEST(PolicyReliefTest, AmongEquallyUrgentGuestsMoreSharesGoFirst) {
  v1::Policy p = Enforce();
  (*p.mutable_domains())["gold"].set_shares(4000);
  PolicyRun run = TightHost(p, 400 * kMiB, 300 * kMiB);
  FakeGuest& bronze = run.Add(Guest("bronze").Max(4 * kGiB).Actual(kGiB).Used(700 * kMiB));
  FakeGuest& gold = run.Add(Guest("gold").Max(4 * kGiB).Actual(kGiB).Used(700 * kMiB));
  ASSERT_TRUE(run.Cycle().empty());
  for (FakeGuest* g : {&gold, &bronze}) g->used = 864 * kMiB;  // the same growth, the same need
  std::map<std::string, Decision> by_name = ByName(run.Cycle());
  ASSERT_EQ(by_name.count("gold"), 1u);
  ASSERT_EQ(by_name.count("bronze"), 1u);
  // Both are kept off their watermark; what is left restores gold's headroom first.
  EXPECT_THAT(by_name["bronze"].explanation, HasSubstr("limited to"));
  EXPECT_GT(gold.actual, bronze.actual);
  EXPECT_GE(bronze.actual, 864 * kMiB + 64 * kMiB + kOverhead);
}

TEST(PolicyReliefTest, AGuestWhoseStatisticsLieIsNotMoreUrgentThanOneUnderPressure) {
  // "liar" is below its minimum, so it is raised without statistics; its report claims a
  // MemAvailable no machine has. The host is short (under its 800 MiB reserve), so nothing stale
  // is given back, and can lend 400 MiB. Found by the policy fuzzer (an overflow ordering relief).
  v1::Policy p = Enforce();
  (*p.mutable_domains())["liar"].set_min_bytes(kGiB);
  PolicyRun run = TightHost(p, 400 * kMiB, 800 * kMiB);
  FakeGuest& liar = run.Add(Guest("liar").Max(4 * kGiB).Actual(512 * kMiB));
  liar.claimed_available = std::numeric_limits<int64_t>::min() + 1;
  run.Add(Guest("busy").Max(4 * kGiB).Actual(512 * kMiB).Used(430 * kMiB));
  std::map<std::string, Decision> by_name = ByName(run.Cycle());
  ASSERT_EQ(by_name.count("liar"), 1u);
  ASSERT_EQ(by_name.count("busy"), 1u);
  EXPECT_EQ(by_name["busy"].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  EXPECT_THAT(by_name["busy"].explanation, Not(HasSubstr("limited to")));
  EXPECT_EQ(by_name["liar"].reason, v1::DECISION_REASON_BELOW_FLOOR);
  EXPECT_THAT(by_name["liar"].explanation, HasSubstr("limited to"));
}

TEST(PolicyReliefTest, AnAutodeflateBalloonThatGrowsByItselfIsPressureNotDefiance) {
  for (bool autodeflate : {true, false}) {
    PolicyRun run = ShortHost();
    FakeGuest& g = run.Add(Guest("oom").Max(2 * kGiB).Actual(2 * kGiB).Used(300 * kMiB));
    g.autodeflate = autodeflate;
    run.CycleUntilQuiet();
    const int64_t squeezed = g.actual;
    ASSERT_LT(squeezed, kGiB);
    // The guest nearly ran out; QEMU deflated its balloon by 256 MiB, and the guest uses some.
    g.actual += 256 * kMiB;
    g.used += 64 * kMiB;
    std::vector<Decision> after;
    for (int i = 0; i < 5; ++i) {  // 10 s
      for (Decision& d : run.Cycle()) after.push_back(std::move(d));
    }
    if (autodeflate) {
      EXPECT_TRUE(after.empty()) << after.front().explanation;
      EXPECT_EQ(g.actual, squeezed + 256 * kMiB);  // it keeps what it took
    } else {
      // Without autodeflate nothing but an operator moves it: the short host takes it back.
      ASSERT_FALSE(after.empty());
      EXPECT_EQ(after.front().reason, v1::DECISION_REASON_HOST_RECLAIM);
    }
  }
}

TEST(PolicyReliefTest, OneOomEventsMebibyteIsEnoughToSeeAnAutodeflate) {
  // Linux's driver gives back 1 MiB per OOM event: far below the deadband, still a guest in
  // trouble.
  for (bool autodeflate : {true, false}) {
    PolicyRun run = ShortHost();
    FakeGuest& g = run.Add(Guest("oom").Max(2 * kGiB).Actual(2 * kGiB).Used(300 * kMiB));
    g.autodeflate = autodeflate;
    run.CycleUntilQuiet();
    g.actual += 2 * kMiB;
    g.used -= 100 * kMiB;  // then its job ends: reclaim would take 100 MiB back at once
    auto decisions = run.Cycle();
    EXPECT_EQ(decisions.empty(), autodeflate) << autodeflate;
  }
}

TEST(PolicyReliefTest, AnOperatorRaisingAHeldAutodeflateBalloonIsNotAnOom) {
  PolicyRun run = ShortHost();
  FakeGuest& g = run.Add(Guest("held").Max(2 * kGiB).Actual(2 * kGiB).Used(300 * kMiB));
  g.autodeflate = true;
  run.CycleUntilQuiet();  // at its floor: use + headroom + kernel = 468 MiB
  // The operator holds it at 420 MiB (80 MiB available: no pressure), then raises it a little.
  g.held_until = run.now() + absl::Hours(1);
  g.actual = 420 * kMiB;
  EXPECT_TRUE(run.Cycle().empty());
  g.actual = 428 * kMiB;
  std::vector<Decision> after;
  for (int i = 0; i < 5; ++i) {
    for (Decision& d : run.Cycle()) after.push_back(std::move(d));
  }
  // Misread as an OOM, it would be grown back to 468 MiB over the operator's hold.
  EXPECT_TRUE(after.empty()) << after.front().explanation;
  EXPECT_EQ(g.actual, 428 * kMiB);
}

TEST(PolicyHoldTest, PressureOverridesAHoldAndTheDecisionSaysSo) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("busy").Max(4 * kGiB).Actual(512 * kMiB).Used(430 * kMiB));
  g.held_until = kStart + absl::Hours(1);
  auto decisions = run.Cycle(/*stuck=*/true);  // the balloon takes a while to move
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  EXPECT_TRUE(decisions[0].hold_overridden);
  EXPECT_THAT(decisions[0].explanation, HasSubstr("overrode the operator's hold"));
  EXPECT_TRUE(run.Cycle(/*stuck=*/true).empty()) << "the same relief is not sent again";
  EXPECT_EQ(g.actual, 512 * kMiB);  // (stuck: this harness moves a balloon only when told)
}

TEST(PolicySafetyTest, AGuestWhoseStatisticsStopGetsMemoryBackWhileTheHostCanAfford) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("quiet").Max(4 * kGiB).Actual(kGiB).Used(600 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());
  g.frozen = true;
  run.Advance(absl::Seconds(10));
  auto decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].reason, v1::DECISION_REASON_STATS_STALE);
  EXPECT_EQ(decisions[0].target_bytes, 2 * kGiB);  // one 1 GiB grow step at a time
  EXPECT_THAT(decisions[0].explanation, HasSubstr("old"));
  run.CycleUntilQuiet();
  EXPECT_EQ(g.actual, 4 * kGiB);
}

}  // namespace
}  // namespace balloond::policy
