#include "agent/steering/hold_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "policy/durations.h"
#include "policy/sizes.h"
#include "tests/agent/base/temp_dir.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1795612933);

v1::Hold Hold(const std::string& uuid, absl::Duration lasts) {
  v1::Hold h;
  h.set_domain("web-" + uuid);
  h.set_uuid(uuid);
  h.set_target_bytes(512 * kMiB);
  *h.mutable_until() = ToProtoTimestamp(kNow + lasts);
  h.set_set_by("uid 0");
  return h;
}

class HoldStoreTest : public ::testing::Test {
 protected:
  HoldStoreTest() {}
  std::unique_ptr<HoldStore> Open() {
    auto store = HoldStore::Open(dir_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  testing::TempDir temp_{"hold-store-test"};
  std::string dir_ = temp_.path();
};

TEST_F(HoldStoreTest, AHoldLastsUntilItsEndAndSurvivesARestart) {
  auto store = Open();
  ASSERT_TRUE(store->Set(Hold("a", absl::Minutes(30)), kNow).ok());
  ASSERT_TRUE(store->Set(Hold("b", absl::Seconds(10)), kNow).ok());
  EXPECT_EQ(store->Active(kNow).size(), 2u);
  EXPECT_EQ(store->Find("a", kNow + absl::Minutes(29))->target_bytes(), 512 * kMiB);
  EXPECT_FALSE(store->Find("a", kNow + absl::Minutes(30)).has_value());

  auto reopened = Open();  // a restart of balloond
  EXPECT_EQ(reopened->Active(kNow).size(), 2u);
  EXPECT_EQ(reopened->Find("b", kNow)->set_by(), "uid 0");
  EXPECT_EQ(reopened->Active(kNow + absl::Minutes(1)).size(), 1u);  // b has ended
}

TEST_F(HoldStoreTest, ReleaseEndsAHoldAndSaysWhetherThereWasOne) {
  auto store = Open();
  ASSERT_TRUE(store->Set(Hold("a", absl::Minutes(30)), kNow).ok());
  auto released = store->Release("a", kNow);
  ASSERT_TRUE(released.ok());
  ASSERT_TRUE(released->has_value());
  EXPECT_EQ((*released)->uuid(), "a");
  EXPECT_FALSE(store->Find("a", kNow).has_value());
  EXPECT_FALSE(Open()->Find("a", kNow).has_value());  // gone from the file too
  released = store->Release("a", kNow);
  ASSERT_TRUE(released.ok());
  EXPECT_FALSE(released->has_value());
}

TEST_F(HoldStoreTest, ACorruptFileStopsTheStartNamingIt) {
  std::ofstream(dir_ + "/holds.textproto") << "holds { uuid: \"a\" target_bytes: x }\n";
  auto store = HoldStore::Open(dir_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr(dir_ + "/holds.textproto:1:"));
}

TEST_F(HoldStoreTest, AFileThatCannotBeReadOrHoldsWhatTheApiRefusesStopsTheStart) {
  std::filesystem::create_directory(dir_ + "/holds.textproto");  // unreadable, and not ENOENT
  auto unreadable = HoldStore::Open(dir_);
  ASSERT_FALSE(unreadable.ok()) << "not taken for no holds, to be overwritten at the next change";
  EXPECT_THAT(unreadable.status().message(), HasSubstr("does not start without it"));
  std::filesystem::remove(dir_ + "/holds.textproto");
  for (const auto& [text, complaint] : std::vector<std::pair<std::string, std::string>>{
           {"holds { uuid: \"a\" target_bytes: 0 until { seconds: 1795612933 } }", "target of 0"},
           {"holds { uuid: \"a\" target_bytes: 9223372036854775807 }", "9223372036854775807"},
           {"holds { uuid: \"a\" target_bytes: 1 until { seconds: -99999999999 } }",
            "not a valid time"}}) {
    std::ofstream(dir_ + "/holds.textproto", std::ios::trunc) << text;
    auto store = HoldStore::Open(dir_);
    ASSERT_FALSE(store.ok()) << text;
    EXPECT_THAT(store.status().message(), HasSubstr(complaint));
  }
}

TEST_F(HoldStoreTest, AHoldThatCannotBeSavedChangesNothing) {
  auto store = Open();
  std::filesystem::remove_all(dir_);
  std::ofstream(dir_) << "a file where the directory was";
  absl::Status s = store->Set(Hold("a", absl::Minutes(30)), kNow);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(store->Find("a", kNow).has_value());
  std::filesystem::remove(dir_);
  std::filesystem::create_directory(dir_);
}

}  // namespace
}  // namespace balloond
