// The glue against libvirt's test driver (test:///default: one running domain "test", 8 GiB).
#include "agent/libvirt/libvirt_glue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "agent/libvirt/libvirt_events.h"

namespace balloond {
namespace {

using ::testing::HasSubstr;

constexpr char kTestUuid[] = "6695eb01-f6a4-8304-79aa-97f2502e193f";

class LibvirtGlueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StartLibvirtEventLoop();  // and quiet: errors come back as statuses
    conn_ = virConnectOpen("test:///default");
    ASSERT_NE(conn_, nullptr);
  }
  void TearDown() override {
    if (conn_ != nullptr) virConnectClose(conn_);
  }
  virConnectPtr conn_ = nullptr;
};

TEST_F(LibvirtGlueTest, ADomainHandleTellsWhoItIsAndDescribeAddsItsStateAndSize) {
  DomainHandle handle(virDomainLookupByName(conn_, "test"));
  ASSERT_NE(handle.get(), nullptr);
  DomainInfo who;
  Identify(handle.get(), who);
  EXPECT_EQ(who.name, "test");
  EXPECT_EQ(who.uuid, kTestUuid);
  EXPECT_EQ(UuidOf(handle.get()), kTestUuid);

  auto described = DescribeDomain(handle.get());
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_TRUE(described->active);
  EXPECT_EQ(described->state, DomainRunState::kRunning);
  EXPECT_EQ(described->max_memory_bytes, int64_t{8} << 30);
}

TEST_F(LibvirtGlueTest, LibvirtsErrorsBecomeStatusesWithTheNearestCode) {
  ASSERT_EQ(virDomainLookupByName(conn_, "no-such-domain"), nullptr);
  absl::Status missing = LastLibvirtError("looking up domain");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("looking up domain: "));

  DomainHandle handle(virDomainLookupByName(conn_, "test"));
  ASSERT_LT(
      virDomainSetMemoryFlags(handle.get(), 16 << 20 /* KiB: 16 GiB */, VIR_DOMAIN_AFFECT_LIVE), 0);
  absl::Status too_big = LastLibvirtError("setting the balloon target");
  EXPECT_NE(too_big.code(), absl::StatusCode::kUnknown) << too_big;
  EXPECT_NE(too_big.code(), absl::StatusCode::kOk);
}

TEST_F(LibvirtGlueTest, StringsAreTakenAndStatisticsRecordsRead) {
  EXPECT_EQ(TakeLibvirtString(nullptr), "");
  EXPECT_EQ(TakeLibvirtString(strdup("freed")), "freed");

  virDomainStatsRecordPtr* records = nullptr;
  const int n = virConnectGetAllDomainStats(
      conn_, VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_BALLOON, &records, 0);
  ASSERT_EQ(n, 1);
  std::map<std::string, uint64_t> params;
  for (const auto& [name, value] : StatParams(*records[0])) params[name] = value;
  virDomainStatsRecordListFree(records);
  EXPECT_EQ(params["state.state"], 1u) << "running";
  EXPECT_EQ(params.count("state.reason"), 1u);
}

// Every numeric type as a count (a negative one as 0: no statistic is below zero), strings and
// other types left out.
TEST(StatParamsTest, NumbersOfEveryTypeAreCountsAndTheRestIsLeftOut) {
  std::vector<virTypedParameter> params(5);
  auto set = [&](int i, const char* field, int type) {
    snprintf(params[i].field, sizeof(params[i].field), "%s", field);
    params[i].type = type;
  };
  set(0, "a.int", VIR_TYPED_PARAM_INT);
  params[0].value.i = -5;
  set(1, "a.uint", VIR_TYPED_PARAM_UINT);
  params[1].value.ui = 7;
  set(2, "a.llong", VIR_TYPED_PARAM_LLONG);
  params[2].value.l = int64_t{1} << 40;
  set(3, "a.ullong", VIR_TYPED_PARAM_ULLONG);
  params[3].value.ul = 18446744073709551615ull;
  set(4, "a.string", VIR_TYPED_PARAM_STRING);
  params[4].value.s = nullptr;
  virDomainStatsRecord record{};
  record.params = params.data();
  record.nparams = static_cast<int>(params.size());
  std::vector<StatParam> read = StatParams(record);
  ASSERT_EQ(read.size(), 4u);
  EXPECT_EQ(read[0], StatParam("a.int", 0));
  EXPECT_EQ(read[1], StatParam("a.uint", 7));
  EXPECT_EQ(read[2], StatParam("a.llong", uint64_t{1} << 40));
  EXPECT_EQ(read[3], StatParam("a.ullong", 18446744073709551615ull)) << "QEMU's 'unavailable'";
}

}  // namespace
}  // namespace balloond
