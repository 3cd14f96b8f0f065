#include "agent/libvirt/libvirt_events.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "absl/synchronization/mutex.h"

namespace balloond {
namespace {

constexpr char kTestUuid[] = "6695eb01-f6a4-8304-79aa-97f2502e193f";

class RecordedChanges : public DomainChangeListener {
 public:
  void OnDomainChanged(const std::string& uuid) override {
    absl::MutexLock lock(&mu_);
    changed_.insert(uuid);
  }
  bool Told(const std::string& uuid) {
    absl::MutexLock lock(&mu_);
    return changed_.count(uuid) > 0;
  }
  // Whether `uuid` was told of within `timeout`.
  bool AwaitChange(const std::string& uuid, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto told = [&] { return changed_.count(uuid) > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&told), timeout);
  }

 private:
  absl::Mutex mu_;
  std::set<std::string> changed_ ABSL_GUARDED_BY(mu_);
};

TEST(LibvirtEventsTest, NotifyTellsTheListenerUntilClosed) {
  RecordedChanges changes;
  LibvirtEvents events(changes);
  events.Notify("a");
  events.Close();
  events.Notify("b");
  EXPECT_TRUE(changes.Told("a"));
  EXPECT_FALSE(changes.Told("b")) << "no one hears of events after Close";
}

// A change libvirt's test driver announces (the domain's metadata) reaches the listener through
// the registrations, and none does once they are gone.
TEST(LibvirtEventsTest, TheRegisteredDomainEventsReachTheListener) {
  StartLibvirtEventLoop();
  virConnectPtr conn = virConnectOpen("test:///default");
  ASSERT_NE(conn, nullptr);
  RecordedChanges changes;
  auto events = std::make_shared<LibvirtEvents>(changes);
  const std::vector<int> registrations = RegisterDomainEvents(conn, events);
  EXPECT_EQ(registrations.size(), 6u);
  for (int id : registrations) EXPECT_GE(id, 0);

  virDomainPtr dom = virDomainLookupByName(conn, "test");
  ASSERT_NE(dom, nullptr);
  ASSERT_EQ(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_DESCRIPTION, "changed", nullptr, nullptr,
                                 VIR_DOMAIN_AFFECT_LIVE),
            0);
  EXPECT_TRUE(changes.AwaitChange(kTestUuid, absl::Seconds(10)));

  DeregisterDomainEvents(conn, registrations);
  virDomainFree(dom);
  virConnectClose(conn);
}

}  // namespace
}  // namespace balloond
