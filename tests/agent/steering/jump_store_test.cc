// The guests' jumps kept across restarts: what is saved comes back, once; what is too old or does
// not parse does not.
#include "agent/steering/jump_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "policy/sizes.h"
#include "tests/agent/base/temp_dir.h"

namespace balloond {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

policy::Jumps Watched(absl::Time since, int64_t rise, absl::Time at) {
  policy::Jumps j;
  j.watched_since = since;
  j.Add(rise, at);
  return j;
}

TEST(JumpStoreTest, WhatIsSavedComesBackOnceAfterARestart) {
  testing::TempDir dir("jump-store-test");
  {
    auto store = JumpStore::Open(dir.path(), kNow);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_FALSE((*store)->Take("u-1").has_value()) << "nothing saved yet";
    ASSERT_TRUE(
        (*store)
            ->Save({{"u-1", Watched(kNow - absl::Hours(3), 700 * kMiB, kNow - absl::Hours(2))},
                    {"u-2", Watched(kNow - absl::Minutes(5), 0, kNow)}},
                   kNow)
            .ok());
  }
  auto store = JumpStore::Open(dir.path(), kNow + absl::Minutes(2));
  ASSERT_TRUE(store.ok()) << store.status();
  const std::optional<policy::Jumps> one = (*store)->Take("u-1");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->watched_since, kNow - absl::Hours(3));
  EXPECT_EQ(one->Largest(kNow), 700 * kMiB);
  const std::optional<policy::Jumps> two = (*store)->Take("u-2");
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->Largest(kNow), 0);
  EXPECT_FALSE((*store)->Take("u-1").has_value()) << "once";
}

TEST(JumpStoreTest, JumpsSavedMoreThanAnHourAgoAreLearnedAgain) {
  const std::string text =
      JumpStore::Format({{"u-1", Watched(kNow - absl::Hours(3), kGiB, kNow)}}, kNow);
  EXPECT_EQ(JumpStore::Parse(text, kNow + absl::Minutes(59))->size(), 1u);
  EXPECT_TRUE(JumpStore::Parse(text, kNow + absl::Minutes(61))->empty());
}

TEST(JumpStoreTest, AFileThatDoesNotParseIsDroppedNotFatal) {
  for (const char* text : {"saved 1800000000\nu-1 notanumber\n", "u-1 1800000000\n",
                           "saved 1800000000\nu-1 1800000000 1800000001:5\n",
                           "saved 1800000000\nu-1 1800000000 1800000000:-5\n"}) {
    EXPECT_FALSE(JumpStore::Parse(text, kNow).has_value()) << text;
  }
  testing::TempDir dir("jump-store-test");
  std::ofstream(dir.path() + "/jumps") << "garbage\n";
  auto store = JumpStore::Open(dir.path(), kNow);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_FALSE((*store)->Take("garbage").has_value());
}

}  // namespace
}  // namespace balloond
