#include "policy/sizes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace balloond {
namespace {

TEST(FormatBytesTest, PrintsBinaryUnits) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1000), "1000 B");
  EXPECT_EQ(FormatBytes(512 * kMiB), "512 MiB");
  EXPECT_EQ(FormatBytes(1536 * kMiB), "1.5 GiB");
  EXPECT_EQ(FormatBytes(-64 * kMiB), "-64 MiB");
  EXPECT_EQ(FormatBytes(300 * kMiB + 700 * kKiB), "300.7 MiB");
}

// libvirt's units, as <memory unit=...> and virsh take them, shared by balloonctl and the metadata.
TEST(MemoryUnitBytesTest, KnowsLibvirtsUnitsInAnyCaseAndNothingElse) {
  EXPECT_EQ(MemoryUnitBytes("b"), 1u);
  EXPECT_EQ(MemoryUnitBytes("bytes"), 1u);
  EXPECT_EQ(MemoryUnitBytes("k"), 1024u);
  EXPECT_EQ(MemoryUnitBytes("KiB"), 1024u);
  EXPECT_EQ(MemoryUnitBytes("KB"), 1000u);
  EXPECT_EQ(MemoryUnitBytes("mib"), uint64_t{1} << 20);
  EXPECT_EQ(MemoryUnitBytes("G"), uint64_t{1} << 30);
  EXPECT_EQ(MemoryUnitBytes("TB"), uint64_t{1000000000000});
  EXPECT_EQ(MemoryUnitBytes("EiB"), uint64_t{1} << 60);
  EXPECT_EQ(MemoryUnitBytes(""), 0u);
  EXPECT_EQ(MemoryUnitBytes("KiBs"), 0u);
  EXPECT_EQ(MemoryUnitBytes("Z"), 0u);
}

}  // namespace
}  // namespace balloond
