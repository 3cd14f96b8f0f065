// The domains' lives and libvirt's reachability as events, from the snapshot store's changes.
#include "agent/steering/lifecycle_events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "tests/agent/base/fake_clock.h"
#include "tests/agent/steering/event_recorder.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class LifecycleEventsTest : public ::testing::Test {
 protected:
  std::vector<v1::EventKind> Heard() { return recorder_.Heard(); }
  const std::vector<v1::Event>& last() const { return recorder_.last(); }
  static DomainSnapshot Snapshot(int id, bool migrating = false) {
    DomainSnapshot s;
    s.info.name = "web1";
    s.info.uuid = "u-1";
    s.info.id = id;
    s.migrating = migrating;
    return s;
  }

  FakeClock clock_;
  EventLog log_{clock_, "e"};
  LifecycleEvents lifecycle_{log_};
  ::balloond::testing::EventRecorder recorder_{log_};
};

TEST_F(LifecycleEventsTest, DomainsFoundAtStartAreToldApartFromThoseThatStartLater) {
  lifecycle_.OnSnapshot(Snapshot(1));
  lifecycle_.OnReachability(absl::OkStatus());  // the first collection is in
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_DOMAIN_STARTED));
  EXPECT_THAT(last()[0].message(), HasSubstr("running when balloond started"));
  lifecycle_.OnSnapshot(Snapshot(1));
  EXPECT_THAT(Heard(), IsEmpty());
  lifecycle_.OnRemoved(Snapshot(1));
  lifecycle_.OnSnapshot(Snapshot(2));
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_DOMAIN_STOPPED, v1::EVENT_KIND_DOMAIN_STARTED));
  EXPECT_EQ(last()[1].message(), "the domain started");
  EXPECT_EQ(last()[1].uuid(), "u-1");
}

TEST_F(LifecycleEventsTest, ARestartBetweenTwoCollectionsIsAStopAndAStart) {
  lifecycle_.OnSnapshot(Snapshot(1));
  Heard();
  lifecycle_.OnSnapshot(Snapshot(7));
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_DOMAIN_STOPPED, v1::EVENT_KIND_DOMAIN_STARTED));
}

TEST_F(LifecycleEventsTest, AJobBeginsAndEndsAndADomainThatLeavesDuringOneMigrated) {
  lifecycle_.OnSnapshot(Snapshot(1));
  lifecycle_.OnSnapshot(Snapshot(1, true));
  lifecycle_.OnSnapshot(Snapshot(1, false));
  lifecycle_.OnSnapshot(Snapshot(1, true));
  lifecycle_.OnRemoved(Snapshot(1, true));
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_DOMAIN_STARTED, v1::EVENT_KIND_MIGRATION_STARTED,
                                   v1::EVENT_KIND_MIGRATION_ENDED, v1::EVENT_KIND_MIGRATION_STARTED,
                                   v1::EVENT_KIND_DOMAIN_MIGRATED));
}

TEST_F(LifecycleEventsTest, LibvirtLostAndRegainedAreToldOnceEach) {
  lifecycle_.OnReachability(absl::OkStatus());
  EXPECT_THAT(Heard(), IsEmpty());  // the start, not a return
  lifecycle_.OnReachability(absl::UnavailableError("Cannot recv data"));
  lifecycle_.OnReachability(absl::UnavailableError("Cannot recv data"));
  lifecycle_.OnReachability(absl::OkStatus());
  EXPECT_THAT(Heard(), ElementsAre(v1::EVENT_KIND_LIBVIRT_LOST, v1::EVENT_KIND_LIBVIRT_REGAINED));
  EXPECT_THAT(last()[0].message(), HasSubstr("Cannot recv data"));
}

}  // namespace
}  // namespace balloond
