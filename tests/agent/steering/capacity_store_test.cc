#include "agent/steering/capacity_store.h"

#include <gtest/gtest.h>

#include <thread>

namespace balloond {
namespace {

TEST(CapacityStoreTest, HasNothingBeforeTheFirstCycleAndThenTheLatestReading) {
  CapacityStore store;
  EXPECT_FALSE(store.Latest().has_value());
  CapacityReading first;
  first.capacity.placeable_bytes = 1;
  first.time = absl::FromUnixSeconds(100);
  store.Publish(first);
  CapacityReading second;
  second.capacity.placeable_bytes = 2;
  second.mode = balloon::v1::POLICY_MODE_ENFORCE;
  second.time = absl::FromUnixSeconds(102);
  store.Publish(second);
  const auto latest = store.Latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->capacity.placeable_bytes, 2);
  EXPECT_EQ(latest->mode, balloon::v1::POLICY_MODE_ENFORCE);
  EXPECT_EQ(latest->time, absl::FromUnixSeconds(102));
}

TEST(CapacityStoreTest, ReadersSeeWholeReadingsWhileTheRunnerPublishes) {
  CapacityStore store;
  std::thread runner([&] {
    for (int i = 0; i < 2000; ++i) {
      CapacityReading r;
      r.capacity.placeable_bytes = i;
      r.capacity.reclaimable_bytes = i;
      r.capacity.domains.resize(static_cast<size_t>(i % 7));
      store.Publish(std::move(r));
    }
  });
  for (int i = 0; i < 2000; ++i) {
    if (auto r = store.Latest()) {
      ASSERT_EQ(r->capacity.placeable_bytes, r->capacity.reclaimable_bytes);
      ASSERT_EQ(r->capacity.domains.size(), static_cast<size_t>(r->capacity.placeable_bytes % 7));
    }
  }
  runner.join();
}

}  // namespace
}  // namespace balloond
