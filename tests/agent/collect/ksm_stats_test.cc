// Reading and writing KSM's files, on a directory laid out like /sys/kernel/mm/ksm and /proc.
#include "agent/collect/ksm_stats.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/base/files.h"

namespace balloond {
namespace {

class KsmFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ksm-stats-test-XXXXXX";
    root_ = mkdtemp(tmpl);
    sysfs_ = root_ + "/ksm";
    mkdir(sysfs_.c_str(), 0755);
    for (const auto& [name, value] : {std::pair{"run", "0"},
                                      {"pages_to_scan", "100"},
                                      {"sleep_millisecs", "20"},
                                      {"pages_shared", "1000"},
                                      {"pages_sharing", "22378"},
                                      {"full_scans", "7"}}) {
      Put(sysfs_ + "/" + name, value);
    }
  }
  void TearDown() override { std::system(("rm -rf " + root_).c_str()); }
  static void Put(const std::string& path, const std::string& text) {
    std::ofstream(path) << text << "\n";
  }
  static std::string Get(const std::string& path) { return *ReadWholeFile(path); }

  std::string root_, sysfs_;
};

TEST_F(KsmFilesTest, ReadsTheHostsKsmAndWhatOnlyNewerKernelsHave) {
  auto k = ReadKsmSysfs(sysfs_);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->run, 0);
  EXPECT_EQ(k->pages_sharing, 22378);
  EXPECT_EQ(k->full_scans, 7);
  EXPECT_FALSE(k->general_profit_bytes.has_value());
  Put(sysfs_ + "/general_profit", "91000000");
  Put(sysfs_ + "/pages_scanned", "123456");
  k = ReadKsmSysfs(sysfs_);
  EXPECT_EQ(k->general_profit_bytes, 91000000);
  EXPECT_EQ(k->pages_scanned, 123456);
}

TEST_F(KsmFilesTest, AKernelWithoutKsmIsNotFoundAndAMissingFileUnavailable) {
  EXPECT_EQ(ReadKsmSysfs(root_ + "/none").status().code(), absl::StatusCode::kNotFound);
  unlink((sysfs_ + "/full_scans").c_str());
  EXPECT_EQ(ReadKsmSysfs(sysfs_).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(KsmFilesTest, WritesThePaceAndTheRun) {
  ASSERT_TRUE(WriteKsmKnobs(1, 312, 20, sysfs_).ok());
  EXPECT_EQ(Get(sysfs_ + "/run"), "1\n");
  EXPECT_EQ(Get(sysfs_ + "/pages_to_scan"), "312\n");
  const absl::Status refused = WriteKsmKnobs(1, 312, 20, root_ + "/none");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find(root_ + "/none/pages_to_scan"), std::string::npos);
}

TEST(KsmStatTest, ReadsWhatAProcessMergedAndItsProfit) {
  auto p = ParseKsmStat(
      "ksm_rmap_items 40000\nksm_zero_pages 0\nksm_merging_pages 22000\nksm_process_profit "
      "85000000\nksm_merge_any: no\nksm_mergeable: yes\n",
      4096);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->merging_bytes, 22000 * 4096);
  EXPECT_EQ(p->profit_bytes, 85000000);
  EXPECT_FALSE(ParseKsmStat("nothing here\n", 4096).has_value());
}

TEST_F(KsmFilesTest, FindsAQemuByItsPidFileAndRefusesNamesThatLeaveTheDirectory) {
  Put(root_ + "/guest-1.pid", "4242");
  EXPECT_EQ(QemuPidOf("guest-1", root_), 4242);
  EXPECT_FALSE(QemuPidOf("../ksm/run", root_).has_value());
  EXPECT_FALSE(QemuPidOf("missing", root_).has_value());
}

TEST_F(KsmFilesTest, FindsKsmdAndItsCpuTime) {
  const std::string proc = root_ + "/proc";
  mkdir(proc.c_str(), 0755);
  for (const auto& [pid, stat] :
       {std::pair{"1", "1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 500 600 0 0 20 0 1 0 1"},
        {"39", "39 (ksmd) S 2 0 0 0 -1 2097216 0 0 0 0 250 50 0 0 25 5 1 0 19"}}) {
    mkdir((proc + "/" + pid).c_str(), 0755);
    Put(proc + "/" + pid + "/stat", stat);
  }
  EXPECT_EQ(FindKsmd(proc), 39);
  const std::optional<double> seconds = KsmdCpuSeconds(39, proc);
  ASSERT_TRUE(seconds.has_value());
  EXPECT_DOUBLE_EQ(*seconds, 300.0 / static_cast<double>(sysconf(_SC_CLK_TCK)));
  EXPECT_FALSE(KsmdCpuSeconds(1, proc).has_value()) << "not ksmd";
}

}  // namespace
}  // namespace balloond
