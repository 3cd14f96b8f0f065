#include "agent/policy_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "agent/collector.h"
#include "policy/units.h"
#include "tests/fake_hypervisor.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeDomain;
using ::balloond::testing::FakeHypervisor;
using ::testing::HasSubstr;

// The recorded guest (512 MiB, 443 MiB available) on a host whose reserve it cannot meet.
class PolicyRunnerTest : public ::testing::Test {
 protected:
  PolicyRunnerTest() : collector_(hypervisor_, snapshots_, clock_, CollectorOptions()) {
    char tmpl[] = "/tmp/policy-runner-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    uuid_ = hypervisor_.AddDomain("web1");
    collector_.CollectOnce();
    collector_.WaitForCalls();
  }
  ~PolicyRunnerTest() override { std::filesystem::remove_all(dir_); }

  void RunWithMode(v1::PolicyMode mode) {
    v1::Policy p;
    p.set_mode(mode);
    p.mutable_host()->set_reserve_bytes(64LL << 30);
    auto store = PolicyStore::Open(dir_, p);
    ASSERT_TRUE(store.ok());
    PolicyRunner runner(
        snapshots_, hypervisor_, clock_, **store, log_,
        [] {
          HostMemory h;
          h.mem_total_bytes = 24LL << 30;
          h.mem_available_bytes = 20LL << 30;
          return absl::StatusOr<HostMemory>(h);
        },
        [this] { ++refreshes_; }, PolicyRunnerOptions());
    runner.RunOnce();
  }
  int Balloons() {
    int n = 0;
    hypervisor_.WithDomain(uuid_,
                           [&](FakeDomain& d) { n = static_cast<int>(d.targets_set.size()); });
    return n;
  }

  FakeHypervisor hypervisor_;
  SnapshotStore snapshots_;
  FakeClock clock_;
  Collector collector_;
  DecisionLog log_;
  std::string dir_, uuid_;
  int refreshes_ = 0;
};

TEST_F(PolicyRunnerTest, EnforceSendsTheTargetAndRecordsWhy) {
  RunWithMode(v1::POLICY_MODE_ENFORCE);
  EXPECT_EQ(Balloons(), 1);
  int64_t actual = 0;
  hypervisor_.WithDomain(uuid_, [&](FakeDomain& d) { actual = d.targets_set.back(); });
  auto decisions = log_.List("web1", 10);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(actual, decisions[0].target_bytes());
  EXPECT_EQ(actual, decisions[0].inputs().floor_bytes());  // 315 MiB over its floor: one step
  EXPECT_TRUE(decisions[0].applied());
  EXPECT_EQ(decisions[0].mode(), v1::POLICY_MODE_ENFORCE);
  EXPECT_EQ(decisions[0].reason(), v1::DECISION_REASON_HOST_RECLAIM);
  EXPECT_EQ(decisions[0].previous_bytes(), 512 * kMiB);
  EXPECT_EQ(decisions[0].inputs().guest_available_bytes(), 453648 * 1024);
  EXPECT_THAT(decisions[0].explanation(), HasSubstr("web1"));
  EXPECT_EQ(refreshes_, 1);
}

TEST_F(PolicyRunnerTest, ObserveRecordsAndSendsNothing) {
  RunWithMode(v1::POLICY_MODE_OBSERVE);
  EXPECT_EQ(Balloons(), 0);
  auto decisions = log_.List("", 10);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].mode(), v1::POLICY_MODE_OBSERVE);
  EXPECT_FALSE(decisions[0].applied());
}

TEST_F(PolicyRunnerTest, OffDoesNothing) {
  RunWithMode(v1::POLICY_MODE_OFF);
  EXPECT_EQ(Balloons(), 0);
  EXPECT_TRUE(log_.List("", 10).empty());
}

TEST_F(PolicyRunnerTest, AFailedSendIsRecordedAsNotApplied) {
  hypervisor_.WithDomain(uuid_, [](FakeDomain& d) { d.hung = true; });
  RunWithMode(v1::POLICY_MODE_ENFORCE);
  auto decisions = log_.List("", 10);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_FALSE(decisions[0].applied());
  EXPECT_THAT(decisions[0].error(), HasSubstr("did not answer"));
}

TEST_F(PolicyRunnerTest, AMigratingDomainIsLeftAlone) {
  // A new QEMU process (as on a migration's destination, or after a restart) is asked at once.
  hypervisor_.Restart(uuid_);
  hypervisor_.WithDomain(uuid_, [](FakeDomain& d) { d.job_active = true; });
  collector_.CollectOnce();
  collector_.WaitForCalls();
  collector_.CollectOnce();  // the job check's answer shows from the next collection
  collector_.WaitForCalls();
  RunWithMode(v1::POLICY_MODE_ENFORCE);
  EXPECT_EQ(Balloons(), 0);
  EXPECT_TRUE(log_.List("", 10).empty());
}

TEST(DecisionLogTest, ListsNewestLastAndTellsItsListener) {
  DecisionLog log(3);
  std::vector<uint64_t> heard;
  log.SetListener([&](const v1::Decision& d) { heard.push_back(d.sequence()); });
  for (const char* name : {"a", "b", "a", "c"}) {
    v1::Decision d;
    d.set_domain(name);
    log.Append(d);
  }
  auto all = log.List("", 10);
  ASSERT_EQ(all.size(), 3u);  // capacity 3: the oldest dropped
  EXPECT_EQ(all.front().domain(), "b");
  EXPECT_EQ(all.back().sequence(), 4u);
  EXPECT_EQ(log.List("a", 10).size(), 1u);
  EXPECT_EQ(heard, (std::vector<uint64_t>{1, 2, 3, 4}));  // numbered, in order
}

}  // namespace
}  // namespace balloond
