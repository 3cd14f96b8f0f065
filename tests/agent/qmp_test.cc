#include "agent/qmp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testdata.h"

namespace balloond {
namespace {

using ::balloond::testing::ReadTestData;
using ::testing::HasSubstr;
using ::testing::Optional;

nlohmann::json Return(const std::string& file) {
  auto ret = ParseQmpReturn(ReadTestData("qemu-7.2/" + file));
  EXPECT_TRUE(ret.ok()) << ret.status();
  return ret.ok() ? *ret : nlohmann::json();
}

TEST(QmpCommandTest, BuildsExecuteWithArguments) {
  EXPECT_EQ(QmpCommand("query-balloon"), R"({"execute":"query-balloon"})");
  EXPECT_EQ(nlohmann::json::parse(QmpCommand("balloon", {{"value", 268435456}})),
            nlohmann::json::parse(R"({"execute":"balloon","arguments":{"value":268435456}})"));
}

TEST(QmpCommandTest, QuotesHostileStringsAsJson) {
  const auto cmd = nlohmann::json::parse(QmpCommand("qom-get", {{"path", "/a\",\"execute\":\"quit"}}));
  EXPECT_EQ(cmd["execute"], "qom-get");
  EXPECT_EQ(cmd["arguments"]["path"], "/a\",\"execute\":\"quit");
}

TEST(ParseGuestStatsTest, ReadsEveryStatOfARealGuest) {
  auto stats = ParseGuestStats(Return("guest-stats.json"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->last_update_unix_seconds, 1795612931);
  EXPECT_THAT(stats->Get("stat-total-memory"), Optional(492982272));
  EXPECT_THAT(stats->Get("stat-available-memory"), Optional(464535552));
  EXPECT_THAT(stats->Get("stat-free-memory"), Optional(464846848));
  EXPECT_THAT(stats->Get("stat-disk-caches"), Optional(2269184));
  EXPECT_THAT(stats->Get("stat-minor-faults"), Optional(724));
  EXPECT_THAT(stats->Get("stat-swap-in"), Optional(0));
  EXPECT_EQ(stats->values.size(), 10u);
}

TEST(ParseGuestStatsTest, UnavailableStatsAreAbsentNotZero) {
  auto stats = ParseGuestStats(Return("guest-stats-unavailable.json"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->last_update_unix_seconds, 0);
  EXPECT_TRUE(stats->values.empty());
  EXPECT_EQ(stats->Get("stat-free-memory"), std::nullopt);
}

TEST(ParseGuestStatsTest, KeepsUnknownStatNamesAndDropsMinusOne) {
  auto stats = ParseGuestStats(nlohmann::json::parse(
      R"({"stats":{"stat-oom-kills":3,"stat-from-the-future":42,"stat-swap-in":-1,
          "stat-free-memory":18446744073709551615},"last-update":1700000000})"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_THAT(stats->Get("stat-oom-kills"), Optional(3));
  EXPECT_THAT(stats->Get("stat-from-the-future"), Optional(42));
  EXPECT_EQ(stats->Get("stat-swap-in"), std::nullopt);
  EXPECT_EQ(stats->Get("stat-free-memory"), std::nullopt);
}

TEST(ParseGuestStatsTest, RejectsAReplyWithoutStats) {
  EXPECT_FALSE(ParseGuestStats(nlohmann::json::parse(R"({"last-update":1})")).ok());
  EXPECT_FALSE(ParseGuestStats(nlohmann::json::parse("[]")).ok());
}

TEST(ParseQueryBalloonTest, ReadsActualBytes) {
  EXPECT_THAT(ParseQueryBalloon(Return("query-balloon.json")).value(), 536870912);
}

TEST(ParseQmpReturnTest, MapsQemuErrorClassesToStatusCodes) {
  auto no_device = ParseQmpReturn(ReadTestData("qemu-7.2/query-balloon-no-device.json"));
  EXPECT_EQ(no_device.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(no_device.status().message()), HasSubstr("No balloon device"));

  auto no_path = ParseQmpReturn(ReadTestData("qemu-7.2/qom-get-no-path.json"));
  EXPECT_EQ(no_path.status().code(), absl::StatusCode::kNotFound);

  auto no_property = ParseQmpReturn(ReadTestData("qemu-7.2/qom-get-no-property.json"));
  EXPECT_EQ(no_property.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(no_property.status().message()), HasSubstr("nope"));
}

TEST(ParseQmpReturnTest, RejectsGarbage) {
  EXPECT_EQ(ParseQmpReturn("not json").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ParseQmpReturn(R"({"id":"x"})").status().code(), absl::StatusCode::kInternal);
}

TEST(ParseQomListTest, ReadsNamesAndTypes) {
  auto props = ParseQomList(Return("qom-list-peripheral.json"));
  ASSERT_TRUE(props.ok());
  ASSERT_EQ(props->size(), 4u);
  EXPECT_EQ((*props)[1].name, "balloon0");
  EXPECT_EQ((*props)[1].type, "child<virtio-balloon-pci>");
}

}  // namespace
}  // namespace balloond
