#include "agent/collect/host_stats.h"

#include <gtest/gtest.h>

namespace balloond {
namespace {

constexpr char kMeminfo[] =
    "MemTotal:       24598976 kB\n"
    "MemFree:        23567312 kB\n"
    "MemAvailable:   24012340 kB\n"
    "Buffers:           12345 kB\n"
    "Cached:           433684 kB\n"
    "SwapCached:            0 kB\n"
    "SwapTotal:       1048572 kB\n"
    "SwapFree:        1048000 kB\n"
    "HugePages_Total:       0\n";

TEST(ParseMeminfoTest, ReadsTheHostsMemoryInBytes) {
  auto m = ParseMeminfo(kMeminfo);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->mem_total_bytes, 24598976LL * 1024);
  EXPECT_EQ(m->mem_free_bytes, 23567312LL * 1024);
  EXPECT_EQ(m->mem_available_bytes, 24012340LL * 1024);
  EXPECT_EQ(m->cached_bytes, 433684LL * 1024);
  EXPECT_EQ(m->swap_total_bytes, 1048572LL * 1024);
  EXPECT_EQ(m->swap_free_bytes, 1048000LL * 1024);
  EXPECT_FALSE(m->pressure_some.has_value());
}

TEST(ParseMeminfoTest, RefusesMeminfoWithoutMemAvailable) {
  EXPECT_FALSE(ParseMeminfo("MemTotal: 100 kB\nMemFree: 50 kB\n").ok());
}

TEST(ParsePressureTest, ReadsSomeAndFull) {
  HostMemory m;
  ASSERT_TRUE(ParsePressure("some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\n"
                            "full avg10=0.10 avg60=0.00 avg300=0.00 total=789\n",
                            m)
                  .ok());
  ASSERT_TRUE(m.pressure_some.has_value());
  EXPECT_DOUBLE_EQ(m.pressure_some->avg10, 1.5);
  EXPECT_DOUBLE_EQ(m.pressure_some->avg60, 0.25);
  EXPECT_EQ(m.pressure_some->total_microseconds, 123456);
  ASSERT_TRUE(m.pressure_full.has_value());
  EXPECT_EQ(m.pressure_full->total_microseconds, 789);
}

TEST(ParsePressureTest, RefusesMalformedNumbers) {
  HostMemory m;
  EXPECT_FALSE(ParsePressure("some avg10=lots avg60=0 avg300=0 total=1\n", m).ok());
}

TEST(ReadHostMemoryTest, ReadsThisMachine) {
  auto m = ReadHostMemory();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_GT(m->mem_total_bytes, 0);
  EXPECT_LE(m->mem_available_bytes, m->mem_total_bytes);
}

TEST(ReadHostMemoryTest, ReportsAMissingProc) {
  EXPECT_EQ(ReadHostMemory("/nonexistent").status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace balloond
