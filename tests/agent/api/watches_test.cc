// The watch streams as a client sees them, over an in-process gRPC channel: statistics pushed on
// change and ended with the domain, decisions and events of the domain and kinds asked for, and the
// watch limits refused with RESOURCE_EXHAUSTED naming their settings.
#include "agent/api/watches.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <vector>

#include "tests/agent/api/read_service_fixture.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeDomain;
using ::balloond::testing::FakeHypervisor;
using ::balloond::testing::Limits;
using ::testing::HasSubstr;

class WatchesTest : public ::balloond::testing::ReadServiceFixture {
 protected:
  using ReadServiceFixture::ReadServiceFixture;
};

TEST_F(WatchesTest, AWatchGetsEachNewCollectionAndEndsWhenTheDomainIsGone) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  Collect();
  Watch w = WatchStats("web1");
  v1::MemoryStats first;
  ASSERT_TRUE(w.reader->Read(&first));
  EXPECT_EQ(first.domain().name(), "web1");
  EXPECT_TRUE(first.guest().has_available_memory_bytes());

  clock_.Advance(absl::Seconds(2));
  Collect();
  v1::MemoryStats next;
  ASSERT_TRUE(w.reader->Read(&next));
  EXPECT_GT(next.collect_time().seconds(), first.collect_time().seconds());

  hypervisor_.RemoveDomain(uuid);
  Collect();
  while (w.reader->Read(&next)) {
  }
  grpc::Status s = w.reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("'web1' was destroyed"));
}

