#include "agent/collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "tests/fake_hypervisor.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeHypervisor;
using ::balloond::testing::FakeQemu;
using ::testing::HasSubstr;
using ::testing::Optional;

class CollectorTest : public ::testing::Test {
 protected:
  CollectorTest() : collector_(hypervisor_, store_, clock_, Options()) {}

  static CollectorOptions Options() {
    CollectorOptions o;
    o.stats_period = absl::Milliseconds(1500);  // the guest can only poll in whole seconds: 2
    o.rediscover_after = absl::Seconds(30);
    return o;
  }
  void Collect() {
    collector_.CollectOnce();
    collector_.WaitForCollections();
  }
  int Count(const std::string& uuid, const std::string& execute) {
    int n = 0;
    hypervisor_.WithQemu(uuid, [&](FakeQemu& q) { n = q.Count(execute); });
    return n;
  }

  FakeHypervisor hypervisor_;
  SnapshotStore store_;
  FakeClock clock_;
  Collector collector_;
};

TEST_F(CollectorTest, CollectsBalloonAndGuestStats) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  Collect();
  auto snap = store_.Find("web1");
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->balloon, BalloonStatus::kActive);
  EXPECT_EQ(snap->balloon_path, "/machine/peripheral/balloon0");
  EXPECT_THAT(snap->actual_bytes, Optional(536870912));
  ASSERT_TRUE(snap->guest.has_value());
  EXPECT_THAT(snap->guest->Get("stat-available-memory"), Optional(464535552));
  EXPECT_EQ(snap->problem, "");
  EXPECT_EQ(snap->collect_time, clock_.Now());
  EXPECT_TRUE(store_.Find(uuid).has_value());  // by UUID too
}

TEST_F(CollectorTest, SwitchesOnGuestPollingWhereItIsOff) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  hypervisor_.WithQemu(uuid, [](FakeQemu& q) { q.polling_interval = 0; });
  Collect();
  EXPECT_EQ(Count(uuid, "qom-set"), 1);
  int64_t interval = 0;
  hypervisor_.WithQemu(uuid, [&](FakeQemu& q) { interval = q.polling_interval; });
  EXPECT_EQ(interval, 2);
  EXPECT_EQ(store_.Find("web1")->stats_period_seconds, 2);
}

TEST_F(CollectorTest, LeavesAnOperatorsPollingIntervalAlone) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  hypervisor_.WithQemu(uuid, [](FakeQemu& q) { q.polling_interval = 10; });
  Collect();
  EXPECT_EQ(Count(uuid, "qom-set"), 0);
  EXPECT_EQ(store_.Find("web1")->stats_period_seconds, 10);
}

TEST_F(CollectorTest, FindsTheBalloonOnceThenOnlyReadsIt) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  Collect();
  const int lists = Count(uuid, "qom-list");
  Collect();
  Collect();
  EXPECT_EQ(Count(uuid, "qom-list"), lists);
  EXPECT_EQ(Count(uuid, "qom-get"), 1 + 3);  // polling interval once, guest-stats each time
}

TEST_F(CollectorTest, ReadsTheBalloonWhenQemuReportsAChangeAndEveryFewRounds) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  for (int i = 0; i < 4; ++i) Collect();
  EXPECT_EQ(Count(uuid, "query-balloon"), 1);  // nothing changed since the first read
  hypervisor_.WithQemu(uuid, [](FakeQemu& q) {
    q.actual_bytes = 300 << 20;
    ++q.balloon_changes;  // libvirt's BALLOON_CHANGE event
  });
  Collect();
  EXPECT_EQ(store_.Find("web1")->actual_bytes, 300 << 20);
  hypervisor_.WithQemu(uuid, [](FakeQemu& q) { q.actual_bytes = 200 << 20; });  // event lost
  for (int i = 0; i < 5; ++i) Collect();
  EXPECT_EQ(store_.Find("web1")->actual_bytes, 200 << 20);  // the periodic read caught it
}

TEST_F(CollectorTest, ARestartedDomainIsSearchedAndSwitchedOnAgain) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  Collect();
  hypervisor_.Restart(uuid);  // new QEMU: its polling is off and it knows nothing
  hypervisor_.WithQemu(uuid, [](FakeQemu& q) { q.polling_interval = 0; });
  Collect();
  EXPECT_GT(Count(uuid, "qom-list"), 0);
  EXPECT_EQ(Count(uuid, "qom-set"), 1);
  EXPECT_EQ(store_.Find("web1")->balloon, BalloonStatus::kActive);
}

TEST_F(CollectorTest, ADomainWithoutBalloonSaysWhatToDoAndIsNotSearchedEachPeriod) {
  const std::string uuid = hypervisor_.AddDomain("nob");
  hypervisor_.WithQemu(uuid, [](FakeQemu& q) { q.has_balloon = false; });
  Collect();
  auto snap = store_.Find("nob");
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->balloon, BalloonStatus::kNoDevice);
  EXPECT_THAT(snap->problem, HasSubstr("<memballoon model='virtio'/>"));
  EXPECT_FALSE(snap->actual_bytes.has_value());
  const int lists = Count(uuid, "qom-list");
  Collect();
  EXPECT_EQ(Count(uuid, "qom-list"), lists);
  clock_.Advance(absl::Seconds(31));  // a balloon may have been hot-plugged by now
  Collect();
  EXPECT_GT(Count(uuid, "qom-list"), lists);
}

TEST_F(CollectorTest, AGuestThatNeverReportedHasNoStatsAndSaysSo) {
  const std::string uuid = hypervisor_.AddDomain("fresh");
  hypervisor_.WithQemu(uuid, [](FakeQemu& q) { q.guest_stats_file = "guest-stats-unavailable.json"; });
  Collect();
  auto snap = store_.Find("fresh");
  ASSERT_TRUE(snap.has_value());
  ASSERT_TRUE(snap->guest.has_value());
  EXPECT_TRUE(snap->guest->values.empty());
  EXPECT_THAT(snap->problem, HasSubstr("virtio_balloon driver"));
}

TEST_F(CollectorTest, AHungMonitorKeepsTheLastStatsAndOthersGoOn) {
  const std::string hung = hypervisor_.AddDomain("stuck");
  hypervisor_.AddDomain("fine");
  Collect();
  const absl::Time first = store_.Find("stuck")->collect_time;
  hypervisor_.WithQemu(hung, [](FakeQemu& q) { q.hung = true; });
  clock_.Advance(absl::Seconds(2));
  Collect();
  auto stuck = store_.Find("stuck");
  EXPECT_EQ(stuck->balloon, BalloonStatus::kMonitorError);
  EXPECT_THAT(stuck->problem, HasSubstr("did not answer"));
  EXPECT_EQ(stuck->collect_time, first);  // last values kept, with their age
  EXPECT_TRUE(stuck->guest.has_value());
  EXPECT_EQ(store_.Find("fine")->collect_time, clock_.Now());
}

TEST_F(CollectorTest, AsksAboutMigrationEveryFewRounds) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  for (int i = 0; i < 10; ++i) Collect();
  EXPECT_EQ(Count(uuid, "query-migrate"), 2);
  EXPECT_EQ(Count(uuid, "query-balloon"), 2);
  hypervisor_.WithQemu(uuid, [](FakeQemu& q) { q.migration_status = "active"; });
  for (int i = 0; i < 5; ++i) Collect();
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
