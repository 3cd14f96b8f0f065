// The read service as a client sees it, over an in-process gRPC channel: watches pushed on change,
// every limit refused with RESOURCE_EXHAUSTED naming its setting, QOM paths kept off links.
#include "agent/read_service.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "agent/collector.h"
#include "tests/fake_hypervisor.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeDomain;
using ::balloond::testing::FakeHypervisor;
using ::testing::HasSubstr;

ListenerContext::Settings Limits(int calls_per_connection, int watches, double qom_rate = 100) {
  ListenerContext::Settings s;
  s.calls.max_calls_per_connection = calls_per_connection;
  s.calls.max_watches = watches;
  s.qom.queries_per_second = qom_rate;
  s.qom.burst = static_cast<int>(qom_rate);
  return s;
}

class ReadServiceTest : public ::testing::Test {
 protected:
  explicit ReadServiceTest(ListenerContext::Settings settings = Limits(8, 4))
      : lookups_("lookup", 1),
        stats_feed_(hypervisor_, clock_, lookups_, balloon_paths_),
        decision_feed_(decisions_),
        backend_{store_,       hypervisor_, clock_,         *policy_,   decisions_,
                 *holds_,      stats_feed_, decision_feed_, qom_guard_, balloon_paths_,
                 qom_traffic_, nullptr,     nullptr},
        listener_("test", settings, clock_,
                  [](const grpc::CallbackServerContext&) { return std::string("uid 1000"); }),
        service_(backend_, listener_, ReadServiceOptions{}),
        collector_(hypervisor_, store_, clock_, CollectorOptions{}) {
    store_.SetListener(&stats_feed_);
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::BalloonReadService::NewStub(server_->InProcessChannel({}));
  }
  ~ReadServiceTest() override {
    stats_feed_.hub().CloseAll(grpc::Status(grpc::StatusCode::UNAVAILABLE, "test ends"));
    decision_feed_.hub().CloseAll(grpc::Status(grpc::StatusCode::UNAVAILABLE, "test ends"));
    server_->Shutdown();
    store_.SetListener(nullptr);
  }

  void Collect() {
    collector_.CollectOnce();
    collector_.WaitForCalls();
  }
  static std::unique_ptr<grpc::ClientContext> Context() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }
  struct Watch {
    std::unique_ptr<grpc::ClientContext> ctx = Context();
    std::unique_ptr<grpc::ClientReader<v1::MemoryStats>> reader;
  };
  Watch WatchStats(const std::string& domain) {
    Watch w;
    v1::WatchMemoryStatsRequest req;
    req.set_domain(domain);
    w.reader = stub_->WatchMemoryStats(w.ctx.get(), req);
    return w;
  }

  FakeHypervisor hypervisor_;
  FakeClock clock_;
  SnapshotStore store_;
  DecisionLog decisions_;
  std::unique_ptr<PolicyStore> policy_ = *PolicyStore::Open(
      ::testing::TempDir() + "/read-service-test-" + std::to_string(getpid()), {});
  std::unique_ptr<HoldStore> holds_ = *HoldStore::Open(
      ::testing::TempDir() + "/read-service-test-holds-" + std::to_string(getpid()));
  WorkerPool lookups_;
  QomPathGuard qom_guard_;
  BalloonPaths balloon_paths_;
  QomTraffic qom_traffic_;
  StatsFeed stats_feed_;
  DecisionFeed decision_feed_;
  ServiceBackend backend_;
  ListenerContext listener_;
  ReadService service_;
  Collector collector_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::BalloonReadService::Stub> stub_;
};