// A watch of a domain that is not running waits for libvirt to say why; the client may give up
// first, and gRPC be done with its stream, before the lookup answers. The lookup then ends a stream
// that is already over, and touches nothing freed (ASan, in the checked build, sees to that).
TEST_F(WatchesTest, AWatchCancelledWhileItsLookupWaitsIsNeverTouchedAfterward) {
  hypervisor_.Block(FakeHypervisor::Call::kLookup);
  constexpr int kWatches = 8;
  std::vector<Watch> watches;
  for (int i = 0; i < kWatches; ++i) watches.push_back(WatchStats("shut-off-vm"));
  hypervisor_.AwaitBlocked(FakeHypervisor::Call::kLookup,
                           1);  // the lookup pool's one worker is held
  for (Watch& w : watches) {
    w.ctx->TryCancel();
    v1::MemoryStats m;
    EXPECT_FALSE(w.reader->Read(&m));
    EXPECT_EQ(w.reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // Every stream is done on the server's side too (its place in the limits given back).
  while (listener_.limits().open_watches() > 0) absl::SleepFor(absl::Milliseconds(1));
  hypervisor_.Unblock(FakeHypervisor::Call::kLookup);
  lookups_.WaitIdle();
  listener_.lookups().WaitIdle();

  // The service goes on serving.
  hypervisor_.AddDomain("web1");
  Collect();
  Watch w = WatchStats("web1");
  v1::MemoryStats m;
  EXPECT_TRUE(w.reader->Read(&m));
}

TEST_F(WatchesTest, WatchesPastTheCapAreRefusedNamingTheSetting) {
  hypervisor_.AddDomain("web1");
  Collect();
  std::vector<Watch> open = OpenStatsWatches("web1", 4);
  ASSERT_FALSE(::testing::Test::HasFailure());
  grpc::Status s = RefusedStatsWatch("web1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("limits.max_watches"));

  // A closed watch gives its place back.
  open.back().ctx->TryCancel();
  open.back().reader->Finish();
  open.pop_back();
  v1::MemoryStats m;
  for (int i = 0; i < 100; ++i) {
    Watch again = WatchStats("web1");
    if (again.reader->Read(&m)) return;
    again.reader->Finish();
    absl::SleepFor(absl::Milliseconds(10));  // the server sees the cancel a moment later
  }
  ADD_FAILURE() << "the freed place was never given to a new watch";
}

// One user holding every watch it may leaves the listener's others to every other user.
class TwoWatchesPerClientTest : public WatchesTest {
 protected:
  static ListenerContext::Settings Shares() {
    ListenerContext::Settings s = Limits(8, 4);
    s.calls.max_watches_per_client = 2;
    return s;
  }
  TwoWatchesPerClientTest() : WatchesTest(Shares()) {}
};

TEST_F(TwoWatchesPerClientTest, AClientPastItsShareOfWatchesIsRefusedNamingTheSetting) {
  hypervisor_.AddDomain("web1");
  Collect();
  std::vector<Watch> open = OpenStatsWatches("web1", 2);
  ASSERT_FALSE(::testing::Test::HasFailure());
  grpc::Status s = RefusedStatsWatch("web1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("uid 1000 already has 2 watch streams"));
  EXPECT_THAT(s.error_message(), HasSubstr("limits.max_watches_per_client"));
}

TEST_F(WatchesTest, DecisionWatchersGetTheirDomainsDecisions) {
  auto ctx = Context();
  v1::WatchDecisionsRequest req;
  req.set_domain("web2");
  auto reader = stub_->WatchDecisions(ctx.get(), req);
  // The stream is open once the server has the subscription: wait for it through the hub.
  const std::string key = DecisionFeed::KeyFor(store_, "web2");
  for (int i = 0; i < 500 && !decision_feed_.hub().HasWatchers(key); ++i) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  for (const char* name : {"web1", "web2", "web1", "web2"}) {
    v1::Decision d;
    d.set_domain(name);
    decisions_.Append(d);
  }
  v1::Decision d;
  ASSERT_TRUE(reader->Read(&d));
  EXPECT_EQ(d.sequence(), 2u);
  ASSERT_TRUE(reader->Read(&d));
  EXPECT_EQ(d.sequence(), 4u);
  ctx->TryCancel();
}

class EventWatchTest : public WatchesTest {
 protected:
  void Append(v1::EventKind kind, const std::string& domain) {
    events_.Append(domain.empty() ? HostEvent(kind, "host")
                                  : DomainEvent(kind, domain,
                                                "00000000-0000-0000-0000-00000000000" +
                                                    domain.substr(domain.size() - 1),
                                                "it happened"));
  }
  struct EventStream {
    std::unique_ptr<grpc::ClientContext> ctx = Context();
    std::unique_ptr<grpc::ClientReader<v1::Event>> reader;
    v1::Event Next() {
      v1::Event e;
      EXPECT_TRUE(reader->Read(&e));
      return e;
    }
  };
  EventStream Watch(const v1::WatchEventsRequest& req) {
    EventStream s;
    s.reader = stub_->WatchEvents(s.ctx.get(), req);
    return s;
  }
};

TEST_F(EventWatchTest, AWatchOfOneDomainGetsItsHistoryThenItsNewEventsOnly) {
  Append(v1::EVENT_KIND_DOMAIN_STARTED, "web1");
  Append(v1::EVENT_KIND_DOMAIN_STARTED, "web2");
  Append(v1::EVENT_KIND_HOST_SHORT_BEGAN, "");
  v1::WatchEventsRequest req;
  req.set_domain("web1");
  auto stream = Watch(req);
  v1::Event e = stream.Next();
  EXPECT_EQ(e.sequence(), 1u);
  EXPECT_EQ(e.domain(), "web1");
  EXPECT_EQ(e.epoch(), "test-epoch");
  Append(v1::EVENT_KIND_RELIEF, "web2");
  Append(v1::EVENT_KIND_RELIEF, "web1");
  e = stream.Next();
  EXPECT_EQ(e.sequence(), 5u);
  EXPECT_EQ(e.kind(), v1::EVENT_KIND_RELIEF);
  // By UUID, the same.
  req.set_domain("00000000-0000-0000-0000-000000000001");
  req.add_kinds(v1::EVENT_KIND_RELIEF);
  auto by_uuid = Watch(req);
  EXPECT_EQ(by_uuid.Next().sequence(), 5u);
  stream.ctx->TryCancel();
  by_uuid.ctx->TryCancel();
}

TEST_F(EventWatchTest, AClientThatReconnectsFromItsLastSequenceMissesNone) {
  Append(v1::EVENT_KIND_DOMAIN_STARTED, "web1");
  uint64_t last = 0;
  std::string epoch;
  {
    auto stream = Watch(v1::WatchEventsRequest());
    const v1::Event e = stream.Next();
    last = e.sequence();
    epoch = e.epoch();
    stream.ctx->TryCancel();
  }
  // Meanwhile, away.
  Append(v1::EVENT_KIND_RELIEF, "web1");
  Append(v1::EVENT_KIND_DOMAIN_STOPPED, "web1");
  v1::WatchEventsRequest resume;
  resume.set_after_sequence(last);
  resume.set_epoch(epoch);
  auto stream = Watch(resume);
  EXPECT_EQ(stream.Next().kind(), v1::EVENT_KIND_RELIEF);
  EXPECT_EQ(stream.Next().kind(), v1::EVENT_KIND_DOMAIN_STOPPED);
  Append(v1::EVENT_KIND_DOMAIN_STARTED, "web2");
  EXPECT_EQ(stream.Next().sequence(), 4u);
  stream.ctx->TryCancel();
}

TEST_F(EventWatchTest, RequestsThatCannotBeServedAreRefusedWithTheirReason) {
  Append(v1::EVENT_KIND_DOMAIN_STARTED, "web1");
  v1::WatchEventsRequest future;
  future.set_after_sequence(9);
  auto past_newest = Watch(future);
  v1::Event e;
  EXPECT_FALSE(past_newest.reader->Read(&e));
  grpc::Status s = past_newest.reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(s.error_message(), HasSubstr("past the newest event"));

  v1::WatchEventsRequest bad_kind;
  bad_kind.add_kinds(static_cast<v1::EventKind>(999));
  auto refused = Watch(bad_kind);
  EXPECT_FALSE(refused.reader->Read(&e));
  EXPECT_EQ(refused.reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace balloond
