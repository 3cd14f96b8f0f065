// What watchers hear: each domain's new statistics, why it ended, and the policy's decisions by the
// domain's UUID or name.
#include "agent/api/watch_feeds.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "tests/agent/libvirt/fake_hypervisor.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeHypervisor;
using ::testing::HasSubstr;

template <typename Message>
class Recorder final : public WatchHub<Message>::Watcher {
 public:
  void Deliver(const std::shared_ptr<const Message>& m) override { got.push_back(*m); }
  void Close(const grpc::Status& s) override { closed = s; }
  std::vector<Message> got;
  grpc::Status closed;
};

TEST(StatsFeedTest, WatchersHearEachSnapshotAndWhyTheirDomainEnded) {
  FakeHypervisor hypervisor;
  FakeClock clock;
  WorkerPool lookups("lookup", 1);
  BalloonPathCache paths;
  StatsFeed feed(hypervisor, clock, lookups, paths);
  SnapshotStore store(&feed);
  DomainSnapshot snap;
  snap.info.name = "web1";
  snap.info.uuid = "uuid-web1";
  Recorder<StatsUpdate> watcher;
  EXPECT_FALSE(feed.Watched("uuid-web1"));
  feed.hub().Subscribe("uuid-web1", &watcher);
  EXPECT_TRUE(feed.Watched("uuid-web1")) << "read every period while watched";
  store.Put(snap);
  store.Put(snap);
  ASSERT_EQ(watcher.got.size(), 2u);
  EXPECT_LT(watcher.got[0].generation, watcher.got[1].generation);
  EXPECT_EQ(watcher.got[1].stats.domain().name(), "web1");

  store.Remove("uuid-web1");  // libvirt no longer knows it: destroyed
  lookups.WaitIdle();
  EXPECT_EQ(watcher.closed.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(watcher.closed.error_message(), HasSubstr("'web1' was destroyed"));
  feed.hub().Unsubscribe("uuid-web1", &watcher);
  lookups.Stop();
}

TEST(DecisionFeedTest, WatchersOfAllOfADomainsNameOrOfItsUuidHearItsDecisions) {
  DecisionFeed feed;
  SnapshotStore store;
  Recorder<v1::Decision> all, by_name, by_uuid, other;
  feed.hub().Subscribe(DecisionFeed::KeyFor(store, ""), &all);
  feed.hub().Subscribe(DecisionFeed::KeyFor(store, "web1"), &by_name);
  feed.hub().Subscribe(DecisionFeed::KeyFor(store, "391037F5-3B33-45B2-A1AE-E8003355C6AC"),
                       &by_uuid);
  feed.hub().Subscribe(DecisionFeed::KeyFor(store, "web2"), &other);
  v1::Decision d;
  d.set_domain("web1");
  d.set_uuid("391037f5-3b33-45b2-a1ae-e8003355c6ac");
  feed.OnDecision(d);
  EXPECT_EQ(all.got.size(), 1u);
  EXPECT_EQ(by_name.got.size(), 1u);
  EXPECT_EQ(by_uuid.got.size(), 1u);
  EXPECT_TRUE(other.got.empty());
}

}  // namespace
}  // namespace balloond
