#include "agent/collect/collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "tests/agent/libvirt/fake_hypervisor.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeDomain;
using ::balloond::testing::FakeHypervisor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

// What the collector tells the daemon, as a test sees it.
class RecordedEvents final : public CollectorEvents {
 public:
  void OnReachability(const absl::Status& reachable) override {
    absl::MutexLock lock(&mu_);
    reachability.push_back(reachable.ok());
  }
  void OnRound(absl::Duration) override { ++rounds; }
  void OnHeartbeat() override { ++loops; }
  std::vector<bool> Reachability() {
    absl::MutexLock lock(&mu_);
    return reachability;
  }
  std::atomic<int> rounds{0}, loops{0};

 private:
  absl::Mutex mu_;
  std::vector<bool> reachability;
};

// Domains a client watches, as the test says.
class AllOrNoneWatched final : public WatchedDomains {
 public:
  bool Watched(const std::string&) const override { return watched; }
  std::atomic<bool> watched{false};
};

class CollectorTest : public ::testing::Test {
 protected:
  CollectorTest()
      : collector_(hypervisor_, store_, clock_, Options(), {nullptr, &events_, &watched_}) {}

  static CollectorOptions Options() {
    CollectorOptions o;
    o.stats_period = absl::Milliseconds(1500);  // the guest can only report in whole seconds: 2
    return o;
  }
  // One collection, and the per-domain calls it started.
  void Collect() {
    collector_.CollectOnce();
    collector_.WaitForCalls();
  }
  void CollectAPeriodLater() {
    clock_.Advance(Options().stats_period);
    Collect();
  }
  FakeDomain Domain(const std::string& uuid) {
    FakeDomain copy;
    hypervisor_.WithDomain(uuid, [&](FakeDomain& d) { copy = d; });
    return copy;
  }

  FakeHypervisor hypervisor_;
  SnapshotStore store_;
  FakeClock clock_;
  RecordedEvents events_;
  AllOrNoneWatched watched_;
  Collector collector_;
};

TEST_F(CollectorTest, CollectsTheBalloonAndTheGuestsStatisticsFromLibvirt) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  Collect();
  auto snap = store_.Find("web1");
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->balloon, BalloonStatus::kActive);
  EXPECT_THAT(snap->actual_bytes, Optional(536870912));
  ASSERT_TRUE(snap->guest.has_value());
  // libvirt's KiB, in bytes (tests/testdata/libvirt-9.0/domstats-booted.txt).
  EXPECT_THAT(snap->guest->Get("stat-available-memory"), Optional(453648 * 1024));
  EXPECT_THAT(snap->guest->Get("stat-total-memory"), Optional(481428 * 1024));
  EXPECT_THAT(snap->guest->Get("stat-minor-faults"), Optional(665));
  EXPECT_EQ(snap->guest->last_update_unix_seconds, 1795634559);
  EXPECT_EQ(snap->problem, "");
  EXPECT_EQ(snap->collect_time, clock_.Now());
  EXPECT_TRUE(store_.Find(uuid).has_value());  // by UUID too
}

TEST_F(CollectorTest, NothingGoesToQemuButThroughLibvirtsApi) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  for (int i = 0; i < 6; ++i) Collect();
  EXPECT_TRUE(Domain(uuid).qmp.empty()) << "QMP passthrough taints the domain";
  EXPECT_EQ(hypervisor_.collections(), 6);
}

TEST_F(CollectorTest, SwitchesOnGuestReportingWhereItIsOff) {
  const std::string uuid = hypervisor_.AddDomain("web1");  // its XML has no <stats period>
  Collect();  // reads the definition and switches reporting on
  Collect();
  EXPECT_THAT(Domain(uuid).periods_set, ElementsAre(2));
  EXPECT_EQ(store_.Find("web1")->stats_period_seconds, 2);
}

TEST_F(CollectorTest, LeavesAnOperatorsReportingPeriodAlone) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  hypervisor_.WithDomain(uuid, [](FakeDomain& d) { d.config.stats_period_seconds = 5; });
  for (int i = 0; i < 3; ++i) Collect();
  EXPECT_TRUE(Domain(uuid).periods_set.empty());
  EXPECT_EQ(store_.Find("web1")->stats_period_seconds, 5);
}

