// LibvirtConnections against libvirt's test driver (test:///default, one running domain "test").
#include "agent/libvirt/libvirt_connections.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace balloond {
namespace {

using ::testing::HasSubstr;

constexpr char kTestUuid[] = "6695eb01-f6a4-8304-79aa-97f2502e193f";

class LibvirtConnectionsTest : public ::testing::Test {
 protected:
  class Ignored : public DomainChangeListener {
    void OnDomainChanged(const std::string&) override {}
  } ignored_;
  LibvirtConnections connections_{"test:///default", RealClock(),
                                  std::make_shared<LibvirtEvents>(ignored_)};
  static absl::Time In(absl::Duration d) { return RealClock().Now() + d; }
};

TEST_F(LibvirtConnectionsTest, RunsACallOnTheConnectionAndADomainCallWithItsHandle) {
  auto hostname = std::make_shared<std::string>();
  ASSERT_TRUE(connections_
                  .Run("", In(absl::Seconds(10)),
                       [hostname](LibvirtConnection& c) {
                         *hostname = TakeLibvirtString(virConnectGetHostname(c.get()));
                         return absl::OkStatus();
                       })
                  .ok());
  EXPECT_FALSE(hostname->empty());

  auto name = std::make_shared<std::string>();
  ASSERT_TRUE(connections_
                  .RunOnDomain(kTestUuid, In(absl::Seconds(10)),
                               [name](virDomainPtr dom) {
                                 *name = virDomainGetName(dom);
                                 return absl::OkStatus();
                               })
                  .ok());
  EXPECT_EQ(*name, "test");
  EXPECT_EQ(connections_
                .RunOnDomain("00000000-0000-0000-0000-000000000000", In(absl::Seconds(10)),
                             [](virDomainPtr) { return absl::OkStatus(); })
                .code(),
            absl::StatusCode::kNotFound);
}

// A call that does not return (a hung QEMU) lets its caller go at the deadline; once two such
// calls hold the calls connection, the next call gets a fresh one.
TEST_F(LibvirtConnectionsTest, CallsHungPastTheirDeadlineRetireTheirConnection) {
  struct Seen {
    absl::Mutex mu;
    std::vector<LibvirtConnection*> connections ABSL_GUARDED_BY(mu);
  };
  auto release = std::make_shared<absl::Notification>();
  auto seen = std::make_shared<Seen>();
  auto hang = [release, seen](LibvirtConnection& c) {
    {
      absl::MutexLock lock(&seen->mu);
      seen->connections.push_back(&c);
    }
    release->WaitForNotification();
    return absl::OkStatus();
  };
  for (const char* lane : {"hung-1", "hung-2"}) {
    absl::Status s = connections_.Run(lane, In(absl::Milliseconds(100)), hang);
    EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
    EXPECT_THAT(s.message(), HasSubstr("did not answer in time"));
  }
  LibvirtConnection* fresh = nullptr;
  ASSERT_TRUE(connections_
                  .Run("", In(absl::Seconds(10)),
                       [&fresh](LibvirtConnection& c) {
                         fresh = &c;
                         return absl::OkStatus();
                       })
                  .ok());
  release->Notify();
  absl::MutexLock lock(&seen->mu);
  ASSERT_EQ(seen->connections.size(), 2u);
  EXPECT_EQ(seen->connections[0], seen->connections[1]);
  EXPECT_NE(fresh, seen->connections[0]) << "the connection two hung calls hold is retired";
}

TEST_F(LibvirtConnectionsTest, RunEachRunsItsCallsAtOnceAndTellsEachOnesOutcome) {
  auto release = std::make_shared<absl::Notification>();
  std::vector<LibvirtConnections::LaneCall> calls;
  calls.push_back({"", [](LibvirtConnection&) { return absl::OkStatus(); }});
  calls.push_back({"hung", [release](LibvirtConnection&) {
                     release->WaitForNotification();
                     return absl::OkStatus();
                   }});
  calls.push_back({"other", [](LibvirtConnection&) { return absl::NotFoundError("gone"); }});
  auto statuses = connections_.RunEach(std::move(calls), In(absl::Milliseconds(300)));
  release->Notify();
  ASSERT_TRUE(statuses.ok()) << statuses.status();
  ASSERT_EQ(statuses->size(), 3u);
  EXPECT_TRUE((*statuses)[0].ok());
  EXPECT_EQ((*statuses)[1].code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ((*statuses)[2].code(), absl::StatusCode::kNotFound);
}

TEST(LibvirtConnectionsReachTest, ALibvirtdThatIsNotThereIsUnavailableAndSaysSo) {
  class Ignored : public DomainChangeListener {
    void OnDomainChanged(const std::string&) override {}
  } ignored;
  LibvirtConnections connections("qemu+unix:///system?socket=/nonexistent/libvirt-sock",
                                 RealClock(), std::make_shared<LibvirtEvents>(ignored));
  absl::Status s = connections.Run("", RealClock().Now() + absl::Seconds(10),
                                   [](LibvirtConnection&) { return absl::OkStatus(); });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("is libvirtd running?"));
}

}  // namespace
}  // namespace balloond
