// balloond's hands on KSM, over directories laid out like /sys/kernel/mm/ksm, /proc and libvirt's
// run directory: what it reads, what it writes in which mode, and what it puts back.
#include "agent/steering/ksm_control.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "agent/base/files.h"
#include "policy/settings.h"
#include "policy/sizes.h"
#include "tests/agent/base/temp_dir.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

class KsmControlTest : public ::testing::Test {
 protected:
  KsmControlTest() {
    paths_.sysfs = dir_.path() + "/ksm";
    paths_.proc = dir_.path() + "/proc";
    paths_.qemu_run = dir_.path() + "/qemu";
    for (const std::string& d :
         {paths_.sysfs, paths_.proc, paths_.qemu_run, paths_.proc + "/4242", paths_.proc + "/39"}) {
      mkdir(d.c_str(), 0755);
    }
    for (const auto& [name, value] : {std::pair{"run", "0"},
                                      {"pages_to_scan", "100"},
                                      {"sleep_millisecs", "20"},
                                      {"pages_shared", "500"},
                                      {"pages_sharing", "2000"},
                                      {"full_scans", "3"},
                                      {"general_profit", "8000000"}}) {
      Put(paths_.sysfs + "/" + name, value);
    }
    Put(paths_.qemu_run + "/web1.pid", "4242");
    Put(paths_.proc + "/4242/ksm_stat", "ksm_merging_pages 1500\nksm_process_profit 6000000");
    Put(paths_.proc + "/39/stat", "39 (ksmd) S 2 0 0 0 -1 2097216 0 0 0 0 100 0 0 0 25 5 1 0 19");
    DomainSnapshot web;
    web.info.uuid = "u-web1";
    web.info.name = "web1";
    web.config = DomainConfig();
    DomainSnapshot apart;
    apart.info.uuid = "u-apart";
    apart.info.name = "apart";
    apart.config = DomainConfig();
    apart.config->nosharepages = true;
    domains_ = {{web.info.uuid, web}, {apart.info.uuid, apart}};
  }
  static void Put(const std::string& path, const std::string& text) {
    std::ofstream(path) << text << "\n";
  }
  std::string Knob(const std::string& name) const {
    return *ReadWholeFile(paths_.sysfs + "/" + name);
  }
  // A 24 GiB host with `available` available.
  static policy::HostStanding Standing(int64_t available) {
    policy::HostInput host;
    host.total_bytes = 24 * kGiB;
    host.available_bytes = available;
    return policy::StandingOf(policy::WithDefaults({}).host(), host, 0, 0);
  }
  static v1::HostPolicy Mode(v1::KsmMode mode) {
    v1::HostPolicy h = policy::WithDefaults({}).host();
    h.mutable_ksm()->set_mode(mode);
    return h;
  }
  std::optional<std::string> Cycle(KsmControl& k, v1::KsmMode ksm, v1::PolicyMode mode,
                                   int64_t available = 20 * kGiB) {
    now_ += absl::Seconds(2);
    k.Read(domains_, now_);
    return k.Decide(Mode(ksm), mode, Standing(available), now_);
  }

  testing::TempDir dir_{"ksm-control-test"};
  KsmPaths paths_;
  std::map<std::string, DomainSnapshot> domains_;
  absl::Time now_ = kStart;
};

TEST_F(KsmControlTest, ReadsTheHostAndEachDomainsQemu) {
  KsmControl k(paths_);
  ASSERT_TRUE(k.Read(domains_, kStart));
  EXPECT_EQ(k.SavedBytes(), 8000000);
  EXPECT_EQ(k.LastingBytes(kStart), 0) << "not watched 10 minutes yet";
  const v1::HostSharing host = k.HostStatus();
  EXPECT_FALSE(host.running());
  EXPECT_EQ(host.sharing_bytes(), 2000 * sysconf(_SC_PAGESIZE));
  EXPECT_EQ(host.saved_bytes(), 8000000);
  const auto& domains = k.DomainStatus();
  EXPECT_EQ(domains.at("u-web1").merging_bytes(), 1500 * sysconf(_SC_PAGESIZE));
  EXPECT_EQ(domains.at("u-web1").saved_bytes(), 6000000);
  EXPECT_TRUE(domains.at("u-apart").nosharepages());
  EXPECT_FALSE(domains.at("u-apart").has_merging_bytes()) << "no QEMU to read";
  // ksmd's CPU: 1 s (100 ticks at 100 Hz) more over the next 2 s.
  Put(paths_.proc + "/39/stat", "39 (ksmd) S 2 0 0 0 -1 2097216 0 0 0 0 200 0 0 0 25 5 1 0 19");
  ASSERT_TRUE(k.Read(domains_, kStart + absl::Seconds(2)));
  EXPECT_NEAR(k.HostStatus().ksmd_cpu_percent(),
              100.0 * 100 / static_cast<double>(sysconf(_SC_CLK_TCK)) / 2, 0.01);
}