TEST_F(CollectorTest, ReadsADefinitionOncePerQemuProcessAndWhenItChanges) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  for (int i = 0; i < 5; ++i) Collect();
  EXPECT_EQ(Domain(uuid).config_reads, 1);
  collector_.RequestRefresh(uuid);  // libvirt reported a device added or removed
  Collect();
  EXPECT_EQ(Domain(uuid).config_reads, 2);
  hypervisor_.Restart(uuid);  // a new QEMU process
  Collect();
  EXPECT_EQ(Domain(uuid).config_reads, 1);
}

TEST_F(CollectorTest, ADomainWithoutBalloonSaysWhatToDo) {
  const std::string uuid = hypervisor_.AddDomain("nob");
  hypervisor_.WithDomain(uuid, [](FakeDomain& d) {
    d.config.has_balloon = false;
    d.stats_file = "domstats-no-balloon.txt";
  });
  Collect();
  Collect();
  auto snap = store_.Find("nob");
  EXPECT_EQ(snap->balloon, BalloonStatus::kNoDevice);
  EXPECT_THAT(snap->problem, HasSubstr("<memballoon model='virtio'/>"));
  EXPECT_FALSE(snap->guest.has_value());
  EXPECT_TRUE(Domain(uuid).periods_set.empty());
}

TEST_F(CollectorTest, AGuestThatNeverReportedSaysSo) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  hypervisor_.WithDomain(uuid, [](FakeDomain& d) { d.stats_file = "domstats-never-reported.txt"; });
  Collect();
  auto snap = store_.Find("web1");
  EXPECT_EQ(snap->guest->last_update_unix_seconds, 0);
  EXPECT_FALSE(snap->guest->Get("stat-available-memory").has_value());
  EXPECT_THAT(snap->problem, HasSubstr("has not reported memory statistics"));
}

TEST_F(CollectorTest, ABusyMonitorKeepsTheLastStatisticsThenSaysSo) {
  const std::string hung = hypervisor_.AddDomain("hung");
  hypervisor_.AddDomain("fine");
  Collect();
  const absl::Time first = clock_.Now();
  hypervisor_.WithDomain(hung, [](FakeDomain& d) { d.hung = true; });
  clock_.Advance(absl::Seconds(2));
  Collect();
  auto snap = store_.Find("hung");
  EXPECT_EQ(snap->balloon, BalloonStatus::kActive) << "one skipped collection is no problem yet";
  EXPECT_EQ(snap->collect_time, first);
  EXPECT_TRUE(snap->guest.has_value());
  clock_.Advance(absl::Seconds(2));
  Collect();
  snap = store_.Find("hung");
  EXPECT_EQ(snap->balloon, BalloonStatus::kMonitorError);
  EXPECT_THAT(snap->problem, HasSubstr("is its QEMU process stopped or overloaded?"));
  EXPECT_EQ(snap->collect_time, first) << "the statistics keep their age";
  EXPECT_EQ(store_.Find("fine")->collect_time, clock_.Now()) << "the others go on";
  hypervisor_.WithDomain(hung, [](FakeDomain& d) { d.hung = false; });
  Collect();
  EXPECT_EQ(store_.Find("hung")->balloon, BalloonStatus::kActive);
}

TEST_F(CollectorTest, ChecksJobsEveryFewPeriods) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  for (int i = 0; i < 10; ++i) CollectAPeriodLater();
  EXPECT_EQ(Domain(uuid).job_checks, 2);
  EXPECT_FALSE(store_.Find("web1")->migrating);
  hypervisor_.WithDomain(uuid, [](FakeDomain& d) { d.job_active = true; });
  for (int i = 0; i < 6; ++i) CollectAPeriodLater();
  EXPECT_TRUE(store_.Find("web1")->migrating);
}

TEST_F(CollectorTest, ExtraCollectionsDoNotCheckJobsMoreOften) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  for (int i = 0; i < 10; ++i) Collect();  // e.g. after events: no time passes
  EXPECT_EQ(Domain(uuid).job_checks, 1);
}

