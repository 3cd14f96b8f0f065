// Clients' QOM queries against the fake hypervisor, which answers with QMP recorded from QEMU 7.2.
#include "agent/qom/domain_monitor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/agent/libvirt/fake_hypervisor.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeDomain;
using ::balloond::testing::FakeHypervisor;
using ::testing::Contains;
using ::testing::Field;

TEST(DomainMonitorTest, ListsAndGetsQomPropertiesOfTheDomain) {
  FakeHypervisor hypervisor;
  const std::string uuid = hypervisor.AddDomain("web1");
  DomainMonitor monitor(hypervisor, uuid, absl::InfiniteFuture());
  auto listed = monitor.QomList("/machine/peripheral");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, Contains(Field(&QomPropertyInfo::name, "balloon0")));
  auto value = monitor.QomGet("/machine/peripheral/balloon0", "guest-stats-polling-interval");
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_TRUE(value->is_number());
}

TEST(DomainMonitorTest, QemusErrorsAndAHungQemuAreStatuses) {
  FakeHypervisor hypervisor;
  const std::string uuid = hypervisor.AddDomain("web1");
  DomainMonitor monitor(hypervisor, uuid, absl::InfiniteFuture());
  EXPECT_FALSE(monitor.QomGet("/machine/peripheral/balloon0", "no-such-property").ok());
  hypervisor.WithDomain(uuid, [](FakeDomain& d) { d.hung = true; });
  EXPECT_EQ(monitor.QomList("/machine").status().code(), absl::StatusCode::kDeadlineExceeded);
  DomainMonitor gone(hypervisor, "no-such-uuid", absl::InfiniteFuture());
  EXPECT_EQ(gone.QomList("/machine").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace balloond
