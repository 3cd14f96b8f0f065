#include "agent/base/systemd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace balloond {
namespace {

// systemd's end: a datagram socket bound to `path` ('@' first: abstract).
class Manager {
 public:
  explicit Manager(std::string path) : path_(std::move(path)) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path_.data(), path_.size());
    if (path_[0] == '@') address.sun_path[0] = '\0';
    if (path_[0] != '@') unlink(path_.c_str());
    bind(fd_, reinterpret_cast<sockaddr*>(&address),
         offsetof(sockaddr_un, sun_path) + path_.size());
    setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~Manager() {
    close(fd_);
    if (path_[0] != '@') unlink(path_.c_str());
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
  }
  // What arrived since the last call, one message per line.
  std::string Received() {
    std::string all;
    char buffer[512];
    ssize_t n;
    while ((n = recv(fd_, buffer, sizeof(buffer), 0)) > 0) {
      absl::StrAppend(&all, std::string(buffer, n), "|");
    }
    return all;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(SystemdNotifierTest, DoesNothingWithoutNotifySocket) {
  unsetenv("NOTIFY_SOCKET");
  SystemdNotifier notifier = SystemdNotifier::FromEnvironment();
  EXPECT_FALSE(notifier.enabled());
  EXPECT_FALSE(notifier.Notify("READY=1"));
}

TEST(SystemdNotifierTest, SendsToAPathAndToAnAbstractSocket) {
  for (const std::string& path :
       {absl::StrCat("/tmp/notify-test-", getpid()), absl::StrCat("@notify-test-", getpid())}) {
    Manager manager(path);
    SystemdNotifier notifier = SystemdNotifier::FromEnvironment();
    ASSERT_TRUE(notifier.enabled());
    EXPECT_TRUE(notifier.Notify("READY=1\nSTATUS=serving")) << path;
    EXPECT_EQ(manager.Received(), "READY=1\nSTATUS=serving|") << path;
  }
}

TEST(SystemdNotifierTest, PingsTheWatchdogAtHalfItsInterval) {
  Manager manager(absl::StrCat("/tmp/notify-test-", getpid()));
  setenv("WATCHDOG_USEC", "4000000", 1);
  SystemdNotifier notifier = SystemdNotifier::FromEnvironment();
  ASSERT_EQ(notifier.watchdog_interval(), absl::Seconds(4));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  notifier.PingWatchdog(t0);
  notifier.PingWatchdog(t0 + absl::Seconds(1));  // too soon: not sent
  notifier.PingWatchdog(t0 + absl::Seconds(2));
  EXPECT_EQ(manager.Received(), "WATCHDOG=1|WATCHDOG=1|");
}

TEST(SystemdNotifierTest, AWatchdogMeantForAnotherProcessIsNotOurs) {
  Manager manager(absl::StrCat("/tmp/notify-test-", getpid()));
  setenv("WATCHDOG_USEC", "4000000", 1);
  setenv("WATCHDOG_PID", absl::StrCat(getpid() + 1).c_str(), 1);
  EXPECT_FALSE(SystemdNotifier::FromEnvironment().watchdog_interval());
  setenv("WATCHDOG_PID", absl::StrCat(getpid()).c_str(), 1);
  EXPECT_TRUE(SystemdNotifier::FromEnvironment().watchdog_interval());
}

}  // namespace
}  // namespace balloond