TEST_F(CollectorTest, ASteadyDomainIsReadAsOftenAsThePlanSays) {
  const std::string steady = hypervisor_.AddDomain("steady");
  const std::string busy = hypervisor_.AddDomain("busy");
  CollectAPeriodLater();  // new domains are read at once
  collector_.SetCollectionPlan({{steady, 4}});
  for (int i = 0; i < 12; ++i) CollectAPeriodLater();
  EXPECT_EQ(Domain(busy).stats_reads, 13);
  EXPECT_EQ(Domain(steady).stats_reads, 4);  // the first collection, then every fourth period
  // Its snapshot stays, with the statistics' age growing, between reads.
  EXPECT_EQ(store_.Find("steady")->balloon, BalloonStatus::kActive);
  EXPECT_EQ(hypervisor_.collections(), 13);
}

TEST_F(CollectorTest, AnEventOrAReadBringsASteadyDomainBackAtOnce) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  CollectAPeriodLater();
  collector_.SetCollectionPlan({{uuid, 5}});
  CollectAPeriodLater();
  EXPECT_EQ(Domain(uuid).stats_reads, 1);

  collector_.RequestRefresh(uuid);  // a lifecycle or balloon event, or a target set
  CollectAPeriodLater();
  EXPECT_EQ(Domain(uuid).stats_reads, 2);
  CollectAPeriodLater();
  EXPECT_EQ(Domain(uuid).stats_reads, 2);

  // A client's read: every period for a while, from the next collection on.
  collector_.NoteInterest(uuid);
  for (int i = 0; i < 3; ++i) CollectAPeriodLater();
  EXPECT_EQ(Domain(uuid).stats_reads, 5);

  // A watch stream on it: every period for as long as it is open.
  watched_.watched = true;
  for (int i = 0; i < 8; ++i) CollectAPeriodLater();
  EXPECT_EQ(Domain(uuid).stats_reads, 13);
  watched_.watched = false;
  for (int i = 0; i < 5; ++i) CollectAPeriodLater();
  EXPECT_EQ(Domain(uuid).stats_reads, 14);
}

TEST_F(CollectorTest, ASteadyDomainThatStartsUsingCpuIsReadAtOnce) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  const int64_t period_ns = absl::ToInt64Nanoseconds(Options().stats_period);
  auto use_cpu = [&](double share) {
    hypervisor_.WithDomain(uuid, [&](FakeDomain& d) {
      d.cpu_time_ns += static_cast<int64_t>(share * static_cast<double>(period_ns));
    });
  };
  CollectAPeriodLater();
  collector_.SetCollectionPlan({{uuid, 10}});
  // Idle at 3 % of a CPU (an emulated guest's timer ticks): read once more while balloond learns
  // that this is its idle, then left alone.
  for (int i = 0; i < 6; ++i) {
    use_cpu(0.03);
    CollectAPeriodLater();
  }
  EXPECT_EQ(Domain(uuid).stats_reads, 2);
  // Then it runs: read in the same collection that sees it.
  use_cpu(0.5);
  CollectAPeriodLater();
  EXPECT_EQ(Domain(uuid).stats_reads, 3);
  use_cpu(0.03);
  CollectAPeriodLater();
  EXPECT_EQ(Domain(uuid).stats_reads, 3);
}

TEST_F(CollectorTest, APausedDomainIsLeftAloneUntilItsResumeEvent) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  hypervisor_.WithDomain(uuid, [](FakeDomain& d) { d.info.state = DomainRunState::kPaused; });
  CollectAPeriodLater();
  collector_.SetCollectionPlan({{uuid, 3}});
  for (int i = 0; i < 2; ++i) {
    // Whatever its QEMU does (a paused guest's QEMU still runs its I/O thread), its guest cannot.
    hypervisor_.WithDomain(uuid, [](FakeDomain& d) { d.cpu_time_ns += 1000000000; });
    CollectAPeriodLater();
  }
  EXPECT_EQ(Domain(uuid).stats_reads, 1);
  hypervisor_.WithDomain(uuid, [](FakeDomain& d) { d.info.state = DomainRunState::kRunning; });
  collector_.RequestRefresh(uuid);  // libvirt's lifecycle event: resumed
  CollectAPeriodLater();
  EXPECT_EQ(Domain(uuid).stats_reads, 2);
  EXPECT_EQ(store_.Find("web1")->info.state, DomainRunState::kRunning);
}

