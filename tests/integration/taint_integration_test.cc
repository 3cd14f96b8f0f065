// balloond leaves no mark on the guests: everything it does by itself goes through libvirt's own
// API, which does not taint a domain; only a client's QOM query passes QMP through, and then only
// the domain asked about is marked. Real libvirtd, real guests, the real binaries.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/integration/testbed.h"

namespace balloond::testing {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;
using ::testing::Not;

// What libvirt says about a domain's taint, in `virsh dominfo` and in the domain's log.
std::string DominfoMessages(const Guest& guest) { return Virsh({"dominfo", guest.name()}).out; }
std::string QemuLog(const Guest& guest) {
  std::ifstream in("/var/log/libvirt/qemu/" + guest.name() + ".log");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(TaintIntegrationTest, EnforcingWatchingAndSettingLeaveTheGuestUntainted) {
  DestroyLeftoverGuests();
  Guest guest(BootedGuest("clean", 768));
  Agent agent({"--policy-mode=enforce"});
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  auto reports = [&] {
    CommandResult r = agent.Ctl({"-o", "json", "stats", guest.name()});
    return r.exit_code == 0 && r.out.find("availableMemoryBytes") != std::string::npos;
  };
  ASSERT_TRUE(WaitFor(reports, absl::Seconds(30))) << agent.Log();

  // The policy moves the real balloon: a host "short of memory" by its reserve.
  CommandResult r = agent.Ctl({"policy", "set", "host.reserve_bytes=1000G"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitFor([&] { return guest.UsedMemoryKiB() < 768 * 1024; }, absl::Seconds(30)))
      << agent.Log();
  v1::ListDecisionsRequest list;
  v1::ListDecisionsResponse decisions;
  ASSERT_TRUE(agent.read().ListDecisions(Deadline().get(), list, &decisions).ok());
  ASSERT_FALSE(decisions.decisions().empty());
  EXPECT_TRUE(decisions.decisions(0).applied());
  ASSERT_EQ(agent.Ctl({"policy", "mode", "observe"}).exit_code, 0);

  // Reads, watches, and an operator's target.
  EXPECT_EQ(agent.Ctl({"stats", guest.name()}).exit_code, 0);
  EXPECT_EQ(agent.Ctl({"--timeout=3s", "stats", guest.name(), "--watch"}).exit_code, 0);
  EXPECT_EQ(agent.Ctl({"list"}).exit_code, 0);
  r = agent.Ctl({"set", guest.name(), "600M", "--wait"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(WaitFor([&] { return guest.UsedMemoryKiB() == 600 * 1024; }, absl::Seconds(10)));

  EXPECT_THAT(DominfoMessages(guest), Not(HasSubstr("tainted")));
  EXPECT_THAT(QemuLog(guest), Not(HasSubstr("tainted")));
  EXPECT_THAT(QemuLog(guest), HasSubstr(guest.name())) << "read the right log";
}

TEST(TaintIntegrationTest, AQomQueryTaintsOnlyTheDomainItAskedAbout) {
  DestroyLeftoverGuests();
  Guest asked(PausedGuest("asked"));
  Guest other(PausedGuest("other"));
  Agent agent;
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_TRUE(WaitFor(
      [&] {
        return agent.Ctl({"stats", other.name()}).exit_code == 0;
      },
      absl::Seconds(10)));
  CommandResult r = agent.Ctl({"qom", "ls", asked.name(), "/machine/peripheral"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  absl::SleepFor(absl::Seconds(3));  // three more collections of both
  EXPECT_THAT(DominfoMessages(asked), HasSubstr("custom monitor control commands issued"));
  EXPECT_THAT(QemuLog(asked), HasSubstr("tainted"));
  EXPECT_THAT(DominfoMessages(other), Not(HasSubstr("tainted")));
  EXPECT_THAT(QemuLog(other), Not(HasSubstr("tainted")));
  // `qom --help` says so before anyone asks.
  EXPECT_THAT(agent.Ctl({"qom", "--help"}).out, HasSubstr("taint"));
}

// The 12-06 review: any local user could taint every VM through the read-only socket. QOM is off
// there unless the operator turns it on.
TEST(TaintIntegrationTest, ALocalUserCannotTaintADomainThroughTheReadOnlySocket) {
  DestroyLeftoverGuests();
  Guest guest(PausedGuest("ro"));
  Agent agent;
  agent.OpenToAllUsers();
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_TRUE(WaitFor(
      [&] {
        return agent.Ctl({"stats", guest.name()}).exit_code == 0;
      },
      absl::Seconds(10)));
  CommandResult r = RunCommand({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                BALLOONCTL_BIN, "--socket=" + agent.ro_socket(), "qom", "ls",
                                guest.name(), "/machine/peripheral"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("QOM queries are off on the read-only socket"));
  EXPECT_THAT(r.err, HasSubstr("[PERMISSION_DENIED QOM_OFF_ON_READ_ONLY_SOCKET]"));
  // The same user still reads what the read-only socket is for.
  r = RunCommand({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BALLOONCTL_BIN,
                  "--socket=" + agent.ro_socket(), "stats", guest.name()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  absl::SleepFor(absl::Seconds(2));
  EXPECT_THAT(DominfoMessages(guest), Not(HasSubstr("tainted")));
}

}  // namespace
}  // namespace balloond::testing
