#include "cli/size.h"

#include <gtest/gtest.h>

namespace balloond {
namespace {

TEST(ParseMemorySizeTest, SpeaksVirshsUnits) {
  struct Case {
    const char* text;
    int64_t bytes;
  } cases[] = {
      {"524288", 524288LL * 1024},  // a plain number is KiB, as in virsh setmem
      {"512M", 512LL << 20},       {"512MiB", 512LL << 20},
      {"512m", 512LL << 20},       {"2G", 2LL << 30},
      {"2GiB", 2LL << 30},         {"1T", 1LL << 40},
      {"1TiB", 1LL << 40},         {"4096k", 4096LL << 10},
      {"4096KiB", 4096LL << 10},   {"100B", 100},
      {"100bytes", 100},           {"1MB", 1000000},
      {"1GB", 1000000000},         {"1KB", 1000},
      {"1TB", 1000000000000LL},    {" 64M ", 64LL << 20},
  };
  for (const auto& c : cases) {
    auto got = ParseMemorySize(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.bytes) << c.text;
  }
}

TEST(ParseMemorySizeTest, RefusesWhatVirshRefuses) {
  for (const char* text : {"", "M", "-1G", "1.5G", "12 parsecs", "512X", "0x100"}) {
    auto got = ParseMemorySize(text);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  EXPECT_FALSE(ParseMemorySize("99999999999999999999").ok());
  EXPECT_FALSE(ParseMemorySize("9000000000E").ok());
}

}  // namespace
}  // namespace balloond
