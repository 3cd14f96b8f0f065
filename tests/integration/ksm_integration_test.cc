// Page sharing (KSM) run by balloond on the real host, with real guests: `always` starts ksmd and
// identical guests' pages merge, capacity, ListDomains and the metrics show it per domain, `off`
// puts KSM back as found; the default leaves a roomy host's KSM alone. Each test puts the host's
// KSM settings back as it found them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "policy/sizes.h"
#include "tests/integration/testbed.h"

namespace balloond::testing {
namespace {

namespace v1 = balloon::v1;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

constexpr char kKsm[] = "/sys/kernel/mm/ksm/";

int64_t ReadKsm(const std::string& name) {
  std::ifstream in(kKsm + name);
  std::string text;
  std::getline(in, text);
  int64_t value = -1;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value)) return -1;
  return value;
}

void WriteKsm(const std::string& name, int64_t value) {
  std::ofstream(kKsm + name) << value << "\n";
}

class KsmIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DestroyLeftoverGuests();
    for (const char* knob : {"run", "pages_to_scan", "sleep_millisecs"})
      found_[knob] = ReadKsm(knob);
    // The test starts from KSM stopped at the kernel's pace, as a host that never ran it.
    WriteKsm("run", 0);
    WriteKsm("pages_to_scan", 100);
    WriteKsm("sleep_millisecs", 20);
  }
  void TearDown() override {
    WriteKsm("run", 0);
    WriteKsm("pages_to_scan", found_["pages_to_scan"]);
    WriteKsm("sleep_millisecs", found_["sleep_millisecs"]);
    WriteKsm("run", found_["run"]);
  }

  static std::optional<v1::HostCapacity> Capacity(Agent& agent) {
    v1::HostCapacity c;
    if (!agent.read().GetHostCapacity(Deadline().get(), {}, &c).ok()) return std::nullopt;
    return c;
  }
  static const v1::DomainCapacity* Find(const v1::HostCapacity& c, const std::string& name) {
    for (const v1::DomainCapacity& d : c.domains()) {
      if (d.name() == name) return &d;
    }
    return nullptr;
  }

  std::map<std::string, int64_t> found_;
};

TEST_F(KsmIntegrationTest, TheDefaultLeavesARoomyHostsKsmAlone) {
  Guest a(BootedGuest("ksm-roomy"));
  Agent agent;
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_EQ(agent.Ctl({"policy", "set", "mode=enforce"}).exit_code, 0);
  std::optional<v1::HostCapacity> c;
  // Ten cycles of a roomy host under the default mode (when-short).
  const absl::Time from = absl::Now();
  ASSERT_TRUE(WaitFor(
      [&] {
        c = Capacity(agent);
        return c && c->sharing().state() != v1::KSM_STATE_UNSPECIFIED &&
               absl::Now() - from > absl::Seconds(20);
      },
      absl::Seconds(60)))
      << agent.Log();
  EXPECT_EQ(c->sharing().mode(), v1::KSM_MODE_WHEN_SHORT);
  EXPECT_EQ(c->sharing().state(), v1::KSM_STATE_LEFT_ALONE);
  EXPECT_THAT(c->sharing().explanation(), HasSubstr("while the host is roomy"));
  EXPECT_EQ(ReadKsm("run"), 0);
  EXPECT_EQ(ReadKsm("pages_to_scan"), 100);
  EXPECT_THAT(agent.Log(), ::testing::Not(HasSubstr("ksmd started")));
}

