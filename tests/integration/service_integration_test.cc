// balloond as systemd runs it: Type=notify readiness after the first inventory, watchdog pings from
// the collection loop, and SIGHUP reloading the config file's policy and log level.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/testbed.h"

namespace balloond::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

TEST(ServiceIntegrationTest, ReadyOnlyOnceTheFirstInventoryIsCompleteAndTheWatchdogIsPinged) {
  DestroyLeftoverGuests();
  Guest guest(PausedGuest("notify"));
  const std::string socket_path = absl::StrCat("/tmp/bdtest-notify-", getpid(), ".sock");
  NotifySocket manager(socket_path);
  std::unique_ptr<Agent> agent;
  {
    ScopedEnv env({{"NOTIFY_SOCKET", socket_path}, {"WATCHDOG_USEC", "2000000"}});
    agent = std::make_unique<Agent>(std::vector<std::string>{"--stats-period=1s"});
  }

  // READY=1 comes once, and at that moment the guest is already in the list.
  std::string ready;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline && !absl::StrContains(ready, "READY=1")) {
    ready = manager.Receive(absl::Seconds(1));
  }
  ASSERT_THAT(ready, HasSubstr("READY=1")) << agent->Log();
  EXPECT_THAT(ready, HasSubstr("STATUS=connected to libvirt"));
  balloon::v1::ListDomainsResponse list;
  grpc::ClientContext ctx;
  ASSERT_TRUE(agent->read().ListDomains(&ctx, {}, &list).ok());
  std::vector<std::string> names;
  for (const auto& d : list.domains()) names.push_back(d.name());
  EXPECT_THAT(names, ::testing::Contains(guest.name()));
  EXPECT_EQ(agent->HealthStatus(), "SERVING");

  // The watchdog wants a ping every 2 s: balloond pings at least once a second from its loop.
  int pings = 0;
  const absl::Time window_end = absl::Now() + absl::Seconds(5);
  while (absl::Now() < window_end) {
    if (manager.Receive(absl::Seconds(1)) == "WATCHDOG=1") ++pings;
  }
  EXPECT_GE(pings, 3);

  agent->Stop();
  EXPECT_EQ(manager.Receive(absl::Seconds(2)), "STOPPING=1");
}

TEST(ServiceIntegrationTest, SighupReloadsThePolicyAndLogLevelAndKeepsThemWhenTheFileIsBroken) {
  DestroyLeftoverGuests();
  Guest guest(PausedGuest("reload"));
  const std::string config = absl::StrCat("/tmp/bdtest-reload-", getpid(), ".textproto");
  auto write = [&](const std::string& text) { std::ofstream(config) << text; };
  write("policy { mode: POLICY_MODE_OBSERVE host { reserve_bytes: 1073741824 } }\n");
  Agent agent({"--config=" + config, "--stats-period=1s"});
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  EXPECT_THAT(agent.Ctl({"policy", "show"}).out, ContainsRegex("host.reserve_bytes +1 GiB"));

  // A new reserve, debug logging, and a period that only a restart applies.
  write(
      "policy { mode: POLICY_MODE_OBSERVE host { reserve_bytes: 2147483648 } }\n"
      "log_level: \"debug\"\nstats_period { seconds: 5 }\n");
  kill(agent.pid(), SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(agent.Log(), "SIGHUP: reloaded"); },
                      absl::Seconds(10)))
      << agent.Log();
  EXPECT_THAT(agent.Log(), HasSubstr("read only at start (restart to apply): stats_period"));
  EXPECT_THAT(agent.Ctl({"policy", "show"}).out, ContainsRegex("host.reserve_bytes +2 GiB"));
  EXPECT_TRUE(
      WaitFor([&] { return absl::StrContains(agent.Log(), " debug: "); }, absl::Seconds(10)))
      << "debug lines once log_level is debug";

  // A file with an error: refused, named, and the running policy stays.
  write("policy { mode: POLICY_MODE_ENFORCE host { reserve_bytes: -5 } }\n");
  kill(agent.pid(), SIGHUP);
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(agent.Log(), "not reloaded"); }, absl::Seconds(10)))
      << agent.Log();
  EXPECT_THAT(agent.Log(), HasSubstr(config));
  const std::string shown = agent.Ctl({"policy", "show"}).out;
  EXPECT_THAT(shown, ContainsRegex("host.reserve_bytes +2 GiB"));
  EXPECT_THAT(shown, ContainsRegex("mode +observe"));
  EXPECT_EQ(agent.HealthStatus(), "SERVING");
  unlink(config.c_str());
}

TEST(ServiceIntegrationTest, BadFlagsAreUsageErrorsNamingTheFlag) {
  for (const auto& [flag, says] : std::vector<std::pair<std::string, std::string>>{
           {"--log-level=loud", "--log-level: unknown log level 'loud'"},
           {"--stats-period=-3s", "--stats-period: duration '-3s' must be positive"},
           {"--metrics-address=nope", "--metrics-address: address 'nope' must be HOST:PORT"},
           {"--policy-mode=sometimes", "--policy-mode: policy mode 'sometimes' is not one of"}}) {
    CommandResult r = RunCommand({BALLOOND_BIN, flag});
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_THAT(r.err, HasSubstr(says));
  }
}

// As the shipped unit runs it: user balloond in group libvirt (libvirt's polkit rule lets that
// group manage domains), no capabilities, no new privileges. The package's postinst makes the user.
TEST(ServiceIntegrationTest, RunsAsUserBalloondInGroupLibvirtWithoutCapabilities) {
  DestroyLeftoverGuests();
  if (RunCommand({"id", "balloond"}).exit_code != 0) {
    ASSERT_EQ(RunCommand({"useradd", "--system", "--user-group", "--no-create-home", "--shell",
                          "/usr/sbin/nologin", "balloond"})
                  .exit_code,
              0);
  }
  ASSERT_EQ(RunCommand({"usermod", "-aG", "libvirt", "balloond"}).exit_code, 0);
  Guest guest(BootedGuest("nonroot", 512));
  Agent agent({"--stats-period=1s"}, "",
              {"setpriv", "--reuid=balloond", "--regid=balloond", "--init-groups",
               "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"});
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  EXPECT_EQ(RunCommand({"stat", "-c", "%U", agent.rw_socket()}).out, "balloond\n");

  // It reads, sets a target through libvirt, and saves a policy change in its state directory.
  ASSERT_TRUE(WaitFor(
      [&] {
        return agent.Ctl({"stats", guest.name()}).exit_code == 0;
      },
      absl::Seconds(30)))
      << agent.Log();
  CommandResult set = agent.Ctl({"set", guest.name(), "400M", "--wait"});
  EXPECT_EQ(set.exit_code, 0) << set.err << agent.Log();
  EXPECT_EQ(agent.Ctl({"policy", "set", "host.reserve_bytes=3G"}).exit_code, 0) << agent.Log();
  EXPECT_EQ(RunCommand({"stat", "-c", "%U", agent.state_dir() + "/policy.textproto"}).out,
            "balloond\n");
  EXPECT_THAT(agent.Log(), ::testing::Not(HasSubstr(" error: ")));
}

}  // namespace
}  // namespace balloond::testing
