#include "policy/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

constexpr int64_t kOverhead =
    40 * kMiB;  // what a real guest keeps out of MemTotal (measured ~40 MiB)

const absl::Time kStart = absl::FromUnixSeconds(1795612931);

// A guest as the policy sees it: its balloon (actual), and what it uses; MemTotal and MemAvailable
// follow from them as in a real Linux guest.
struct FakeGuest {
  std::string name;
  int64_t max = kGiB;
  int64_t actual = kGiB;
  int64_t used = 100 * kMiB;
  int64_t swap_in = 0;
  int64_t major_faults = 0;
  Activity activity = Activity::kRunning;
  bool reports = true;
  bool frozen = false;  // the guest's driver stopped: its last report keeps its old time
  absl::Time reported_at = kStart;
  std::optional<absl::Time> held_until;      // an operator's hold
  std::optional<int64_t> claimed_available;  // a lying guest's MemAvailable
  bool autodeflate = false;
  absl::Duration stats_period = absl::Seconds(2);  // the domain's <stats period>

  FakeGuest& Max(int64_t v) {
    max = v;
    return *this;
  }
  FakeGuest& Actual(int64_t v) {
    actual = v;
    return *this;
  }
  FakeGuest& Used(int64_t v) {
    used = v;
    return *this;
  }
  FakeGuest& In(Activity a) {
    activity = a;
    return *this;
  }
  FakeGuest& Silent() {
    reports = false;
    return *this;
  }
  FakeGuest& ReportingEvery(absl::Duration period) {
    stats_period = period;
    return *this;
  }

  DomainInput Input() const {
    DomainInput in;
    in.uuid = "uuid-" + name;
    in.name = name;
    in.activity = activity;
    in.max_memory_bytes = max;
    in.actual_bytes = actual;
    in.resident_bytes = actual;  // it touched all it has: the host's MemAvailable shows it
    in.stats_period = stats_period;
    in.held_until = held_until;
    in.autodeflate = autodeflate;
    if (reports) {
      GuestReport r;
      r.total_bytes = actual - kOverhead;
      r.available_bytes = claimed_available.value_or(std::max<int64_t>(0, r.total_bytes - used));
      r.free_bytes = r.available_bytes;
      r.swap_in_bytes = swap_in;
      r.major_faults = major_faults;
      r.last_update = reported_at;
      in.report = r;
    }
    return in;
  }
};

FakeGuest Guest(const std::string& name) {
  FakeGuest g;
  g.name = name;
  return g;
}

HostInput Host(int64_t total, int64_t available) {
  HostInput h;
  h.total_bytes = total;
  h.available_bytes = available;
  return h;
}

v1::Policy Enforce() {
  v1::Policy p;
  p.set_mode(v1::POLICY_MODE_ENFORCE);
  return p;
}

// Runs the policy over simulated time: every 2 s the guests report, the policy decides, and (in
// enforce mode) balloons reach their targets at once unless `stuck`.
class PolicyRun {
 public:
  PolicyRun(v1::Policy policy, HostInput host) : policy_(std::move(policy)), host_(host) {
    guests_.reserve(16);  // Add hands out references
  }

  FakeGuest& Add(FakeGuest g) {
    EXPECT_LT(guests_.size(), guests_.capacity());
    guests_.push_back(std::move(g));
    return guests_.back();
  }
  FakeGuest& guest(size_t i) { return guests_[i]; }

  std::vector<Decision> Cycle(bool stuck = false) {
    now_ += absl::Seconds(2);
    std::vector<DomainInput> inputs;
    for (FakeGuest& g : guests_) {
      if (g.reports && !g.frozen) g.reported_at = now_;
      inputs.push_back(g.Input());
    }
    Outcome out = Decide(policy_, host_, inputs, state_, now_);
    state_ = out.state;
    host_condition_ = out.host;
    plan_ = out.collect_every;
    if (policy_.mode() == v1::POLICY_MODE_ENFORCE && !stuck) {
      for (const Decision& d : out.decisions) {
        for (FakeGuest& g : guests_) {
          if (g.name == d.name) g.actual = d.target_bytes;
        }
      }
    }
    all_.insert(all_.end(), out.decisions.begin(), out.decisions.end());
    return out.decisions;
  }
  std::vector<Decision> CycleUntilQuiet(int max_cycles = 50) {
    std::vector<Decision> seen;
    for (int i = 0; i < max_cycles; ++i) {
      auto d = Cycle();
      if (d.empty()) return seen;
      seen.insert(seen.end(), d.begin(), d.end());
    }
    ADD_FAILURE() << "the policy never settled";
    return seen;
  }
  HostInput& host() { return host_; }
  HostCondition host_condition() const { return host_condition_; }
  // The last cycle's plan for the guest: how many periods until its statistics are needed again.
  int CollectEvery(const std::string& name) const {
    auto it = plan_.find("uuid-" + name);
    return it == plan_.end() ? 0 : it->second;
  }
  absl::Time now() const { return now_; }
  void Advance(absl::Duration d) { now_ += d; }
  v1::Policy& policy() { return policy_; }

