#include "agent/steering/memory_actuator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/libvirt/libvirt_stats.h"
#include "policy/sizes.h"
#include "tests/agent/libvirt/fake_hypervisor.h"
#include "tests/testdata.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeDomain;
using ::balloond::testing::FakeHypervisor;
using ::balloond::testing::ReadTestData;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kFar = absl::InfiniteFuture();

// A snapshot of a domain as the collector keeps it, with the fake's definition.
DomainSnapshot SnapshotOf(FakeHypervisor& h, const std::string& uuid) {
  DomainSnapshot snap;
  snap.info.uuid = uuid;
  snap.config = *h.ReadConfig(uuid, kFar);
  return snap;
}

TEST(MemoryActuatorTest, ADomainWithoutVirtioMemMovesOnlyItsBalloon) {
  FakeHypervisor h;
  const std::string uuid = h.AddDomain("plain");
  DomainSnapshot snap = SnapshotOf(h, uuid);
  EXPECT_EQ(ActedOnDevice(snap), nullptr);
  EXPECT_FALSE(HotplugOf(snap));
  ASSERT_TRUE(SendMove(h, snap, {400 * kMiB, std::nullopt}, kFar).ok());
  h.WithDomain(uuid, [](FakeDomain& d) {
    EXPECT_THAT(d.targets_set, ElementsAre(400 * kMiB));
    EXPECT_THAT(d.requests_set, IsEmpty());
  });
}

TEST(MemoryActuatorTest, TheDeviceIsAskedFirstThenTheBalloon) {
  FakeHypervisor h;
  const std::string uuid = h.AddDomain("hotplug");
  h.WithDomain(uuid, [](FakeDomain& d) {
    d.config = *ParseDomainXml(ReadTestData("libvirt-9.0/dumpxml-virtio-mem.xml"));
  });
  DomainSnapshot snap = SnapshotOf(h, uuid);
  ASSERT_NE(ActedOnDevice(snap), nullptr);
  EXPECT_EQ(ActedOnDevice(snap)->alias, "virtiomem0");
  const auto hotplug = HotplugOf(snap);
  ASSERT_TRUE(hotplug);
  EXPECT_EQ(hotplug->plugged_bytes, 512 * kMiB);
  EXPECT_EQ(hotplug->size_bytes, 2 * kGiB);
  EXPECT_EQ(hotplug->block_bytes, 2 * kMiB);

  ASSERT_TRUE(SendMove(h, snap, {512 * kMiB, kGiB}, kFar).ok());
  h.WithDomain(uuid, [](FakeDomain& d) {
    EXPECT_THAT(d.requests_set, ElementsAre(kGiB));
    EXPECT_THAT(d.targets_set, ElementsAre(512 * kMiB));
    EXPECT_EQ(d.actual_bytes, 1536 * kMiB) << "libvirt's balloon size counts what is plugged";
  });
  // A size the device cannot take: the balloon is left as it is.
  EXPECT_EQ(SendMove(h, snap, {256 * kMiB, kMiB}, kFar).code(), absl::StatusCode::kInvalidArgument);
  h.WithDomain(uuid, [](FakeDomain& d) { EXPECT_EQ(d.targets_set.size(), 1u); });
}

}  // namespace
}  // namespace balloond
