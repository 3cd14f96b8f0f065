// The read service as a client sees it, over an in-process gRPC channel: lists in pages, every
// limit refused with RESOURCE_EXHAUSTED naming its setting, QOM paths kept off links (the watches
// are watches_test.cc's).
#include "agent/api/read_service.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_format.h"
#include "agent/collect/collector.h"
#include "policy/durations.h"
#include "policy/sizes.h"
#include "tests/agent/api/read_service_fixture.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeDomain;
using ::balloond::testing::FakeHypervisor;
using ::balloond::testing::Limits;
using ::testing::HasSubstr;

class ReadServiceTest : public ::balloond::testing::ReadServiceFixture {
 protected:
  using ReadServiceFixture::ReadServiceFixture;
};

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

  // The names of the objects below /objects (libvirt's masterKey0 among them) are not listed.
  list.set_path("/objects");
  s = stub_->ListQomProperties(Context().get(), list, &props);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  int lists = 0;
  hypervisor_.WithDomain(uuid, [&](FakeDomain& d) { lists = d.CountQmp("qom-list"); });
  list.set_path("/objects/masterKey0");
  EXPECT_EQ(stub_->ListQomProperties(Context().get(), list, &props).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  hypervisor_.WithDomain(uuid, [&](FakeDomain& d) { EXPECT_EQ(d.CountQmp("qom-list"), lists); });
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

// Lists come a page at a time: no answer a client leaves unread holds more than a page.
TEST_F(ReadServiceTest, ListDomainsComesInPagesThatAClientFollowsToTheEnd) {
  for (int i = 0; i < 250; ++i) hypervisor_.AddDomain(absl::StrFormat("vm-%03d", i), i + 1);
  Collect();
  v1::ListDomainsRequest req;
  v1::ListDomainsResponse page;
  ASSERT_TRUE(stub_->ListDomains(Context().get(), req, &page).ok());
  EXPECT_EQ(page.domains_size(), 100) << "the most a page holds";
  EXPECT_EQ(page.domains(0).name(), "vm-000");
  ASSERT_FALSE(page.next_page_token().empty());

  std::vector<std::string> names;
  req.set_page_size(30);
  for (int pages = 1;; ++pages) {
    page.Clear();
    ASSERT_TRUE(stub_->ListDomains(Context().get(), req, &page).ok());
    EXPECT_LE(page.domains_size(), 30);
    for (const auto& d : page.domains()) names.push_back(d.name());
    if (page.next_page_token().empty()) {
      EXPECT_EQ(pages, 9);
      break;
    }
    req.set_page_token(page.next_page_token());
  }
  ASSERT_EQ(names.size(), 250u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 250u);

  v1::ListReservationsRequest other;
  other.set_page_token(req.page_token());
  v1::ListReservationsResponse reservations;
  grpc::Status s = stub_->ListReservations(Context().get(), other, &reservations);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "another call's token";
  EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
}

TEST_F(ReadServiceTest, ListDecisionsGivesTheNewestPageFirstAndOlderOnesAfter) {
  for (int i = 0; i < 250; ++i) {
    v1::Decision d;
    d.set_domain(i % 2 == 0 ? "web1" : "db1");
    decisions_.Append(d);
  }
  v1::ListDecisionsRequest req;
  v1::ListDecisionsResponse page;
  ASSERT_TRUE(stub_->ListDecisions(Context().get(), req, &page).ok());
  ASSERT_EQ(page.decisions_size(), 100);
  EXPECT_EQ(page.decisions(0).sequence(), 151u) << "the newest 100, oldest first";
  EXPECT_EQ(page.decisions(99).sequence(), 250u);
  req.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub_->ListDecisions(Context().get(), req, &page).ok());
  EXPECT_EQ(page.decisions(0).sequence(), 51u);
  EXPECT_EQ(page.decisions(99).sequence(), 150u);
  req.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub_->ListDecisions(Context().get(), req, &page).ok());
  EXPECT_EQ(page.decisions_size(), 50);
  EXPECT_TRUE(page.next_page_token().empty()) << "none older is kept";

  v1::ListDecisionsRequest of_web1;
  of_web1.set_domain("web1");
  of_web1.set_limit(1000);  // the old field: taken as a page size, at most 100
  ASSERT_TRUE(stub_->ListDecisions(Context().get(), of_web1, &page).ok());
  EXPECT_EQ(page.decisions_size(), 100);
  for (const auto& d : page.decisions()) EXPECT_EQ(d.domain(), "web1");
  of_web1.set_domain("db1");
  of_web1.set_page_token(page.next_page_token());
  EXPECT_EQ(stub_->ListDecisions(Context().get(), of_web1, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT)
      << "a token of web1's pages does not page db1's";
}

TEST_F(ReadServiceTest, ListReservationsComesInPagesOldestFirst) {
  for (int i = 0; i < 150; ++i) {
    v1::ReserveMemoryRequest r;
    r.set_bytes(kMiB);
    auto made = reservations_->Create(r, "uid 0", std::nullopt, true, clock_.Now());
    ASSERT_TRUE(made.ok());
    ASSERT_TRUE(reservations_->Release(made->id(), clock_.Now()).ok());
  }
  v1::ListReservationsRequest req;
  v1::ListReservationsResponse page;
  ASSERT_TRUE(stub_->ListReservations(Context().get(), req, &page).ok());
  ASSERT_EQ(page.reservations_size(), 100);
  EXPECT_EQ(page.reservations(0).id(), "r-1");
  req.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub_->ListReservations(Context().get(), req, &page).ok());
  ASSERT_EQ(page.reservations_size(), 50);
  EXPECT_EQ(page.reservations(0).id(), "r-101");
  EXPECT_TRUE(page.next_page_token().empty());
}

