#include "agent/libvirt/stats_collection.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace balloond {
namespace {

constexpr char kTestUuid[] = "6695eb01-f6a4-8304-79aa-97f2502e193f";

DomainInfo Info(const std::string& uuid, int id) {
  DomainInfo info;
  info.name = "vm-" + uuid;
  info.uuid = uuid;
  info.id = id;
  info.active = true;
  info.max_memory_bytes = int64_t{1} << 30;
  return info;
}

ListedDomain Listed(const std::string& uuid, int id, std::optional<int64_t> cpu = std::nullopt) {
  return ListedDomain{Info(uuid, id), cpu};
}

// The plan, by UUID: skipped, read together, read alone.
struct PlanByUuid {
  std::vector<std::string> skipped, answering, suspects;
};
PlanByUuid ByUuid(const ReadPlan& plan, const std::vector<ListedDomain>& listed) {
  PlanByUuid out;
  for (const DomainStats& d : plan.skipped) out.skipped.push_back(d.info.uuid);
  for (size_t i : plan.answering) out.answering.push_back(listed[i].current.uuid);
  for (size_t i : plan.suspects) out.suspects.push_back(listed[i].current.uuid);
  return out;
}

using Uuids = std::vector<std::string>;

TEST(PlanReadsTest, SteadyAndIdleOrAsleepDomainsAreSkippedAsLastKnownTheRestRead) {
  const std::vector<ListedDomain> listed = {Listed("idle", 1, 500), Listed("busy", 2, 900),
                                            Listed("asleep", 3), Listed("new", 4),
                                            Listed("plain", 5)};
  std::map<std::string, DomainInfo> known;
  for (const char* uuid : {"idle", "busy", "asleep", "plain"}) known[uuid] = Info(uuid, 0);
  known["idle"].id = 1;
  known["busy"].id = 2;
  known["asleep"].id = 3;
  known["plain"].id = 5;
  known["idle"].max_memory_bytes = int64_t{2} << 30;  // what the last collection knew
  CollectionFilter filter;
  filter.steady = {"idle", "busy"};
  filter.asleep = {"asleep"};
  filter.busy = [](const std::string& uuid, int64_t) { return uuid == "busy"; };

  const ReadPlan plan = PlanReads(listed, known, /*suspects=*/{}, filter);
  const PlanByUuid by_uuid = ByUuid(plan, listed);
  EXPECT_EQ(by_uuid.skipped, (Uuids{"idle", "asleep"}));
  EXPECT_EQ(by_uuid.answering, (Uuids{"busy", "new", "plain"}));
  EXPECT_TRUE(by_uuid.suspects.empty());
  ASSERT_EQ(plan.skipped.size(), 2u);
  EXPECT_TRUE(plan.skipped[0].skipped);
  EXPECT_EQ(plan.skipped[0].info.max_memory_bytes, int64_t{2} << 30);
  EXPECT_EQ(plan.skipped[0].cpu_time_ns, 500) << "a steady domain's CPU time goes with it";
  EXPECT_EQ(plan.skipped[1].cpu_time_ns, std::nullopt) << "an asleep one's was not read";
}

TEST(PlanReadsTest, ARestartedQemuIsReadAtOnceEvenWhenSteadyOrAsleep) {
  const std::vector<ListedDomain> listed = {Listed("steady", 11, 500), Listed("asleep", 12)};
  std::map<std::string, DomainInfo> known = {{"steady", Info("steady", 1)},
                                             {"asleep", Info("asleep", 2)}};
  CollectionFilter filter;
  filter.steady = {"steady"};
  filter.asleep = {"asleep"};
  const PlanByUuid by_uuid = ByUuid(PlanReads(listed, known, {}, filter), listed);
  EXPECT_TRUE(by_uuid.skipped.empty());
  EXPECT_EQ(by_uuid.answering, (Uuids{"steady", "asleep"}));
}

TEST(PlanReadsTest, SuspectsAreReadAloneAndTheOthersTogether) {
  const std::vector<ListedDomain> listed = {Listed("a", 1), Listed("hung", 2), Listed("b", 3)};
  const PlanByUuid by_uuid =
      ByUuid(PlanReads(listed, {}, /*suspects=*/{"hung"}, CollectionFilter{}), listed);
  EXPECT_EQ(by_uuid.answering, (Uuids{"a", "b"}));
  EXPECT_EQ(by_uuid.suspects, (Uuids{"hung"}));
}

// Against libvirt's test driver (test:///default: one running domain, "test").
class StatsCollectionTest : public ::testing::Test {
 protected:
  class Ignored : public DomainChangeListener {
    void OnDomainChanged(const std::string&) override {}
  } ignored_;
  LibvirtConnections connections_{"test:///default", RealClock(),
                                  std::make_shared<LibvirtEvents>(ignored_)};
  StatsCollection collection_{connections_};
  absl::Time Soon() { return RealClock().Now() + absl::Seconds(10); }
};

TEST_F(StatsCollectionTest, ReadsEveryDomainThenSkipsASteadyIdleOneAsItWas) {
  auto first = collection_.Collect(Soon(), CollectionFilter{});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].info.uuid, kTestUuid);
  EXPECT_FALSE((*first)[0].skipped);

  CollectionFilter steady;
  steady.steady = {kTestUuid};
  steady.busy = [](const std::string&, int64_t) { return false; };
  auto second = collection_.Collect(Soon(), steady);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->size(), 1u);
  EXPECT_TRUE((*second)[0].skipped);
  EXPECT_EQ((*second)[0].info.name, "test");
  EXPECT_TRUE((*second)[0].cpu_time_ns.has_value());

  steady.busy = [](const std::string&, int64_t) { return true; };
  auto busy = collection_.Collect(Soon(), steady);
  ASSERT_TRUE(busy.ok()) << busy.status();
  ASSERT_EQ(busy->size(), 1u);
  EXPECT_FALSE((*busy)[0].skipped) << "a busy domain is read";
  EXPECT_TRUE((*busy)[0].cpu_time_ns.has_value()) << "with the CPU time the listing found";
}

}  // namespace
}  // namespace balloond
