#include "agent/qom/qom_path_guard.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_replace.h"
#include "agent/qom/qmp.h"
#include "tests/testdata.h"

namespace balloond {
namespace {

using ::balloond::testing::ReadTestData;
using ::testing::HasSubstr;

// qom-list answered from the QOM tree of a real domain with a virtio-rng device
// (tests/testdata/qemu-7.2/rng-layout), counting the calls.
class RecordedTree {
 public:
  absl::StatusOr<std::vector<QomPropertyInfo>> List(const std::string& path) {
    ++calls;
    std::string file = path == "/" ? "_" : absl::StrReplaceAll(path.substr(1), {{"/", "_"}});
    std::string reply;
    try {
      reply = ReadTestData("qemu-7.2/rng-layout/" + file + ".json");
    } catch (const std::exception&) {
      reply = ReadTestData("qemu-7.2/qom-get-no-path.json");  // QEMU's DeviceNotFound
    }
    auto ret = ParseQmpReturn(reply);
    if (!ret.ok()) return ret.status();
    return ParseQomList(*ret);
  }
  QomLister lister() {
    return [this](const std::string& p) { return List(p); };
  }
  int calls = 0;
};

TEST(QomPathGuardTest, APathOfChildrenPasses) {
  RecordedTree tree;
  QomPathGuard guard;
  EXPECT_TRUE(guard.Check("uuid:1", "/machine/peripheral/rng0", tree.lister()).ok());
  EXPECT_TRUE(guard.Check("uuid:1", "/", tree.lister()).ok());
}

TEST(QomPathGuardTest, ALinkIsRefusedSayingWhichAndWhy) {
  RecordedTree tree;
  QomPathGuard guard;
  // QEMU itself resolves this to /objects/objrng0 and would answer qom-get ... filename.
  absl::Status s = guard.Check("uuid:1", "/machine/peripheral/rng0/rng", tree.lister());
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'rng'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("link<rng-backend>"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("/objects"));
  // Below the link too.
  EXPECT_EQ(guard.Check("uuid:1", "/machine/peripheral/rng0/rng/x", tree.lister()).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(QomPathGuardTest, CheckedPrefixesAreRememberedPerQemuProcess) {
  RecordedTree tree;
  QomPathGuard guard;
  ASSERT_TRUE(guard.Check("uuid:1", "/machine/peripheral/rng0", tree.lister()).ok());
  const int first = tree.calls;
  EXPECT_EQ(first, 3);  // "/", "/machine", "/machine/peripheral"
  ASSERT_TRUE(guard.Check("uuid:1", "/machine/peripheral", tree.lister()).ok());
  EXPECT_EQ(tree.calls, first) << "known prefixes cost no QMP";
  ASSERT_TRUE(guard.Check("uuid:2", "/machine/peripheral", tree.lister()).ok());
  EXPECT_EQ(tree.calls, first + 2) << "a restarted QEMU (new ID) is checked again";
}

TEST(QomPathGuardTest, AMissingSegmentIsNotFoundAndAFailingMonitorIsPassedOn) {
  RecordedTree tree;
  QomPathGuard guard;
  EXPECT_EQ(guard.Check("uuid:1", "/machine/nope", tree.lister()).code(),
            absl::StatusCode::kNotFound);
  absl::Status hung = guard.Check("uuid:2", "/machine", [](const std::string&) {
    return absl::StatusOr<std::vector<QomPropertyInfo>>(absl::DeadlineExceededError("no answer"));
  });
  EXPECT_EQ(hung.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(QomPathGuardTest, WhatItRemembersIsBounded) {
  RecordedTree tree;
  QomPathGuard guard(/*max_remembered_paths=*/2);
  ASSERT_TRUE(guard.Check("uuid:0", "/machine", tree.lister()).ok());
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(guard.Check("uuid:" + std::to_string(i), "/machine", tree.lister()).ok());
  }
  const int before = tree.calls;
  ASSERT_TRUE(guard.Check("uuid:0", "/machine", tree.lister()).ok());
  EXPECT_EQ(tree.calls, before + 1) << "forgotten past the bound, so checked again";
}

}  // namespace
}  // namespace balloond