// A domain may be named like another domain's UUID: a reference by that UUID means the domain
// with the UUID, for statistics, decisions listed and decisions watched.
TEST_F(ReadServiceTest, AUuidNamesItsDomainBeforeADomainNamedLikeIt) {
  const std::string uuid = hypervisor_.AddDomain("web1");
  const std::string impostor_uuid = hypervisor_.AddDomain(uuid);  // named like web1's UUID
  Collect();
  v1::GetMemoryStatsRequest req;
  req.set_domain(uuid);
  v1::MemoryStats stats;
  ASSERT_TRUE(stub_->GetMemoryStats(Context().get(), req, &stats).ok());
  EXPECT_EQ(stats.domain().name(), "web1");

  auto ctx = Context();
  v1::WatchDecisionsRequest watch;
  watch.set_domain(uuid);
  auto reader = stub_->WatchDecisions(ctx.get(), watch);
  const std::string key = DecisionFeed::KeyFor(store_, uuid);
  for (int i = 0; i < 500 && !decision_feed_.hub().HasWatchers(key); ++i) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  for (auto [name, id] : {std::pair{uuid, impostor_uuid}, std::pair{std::string("web1"), uuid}}) {
    v1::Decision d;
    d.set_domain(name);
    d.set_uuid(id);
    decisions_.Append(d);
  }
  v1::Decision d;
  ASSERT_TRUE(reader->Read(&d));
  EXPECT_EQ(d.domain(), "web1");
  ctx->TryCancel();
  v1::ListDecisionsRequest list;
  list.set_domain(uuid);
  v1::ListDecisionsResponse listed;
  ASSERT_TRUE(stub_->ListDecisions(Context().get(), list, &listed).ok());
  ASSERT_EQ(listed.decisions_size(), 1);
  EXPECT_EQ(listed.decisions(0).domain(), "web1");
}

TEST_F(ReadServiceTest, TheHostsCapacityIsUnavailableUntilAPolicyCycleJudgedIt) {
  v1::HostCapacity resp;
  grpc::Status before = stub_->GetHostCapacity(Context().get(), {}, &resp);
  EXPECT_EQ(before.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(before.error_message(), HasSubstr("retry in a few seconds"));

  CapacityReading reading;
  reading.capacity.available_bytes = 6LL << 30;
  reading.capacity.placeable_bytes = 5LL << 30;
  policy::DomainCapacity held;
  held.name = "web1";
  held.not_reclaimable_why = "an operator holds it";
  held.used_bytes = 100LL << 20;
  reading.capacity.domains.push_back(held);
  reading.host.pressure_some = PressureAverages{1.5, 0, 0};
  reading.mode = v1::POLICY_MODE_ENFORCE;
  reading.time = clock_.Now();
  capacity_.Publish(reading);
  ASSERT_TRUE(stub_->GetHostCapacity(Context().get(), {}, &resp).ok());
  EXPECT_EQ(resp.placeable_bytes(), 5LL << 30);
  EXPECT_EQ(resp.mode(), v1::POLICY_MODE_ENFORCE);
  EXPECT_EQ(FromProtoTimestamp(resp.assess_time()), clock_.Now());
  EXPECT_DOUBLE_EQ(resp.pressure().some().avg10(), 1.5);
  ASSERT_EQ(resp.domains_size(), 1);
  EXPECT_EQ(resp.domains(0).not_reclaimable_reason(), "an operator holds it");
  EXPECT_EQ(resp.domains(0).used_bytes(), 100LL << 20);
  EXPECT_FALSE(resp.domains(0).has_needed_bytes()) << "absent, not 0";
  EXPECT_FALSE(resp.has_pressure_index());
}

TEST_F(ReadServiceTest, ListedDomainsCarryWhatTheLatestPolicyCycleFoundAndCouldReclaim) {
  const std::string web1 = hypervisor_.AddDomain("web1");
  hypervisor_.AddDomain("web2", 2);
  Collect();
  CapacityReading reading;
  policy::DomainCapacity probed;
  probed.uuid = web1;
  probed.name = "web1";
  probed.working_set_bytes = 312LL << 20;
  probed.working_set_at = clock_.Now() - absl::Seconds(40);
  probed.reclaimable_bytes = 48LL << 20;
  reading.capacity.domains.push_back(probed);
  reading.time = clock_.Now();
  capacity_.Publish(reading);
  v1::ListDomainsResponse list;
  ASSERT_TRUE(stub_->ListDomains(Context().get(), {}, &list).ok());
  ASSERT_EQ(list.domains_size(), 2);
  EXPECT_EQ(list.domains(0).working_set_bytes(), 312LL << 20);
  EXPECT_EQ(FromProtoTimestamp(list.domains(0).working_set_time()),
            clock_.Now() - absl::Seconds(40));
  EXPECT_EQ(list.domains(0).reclaimable_bytes(), 48LL << 20);
  EXPECT_FALSE(list.domains(1).has_working_set_bytes()) << "none found: absent, not 0";
  EXPECT_FALSE(list.domains(1).has_reclaimable_bytes()) << "not judged: absent, not 0";
}

// Events: the history a client asks for, then new ones, of the domain and kinds it chose; a client
// that reconnects from its last sequence misses nothing.
}  // namespace
}  // namespace balloond