 private:
  v1::Policy policy_;
  HostInput host_;
  State state_;
  absl::Time now_ = kStart;
  std::vector<FakeGuest> guests_;
  std::vector<Decision> all_;
  HostCondition host_condition_ = HostCondition::kNeutral;
  std::map<std::string, int> plan_;
};

// A 24 GiB host whose reserve is set above its memory: always short, so guests shrink to floors.
PolicyRun ShortHost(v1::Policy policy = Enforce()) {
  policy.mutable_host()->set_reserve_bytes(100 * kGiB);
  return PolicyRun(policy, Host(24 * kGiB, 20 * kGiB));
}

// One cycle's decisions by domain name.
std::map<std::string, Decision> ByName(const std::vector<Decision>& decisions) {
  std::map<std::string, Decision> out;
  for (const Decision& d : decisions) out[d.name] = d;
  return out;
}

// A 24 GiB host with `lendable` above its 256 MiB minimum available and a reserve of `reserve`
// (short when under it): relief can pay for only so much.
PolicyRun TightHost(v1::Policy policy, int64_t lendable, int64_t reserve) {
  policy.mutable_host()->set_reserve_bytes(reserve);
  policy.mutable_host()->set_reserve_fraction(0.01);
  return PolicyRun(policy, Host(24 * kGiB, 256 * kMiB + lendable));
}

// A 24 GiB host using 50%: neither short nor comfortable (target 0.4 used).
PolicyRun NeutralHost(v1::Policy policy = Enforce()) {
  policy.mutable_host()->set_target_used_fraction(0.4);
  return PolicyRun(policy, Host(24 * kGiB, 12 * kGiB));
}

TEST(PolicyBoundsTest, AnIdleGuestShrinksToItsUsePlusHeadroomAndNeverBelow) {
  PolicyRun run = ShortHost();
  run.Add(Guest("idle").Max(kGiB).Actual(kGiB).Used(60 * kMiB));
  auto decisions = run.CycleUntilQuiet();
  ASSERT_FALSE(decisions.empty());
  for (const auto& d : decisions) EXPECT_EQ(d.reason, v1::DECISION_REASON_HOST_RECLAIM);
  const int64_t floor = 60 * kMiB + 128 * kMiB + kOverhead;  // use + headroom (+ kernel overhead)
  EXPECT_GE(run.guest(0).actual, floor);
  EXPECT_LE(run.guest(0).actual, floor + 16 * kMiB);  // within one deadband of it
  EXPECT_THAT(decisions.back().explanation, HasSubstr("toward its floor"));
}

TEST(PolicyBoundsTest, AConfiguredMinimumIsAFloor) {
  v1::Policy p = Enforce();
  (*p.mutable_domains())["db"].set_min_bytes(600 * kMiB);
  PolicyRun run = ShortHost(p);
  run.Add(Guest("db").Actual(kGiB).Used(60 * kMiB));
  run.Add(Guest("web").Actual(kGiB).Used(60 * kMiB));
  run.CycleUntilQuiet();
  EXPECT_EQ(run.guest(0).actual, 600 * kMiB);
  EXPECT_LT(run.guest(1).actual, 300 * kMiB);
}

TEST(PolicyBoundsTest, NeverAboveTheMaximum) {
  v1::Policy p = Enforce();
  (*p.mutable_domains())["capped"].set_max_bytes(700 * kMiB);
  PolicyRun run(p, Host(24 * kGiB, 23 * kGiB));  // comfortable: memory is given back
  run.Add(Guest("capped").Max(kGiB).Actual(800 * kMiB));
  run.Add(Guest("free").Max(kGiB).Actual(300 * kMiB));
  auto decisions = run.CycleUntilQuiet();
  EXPECT_EQ(run.guest(0).actual, 700 * kMiB);
  EXPECT_EQ(decisions.front().reason, v1::DECISION_REASON_ABOVE_MAX);
  EXPECT_EQ(run.guest(1).actual, kGiB);  // back to its maximum, not beyond
}

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

