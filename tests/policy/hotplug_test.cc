#include "policy/hotplug.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "policy/capacity.h"
#include "policy/policy.h"
#include "policy/sizes.h"
#include "tests/policy/test_guest.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;
using ::testing::Optional;

constexpr int64_t kBoot = 512 * kMiB;
constexpr int64_t kDevice = 2 * kGiB;

// A guest booted with 512 MiB and a 2 GiB virtio-mem device of 2 MiB blocks.
struct HotplugGuest {
  int64_t balloon = kBoot;
  int64_t plugged = 0;
  int64_t requested = 0;
  int64_t used = 100 * kMiB;
  // What the guest cannot unplug (kernel memory in its blocks).
  int64_t unmovable = 0;
  bool definition_read = true;

  DomainInput Input() const {
    DomainInput in;
    in.uuid = "uuid-g";
    in.name = "g";
    in.max_memory_bytes = kBoot + kDevice;
    in.actual_bytes = balloon + plugged;
    in.resident_bytes = balloon + plugged;
    in.hotplug = Hotplug{plugged, requested, kDevice, 2 * kMiB};
    in.definition_read = definition_read;
    in.report = LinuxReport(balloon + plugged, used, absl::Time());
    return in;
  }
  // What QEMU and the guest make of a decision, at once (the device's new request is seen a
  // cycle later when `request_seen_late`, as when libvirt's XML is read again after a while).
  bool request_seen_late = false;
  std::optional<int64_t> late_request;
  // Cycles a guest takes before its plugged size starts to fall once asked to unplug (moving its
  // pages out of the blocks first).
  int unplug_lag_cycles = 0;
  int unplug_lands_in = 0;
  void Apply(const Decision& d) {
    balloon = d.balloon_target_bytes;
    if (d.requested_bytes && request_seen_late) {
      late_request = *d.requested_bytes;
      plugged = std::max(*d.requested_bytes, std::min(plugged, unmovable));
    } else if (d.requested_bytes && unplug_lag_cycles > 0 && *d.requested_bytes < plugged) {
      if (*d.requested_bytes != requested) unplug_lands_in = unplug_lag_cycles;
      requested = *d.requested_bytes;
    } else if (d.requested_bytes) {
      requested = *d.requested_bytes;
      plugged = std::max(requested, std::min(plugged, unmovable));
    }
  }
  // A cycle passed: a slow unplug lands when its time has come.
  void Tick() {
    if (unplug_lands_in > 0 && --unplug_lands_in == 0) {
      plugged = std::max(requested, std::min(plugged, unmovable));
    }
  }
};

DomainInput Plain(int64_t max, int64_t actual) {
  DomainInput in;
  in.max_memory_bytes = max;
  in.actual_bytes = actual;
  return in;
}

TEST(SplitMoveTest, WithoutADeviceTheBalloonTakesItAll) {
  const MemoryMove move = SplitMove(Plain(kGiB, 512 * kMiB), 700 * kMiB, true);
  EXPECT_EQ(move.balloon_bytes, 700 * kMiB);
  EXPECT_FALSE(move.requested_bytes);
  EXPECT_EQ(DescribeMove(Plain(kGiB, 512 * kMiB), move), "");
}

TEST(SplitMoveTest, GrowingDeflatesTheBalloonFirstThenPlugsWholeBlocks) {
  HotplugGuest g;
  g.balloon = 300 * kMiB;
  MemoryMove within = SplitMove(g.Input(), 400 * kMiB, true);
  EXPECT_EQ(within.balloon_bytes, 400 * kMiB);
  EXPECT_FALSE(within.requested_bytes) << "nothing to plug while the balloon has room";

  MemoryMove past = SplitMove(g.Input(), kBoot + 100 * kMiB, true);
  EXPECT_EQ(past.balloon_bytes, kBoot);
  EXPECT_THAT(past.requested_bytes, Optional(100 * kMiB));
  EXPECT_THAT(DescribeMove(g.Input(), past),
              HasSubstr("virtio-mem plugs 100 MiB more (requested 100 MiB of 2 GiB), the balloon "
                        "deflates to the boot memory, 512 MiB"));

  MemoryMove odd = SplitMove(g.Input(), kBoot + 101 * kMiB, true);
  EXPECT_THAT(odd.requested_bytes, Optional(102 * kMiB)) << "101 MiB, rounded up to a block";
  EXPECT_EQ(odd.balloon_bytes, kBoot - kMiB) << "the deflating balloon keeps the difference back";
  HotplugGuest full;
  MemoryMove at_full_size = SplitMove(full.Input(), kBoot + 101 * kMiB, true);
  EXPECT_EQ(at_full_size.balloon_bytes, kBoot) << "a full balloon is not inflated for it";

  MemoryMove beyond = SplitMove(g.Input(), 10 * kGiB, true);
  EXPECT_THAT(beyond.requested_bytes, Optional(kDevice)) << "no more than the device has";
}

