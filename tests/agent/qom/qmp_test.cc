#include "agent/qom/qmp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testdata.h"

namespace balloond {
namespace {

using ::balloond::testing::ReadTestData;
using ::testing::HasSubstr;

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
  const auto cmd =
      nlohmann::json::parse(QmpCommand("qom-get", {{"path", "/a\",\"execute\":\"quit"}}));
  EXPECT_EQ(cmd["execute"], "qom-get");
  EXPECT_EQ(cmd["arguments"]["path"], "/a\",\"execute\":\"quit");
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

TEST(ParseQmpReturnTest, AnErrorWithMembersOfTheWrongTypeIsStillAnError) {
  // nlohmann's value("class", "") throws on a null: QEMU's replies are read with type checks.
  auto odd = ParseQmpReturn(R"({"error":{"class":null,"desc":7}})");
  EXPECT_EQ(odd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(odd.status().message()), HasSubstr("without a description"));
  EXPECT_EQ(StringMember(nlohmann::json::parse(R"({"status":null})"), "status"), std::nullopt);
  EXPECT_EQ(StringMember(nlohmann::json::parse("[1]"), "status"), std::nullopt);
  EXPECT_EQ(StringMember(nlohmann::json::parse(R"({"status":"active"})"), "status"), "active");
}

TEST(DumpJsonTest, InvalidUtf8IsReplacedNotThrown) {
  const nlohmann::json value = std::string(
      "a\xff\xfe"
      "b");
  EXPECT_EQ(DumpJson(value),
            "\"a\xef\xbf\xbd\xef\xbf\xbd"
            "b\"");
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