TEST(PolicyReliefTest, InAStormGuestsJustRelievedLendWhatTheyGotBeyondTheirPeakAndHeadroom) {
  // Two guests relieved for fast growth got two periods of growth ahead; their growth stopped.
  // A third then runs short on a host that cannot pay: the two lend what they got beyond peak
  // use + headroom, though they were relieved a moment ago, and never more.
  PolicyRun run = TightHost(Enforce(), 2 * kGiB, 300 * kMiB);
  FakeGuest& a = run.Add(Guest("a").Max(4 * kGiB).Actual(kGiB).Used(700 * kMiB));
  FakeGuest& b = run.Add(Guest("b").Max(4 * kGiB).Actual(kGiB).Used(700 * kMiB));
  FakeGuest& c = run.Add(Guest("c").Max(4 * kGiB).Actual(468 * kMiB).Used(300 * kMiB));
  ASSERT_TRUE(run.Cycle().empty());
  a.used = b.used = 900 * kMiB;  // 100 MiB/s
  std::map<std::string, Decision> relieved = ByName(run.Cycle());
  ASSERT_EQ(relieved.count("a"), 1u);
  ASSERT_EQ(relieved.count("b"), 1u);
  const int64_t keeps = 900 * kMiB + 135 * kMiB + kOverhead;  // peak + 15% headroom + overhead
  ASSERT_GT(a.actual, keeps + 300 * kMiB);
  run.host().available_bytes = 256 * kMiB;  // the host paid for it: nothing left to give
  EXPECT_TRUE(run.Cycle().empty());         // growth stopped; c is at its floor (use + headroom)
  c.used = 450 * kMiB;                      // no memory available: c is short
  // Nothing to grant c from (no decision for it yet); a and b lend.
  std::map<std::string, Decision> storm = ByName(run.Cycle());
  EXPECT_EQ(storm.count("c"), 0u);
  int lenders = 0;
  for (const FakeGuest* g : {&a, &b}) {
    auto it = storm.find(g->name);
    if (it == storm.end()) continue;
    ++lenders;
    EXPECT_EQ(it->second.reason, v1::DECISION_REASON_HOST_RECLAIM);
    EXPECT_THAT(it->second.explanation, HasSubstr("relieved a moment ago: keeps its peak use"));
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
  // 470 MiB above the host's minimum available: all that "fast" needs, not what both need; a
  // reserve below that, so the host is not short.
  v1::Policy p = Enforce();
  PolicyRun run = TightHost(p, 470 * kMiB, 300 * kMiB);
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
  EXPECT_THAT(by_name["gold"].explanation, Not(HasSubstr("limited to")));
  EXPECT_THAT(by_name["bronze"].explanation, HasSubstr("limited to"));
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

TEST(PolicyHostTest, AShortHostReclaimsFromTheMostExcessPerShareFirst) {
  v1::Policy p = Enforce();
  (*p.mutable_domains())["gold"].set_shares(4000);
  p.mutable_host()->set_reserve_bytes(400 * kMiB);
  p.mutable_host()->set_reserve_fraction(0.01);
  // 100 MiB short; reclaim goes a quarter of the reserve past it: 200 MiB in all.
  PolicyRun run(p, Host(24 * kGiB, 300 * kMiB));
  run.Add(Guest("gold").Max(2 * kGiB).Actual(2 * kGiB).Used(200 * kMiB));
  run.Add(Guest("bronze").Max(2 * kGiB).Actual(2 * kGiB).Used(200 * kMiB));
  run.Add(
      Guest("lean").Max(2 * kGiB).Actual(380 * kMiB).Used(200 * kMiB));  // 12 MiB over its floor
  auto decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 1u);         // one guest touched, not three
  EXPECT_EQ(decisions[0].name, "bronze");  // same excess, a quarter of gold's shares
  EXPECT_EQ(decisions[0].previous_bytes - decisions[0].target_bytes, 200 * kMiB);
  EXPECT_EQ(run.host_condition(), HostCondition::kShort);
}

TEST(PolicyHostTest, ReclaimIsRateLimitedPerCycleWhileReliefIsNot) {
  PolicyRun run = ShortHost();
  run.Add(Guest("big").Max(8 * kGiB).Actual(8 * kGiB).Used(100 * kMiB));
  auto shrink = run.Cycle();
  ASSERT_EQ(shrink.size(), 1u);
  EXPECT_EQ(shrink[0].previous_bytes - shrink[0].target_bytes, 512 * kMiB);

  PolicyRun relief = NeutralHost();
  relief.Add(Guest("starved").Max(8 * kGiB).Actual(1 * kGiB).Used(980 * kMiB));
  auto grow = relief.Cycle();
  ASSERT_EQ(grow.size(), 1u);
  EXPECT_GT(grow[0].target_bytes - grow[0].previous_bytes, 100 * kMiB);
}

TEST(PolicyStabilityTest, AGuestRelievedRecentlyKeepsItsPeakForFiveMinutes) {
  // A periodic job: relieved when it runs, it keeps that memory between runs for 5 minutes, so
  // the next run does not start short. An idle guest never relieved is reclaimed at once.
  PolicyRun run = ShortHost();
  FakeGuest& job = run.Add(Guest("job").Max(4 * kGiB).Actual(600 * kMiB).Used(400 * kMiB));
  run.Cycle();
  job.used = 540 * kMiB;  // pressure: relieved
  ASSERT_EQ(run.Cycle()[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  const int64_t relieved = job.actual;
  job.used = 100 * kMiB;                           // the job ends
  for (int i = 0; i < 100; ++i) run.Cycle();       // 200 s
  EXPECT_GE(job.actual, 540 * kMiB + 128 * kMiB);  // peak + headroom kept
  EXPECT_LE(job.actual, relieved);
  run.Advance(absl::Minutes(5));
  run.CycleUntilQuiet();
  EXPECT_LT(job.actual, 100 * kMiB + 128 * kMiB + kOverhead + 16 * kMiB);  // then reclaimed
}

TEST(PolicyHostTest, MemoryPressureStallAloneMakesTheHostShort) {
  PolicyRun run(Enforce(), Host(24 * kGiB, 20 * kGiB));
  run.host().pressure_some_avg10 = 35.0;
  run.Add(Guest("web").Max(4 * kGiB).Actual(4 * kGiB).Used(200 * kMiB));
  auto decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].reason, v1::DECISION_REASON_HOST_RECLAIM);
  EXPECT_THAT(decisions[0].explanation, HasSubstr("memory pressure 35.0%"));
}

TEST(PolicyHostTest, AComfortableHostGivesMemoryBackByShares) {
  v1::Policy p = Enforce();
  (*p.mutable_domains())["a"].set_shares(3000);
  p.set_max_grow_step_bytes(8 * kGiB);
  p.mutable_host()->set_target_used_fraction(0.8);
  // 24 GiB host, 80% target: comfortable above 4.8 GiB available; 1 GiB of surplus to give.
  PolicyRun run(p, Host(24 * kGiB, 24 * kGiB / 5 + kGiB + 16 * kMiB));
  run.Add(Guest("a").Max(4 * kGiB).Actual(kGiB));
  run.Add(Guest("b").Max(4 * kGiB).Actual(kGiB));
  auto decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 2u);
  std::map<std::string, int64_t> given;
  for (const auto& d : decisions) {
    EXPECT_EQ(d.reason, v1::DECISION_REASON_HOST_GIVE_BACK);
    given[d.name] = d.target_bytes - d.previous_bytes;
  }
  EXPECT_NEAR(static_cast<double>(given["a"]) / given["b"], 3.0, 0.01);
  EXPECT_NEAR(given["a"] + given["b"], kGiB, kMiB);
}

