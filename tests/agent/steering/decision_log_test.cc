// The policy's decision log: numbered, bounded, listened to, listed by domain.
#include "agent/steering/decision_log.h"

#include <gtest/gtest.h>

#include <vector>

namespace balloond {
namespace {

namespace v1 = balloon::v1;

class Heard final : public DecisionListener {
 public:
  void OnDecision(const v1::Decision& d) override { sequences.push_back(d.sequence()); }
  std::vector<uint64_t> sequences;
};

v1::Decision For(const std::string& name, const std::string& uuid = "") {
  v1::Decision d;
  d.set_domain(name);
  d.set_uuid(uuid.empty() ? "uuid-" + name : uuid);
  return d;
}

TEST(DecisionLogTest, ListsNewestLastAndTellsItsListener) {
  Heard heard;
  DecisionLog log(&heard, 3);
  for (const char* name : {"a", "b", "a", "c"}) log.Append(For(name));
  auto all = log.List("", 10);
  ASSERT_EQ(all.size(), 3u);  // capacity 3: the oldest dropped
  EXPECT_EQ(all.front().domain(), "b");
  EXPECT_EQ(all.back().sequence(), 4u);
  EXPECT_EQ(log.List("a", 10).size(), 1u);
  EXPECT_EQ(heard.sequences, (std::vector<uint64_t>{1, 2, 3, 4}));  // numbered, in order
  EXPECT_EQ(log.List("", 2).front().domain(), "a") << "the newest two";
}

TEST(DecisionLogTest, AUuidListsItsDomainBeforeADomainNamedLikeIt) {
  DecisionLog log;
  const std::string uuid = "391037f5-3b33-45b2-a1ae-e8003355c6ac";
  log.Append(For(uuid, "00000000-0000-0000-0000-000000000002"));  // named like the other's UUID
  log.Append(For("web1", uuid));
  auto listed = log.List(uuid, 10);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].domain(), "web1");
  EXPECT_EQ(log.List("391037F5-3B33-45B2-A1AE-E8003355C6AC", 10).size(), 1u) << "in any case";
}

TEST(DecisionLogTest, CountsDecisionsByReasonAndWhetherApplied) {
  DecisionLog log;
  v1::Decision d = For("a");
  d.set_reason(v1::DECISION_REASON_HOST_RECLAIM);
  d.set_applied(true);
  log.Append(d);
  log.Append(d);
  d.set_applied(false);
  log.Append(d);
  auto totals = log.Totals();
  EXPECT_EQ((totals[{v1::DECISION_REASON_HOST_RECLAIM, true}]), 2u);
  EXPECT_EQ((totals[{v1::DECISION_REASON_HOST_RECLAIM, false}]), 1u);
}

}  // namespace
}  // namespace balloond
