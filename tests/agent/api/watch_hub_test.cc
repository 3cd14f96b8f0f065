// Fanning messages out to the watchers of a key.
#include "agent/api/watch_hub.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace balloond {
namespace {

class Recorder final : public WatchHub<std::string>::Watcher {
 public:
  void Deliver(const std::shared_ptr<const std::string>& m) override { got.push_back(*m); }
  void Close(const grpc::Status& s) override { closed = s.error_message(); }
  std::vector<std::string> got;
  std::string closed;
};

TEST(WatchHubTest, EachWatcherHearsItsKeyOnlyUntilItLeaves) {
  WatchHub<std::string> hub;
  Recorder a, b;
  hub.Subscribe("web1", &a);
  hub.Subscribe("web2", &b);
  EXPECT_TRUE(hub.HasWatchers("web1"));
  hub.Publish("web1", std::make_shared<const std::string>("one"));
  hub.Publish("web3", std::make_shared<const std::string>("nobody"));
  hub.Unsubscribe("web1", &a);
  EXPECT_FALSE(hub.HasWatchers("web1"));
  hub.Publish("web1", std::make_shared<const std::string>("two"));
  EXPECT_EQ(a.got, std::vector<std::string>{"one"});
  EXPECT_TRUE(b.got.empty());
}

TEST(WatchHubTest, ClosingAKeyOrAllEndsTheirWatchers) {
  WatchHub<std::string> hub;
  Recorder a, b;
  hub.Subscribe("web1", &a);
  hub.Subscribe("web2", &b);
  hub.CloseKey("web1", grpc::Status(grpc::StatusCode::NOT_FOUND, "gone"));
  EXPECT_EQ(a.closed, "gone");
  EXPECT_EQ(b.closed, "");
  hub.CloseAll(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
  EXPECT_EQ(b.closed, "shutting down");
}

}  // namespace
}  // namespace balloond