TEST(PolicyHoldTest, AHeldGuestIsNeitherShrunkNorGivenMemoryBackUntilTheHoldEnds) {
  PolicyRun run = ShortHost();
  FakeGuest& held = run.Add(Guest("pinned").Max(2 * kGiB).Actual(2 * kGiB));
  held.held_until = kStart + absl::Seconds(30);
  run.Add(Guest("free").Max(2 * kGiB).Actual(2 * kGiB));
  for (int i = 0; i < 10; ++i) {
    for (const Decision& d : run.Cycle()) EXPECT_NE(d.name, "pinned") << d.explanation;
  }
  EXPECT_EQ(held.actual, 2 * kGiB);
  // 20 s in, the hold has 10 s left; past it the host's shortage reaches the pinned guest too.
  for (int i = 0; i < 6; ++i) run.Cycle();
  EXPECT_LT(held.actual, 2 * kGiB);

  // A comfortable host gives nothing to a guest held low, either.
  v1::Policy p = Enforce();
  p.mutable_host()->set_target_used_fraction(0.8);
  PolicyRun comfortable(p, Host(24 * kGiB, 20 * kGiB));
  FakeGuest& low = comfortable.Add(Guest("low").Max(4 * kGiB).Actual(kGiB));
  low.held_until = kStart + absl::Hours(1);
  EXPECT_TRUE(comfortable.CycleUntilQuiet().empty());
  EXPECT_EQ(low.actual, kGiB);
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

TEST(PolicyHostTest, ANeutralHostLeavesSettledGuestsAlone) {
  PolicyRun run = NeutralHost();
  run.Add(Guest("web").Actual(kGiB).Used(300 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());
}

TEST(PolicyStabilityTest, ChangesInsideTheDeadbandAreDropped) {
  PolicyRun run = ShortHost();
  // 10 MiB over its floor: less than the 16 MiB deadband.
  run.Add(Guest("web").Actual(100 * kMiB + 128 * kMiB + kOverhead + 10 * kMiB).Used(100 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());
}

TEST(PolicyStabilityTest, NoFlipFlopWithoutAChangeOfInputs) {
  // A guest given relief, whose use then holds steady, is neither shrunk back nor grown again.
  v1::Policy p = Enforce();
  p.mutable_host()->set_reserve_bytes(100 * kGiB);  // short host: reclaim runs every cycle
  PolicyRun run(p, Host(24 * kGiB, 20 * kGiB));
  FakeGuest& g = run.Add(Guest("web").Max(4 * kGiB).Actual(512 * kMiB).Used(450 * kMiB));
  auto first = run.Cycle();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  for (int i = 0; i < 20; ++i)
    EXPECT_TRUE(run.Cycle().empty()) << "cycle " << i << " at " << g.actual;
}

TEST(PolicyStabilityTest, ShrinkingIsSlowerThanGrowingAfterRelief) {
  // A growing guest on a short host is grown (with room for its growth); once it stops growing it
  // keeps that memory for 30 s before reclaim trims it back to use + headroom.
  PolicyRun run = ShortHost();
  FakeGuest& g = run.Add(Guest("batch").Max(4 * kGiB).Actual(kGiB).Used(700 * kMiB));
  run.Cycle();
  g.used = 880 * kMiB;  // +90 MiB/s
  auto grow = run.Cycle();
  ASSERT_EQ(grow.size(), 1u);
  EXPECT_EQ(grow[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  const int64_t grown = g.actual;
  for (int i = 0; i < 14; ++i) EXPECT_TRUE(run.Cycle().empty()) << "cycle " << i;  // 28 s
  EXPECT_EQ(g.actual, grown);
  run.CycleUntilQuiet();
  EXPECT_LT(g.actual, grown);
  EXPECT_GE(g.actual, 880 * kMiB + 132 * kMiB + kOverhead);  // never below use + headroom
}

TEST(PolicyStabilityTest, SameInputsSameDecisions) {
  auto once = [] {
    PolicyRun run = ShortHost();
    run.Add(Guest("a").Actual(2 * kGiB).Max(2 * kGiB).Used(300 * kMiB));
    run.Add(Guest("b").Actual(kGiB).Used(900 * kMiB));
    std::vector<std::string> out;
    for (int i = 0; i < 5; ++i) {
      for (const auto& d : run.Cycle())
        out.push_back(absl::StrCat(d.name, d.target_bytes, d.explanation));
    }
    return out;
  };
  EXPECT_EQ(once(), once());
}

TEST(PolicySafetyTest, StaleOrMissingStatisticsNeverShrink) {
  PolicyRun run = ShortHost();
  FakeGuest& stale = run.Add(Guest("stale").Actual(kGiB).Used(60 * kMiB));
  run.Add(Guest("silent").Actual(kGiB).Used(60 * kMiB).Silent());
  run.Cycle();
  stale.frozen = true;  // its last report ages from here on
  const int64_t before = stale.actual;
  run.Advance(absl::Seconds(10));
  EXPECT_TRUE(run.Cycle().empty());
  EXPECT_EQ(stale.actual, before);
  EXPECT_EQ(run.guest(1).actual, kGiB);
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

TEST(PolicyBoundsTest, TheKernelsShareIsLearnedWhileTheBalloonIsStill) {
  // While a balloon moves, the guest's MemTotal lags behind it: the floor must still count the
  // kernel's share learned before the move, or it ends up that much too low.
  v1::Policy p = Enforce();
  p.mutable_host()->set_reserve_bytes(100 * kGiB);
  FakeGuest g = Guest("moving").Actual(kGiB).Used(100 * kMiB);
  State state;
  Outcome first =
      Decide(p, Host(24 * kGiB, 20 * kGiB), {g.Input()}, state, kStart + absl::Seconds(2));
  DomainInput moving = g.Input();
  moving.actual_bytes = 600 * kMiB;  // the balloon moved; the report is from before
  moving.report->last_update = kStart + absl::Seconds(3);
  Outcome second =
      Decide(p, Host(24 * kGiB, 20 * kGiB), {moving}, first.state, kStart + absl::Seconds(4));
  ASSERT_EQ(second.decisions.size(), 1u);
  EXPECT_EQ(second.decisions[0].inputs.floor_bytes(), 100 * kMiB + 128 * kMiB + kOverhead);
}

TEST(PolicySafetyTest, ImpossibleStatisticsAreNoStatistics) {
  PolicyRun run = ShortHost();
  run.Add(Guest("liar").Max(kGiB).Actual(kGiB).Used(-300 * kMiB));  // available > total
  EXPECT_TRUE(run.Cycle().empty());
  PolicyRun run2 = ShortHost();
  run2.Add(Guest("bigger").Max(512 * kMiB).Actual(2 * kGiB).Used(60 * kMiB));  // total > max
  for (const auto& d : run2.Cycle()) EXPECT_NE(d.reason, v1::DECISION_REASON_HOST_RECLAIM);
}

TEST(PolicySafetyTest, AnUncooperativeBalloonIsResetAndBackedOffExponentially) {
  PolicyRun run = ShortHost();
  FakeGuest& g = run.Add(Guest("stuck").Actual(2 * kGiB).Max(2 * kGiB).Used(60 * kMiB));
  ASSERT_EQ(run.Cycle(/*stuck=*/true).size(), 1u);  // asked to shrink; the balloon does not move
  std::vector<Decision> strikes;
  for (int i = 0; i < 200; ++i) {
    for (const auto& d : run.Cycle(/*stuck=*/true)) {
      if (d.reason == v1::DECISION_REASON_UNCOOPERATIVE) strikes.push_back(d);
    }
  }
  ASSERT_GE(strikes.size(), 3u);
  EXPECT_EQ(strikes[0].target_bytes, g.actual);  // reset to where it is: not counted as reclaimed
  EXPECT_THAT(strikes[0].explanation, HasSubstr("left alone for 30s"));
  EXPECT_THAT(strikes[1].explanation, HasSubstr("left alone for 1m"));
  EXPECT_THAT(strikes[2].explanation, HasSubstr("left alone for 2m"));
}

TEST(PolicySafetyTest, PausedMigratingAndStoppingDomainsAreSkipped) {
  for (Activity activity : {Activity::kPaused, Activity::kMigrating, Activity::kShuttingDown}) {
    PolicyRun run = ShortHost();
    run.Add(Guest("busy").Actual(kGiB).Used(60 * kMiB).In(activity));
    EXPECT_TRUE(run.Cycle().empty());
  }
}

TEST(PolicySafetyTest, ADisabledDomainIsLeftAlone) {
  v1::Policy p = Enforce();
  (*p.mutable_domains())["pinned"].set_enabled(false);
  PolicyRun run = ShortHost(p);
  run.Add(Guest("pinned").Actual(kGiB).Used(60 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());
}

TEST(PolicyModeTest, ObserveDecidesOnceAndSendsNothing) {
  v1::Policy p;
  p.set_mode(v1::POLICY_MODE_OBSERVE);
  PolicyRun run = ShortHost(p);
  FakeGuest& g = run.Add(Guest("idle").Actual(kGiB).Used(60 * kMiB));
  auto first = run.Cycle();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(g.actual, kGiB);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(run.Cycle().empty());  // the same proposal is not repeated
}

TEST(PolicyModeTest, OffDecidesNothing) {
  v1::Policy p;
  p.set_mode(v1::POLICY_MODE_OFF);
  PolicyRun run = ShortHost(p);
  run.Add(Guest("idle").Actual(kGiB).Used(60 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());
}

TEST(PolicyModeTest, TheDefaultModeIsObserve) {
  EXPECT_EQ(WithDefaults(v1::Policy()).mode(), v1::POLICY_MODE_OBSERVE);
}

TEST(ValidatePolicyTest, RefusesBadValuesNamingTheField) {
  struct Case {
    std::function<void(v1::Policy&)> set;
    const char* field;
  } cases[] = {
      {[](v1::Policy& p) { p.mutable_defaults()->set_headroom_fraction(1.5); },
       "defaults.headroom_fraction"},
      {[](v1::Policy& p) { p.mutable_defaults()->set_shares(0); }, "defaults.shares"},
      {[](v1::Policy& p) { p.mutable_defaults()->set_min_bytes(-1); }, "defaults.min_bytes"},
      {[](v1::Policy& p) { (*p.mutable_domains())["x"].set_max_bytes(0); }, "domains[x].max_bytes"},
      {[](v1::Policy& p) {
         (*p.mutable_domains())["x"].set_min_bytes(2);
         (*p.mutable_domains())["x"].set_max_bytes(1);
       },
       "domains[x].min_bytes"},
      {[](v1::Policy& p) { p.mutable_host()->set_reserve_fraction(1); }, "host.reserve_fraction"},
      {[](v1::Policy& p) { p.mutable_host()->set_target_used_fraction(0.99); },
       "host.target_used_fraction"},
      {[](v1::Policy& p) { p.mutable_host()->set_pressure_threshold(0); },
       "host.pressure_threshold"},
      {[](v1::Policy& p) { p.set_max_shrink_step_bytes(0); }, "max_shrink_step_bytes"},
      {[](v1::Policy& p) { p.mutable_cooperation_timeout()->set_seconds(-1); },
       "cooperation_timeout"},
      {[](v1::Policy& p) { p.set_stale_after_periods(0); }, "stale_after_periods"},
      // Summed with a period count, a value near INT32_MAX would overflow.
      {[](v1::Policy& p) { p.set_stale_after_periods(2147483647); }, "stale_after_periods"},
      // seconds * 1000 wraps around to a positive number of milliseconds: refused all the same.
      {[](v1::Policy& p) { p.mutable_default_hold()->set_seconds(-18446744073709551); },
       "default_hold"},
      {[](v1::Policy& p) { p.mutable_default_hold()->set_seconds(8 * 24 * 3600); }, "default_hold"},
      {[](v1::Policy& p) { p.mutable_max_backoff()->set_seconds(INT64_MAX); }, "max_backoff"},
      {[](v1::Policy& p) {
         p.mutable_cooperation_timeout()->set_seconds(1);
         p.mutable_cooperation_timeout()->set_nanos(-5);
       },
       "cooperation_timeout"},
      {[](v1::Policy& p) { p.mutable_defaults()->set_probe_step_fraction(0.5); },
       "defaults.probe_step_fraction"},
      {[](v1::Policy& p) { p.mutable_defaults()->set_probe_step_fraction(0); },
       "defaults.probe_step_fraction"},
      {[](v1::Policy& p) { (*p.mutable_domains())["x"].set_probe_max_step_bytes(0); },
       "domains[x].probe_max_step_bytes"},
      {[](v1::Policy& p) { p.mutable_defaults()->set_probe_major_faults_per_second(-1); },
       "defaults.probe_major_faults_per_second"},
      {[](v1::Policy& p) { p.mutable_probe_interval()->set_nanos(500000000); }, "probe_interval"},
  };
  for (const auto& c : cases) {
    v1::Policy p;
    c.set(p);
    absl::Status s = ValidatePolicy(p);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.field));
  }
  EXPECT_TRUE(ValidatePolicy(v1::Policy()).ok());
  EXPECT_TRUE(ValidatePolicy(WithDefaults(v1::Policy())).ok());
}

TEST(EffectiveDomainPolicyTest, AnOverrideWinsFieldByField) {
  v1::Policy p;
  p.mutable_defaults()->set_headroom_bytes(256 * kMiB);
  (*p.mutable_domains())["db"].set_min_bytes(kGiB);
  const v1::DomainPolicy db = EffectiveDomainPolicy(p, "db");
  EXPECT_EQ(db.min_bytes(), kGiB);
  EXPECT_EQ(db.headroom_bytes(), 256 * kMiB);
  EXPECT_EQ(db.shares(), 1000);
  EXPECT_EQ(EffectiveDomainPolicy(p, "web").min_bytes(), 128 * kMiB);
}

namespace collection {

// Collection plans after each of `cycles` cycles of `run`, for the guest `name`.
std::vector<int> Plans(PolicyRun& run, const std::string& name, int cycles) {
  std::vector<int> plans;
  for (int i = 0; i < cycles; ++i) {
    run.Cycle();
    plans.push_back(run.CollectEvery(name));
  }
  return plans;
}

TEST(CollectionPlanTest, ASteadyGuestIsCollectedLessAndLessOftenUpToTheMaximum) {
  PolicyRun run = NeutralHost();
  run.Add(Guest("steady").Used(100 * kMiB));
  EXPECT_THAT(Plans(run, "steady", 6), ::testing::ElementsAre(1, 2, 4, 5, 5, 5));
}

TEST(CollectionPlanTest, TheMaximumIsThePolicys) {
  v1::Policy policy = Enforce();
  policy.set_max_collect_interval_periods(1);
  PolicyRun run = NeutralHost(policy);
  run.Add(Guest("steady").Used(100 * kMiB));
  EXPECT_THAT(Plans(run, "steady", 4), ::testing::ElementsAre(1, 1, 1, 1));
}

TEST(CollectionPlanTest, GrowthSwappingOrAShortHostBringsItBackAtOnce) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("web").Used(100 * kMiB));
  Plans(run, "web", 5);
  ASSERT_EQ(run.CollectEvery("web"), 5);

  // Use growing fast enough to reach the low watermark within the longer wait.
  g.used += 300 * kMiB;
  run.Cycle();
  EXPECT_EQ(run.CollectEvery("web"), 1);
  Plans(run, "web", 5);
  ASSERT_EQ(run.CollectEvery("web"), 5);

  g.swap_in += 4 * kMiB;
  run.Cycle();
  EXPECT_EQ(run.CollectEvery("web"), 1);
  Plans(run, "web", 5);
  ASSERT_EQ(run.CollectEvery("web"), 5);

  run.host().available_bytes = 512 * kMiB;  // the host is short: everyone is watched closely
  run.Cycle();
  EXPECT_EQ(run.CollectEvery("web"), 1);
}

TEST(CollectionPlanTest, SlowGrowthFarFromTheWatermarkStaysSteady) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("web").Used(100 * kMiB));
  std::vector<int> plans;
  for (int i = 0; i < 6; ++i) {
    g.used += 64 * 1024;  // 32 KiB/s: hours from the watermark
    run.Cycle();
    plans.push_back(run.CollectEvery("web"));
  }
  EXPECT_THAT(plans, ::testing::ElementsAre(1, 2, 4, 5, 5, 5));
}

TEST(CollectionPlanTest, GuestsThePolicyDoesNotActOnWaitTheLongest) {
  PolicyRun run = NeutralHost();
  run.Add(Guest("paused").In(Activity::kPaused));
  run.Add(Guest("migrating").In(Activity::kMigrating));
  run.Cycle();
  EXPECT_EQ(run.CollectEvery("paused"), 5);
  EXPECT_EQ(run.CollectEvery("migrating"), 5);
}

TEST(CollectionPlanTest, AGuestUnderPressureOrBeingResizedIsCollectedEveryPeriod) {
  PolicyRun run = ShortHost();
  run.Add(Guest("idle").Used(60 * kMiB));
  // Shrinking step by step: each step is watched.
  int steps = 0;
  for (int i = 0; i < 10; ++i) {
    if (!run.Cycle().empty()) ++steps;
    EXPECT_EQ(run.CollectEvery("idle"), 1);
  }
  EXPECT_GE(steps, 2);
}

TEST(CollectionPlanTest, StatisticsAsOldAsTheWaitAreStillFresh) {
  PolicyRun run = NeutralHost();
  FakeGuest& g = run.Add(Guest("steady").Used(100 * kMiB).Actual(512 * kMiB));
  Plans(run, "steady", 5);
  ASSERT_EQ(run.CollectEvery("steady"), 5);
  // Collected every 5 periods, its report is up to 10 s old: not stale (3 periods would be 6 s).
  g.frozen = true;
  for (int i = 0; i < 5; ++i) {
    for (const Decision& d : run.Cycle()) {
      ADD_FAILURE() << "unexpected decision: " << d.explanation;
    }
  }
  // Past stale_after_periods beyond the wait, it is stale: its memory goes back.
  bool given_back = false;
  for (int i = 0; i < 4; ++i) {
    for (const Decision& d : run.Cycle()) {
      given_back |= d.reason == v1::DECISION_REASON_STATS_STALE;
    }
  }
  EXPECT_TRUE(given_back);
}

}  // namespace collection

// Memory promised to reservations counts as used: the policy makes room for it and keeps it.
TEST(ReservationTest, ReservedMemoryIsMadeFromIdleGuestsAndNotGivenBack) {
  PolicyRun run(Enforce(), Host(16 * kGiB, 6 * kGiB));  // reserve 3.2 GiB: neutral
  run.Add(Guest("a").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  run.Add(Guest("b").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  EXPECT_TRUE(run.Cycle().empty());
  run.host().reserved_bytes = 4 * kGiB;
  int64_t taken = 0;
  for (int i = 0; i < 20; ++i) {
    const int64_t before = run.guest(0).actual + run.guest(1).actual;
    const std::vector<Decision> decisions = run.Cycle();
    for (const Decision& d : decisions) {
      EXPECT_EQ(d.reason, v1::DECISION_REASON_HOST_RECLAIM) << d.explanation;
      EXPECT_THAT(d.explanation, HasSubstr("4 GiB of it reserved for VMs to come"));
    }
    const int64_t freed = before - run.guest(0).actual - run.guest(1).actual;
    run.host().available_bytes += freed;  // what the guests gave, the host has
    taken += freed;
    if (decisions.empty()) break;
  }
  // Room for the reservation and the reserve, from both guests, none below its floor.
  EXPECT_GE(run.host().available_bytes - run.host().reserved_bytes,
            static_cast<int64_t>(0.2 * 16 * kGiB));
  EXPECT_GE(taken, 2 * kGiB - kMiB);
  EXPECT_LT(run.guest(0).actual, 4 * kGiB);
  EXPECT_LT(run.guest(1).actual, 4 * kGiB);

  // A host that would be comfortable without the reservation gives nothing back while it lives;
  // once it ends, the guests get their memory again.
  run.host().available_bytes = 12 * kGiB;
  run.host().reserved_bytes = 8 * kGiB;
  EXPECT_TRUE(run.Cycle().empty());
  run.host().reserved_bytes = 0;
  const std::vector<Decision> after = run.Cycle();
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after[0].reason, v1::DECISION_REASON_HOST_GIVE_BACK);
}

TEST(ReservationTest, WhatGuestsWereGivenButNeverTouchedIsNoRoomForAReservation) {
  // 8 GiB available, 3.2 GiB reserve: room for a 2 GiB reservation, unless the guest, which was
  // given 4 GiB and touched 1 GiB of it, counts: then the policy must take from it.
  PolicyRun run(Enforce(), Host(16 * kGiB, 8 * kGiB));
  FakeGuest& g = run.Add(Guest("lazy").Max(4 * kGiB).Actual(4 * kGiB).Used(512 * kMiB));
  run.host().reserved_bytes = 2 * kGiB;
  std::vector<DomainInput> inputs = {g.Input()};
  inputs[0].resident_bytes = kGiB;
  const Outcome o = Decide(Enforce(), run.host(), inputs, State(), run.now());
  ASSERT_EQ(o.decisions.size(), 1u);
  EXPECT_EQ(o.decisions[0].reason, v1::DECISION_REASON_HOST_RECLAIM);
  // The same guest, fully touched: the room is there, nothing is taken.
  inputs[0].resident_bytes = 4 * kGiB;
  EXPECT_TRUE(Decide(Enforce(), run.host(), inputs, State(), run.now()).decisions.empty());
}

TEST(ReservationTest, AGuestAboutToRunOutIsStillRelievedFromTheReservedMemory) {
  PolicyRun run(Enforce(), Host(16 * kGiB, 5 * kGiB));
  run.host().reserved_bytes = 4 * kGiB;  // free 1 GiB: under the reserve
  run.Add(Guest("busy").Max(4 * kGiB).Actual(kGiB).Used(kGiB - kOverhead - 16 * kMiB));
  const std::vector<Decision> decisions = run.Cycle();
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  EXPECT_GT(decisions[0].target_bytes, kGiB);
}

// Probing (DomainPolicy.probe): an idle guest on a comfortable host is shrunk a step at a time
// while it does not refault, and given memory back at once when it does.
namespace probing {

v1::Policy Probing() {
  v1::Policy p = Enforce();
  p.mutable_defaults()->set_probe(true);
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
