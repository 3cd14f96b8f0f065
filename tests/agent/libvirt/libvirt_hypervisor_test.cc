// LibvirtHypervisor against libvirt's own test driver (test:///default: one running domain "test",
// kept in this process), and against a libvirtd that never answers. Its calls to real QEMUs, which
// the test driver has none of, are the integration tests' (tests/integration/).
#include "agent/libvirt/libvirt_hypervisor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "agent/libvirt/policy_metadata.h"

namespace balloond {
namespace {

using ::testing::HasSubstr;

constexpr char kTestUuid[] = "6695eb01-f6a4-8304-79aa-97f2502e193f";

class RecordedChanges : public DomainChangeListener {
 public:
  void OnDomainChanged(const std::string& uuid) override {
    absl::MutexLock lock(&mu_);
    changed_.insert(uuid);
  }
  // Whether `uuid` was told of within `timeout`.
  bool AwaitChange(const std::string& uuid, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto told = [&] { return changed_.count(uuid) > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&told), timeout);
  }

 private:
  absl::Mutex mu_;
  std::set<std::string> changed_ ABSL_GUARDED_BY(mu_);
};

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

class LibvirtHypervisorTest : public ::testing::Test {
 protected:
  RecordedChanges changes_;
  LibvirtHypervisor hypervisor_{"test:///default", RealClock(), changes_};
};

TEST_F(LibvirtHypervisorTest, CollectsTheRunningDomainsWithTheirNamesAndSizes) {
  auto stats = hypervisor_.CollectStats(Soon(), CollectionFilter{});
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->size(), 1u);
  const DomainInfo& info = (*stats)[0].info;
  EXPECT_EQ(info.name, "test");
  EXPECT_EQ(info.uuid, kTestUuid);
  EXPECT_TRUE(info.active);
  EXPECT_EQ(info.state, DomainRunState::kRunning);
}

TEST_F(LibvirtHypervisorTest, LooksADomainUpByUuidOrNameAndSaysWhenThereIsNone) {
  auto by_name = hypervisor_.LookupDomain("test", Soon());
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->uuid, kTestUuid);
  EXPECT_TRUE(by_name->active);
  EXPECT_EQ(by_name->max_memory_bytes, int64_t{8} << 30);
  auto by_uuid = hypervisor_.LookupDomain(kTestUuid, Soon());
  ASSERT_TRUE(by_uuid.ok()) << by_uuid.status();
  EXPECT_EQ(by_uuid->name, "test");
  EXPECT_EQ(hypervisor_.LookupDomain("no-such-domain", Soon()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(LibvirtHypervisorTest, ABalloonTargetAboveTheMaximumIsRefusedAndOneBelowIsSet) {
  EXPECT_TRUE(hypervisor_.SetBalloonTarget(kTestUuid, int64_t{1} << 30, Soon()).ok());
  absl::Status too_big = hypervisor_.SetBalloonTarget(kTestUuid, int64_t{16} << 30, Soon());
  EXPECT_FALSE(too_big.ok());
  EXPECT_NE(too_big.code(), absl::StatusCode::kUnknown) << too_big;
  EXPECT_EQ(
      hypervisor_.SetBalloonTarget("00000000-0000-0000-0000-000000000000", 1 << 30, Soon()).code(),
      absl::StatusCode::kNotFound);
}

// balloond's metadata element goes into the domain, reads back, tells the listener, and goes away.
TEST_F(LibvirtHypervisorTest, PolicyMetadataIsWrittenReadBackAnnouncedAndRemoved) {
  balloon::v1::DomainPolicy settings;
  settings.set_min_bytes(int64_t{512} << 20);
  auto element = FormatPolicyMetadata(settings);
  ASSERT_TRUE(element.ok()) << element.status();
  ASSERT_TRUE(hypervisor_.WritePolicyMetadata(kTestUuid, *element, Soon()).ok());
  auto read = hypervisor_.ReadPolicyMetadata(kTestUuid, Soon());
  ASSERT_TRUE(read.ok()) << read.status();
  auto parsed = ParsePolicyMetadata(*read);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->min_bytes(), int64_t{512} << 20);
  EXPECT_TRUE(changes_.AwaitChange(kTestUuid, absl::Seconds(10)));

  ASSERT_TRUE(hypervisor_.WritePolicyMetadata(kTestUuid, "", Soon()).ok());
  read = hypervisor_.ReadPolicyMetadata(kTestUuid, Soon());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "");
}

// Every call is told to the meter by the name its metrics carry, with its outcome.
TEST(LibvirtHypervisorMeterTest, EachCallIsToldToTheMeterByName) {
  class RecordingMeter : public CallMeter {
   public:
    void ObserveCall(absl::string_view call, absl::Duration, const absl::Status& status) override {
      absl::MutexLock lock(&mu);
      seen.emplace_back(std::string(call), status.code());
    }
    absl::Mutex mu;
    std::vector<std::pair<std::string, absl::StatusCode>> seen ABSL_GUARDED_BY(mu);
  } meter;
  RecordedChanges changes;
  {
    LibvirtHypervisor hypervisor("test:///default", RealClock(), changes, meter);
    ASSERT_TRUE(hypervisor.CollectStats(Soon(), CollectionFilter{}).ok());
    EXPECT_EQ(hypervisor.LookupDomain("no-such-domain", Soon()).status().code(),
              absl::StatusCode::kNotFound);
    ASSERT_TRUE(hypervisor.SetBalloonTarget(kTestUuid, int64_t{1} << 30, Soon()).ok());
  }
  absl::MutexLock lock(&meter.mu);
  EXPECT_THAT(meter.seen, ::testing::ElementsAre(
                              std::pair{std::string("collect_stats"), absl::StatusCode::kOk},
                              std::pair{std::string("lookup_domain"), absl::StatusCode::kNotFound},
                              std::pair{std::string("set_balloon_target"), absl::StatusCode::kOk}));
}

TEST(LibvirtHypervisorReachTest, ALibvirtdThatIsNotThereIsUnavailableAndSaysSo) {
  RecordedChanges changes;
  LibvirtHypervisor hypervisor("qemu+unix:///system?socket=/nonexistent/libvirt-sock", RealClock(),
                               changes);
  auto stats = hypervisor.CollectStats(Soon(), CollectionFilter{});
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(stats.status().message(), HasSubstr("is libvirtd running?"));
}

// A socket that takes connections into its backlog and never answers: a libvirtd that hangs. The
// caller is let go at its deadline, told what is wrong.
TEST(LibvirtHypervisorReachTest, ALibvirtdThatNeverAnswersLetsItsCallersGoAtTheirDeadline) {
  const std::string path = ::testing::TempDir() + "/silent-libvirt-" + std::to_string(getpid());
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::strcpy(addr.sun_path, path.c_str());
  unlink(path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << strerror(errno);
  ASSERT_EQ(listen(fd, 16), 0);
  {
    RecordedChanges changes;
    LibvirtHypervisor hypervisor("qemu+unix:///system?socket=" + path, RealClock(), changes);
    auto found = hypervisor.LookupDomain("test", absl::Now() + absl::Milliseconds(300));
    EXPECT_EQ(found.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(found.status().message(), HasSubstr("has not answered a new connection"));
  }
  close(fd);
  unlink(path.c_str());
}

}  // namespace
}  // namespace balloond