TEST_F(ReadServiceTest, AWatchGetsEachNewCollectionAndEndsWhenTheDomainIsGone) {
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
TEST_F(ReadServiceTest, AWatchCancelledWhileItsLookupWaitsIsNeverTouchedAfterward) {
  hypervisor_.BlockLookups();
  constexpr int kWatches = 8;
  std::vector<Watch> watches;
  for (int i = 0; i < kWatches; ++i) watches.push_back(WatchStats("shut-off-vm"));
  hypervisor_.AwaitBlockedLookups(1);  // the lookup pool's one worker is held
  for (Watch& w : watches) {
    w.ctx->TryCancel();
    v1::MemoryStats m;
    EXPECT_FALSE(w.reader->Read(&m));
    EXPECT_EQ(w.reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // Every stream is done on the server's side too (its place in the limits given back).
  while (listener_.limits().open_watches() > 0) absl::SleepFor(absl::Milliseconds(1));
  hypervisor_.UnblockLookups();
  lookups_.WaitIdle();
  listener_.lookups().WaitIdle();

  // The service goes on serving.
  hypervisor_.AddDomain("web1");
  Collect();
  Watch w = WatchStats("web1");
  v1::MemoryStats m;
  EXPECT_TRUE(w.reader->Read(&m));
}

TEST_F(ReadServiceTest, WatchesPastTheCapAreRefusedNamingTheSetting) {
  hypervisor_.AddDomain("web1");
  Collect();
  std::vector<Watch> open;
  for (int i = 0; i < 4; ++i) {
    open.push_back(WatchStats("web1"));
    v1::MemoryStats m;
    ASSERT_TRUE(open.back().reader->Read(&m));
  }
  Watch extra = WatchStats("web1");
  v1::MemoryStats m;
  EXPECT_FALSE(extra.reader->Read(&m));
  grpc::Status s = extra.reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("limits.max_watches"));

  // A closed watch gives its place back.
  open.back().ctx->TryCancel();
  open.back().reader->Finish();
  open.pop_back();
  for (int i = 0; i < 100; ++i) {
    Watch again = WatchStats("web1");
    if (again.reader->Read(&m)) return;
    again.reader->Finish();
    absl::SleepFor(absl::Milliseconds(10));  // the server sees the cancel a moment later
  }
  ADD_FAILURE() << "the freed place was never given to a new watch";
}

TEST_F(ReadServiceTest, AnUnknownDomainIsNotFoundAndAMalformedOneInvalid) {
  v1::GetMemoryStatsRequest req;
  req.set_domain("nope");
  v1::MemoryStats resp;
  EXPECT_EQ(stub_->GetMemoryStats(Context().get(), req, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  req.set_domain("");
  EXPECT_EQ(stub_->GetMemoryStats(Context().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  Watch w = WatchStats("nope");
  v1::MemoryStats m;
  EXPECT_FALSE(w.reader->Read(&m));
  EXPECT_EQ(w.reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ReadServiceTest, AQomPathThroughALinkIsRefusedAndSentNothing) {
  const std::string uuid = hypervisor_.AddDomain("rng");
  hypervisor_.WithDomain(uuid, [](FakeDomain& d) { d.qom_tree = "qemu-7.2/rng-layout"; });
  Collect();
  v1::GetQomPropertyRequest req;
  req.set_domain("rng");
  req.set_path("/machine/peripheral/rng0/rng");
  req.set_property("filename");
  v1::GetQomPropertyResponse resp;
  grpc::Status s = stub_->GetQomProperty(Context().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("link<rng-backend>"));
  int gets = 0;
  hypervisor_.WithDomain(uuid, [&](FakeDomain& d) { gets = d.CountQmp("qom-get"); });
  EXPECT_EQ(gets, 0) << "the qom-get never reached QEMU";

  v1::ListQomPropertiesRequest list;
  list.set_domain("rng");
  list.set_path("/machine/peripheral/rng0");
  v1::ListQomPropertiesResponse props;
  ASSERT_TRUE(stub_->ListQomProperties(Context().get(), list, &props).ok());
  EXPECT_GT(props.properties_size(), 10);
}

class TightQomRateTest : public ReadServiceTest {
 protected:
  TightQomRateTest() : ReadServiceTest(Limits(8, 4, /*qom_rate=*/2)) {}
};

TEST_F(TightQomRateTest, AClientPastItsQomRateIsRefusedNamingTheSetting) {
  hypervisor_.AddDomain("web1");
  Collect();
  v1::ListQomPropertiesRequest req;
  req.set_domain("web1");
  req.set_path("/machine/peripheral");
  v1::ListQomPropertiesResponse resp;
  EXPECT_TRUE(stub_->ListQomProperties(Context().get(), req, &resp).ok());
  EXPECT_TRUE(stub_->ListQomProperties(Context().get(), req, &resp).ok());
  grpc::Status s = stub_->ListQomProperties(Context().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("limits.qom_queries_per_second"));
  EXPECT_THAT(s.error_message(), HasSubstr("uid 1000"));
}

class OneCallPerConnectionTest : public ReadServiceTest {
 protected:
  OneCallPerConnectionTest() : ReadServiceTest(Limits(/*calls_per_connection=*/1, 4)) {}
};

TEST_F(OneCallPerConnectionTest, ACrowdedConnectionIsRefusedNamingTheSetting) {
  hypervisor_.AddDomain("web1");
  Collect();
  Watch w = WatchStats("web1");
  v1::MemoryStats m;
  ASSERT_TRUE(w.reader->Read(&m));
  v1::ListDomainsResponse list;
  grpc::Status s = stub_->ListDomains(Context().get(), {}, &list);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("limits.max_calls_per_connection"));
}

TEST_F(ReadServiceTest, DecisionWatchersGetTheirDomainsDecisions) {
  auto ctx = Context();
  v1::WatchDecisionsRequest req;
  req.set_domain("web2");
  auto reader = stub_->WatchDecisions(ctx.get(), req);
  // The stream is open once the server has the subscription: wait for it through the hub.
  for (int i = 0; i < 500 && !decision_feed_.hub().HasWatchers("web2"); ++i) {
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

}  // namespace
}  // namespace balloond
