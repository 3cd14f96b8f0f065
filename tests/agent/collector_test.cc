#include "agent/collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "tests/fake_hypervisor.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeDomain;
using ::balloond::testing::FakeHypervisor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

class CollectorTest : public ::testing::Test {
 protected:
  CollectorTest() : collector_(hypervisor_, store_, clock_, Options()) {}

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
  FakeDomain Domain(const std::string& uuid) {
    FakeDomain copy;
    hypervisor_.WithDomain(uuid, [&](FakeDomain& d) { copy = d; });
    return copy;
  }

  FakeHypervisor hypervisor_;
  SnapshotStore store_;
  FakeClock clock_;
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

TEST_F(CollectorTest, ChecksJobsEveryFewCollections) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  for (int i = 0; i < 10; ++i) Collect();
  EXPECT_EQ(Domain(uuid).job_checks, 2);
  EXPECT_FALSE(store_.Find("web1")->migrating);
  hypervisor_.WithDomain(uuid, [](FakeDomain& d) { d.job_active = true; });
  for (int i = 0; i < 6; ++i) Collect();
  EXPECT_TRUE(store_.Find("web1")->migrating);
}

TEST_F(CollectorTest, AStoppedDomainLeavesTheStore) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  Collect();
  hypervisor_.RemoveDomain(uuid);
  Collect();
  EXPECT_FALSE(store_.Find("web1").has_value());
}

TEST_F(CollectorTest, ReportsLibvirtReachabilityAndKeepsSnapshots) {
  std::vector<bool> seen;
  collector_.SetReachabilityCallback([&seen](bool r) { seen.push_back(r); });
  hypervisor_.AddDomain("web1");
  Collect();
  hypervisor_.SetReachable(false);
  Collect();
  EXPECT_FALSE(collector_.libvirt_reachable());
  EXPECT_TRUE(store_.Find("web1").has_value());
  hypervisor_.SetReachable(true);
  Collect();
  EXPECT_EQ(seen, (std::vector<bool>{true, false, true}));
}

TEST(CollectorLoopTest, RoundsAreAnnouncedOnlyWhileLibvirtAnswers) {
  FakeHypervisor hypervisor;
  SnapshotStore store;
  FakeClock clock;
  CollectorOptions options;
  options.stats_period = absl::Milliseconds(20);
  Collector collector(hypervisor, store, clock, options);
  std::atomic<int> rounds{0};
  collector.SetRoundCallback([&] { ++rounds; });
  hypervisor.AddDomain("web1");
  collector.Start();
  auto wait_for = [](const std::function<bool()>& done) {
    for (int i = 0; i < 500 && !done(); ++i) absl::SleepFor(absl::Milliseconds(10));
    return done();
  };
  ASSERT_TRUE(wait_for([&] { return rounds > 2; }));
  hypervisor.SetReachable(false);
  ASSERT_TRUE(wait_for([&] { return !collector.libvirt_reachable(); }));
  absl::SleepFor(absl::Milliseconds(50));  // a round already past its check may still announce
  const int before = rounds;
  absl::SleepFor(absl::Milliseconds(200));  // ten periods
  EXPECT_EQ(rounds, before);
  collector.Stop();
}

}  // namespace
}  // namespace balloond