TEST(SplitMoveTest, ShrinkingUnplugsBlocksFirstAndTheBalloonTakesTheRest) {
  HotplugGuest g;
  g.plugged = g.requested = kGiB;
  MemoryMove move = SplitMove(g.Input(), kBoot + kGiB - 301 * kMiB, true);
  EXPECT_THAT(move.requested_bytes, Optional(kGiB - 300 * kMiB));
  EXPECT_EQ(move.balloon_bytes, kBoot - kMiB) << "what is less than a block";
  EXPECT_THAT(DescribeMove(g.Input(), move), HasSubstr("virtio-mem unplugs 300 MiB"));

  MemoryMove refused = SplitMove(g.Input(), kBoot + kGiB - 301 * kMiB, /*may_unplug=*/false);
  EXPECT_FALSE(refused.requested_bytes) << "the device at rest is left alone";
  EXPECT_EQ(refused.balloon_bytes, kBoot - 301 * kMiB);

  // The balloon cannot take more than the boot memory: it leaves the guest 64 MiB of it.
  EXPECT_EQ(SplitMove(g.Input(), 256 * kMiB, false).balloon_bytes, 64 * kMiB);
}

TEST(SplitMoveTest, AShrinkStopsAPlugOnItsWay) {
  HotplugGuest g;
  g.plugged = 200 * kMiB;
  g.requested = kGiB;
  MemoryMove move = SplitMove(g.Input(), kBoot + 200 * kMiB, true);
  EXPECT_THAT(move.requested_bytes, Optional(200 * kMiB));
  EXPECT_EQ(move.balloon_bytes, kBoot);
}

v1::Policy Enforce() {
  v1::Policy p;
  p.set_mode(v1::POLICY_MODE_ENFORCE);
  return p;
}

HostInput Host(int64_t available, int64_t reserve_total = 24 * kGiB) {
  HostInput h;
  h.total_bytes = reserve_total;
  h.available_bytes = available;
  return h;
}

// Cycles of the policy every 2 s over one guest, its decisions applied.
struct HotplugRun {
  v1::Policy policy = Enforce();
  HostInput host = Host(12 * kGiB);
  HotplugGuest guest;
  State state;
  absl::Time now = kStart;
  std::vector<Decision> Cycle() {
    now += absl::Seconds(2);
    guest.Tick();
    // A request made late shows only after this cycle has seen the old one once more.
    const std::optional<int64_t> arriving = std::exchange(guest.late_request, std::nullopt);
    DomainInput in = guest.Input();
    in.report->last_update = now;
    Outcome out = Decide(policy, host, {in}, state, now);
    state = out.state;
    for (const Decision& d : out.decisions) guest.Apply(d);
    if (arriving) guest.requested = *arriving;
    return out.decisions;
  }
};

TEST(PolicyHotplugTest, AGuestThatNeedsMoreThanItBootedWithIsPlugged) {
  HotplugRun run;
  run.policy.mutable_host()->set_target_used_fraction(0.4);  // neutral: 12 of 24 GiB available
  run.guest.used = 900 * kMiB;  // more than it has: it reports all it has as used
  auto first = run.Cycle();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].reason, v1::DECISION_REASON_GUEST_PRESSURE);
  EXPECT_EQ(first[0].target_bytes, kBoot - kOverhead + 128 * kMiB + kOverhead);
  EXPECT_EQ(first[0].balloon_target_bytes, kBoot);
  EXPECT_THAT(first[0].requested_bytes, Optional(128 * kMiB));
  EXPECT_THAT(first[0].explanation, HasSubstr("virtio-mem plugs 128 MiB more"));
  for (int i = 0; i < 20; ++i) {
    for (const Decision& d : run.Cycle()) {
      EXPECT_EQ(d.reason, v1::DECISION_REASON_GUEST_PRESSURE);
      EXPECT_EQ(d.balloon_target_bytes, kBoot);
    }
  }
  // Its use, its headroom and what its kernel keeps, beyond the boot memory: all plugged (and
  // more: relief gives ahead of the growth it saw).
  EXPECT_GE(run.guest.plugged, 900 * kMiB + 128 * kMiB + kOverhead - kBoot);
  EXPECT_EQ(run.guest.balloon, kBoot);
}

TEST(PolicyHotplugTest, AComfortableHostGivesBackTheBalloonButPlugsNothing) {
  HotplugRun run;
  run.host = Host(22 * kGiB);
  run.guest.balloon = 300 * kMiB;
  std::vector<Decision> all;
  for (int i = 0; i < 10; ++i) {
    for (const Decision& d : run.Cycle()) all.push_back(d);
  }
  ASSERT_FALSE(all.empty());
  for (const Decision& d : all) {
    EXPECT_EQ(d.reason, v1::DECISION_REASON_HOST_GIVE_BACK);
    EXPECT_FALSE(d.requested_bytes) << d.explanation;
  }
  EXPECT_EQ(run.guest.balloon, kBoot);
  EXPECT_EQ(run.guest.plugged, 0);
}

