// Where each QEMU process keeps its balloon, as clients' QOM queries found it.
#include "agent/qom/balloon_path_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace balloond {
namespace {

using ::testing::Optional;

TEST(BalloonPathCacheTest, NotSearchedFoundAndNotFoundAreApart) {
  BalloonPathCache cache;
  EXPECT_EQ(cache.Get("uuid:1"), std::nullopt) << "not searched yet";
  cache.Set("uuid:1", "/machine/peripheral/balloon0");
  cache.Set("uuid:2", "");  // searched, no balloon
  EXPECT_THAT(cache.Get("uuid:1"), Optional(std::string("/machine/peripheral/balloon0")));
  EXPECT_THAT(cache.Get("uuid:2"), Optional(std::string("")));
  EXPECT_EQ(cache.Get("uuid:3"), std::nullopt) << "another QEMU process of the domain";
}

}  // namespace
}  // namespace balloond
