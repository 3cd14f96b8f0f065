#include "agent/steering/policy_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "agent/collect/collector.h"
#include "policy/sizes.h"
#include "tests/agent/base/temp_dir.h"
#include "tests/agent/libvirt/fake_hypervisor.h"

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
    holds_ = *HoldStore::Open(dir_);
    reservations_ = *ReservationStore::Open(dir_);
    uuid_ = hypervisor_.AddDomain("web1");
    collector_.CollectOnce();
    collector_.WaitForCalls();
  }

  void RunWithMode(v1::PolicyMode mode) {
    v1::Policy p;
    p.set_mode(mode);
    p.mutable_host()->set_reserve_bytes(64LL << 30);
    auto store = PolicyStore::Open(dir_, p);
    ASSERT_TRUE(store.ok());
    PolicyRunner runner(
        {snapshots_, hypervisor_, clock_, **store, *holds_, log_, collection_, collection_,
         capacity_, *reservations_, events_},
        [] {
          HostMemory h;
          h.mem_total_bytes = 24LL << 30;
          h.mem_available_bytes = 20LL << 30;
          return absl::StatusOr<HostMemory>(h);
        },
        PolicyRunnerOptions());
    // What a client watching every event would read.
    ASSERT_TRUE(events_.Subscribe(&seen_, EventCursor()).ok());
    runner.RunOnce();
    events_.Unsubscribe(&seen_);
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
  CapacityStore capacity_;
  EventLog events_{clock_, "test"};
  testing::TempDir temp_{"policy-runner-test"};
  std::string dir_ = temp_.path();
  std::string uuid_;
  // The collection as the runner sees it: refreshes asked for, plans given.
  struct Collection final : public CollectionPlanner, public DomainInterest {
    void SetCollectionPlan(const std::map<std::string, int>& every) override { plan = every; }
    void RequestRefresh(const std::string&) override { ++refreshes; }
    void NoteInterest(const std::string&) override {}
    std::map<std::string, int> plan;
    int refreshes = 0;
  } collection_;
  std::unique_ptr<HoldStore> holds_;
  std::unique_ptr<ReservationStore> reservations_;
  struct Seen final : public EventListener {
    bool OnEvent(const std::shared_ptr<const v1::Event>& event) override {
      kinds.push_back(event->kind());
      all.push_back(*event);
      return true;
    }
    std::vector<v1::EventKind> kinds;
    std::vector<v1::Event> all;
  } seen_;
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
  EXPECT_EQ(collection_.refreshes, 1);
  // The host short of its reserve, then the reclaim, which names its decision.
  ASSERT_THAT(seen_.kinds,
              ::testing::ElementsAre(v1::EVENT_KIND_HOST_SHORT_BEGAN, v1::EVENT_KIND_RECLAIM));
  EXPECT_EQ(seen_.all[1].domain(), "web1");
  EXPECT_EQ(seen_.all[1].bytes(), actual);
  EXPECT_EQ(seen_.all[1].decision_sequence(), decisions[0].sequence());
  EXPECT_EQ(seen_.all[1].sequence(), seen_.all[0].sequence() + 1);
}

TEST_F(PolicyRunnerTest, ObserveRecordsAndSendsNothing) {
  RunWithMode(v1::POLICY_MODE_OBSERVE);
  EXPECT_EQ(Balloons(), 0);
  auto decisions = log_.List("", 10);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].mode(), v1::POLICY_MODE_OBSERVE);
  EXPECT_FALSE(decisions[0].applied());
  // What the host is, without a move that was not made.
  EXPECT_THAT(seen_.kinds, ::testing::ElementsAre(v1::EVENT_KIND_HOST_SHORT_BEGAN));
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

}  // namespace
}  // namespace balloond