TEST_F(KsmIntegrationTest, AlwaysMergesIdenticalGuestsShowsItPerDomainAndOffPutsKsmBack) {
  Guest a(BootedGuest("ksm-twin-a"));
  Guest b(BootedGuest("ksm-twin-b"));
  GuestSpec apart_spec = BootedGuest("ksm-apart");
  apart_spec.nosharepages = true;
  Guest apart(apart_spec);
  Agent agent({"--metrics-address=127.0.0.1:0"});
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_EQ(agent.Ctl({"policy", "set", "mode=enforce"}).exit_code, 0);

  CommandResult set = agent.Ctl({"policy", "set", "host.ksm.mode=always"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  ASSERT_TRUE(WaitFor([] { return ReadKsm("run") == 1; }, absl::Seconds(30))) << agent.Log();
  EXPECT_GE(ReadKsm("pages_to_scan"), 312);
  EXPECT_EQ(ReadKsm("sleep_millisecs"), 20);

  // The twins' identical pages merge; the capacity shows it on the host and per domain.
  std::optional<v1::HostCapacity> c;
  auto merged = [&](const std::string& name) {
    const v1::DomainCapacity* d = Find(*c, name);
    return d != nullptr && d->sharing().merging_bytes() >= 4 * kMiB;
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        c = Capacity(agent);
        return c && c->sharing().sharing_bytes() >= 8 * kMiB && merged(a.name()) &&
               merged(b.name());
      },
      absl::Seconds(120)))
      << (c ? c->DebugString() : "no capacity") << agent.Log();
  std::cout << agent.Ctl({"capacity"}).out;
  EXPECT_EQ(c->sharing().state(), v1::KSM_STATE_RUNNING);
  EXPECT_EQ(c->sharing().mode(), v1::KSM_MODE_ALWAYS);
  EXPECT_TRUE(c->sharing().running());
  const v1::DomainCapacity* kept_apart = Find(*c, apart.name());
  ASSERT_NE(kept_apart, nullptr);
  EXPECT_TRUE(kept_apart->sharing().nosharepages());
  EXPECT_EQ(kept_apart->sharing().merging_bytes(), 0) << "nosharepages keeps it out of KSM";
  EXPECT_FALSE(Find(*c, a.name())->sharing().nosharepages());

  const std::string shown = agent.Ctl({"capacity"}).out;
  EXPECT_THAT(shown, ContainsRegex("sharing +[0-9.]+ [KMG]iB saved"));
  EXPECT_THAT(shown, HasSubstr("SHARED"));
  EXPECT_THAT(shown, HasSubstr("- (nosharepages)"));

  // ListDomains says the same per domain.
  v1::ListDomainsResponse list;
  ASSERT_TRUE(agent.read().ListDomains(Deadline().get(), {}, &list).ok());
  for (const v1::Domain& d : list.domains()) {
    if (d.name() == a.name() || d.name() == b.name()) {
      EXPECT_GT(d.sharing().merging_bytes(), 0) << d.name();
    }
    if (d.name() == apart.name()) {
      EXPECT_TRUE(d.sharing().nosharepages());
    }
  }
  // The metrics too.
  const std::string metrics = HttpGet("127.0.0.1", agent.MetricsPort(), "/metrics");
  EXPECT_THAT(metrics, HasSubstr("balloon_host_ksm_running 1"));
  EXPECT_THAT(metrics, ContainsRegex("balloon_host_ksm_sharing_bytes [1-9]"));
  EXPECT_THAT(metrics, ContainsRegex(absl::StrCat("balloon_domain_ksm_merging_bytes\\{domain=\"",
                                                  a.name(), "\"[^}]*\\} [1-9]")));
  EXPECT_THAT(metrics, HasSubstr("balloon_host_ksm_state{state=\"running\"} 1"));
  // And the event that started it, with its reason.
  const std::string events = agent.Ctl({"events", "--kind=ksm-changed", "--timeout=2s"}).out;
  EXPECT_THAT(events, HasSubstr("ksmd started: host.ksm.mode is always"));

  // Off, by the proto's name: KSM goes back as balloond found it (stopped, the kernel's pace);
  // what is merged stays merged.
  set = agent.Ctl({"policy", "set", "host.ksm.mode=KSM_MODE_OFF"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  ASSERT_TRUE(WaitFor([] { return ReadKsm("run") == 0; }, absl::Seconds(30))) << agent.Log();
  EXPECT_EQ(ReadKsm("pages_to_scan"), 100);
  ASSERT_TRUE(WaitFor(
      [&] {
        c = Capacity(agent);
        return c && c->sharing().state() == v1::KSM_STATE_LEFT_ALONE;
      },
      absl::Seconds(30)));
  EXPECT_THAT(c->sharing().explanation(), HasSubstr("put back as balloond found it (stopped)"));
  EXPECT_GT(ReadKsm("pages_sharing"), 0) << "not unmerged unless told to";
}

TEST_F(KsmIntegrationTest, StoppingBalloondPutsKsmBackAsFound) {
  Guest a(BootedGuest("ksm-stop"));
  WriteKsm("pages_to_scan", 77);
  Agent agent;
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  ASSERT_EQ(agent.Ctl({"policy", "set", "mode=enforce", "host.ksm.mode=always"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([] { return ReadKsm("run") == 1; }, absl::Seconds(30))) << agent.Log();
  agent.Stop();
  EXPECT_EQ(ReadKsm("run"), 0);
  EXPECT_EQ(ReadKsm("pages_to_scan"), 77);
}

// ksmd's CPU time so far, in seconds.
double KsmdSeconds() {
  const CommandResult pid = RunCommand({"pgrep", "-x", "ksmd"});
  std::ifstream in(absl::StrCat("/proc/", absl::StripAsciiWhitespace(pid.out), "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> fields = absl::StrSplit(stat.substr(stat.find(") ") + 2), ' ');
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Unmerges everything and stops ksmd, so that the next run starts from nothing merged.
void Unmerge() {
  WriteKsm("run", 2);
  WaitFor([] { return ReadKsm("pages_shared") == 0; }, absl::Seconds(120));
  WriteKsm("run", 0);
}

struct BenchRun {
  double saved_mib = 0;
  double cpu_seconds = 0;
};

// The bench behind README's "Page sharing" figures (tests/bench/ksm.sh): for 2, 4 and 8 identical
// guests (BALLOOND_KSM_GUESTS), what merging saves and ksmd's CPU in BALLOOND_KSM_SECONDS (120)
// under balloond's controller (mode always), against ksmd at a fixed 1250 pages per 20 ms
// (ksmtuned's fastest) over the same time, in the same run.
TEST_F(KsmIntegrationTest, DISABLED_BenchSavingsAndCpuByGuestCount) {
  const char* counts_env = std::getenv("BALLOOND_KSM_GUESTS");
  const char* seconds_env = std::getenv("BALLOOND_KSM_SECONDS");
  std::vector<int> counts;
  for (absl::string_view c :
       absl::StrSplit(counts_env ? counts_env : "2 4 8", ' ', absl::SkipEmpty())) {
    int n = 0;
    if (absl::SimpleAtoi(c, &n)) counts.push_back(n);
  }
  int seconds = 120;
  if (seconds_env) {
    ASSERT_TRUE(absl::SimpleAtoi(seconds_env, &seconds));
  }
  std::cout << "guests  balloond: saved MiB  ksmd CPU s  |  fixed 1250: saved MiB  ksmd CPU s  |  "
               "CPU ratio  saved ratio\n";
  for (const int count : counts) {
    std::vector<std::unique_ptr<Guest>> guests;
    for (int i = 0; i < count; ++i) {
      guests.push_back(std::make_unique<Guest>(BootedGuest(absl::StrCat("ksm-bench-", i))));
    }
    auto measure = [&](const std::function<void()>& start, const std::function<void()>& stop) {
      Unmerge();
      const double cpu_before = KsmdSeconds();
      start();
      absl::SleepFor(absl::Seconds(seconds));
      BenchRun r;
      r.saved_mib = static_cast<double>(ReadKsm("general_profit")) / kMiB;
      r.cpu_seconds = KsmdSeconds() - cpu_before;
      stop();
      return r;
    };
    std::unique_ptr<Agent> agent;
    const BenchRun controlled = measure(
        [&] {
          agent = std::make_unique<Agent>();
          ASSERT_TRUE(agent->WaitServing());
          ASSERT_EQ(agent->Ctl({"policy", "set", "mode=enforce", "host.ksm.mode=always"}).exit_code,
                    0);
        },
        [&] {
          std::cout << agent->Ctl({"capacity"}).out;
          agent.reset();
        });
    const BenchRun fixed = measure(
        [] {
          WriteKsm("pages_to_scan", 1250);
          WriteKsm("sleep_millisecs", 20);
          WriteKsm("run", 1);
        },
        [] { WriteKsm("run", 0); });
    std::cout << absl::StrFormat("%6d  %18.1f  %10.1f  |  %21.1f  %10.1f  |  %9.2f  %11.2f\n",
                                 count, controlled.saved_mib, controlled.cpu_seconds,
                                 fixed.saved_mib, fixed.cpu_seconds,
                                 controlled.cpu_seconds / std::max(0.01, fixed.cpu_seconds),
                                 controlled.saved_mib / std::max(0.01, fixed.saved_mib));
    Unmerge();
  }
}

}  // namespace
}  // namespace balloond::testing
