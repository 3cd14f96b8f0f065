// A request's domain reference, resolved as clients see it.
#include "agent/steering/domain_resolver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/agent/libvirt/fake_hypervisor.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeDomain;
using ::balloond::testing::FakeHypervisor;
using ::testing::HasSubstr;

TEST(ResolveDomainTest, EachCaseHasItsCode) {
  FakeHypervisor hypervisor;
  SnapshotStore store;
  const std::string running = hypervisor.AddDomain("web1");
  DomainSnapshot snap;
  snap.info.name = "web1";
  snap.info.uuid = running;
  store.Put(snap);
  const absl::Time deadline = absl::InfiniteFuture();
  EXPECT_EQ(ResolveDomain(store, hypervisor, "web1", deadline)->info.uuid, running);
  EXPECT_EQ(ResolveDomain(store, hypervisor, running, deadline)->info.name, "web1");

  EXPECT_EQ(ResolveDomain(store, hypervisor, "nowhere", deadline).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ResolveDomain(store, hypervisor, "", deadline).status().code(),
            absl::StatusCode::kInvalidArgument);

  const std::string stopped = hypervisor.AddDomain("db1");
  hypervisor.WithDomain(stopped, [](FakeDomain& d) { d.info.active = false; });
  absl::Status s = ResolveDomain(store, hypervisor, "db1", deadline).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("virsh start db1"));

  hypervisor.AddDomain("new1");  // running, not collected yet
  EXPECT_EQ(ResolveDomain(store, hypervisor, "new1", deadline).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace balloond
