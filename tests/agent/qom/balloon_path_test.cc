#include "agent/qom/balloon_path.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "absl/status/status.h"
#include "tests/testdata.h"

namespace balloond {
namespace {

using ::balloond::testing::ReadTestData;

// Answers qom-list from recorded replies; unrecorded paths get QEMU's DeviceNotFound.
class RecordedTree {
 public:
  void Add(const std::string& path, const std::string& file) {
    replies_[path] = ReadTestData("qemu-7.2/" + file);
  }
  QomLister Lister() {
    return [this](const std::string& path) -> absl::StatusOr<std::vector<QomPropertyInfo>> {
      ++calls_;
      auto it = replies_.find(path);
      if (it == replies_.end()) return absl::NotFoundError("Device '" + path + "' not found");
      auto ret = ParseQmpReturn(it->second);
      if (!ret.ok()) return ret.status();
      return ParseQomList(*ret);
    };
  }
  int calls() const { return calls_; }

 private:
  std::map<std::string, std::string> replies_;
  int calls_ = 0;
};

TEST(FindBalloonPathTest, FindsLibvirtsAliasUnderPeripheral) {
  RecordedTree tree;
  tree.Add("/machine/peripheral", "qom-list-peripheral.json");
  tree.Add("/machine/peripheral/balloon0", "qom-list-balloon0.json");
  auto path = FindBalloonPath(tree.Lister());
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, "/machine/peripheral/balloon0");
  EXPECT_EQ(tree.calls(), 2);  // the alias is found without walking the tree
}

TEST(FindBalloonPathTest, FindsTheLinkUnderThePciBusOfOlderLayouts) {
  RecordedTree tree;
  tree.Add("/", "link-layout/_.json");
  tree.Add("/machine", "link-layout/machine.json");
  tree.Add("/machine/peripheral", "link-layout/machine_peripheral.json");
  tree.Add("/machine/peripheral-anon", "link-layout/machine_peripheral-anon.json");
  tree.Add("/machine/i440fx", "link-layout/machine_i440fx.json");
  tree.Add("/machine/i440fx/pci.0", "link-layout/machine_i440fx_pci.0.json");
  tree.Add("/machine/i440fx/pci.0/child[4]", "link-layout/machine_i440fx_pci.0_child[4].json");
  auto path = FindBalloonPath(tree.Lister());
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, "/machine/i440fx/pci.0/child[4]");
}

TEST(FindBalloonPathTest, ReportsNotFoundWhenTheDomainHasNoBalloon) {
  RecordedTree tree;
  tree.Add("/", "link-layout/_.json");
  tree.Add("/machine", "link-layout/machine.json");
  tree.Add("/machine/peripheral", "qom-list-peripheral-no-balloon.json");
  auto path = FindBalloonPath(tree.Lister());
  EXPECT_EQ(path.status().code(), absl::StatusCode::kNotFound);
}

TEST(FindBalloonPathTest, TheWalkIsBounded) {
  // Every object has ten children, forever: the walk must give up, not hang.
  int calls = 0;
  QomLister endless = [&calls](const std::string&) -> absl::StatusOr<std::vector<QomPropertyInfo>> {
    ++calls;
    std::vector<QomPropertyInfo> children;
    for (int i = 0; i < 10; ++i) children.push_back({"c" + std::to_string(i), "child<container>"});
    return children;
  };
  BalloonSearchLimits limits;
  limits.max_lists = 50;
  auto path = FindBalloonPath(endless, limits);
  EXPECT_EQ(path.status().code(), absl::StatusCode::kNotFound);
  EXPECT_LE(calls, 52);  // two containers checked first, then the bounded walk
}

TEST(FindBalloonPathTest, AHungMonitorIsNotMistakenForNoBalloon) {
  QomLister hung = [](const std::string&) -> absl::StatusOr<std::vector<QomPropertyInfo>> {
    return absl::DeadlineExceededError("QEMU did not answer");
  };
  EXPECT_EQ(FindBalloonPath(hung).status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(FindBalloonPathTest, SkipsABalloonWithoutStatsSupport) {
  QomLister lister = [](const std::string& path) -> absl::StatusOr<std::vector<QomPropertyInfo>> {
    if (path == "/machine/peripheral") {
      return std::vector<QomPropertyInfo>{{"balloon0", "child<virtio-balloon-pci>"}};
    }
    if (path == "/machine/peripheral/balloon0") {
      return std::vector<QomPropertyInfo>{{"type", "string"}};  // no guest-stats-polling-interval
    }
    return absl::NotFoundError(path);
  };
  EXPECT_EQ(FindBalloonPath(lister).status().code(), absl::StatusCode::kNotFound);
}

TEST(IsBalloonTypeTest, KnowsTheDeviceTypesLibvirtKnows) {
  EXPECT_TRUE(IsBalloonType("child<virtio-balloon-pci>"));
  EXPECT_TRUE(IsBalloonType("link<virtio-balloon-pci-transitional>"));
  EXPECT_TRUE(IsBalloonType("link<virtio-balloon-pci-non-transitional>"));
  EXPECT_TRUE(IsBalloonType("child<virtio-balloon-ccw>"));
  EXPECT_FALSE(IsBalloonType("child<virtio-balloon-device>"));
  EXPECT_FALSE(IsBalloonType("link<piix3-usb-uhci>"));
}

}  // namespace
}  // namespace balloond