TEST(PolicyHotplugTest, AShortHostUnplugsIdleMemory) {
  HotplugRun run;
  run.policy.mutable_host()->set_reserve_bytes(100 * kGiB);  // always short
  run.guest.plugged = run.guest.requested = kGiB;
  run.guest.used = 300 * kMiB;
  std::vector<Decision> all;
  for (int i = 0; i < 20; ++i) {
    for (const Decision& d : run.Cycle()) all.push_back(d);
  }
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0].reason, v1::DECISION_REASON_HOST_RECLAIM);
  EXPECT_THAT(all[0].explanation, HasSubstr("virtio-mem unplugs"));
  // Down to use + headroom + what the kernel keeps: 468 MiB, all of it unplugged.
  EXPECT_EQ(run.guest.plugged, 0);
  EXPECT_EQ(run.guest.balloon, 300 * kMiB + 128 * kMiB + kOverhead);
}

TEST(PolicyHotplugTest, ADomainWhoseDefinitionIsUnreadIsCountedButNotMoved) {
  HotplugRun run;
  run.policy.mutable_host()->set_reserve_bytes(100 * kGiB);  // short: it would be squeezed
  run.guest.definition_read = false;
  run.guest.plugged = run.guest.requested = kGiB;
  EXPECT_TRUE(run.Cycle().empty());
  run.guest.used = 1400 * kMiB;  // nor relieved: what it has is not known yet
  EXPECT_TRUE(run.Cycle().empty());
  DomainInput in = run.guest.Input();
  in.report->last_update = run.now;
  const HostCapacity c = AssessCapacity(run.policy, run.host, {in}, run.state, run.now);
  ASSERT_EQ(c.domains.size(), 1u);
  EXPECT_EQ(c.balloon_bytes, kBoot + kGiB) << "the host's figures count it";
  EXPECT_EQ(c.domains[0].reclaimable_bytes, 0);
  EXPECT_THAT(c.domains[0].not_reclaimable_why, HasSubstr("definition has not been read"));
}

// Seen on a real guest (HotplugIntegrationTest): memory plugged long ago, then asked to unplug,
// was reported refused a cycle after the request, before the guest had unplugged anything.
TEST(PolicyHotplugTest, MemoryPluggedLongAgoHasItsTimeToUnplugOnceAsked) {
  HotplugRun run;
  run.host = Host(22 * kGiB);  // roomy: nothing asked of the device for a minute
  run.guest.plugged = run.guest.requested = kGiB;
  run.guest.used = 1400 * kMiB;
  for (int i = 0; i < 30; ++i) {
    for (const Decision& d : run.Cycle()) EXPECT_FALSE(d.requested_bytes) << d.explanation;
  }
  run.guest.used = 300 * kMiB;
  run.guest.unplug_lag_cycles = 3;  // 6 s, within the 10 s the policy waits for cooperation
  run.policy.mutable_host()->set_reserve_bytes(100 * kGiB);
  for (int i = 0; i < 20; ++i) {
    for (const Decision& d : run.Cycle()) {
      EXPECT_NE(d.reason, v1::DECISION_REASON_UNPLUG_REFUSED) << d.explanation;
    }
  }
  EXPECT_EQ(run.guest.plugged, 0) << "all of it unplugged";
}

void ExpectReportedOnce(bool request_seen_late);

TEST(PolicyHotplugTest, AGuestThatWillNotUnplugIsReportedOnceAndTheBalloonTakesOver) {
  for (bool late : {false, true}) {
    SCOPED_TRACE(late ? "the new request seen a cycle late" : "the new request seen at once");
    ExpectReportedOnce(late);
  }
}

void ExpectReportedOnce(bool request_seen_late) {
  HotplugRun run;
  run.guest.request_seen_late = request_seen_late;
  run.policy.mutable_host()->set_reserve_bytes(100 * kGiB);
  run.guest.plugged = run.guest.requested = kGiB;
  run.guest.unmovable = 200 * kMiB;
  run.guest.used = 300 * kMiB;
  std::vector<Decision> refusals, later;
  for (int i = 0; i < 60; ++i) {
    for (const Decision& d : run.Cycle()) {
      if (d.reason == v1::DECISION_REASON_UNPLUG_REFUSED) {
        refusals.push_back(d);
      } else if (!refusals.empty()) {
        later.push_back(d);
      }
    }
  }
  ASSERT_EQ(refusals.size(), 1u) << "reported once, not retried in a loop";
  EXPECT_THAT(refusals[0].requested_bytes, Optional(200 * kMiB)) << "asked for what it kept";
  EXPECT_THAT(refusals[0].explanation, HasSubstr("kept 200 MiB of virtio-mem memory plugged"));
  EXPECT_THAT(refusals[0].explanation, HasSubstr("online_movable"));
  EXPECT_EQ(run.guest.requested, 200 * kMiB);
  // The balloon took the rest: the guest has its floor, 468 MiB, 200 of it plugged.
  EXPECT_EQ(run.guest.balloon + run.guest.plugged, 300 * kMiB + 128 * kMiB + kOverhead);
  EXPECT_EQ(run.guest.plugged, 200 * kMiB);
  ASSERT_FALSE(later.empty());
  for (const Decision& d : later) {
    EXPECT_GE(d.requested_bytes.value_or(kGiB), 200 * kMiB) << d.explanation;
  }
}

}  // namespace
}  // namespace balloond::policy
