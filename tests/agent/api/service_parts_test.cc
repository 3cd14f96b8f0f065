#include "agent/api/service_parts.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/agent/api/service_fixture.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;

class ServicePartsTest : public ::balloond::testing::ServiceFixture {};

// Every listener's services are made from the parts: they must be one set, so that a change made
// on one socket is seen on every other and a retried request is known whichever socket it takes.
TEST_F(ServicePartsTest, EveryListenersServicesStandOnTheSameParts) {
  ReadService::Parts a = services_.read();
  ReadService::Parts b = services_.read();
  EXPECT_EQ(&a.snapshots, &store_);
  EXPECT_EQ(&a.holds, holds_.get());
  EXPECT_EQ(&a.events, &events_);
  EXPECT_EQ(&a.qom, &b.qom);
  ControlService::Parts c = services_.control();
  ControlService::Parts d = services_.control();
  EXPECT_EQ(&c.requests, &d.requests);
  EXPECT_EQ(&c.operations, &d.operations);
  EXPECT_EQ(&c.clock, &clock_);
}

template <typename Message>
class EndedWatcher : public WatchHub<Message>::Watcher {
 public:
  void Deliver(const std::shared_ptr<const Message>&) override {}
  void Close(const grpc::Status& status) override { ended = status.error_message(); }
  std::string ended;
};

class EndedListener : public EventListener {
 public:
  bool OnEvent(const std::shared_ptr<const v1::Event>&) override { return true; }
  void OnClose(const absl::Status& why) override { ended = std::string(why.message()); }
  std::string ended;
};

TEST_F(ServicePartsTest, CloseWatchesEndsTheStatisticsDecisionAndEventWatches) {
  EndedWatcher<StatsUpdate> stats;
  EndedWatcher<v1::Decision> decisions;
  EndedListener events;
  stats_feed_.hub().Subscribe("uuid-1", &stats);
  decision_feed_.hub().Subscribe("", &decisions);
  ASSERT_TRUE(events_.Subscribe(&events, EventCursor{}).ok());

  services_.CloseWatches(grpc::Status(grpc::StatusCode::UNAVAILABLE, "balloond stops"));
  EXPECT_EQ(stats.ended, "balloond stops");
  EXPECT_EQ(decisions.ended, "balloond stops");
  EXPECT_EQ(events.ended, "balloond stops");
  stats_feed_.hub().Unsubscribe("uuid-1", &stats);
  decision_feed_.hub().Unsubscribe("", &decisions);
  events_.Unsubscribe(&events);
}

}  // namespace
}  // namespace balloond