TEST_F(KsmControlTest, AKernelWithoutKsmIsUnavailable) {
  paths_.sysfs = dir_.path() + "/none";
  KsmControl k(paths_);
  EXPECT_FALSE(k.Read(domains_, kStart));
  EXPECT_EQ(k.HostStatus().state(), v1::KSM_STATE_UNAVAILABLE);
  EXPECT_FALSE(
      k.Decide(Mode(v1::KSM_MODE_ALWAYS), v1::POLICY_MODE_ENFORCE, Standing(20 * kGiB), kStart)
          .has_value());
}

TEST_F(KsmControlTest, EnforceWritesObserveOnlySaysAndOffPutsBackOnlyWhatItChanged) {
  KsmControl observing(paths_);
  auto told = Cycle(observing, v1::KSM_MODE_ALWAYS, v1::POLICY_MODE_OBSERVE);
  ASSERT_TRUE(told.has_value());
  EXPECT_THAT(*told, HasSubstr("(observe) ksmd started"));
  EXPECT_EQ(Knob("run"), "0\n");
  EXPECT_FALSE(Cycle(observing, v1::KSM_MODE_ALWAYS, v1::POLICY_MODE_OBSERVE).has_value())
      << "once: the knobs it did not write are not someone else's change";
  EXPECT_FALSE(Cycle(observing, v1::KSM_MODE_OFF, v1::POLICY_MODE_OBSERVE).has_value());
  EXPECT_EQ(Knob("run"), "0\n");

  KsmControl k(paths_);
  told = Cycle(k, v1::KSM_MODE_ALWAYS, v1::POLICY_MODE_ENFORCE);
  ASSERT_TRUE(told.has_value());
  EXPECT_THAT(*told, HasSubstr("ksmd started: host.ksm.mode is always"));
  EXPECT_EQ(Knob("run"), "1\n");
  EXPECT_EQ(Knob("pages_to_scan"), "312\n");
  EXPECT_EQ(k.HostStatus().state(), v1::KSM_STATE_RUNNING);
  told = Cycle(k, v1::KSM_MODE_OFF, v1::POLICY_MODE_ENFORCE);
  ASSERT_TRUE(told.has_value());
  EXPECT_THAT(*told, HasSubstr("put back as balloond found it (stopped)"));
  EXPECT_EQ(Knob("run"), "0\n");
  EXPECT_EQ(Knob("pages_to_scan"), "100\n");
  EXPECT_EQ(k.HostStatus().state(), v1::KSM_STATE_LEFT_ALONE);
}

TEST_F(KsmControlTest, RestorePutsBackWhatItFoundOnce) {
  KsmControl k(paths_);
  Cycle(k, v1::KSM_MODE_ALWAYS, v1::POLICY_MODE_ENFORCE);
  ASSERT_EQ(Knob("run"), "1\n");
  k.Restore();
  EXPECT_EQ(Knob("run"), "0\n");
  EXPECT_EQ(Knob("pages_to_scan"), "100\n");
  // Someone runs it afterwards: a second Restore changes nothing.
  Put(paths_.sysfs + "/run", "1");
  k.Restore();
  EXPECT_EQ(Knob("run"), "1\n");
}

TEST_F(KsmControlTest, AWriteRefusedIsNoAccessWithTheFileAndTriedAgainFiveMinutesLater) {
  // A knob balloond may read but not write: a read-only attribute of the real sysfs (the kernel
  // refuses to open it for writing, root or not).
  if (access("/sys/kernel/mm/ksm/full_scans", R_OK) != 0) GTEST_SKIP() << "this kernel has no KSM";
  unlink((paths_.sysfs + "/pages_to_scan").c_str());
  ASSERT_EQ(symlink("/sys/kernel/mm/ksm/full_scans", (paths_.sysfs + "/pages_to_scan").c_str()), 0);
  KsmControl k(paths_);
  EXPECT_FALSE(Cycle(k, v1::KSM_MODE_ALWAYS, v1::POLICY_MODE_ENFORCE).has_value());
  EXPECT_EQ(k.HostStatus().state(), v1::KSM_STATE_NO_ACCESS);
  EXPECT_THAT(k.HostStatus().explanation(), HasSubstr("pages_to_scan"));
  EXPECT_THAT(k.HostStatus().explanation(), HasSubstr("tries again in 5m"));
  EXPECT_EQ(Knob("run"), "0\n");
  // Not every cycle: the state stays until five minutes have passed.
  EXPECT_FALSE(Cycle(k, v1::KSM_MODE_ALWAYS, v1::POLICY_MODE_ENFORCE).has_value());
  EXPECT_EQ(k.HostStatus().state(), v1::KSM_STATE_NO_ACCESS);
  // Granted meanwhile: the next try after five minutes runs it.
  unlink((paths_.sysfs + "/pages_to_scan").c_str());
  Put(paths_.sysfs + "/pages_to_scan", "100");
  now_ += absl::Minutes(5);
  ASSERT_TRUE(Cycle(k, v1::KSM_MODE_ALWAYS, v1::POLICY_MODE_ENFORCE).has_value());
  EXPECT_EQ(Knob("run"), "1\n");
  EXPECT_EQ(k.HostStatus().state(), v1::KSM_STATE_RUNNING);
}

}  // namespace
}  // namespace balloond