TEST_F(CollectorTest, AnEmptyPlanReadsEveryDomainEveryPeriod) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  CollectAPeriodLater();
  collector_.SetCollectionPlan({{uuid, 5}});
  CollectAPeriodLater();
  collector_.SetCollectionPlan({});  // the policy was switched off
  CollectAPeriodLater();
  CollectAPeriodLater();
  EXPECT_EQ(Domain(uuid).stats_reads, 3);
}

TEST_F(CollectorTest, AReconnectionReadsEveryDomain) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  CollectAPeriodLater();
  collector_.SetCollectionPlan({{uuid, 5}});
  hypervisor_.SetReachable(false);
  CollectAPeriodLater();
  hypervisor_.SetReachable(true);
  CollectAPeriodLater();
  EXPECT_EQ(Domain(uuid).stats_reads, 2);
}

TEST_F(CollectorTest, ABusyMonitorIsAskedAgainNextPeriod) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  CollectAPeriodLater();
  collector_.SetCollectionPlan({{uuid, 5}});
  for (int i = 0; i < 4; ++i) CollectAPeriodLater();
  hypervisor_.WithDomain(uuid, [](FakeDomain& d) { d.hung = true; });
  CollectAPeriodLater();  // due: read, but its monitor did not answer
  CollectAPeriodLater();  // so asked again at once
  EXPECT_EQ(Domain(uuid).stats_reads, 3);
}

TEST_F(CollectorTest, AStoppedDomainLeavesTheStore) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  Collect();
  hypervisor_.RemoveDomain(uuid);
  Collect();
  EXPECT_FALSE(store_.Find("web1").has_value());
}

TEST_F(CollectorTest, ReportsLibvirtReachabilityAndKeepsSnapshots) {
  hypervisor_.AddDomain("web1");
  Collect();
  hypervisor_.SetReachable(false);
  Collect();
  EXPECT_FALSE(collector_.libvirt_reachable());
  EXPECT_TRUE(store_.Find("web1").has_value());
  hypervisor_.SetReachable(true);
  Collect();
  EXPECT_EQ(events_.Reachability(), (std::vector<bool>{true, false, true}));
}

TEST(CollectorLoopTest, RoundsAreAnnouncedOnlyWhileLibvirtAnswers) {
  FakeHypervisor hypervisor;
  SnapshotStore store;
  FakeClock clock;
  CollectorOptions options;
  options.stats_period = absl::Seconds(2);
  RecordedEvents events;
  Collector collector(hypervisor, store, clock, options, {nullptr, &events, nullptr});
  std::atomic<int>& rounds = events.rounds;
  std::atomic<int>& loops = events.loops;
  hypervisor.AddDomain("web1");
  collector.Start();
  // Lets the loop's wait for the next period end, until `done` (the loop runs on its own thread).
  auto periods_until = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 5000 && !done(); ++i) {
      clock.Advance(options.stats_period);
      absl::SleepFor(absl::Milliseconds(1));
    }
    return done();
  };
  ASSERT_TRUE(periods_until([&] { return rounds > 2; }));
  hypervisor.SetReachable(false);
  ASSERT_TRUE(periods_until([&] { return !collector.libvirt_reachable(); }));
  // Two more loops: any round announced before libvirt went away is counted by then.
  const int seen = loops;
  ASSERT_TRUE(periods_until([&] { return loops >= seen + 2; }));
  const int before = rounds;
  const int later = loops;
  ASSERT_TRUE(periods_until([&] { return loops >= later + 10; }));  // ten periods
  EXPECT_EQ(rounds, before);
  collector.Stop();
}

}  // namespace
}  // namespace balloond
