#include "cli/size.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace balloond {
namespace {

using ::testing::HasSubstr;

TEST(ParseMemorySizeTest, SpeaksLibvirtsUnits) {
  struct Case {
    const char* text;
    int64_t bytes;
  } cases[] = {
      {"512M", 512LL << 20},
      {"512MiB", 512LL << 20},
      {"512m", 512LL << 20},
      {"2G", 2LL << 30},
      {"2GiB", 2LL << 30},
      {"1T", 1LL << 40},
      {"1TiB", 1LL << 40},
      {"4096k", 4096LL << 10},
      {"4096KiB", 4096LL << 10},
      {"100B", 100},
      {"100bytes", 100},
      {"1MB", 1000000},
      {"1GB", 1000000000},
      {"1KB", 1000},
      {"1TB", 1000000000000LL},
      {" 64M ", 64LL << 20},
      {"0", 0},
      {"0M", 0},
      {"524288K", 512LL << 20},
  };
  for (const auto& c : cases) {
    auto got = ParseMemorySize(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.bytes) << c.text;
  }
}

TEST(ParseMemorySizeTest, FractionsAreExactInEveryUnit) {
  EXPECT_EQ(*ParseMemorySize("1.5G"), 1610612736);
  EXPECT_EQ(*ParseMemorySize("0.5GiB"), 512LL << 20);
  EXPECT_EQ(*ParseMemorySize("1.25T"), (5LL << 40) / 4);
  EXPECT_EQ(*ParseMemorySize("2.5GB"), 2500000000);
  EXPECT_EQ(*ParseMemorySize("1.0009765625K"), 1025);
  EXPECT_EQ(*ParseMemorySize("1.5B"), 1);  // fractions of a byte are dropped
}

// The typo that starved a guest: `set vm 512` meant 512 KiB to virsh and 512 MiB to its author.
TEST(ParseMemorySizeTest, ANumberWithoutAUnitIsRefusedWithAGuess) {
  auto small = ParseMemorySize("512");
  EXPECT_EQ(small.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(small.status().message(), HasSubstr("has no unit: did you mean 512M?"));
  EXPECT_THAT(small.status().message(), HasSubstr("1.5G"));
  EXPECT_THAT(ParseMemorySize("524288").status().message(),
              HasSubstr("did you mean 524288K (512 MiB)?"));
  EXPECT_THAT(ParseMemorySize("17179869184").status().message(),
              HasSubstr("did you mean 17179869184B (16 GiB)?"));
}

TEST(ParseMemorySizeTest, RefusesWhatIsNotASizeSayingTheForms) {
  for (const char* text : {"", "M", "-1G", "1.G", ".5G", "12 parsecs", "512X", "0x100", "1.5"}) {
    auto got = ParseMemorySize(text);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(got.status().message(), HasSubstr("512M, 1.5G")) << text;
  }
  EXPECT_THAT(ParseMemorySize("512X").status().message(), HasSubstr("unknown unit 'X'"));
  EXPECT_FALSE(ParseMemorySize("99999999999999999999").ok());
  EXPECT_FALSE(ParseMemorySize("9000000000E").ok());
  EXPECT_FALSE(ParseMemorySize("8.5E").ok());
  EXPECT_EQ(*ParseMemorySize("7.99E"), 9211842821808707338);
}

}  // namespace
}  // namespace balloond
