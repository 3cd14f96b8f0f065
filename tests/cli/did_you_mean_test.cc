#include "cli/did_you_mean.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace balloond {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::vector<std::string> kCommands = {"list",   "stats", "set",    "release",
                                            "policy", "qom",   "events", "reservations"};

TEST(NearestNamesTest, TyposFindTheirCommand) {
  EXPECT_THAT(NearestNames("lsit", kCommands), ElementsAre("list"));   // swapped
  EXPECT_THAT(NearestNames("stat", kCommands), ElementsAre("stats"));  // missing
  EXPECT_THAT(NearestNames("se", kCommands), ElementsAre("set"));
  EXPECT_THAT(NearestNames("polcy", kCommands), ElementsAre("policy"));
  EXPECT_THAT(NearestNames("LIST", kCommands), ElementsAre("list"));
  EXPECT_THAT(NearestNames("xyzzy", kCommands), IsEmpty());
}

TEST(NearestNamesTest, ABeginningOrAPartFindsTheLongNames) {
  const std::vector<std::string> keys = {"headroom_bytes", "headroom_fraction", "min_bytes",
                                         "host.reserve_bytes", "host.reserve_fraction"};
  EXPECT_THAT(NearestNames("headroom", keys), ElementsAre("headroom_bytes", "headroom_fraction"));
  EXPECT_THAT(NearestNames("reserve", keys),
              ElementsAre("host.reserve_bytes", "host.reserve_fraction"));
}

TEST(NearestNamesTest, DashesAndUnderscoresAreTheSame) {
  EXPECT_THAT(NearestNames("target_set", {"target-set", "relief"}), ElementsAre("target-set"));
}

TEST(DidYouMeanTest, SaysOneOrSeveral) {
  EXPECT_EQ(DidYouMean("lsit", kCommands), " Did you mean 'list'?");
  EXPECT_EQ(DidYouMean("reserv", {"reserve", "reservations", "release"}),
            " Did you mean 'reserve' or 'reservations'?");
  EXPECT_EQ(DidYouMean("xyzzy", kCommands), "");
}

}  // namespace
}  // namespace balloond
