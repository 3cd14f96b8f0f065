#include "cli/format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/durations.h"
#include "policy/enum_names.h"
#include "policy/sizes.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;
using ::testing::Not;

v1::Domain Web() {
  v1::Domain d;
  d.set_name("web");
  d.set_uuid("2f1c");
  d.set_state(v1::DOMAIN_STATE_RUNNING);
  d.set_balloon_state(v1::BALLOON_STATE_ACTIVE);
  d.set_max_memory_bytes(1024 * kMiB);
  d.set_balloon_actual_bytes(768 * kMiB);
  return d;
}

TEST(FormatTest, DomainsAreRowsWithShortEnumNamesAndDashesForNothing) {
  v1::ListDomainsResponse list;
  *list.add_domains() = Web();
  v1::Domain* nob = list.add_domains();
  nob->set_name("nob");
  nob->set_state(v1::DOMAIN_STATE_PAUSED);
  nob->set_balloon_state(v1::BALLOON_STATE_NO_DEVICE);
  nob->set_problem("domain 'nob' has no virtio balloon device");
  list.mutable_domains(0)->mutable_hold()->set_target_bytes(768 * kMiB);
  list.mutable_domains(0)->mutable_hold()->mutable_until()->set_seconds(3600 + 29 * 60 + 30);
  list.mutable_domains(0)->set_autodeflate(true);
  list.mutable_domains(0)->set_free_page_reporting(true);
  list.mutable_domains(0)->set_working_set_bytes(312 * kMiB);
  list.mutable_domains(0)->mutable_working_set_time()->set_seconds(3600 - 100);
  list.mutable_domains(0)->set_reclaimable_bytes(48 * kMiB);
  EXPECT_EQ(FormatDomains(list, absl::FromUnixSeconds(3600)),
            "NAME  STATE    BALLOON    ACTUAL   MAX    PLUGGED  WORKING SET          RECLAIMABLE  "
            "HOLD                FEATURES                         PROBLEM\n"
            "web   running  active     768 MiB  1 GiB  -        312 MiB (1m40s ago)  48 MiB       "
            "768 MiB for 29m30s  autodeflate,free-page-reporting  -\n"
            "nob   paused   no-device  -        0 B    -        -                    -            "
            "-                   -                                domain 'nob' has no virtio "
            "balloon device\n");
}

TEST(FormatTest, VirtioMemShowsWhatIsPluggedAndWhatWasAsked) {
  v1::Domain d = Web();
  v1::MemoryDevice* m = d.add_memory_devices();
  m->set_size_bytes(2 * kGiB);
  m->set_plugged_bytes(kGiB);
  m->set_requested_bytes(kGiB);
  v1::ListDomainsResponse list;
  *list.add_domains() = d;
  EXPECT_THAT(FormatDomains(list, absl::FromUnixSeconds(3600)), HasSubstr("1 GiB of 2 GiB  "));
  m->set_requested_bytes(0);
  *list.mutable_domains(0) = d;
  EXPECT_THAT(FormatDomains(list, absl::FromUnixSeconds(3600)),
              HasSubstr("1 GiB of 2 GiB, asked 0 B"));
  v1::MemoryStats s;
  *s.mutable_domain() = d;
  EXPECT_THAT(FormatStats(s),
              HasSubstr("plugged             1 GiB of 2 GiB, asked 0 B (virtio-mem"));
}

TEST(FormatTest, StatsShowWhatTheGuestReportedAndDashesForTheRest) {
  v1::MemoryStats s;
  *s.mutable_domain() = Web();
  s.mutable_guest()->set_available_memory_bytes(300 * kMiB);
  s.mutable_guest()->set_major_faults(7);
  s.mutable_last_update_time()->set_seconds(1000);
  s.mutable_stats_age()->set_seconds(3);
  s.mutable_stats_period()->set_seconds(2);
  (*s.mutable_guest()->mutable_other())["rss"] = 600 * kMiB;
  (*s.mutable_guest()->mutable_other())["new_stat"] = 12;
  const std::string text = FormatStats(s);
  EXPECT_THAT(text, HasSubstr("rss (QEMU process)  600 MiB\n"));
  EXPECT_THAT(text, HasSubstr("new_stat            12\n"));
  EXPECT_THAT(text, HasSubstr("balloon             768 MiB of 1 GiB max\n"));
  EXPECT_THAT(text, HasSubstr("available           300 MiB\n"));
  EXPECT_THAT(text, HasSubstr("total memory        -\n"));
  EXPECT_THAT(text, HasSubstr("faults major/minor  7 / -\n"));
  EXPECT_THAT(text, HasSubstr("last update         3s ago, guest reports every 2s\n"));
  EXPECT_THAT(FormatStatsRow(s, absl::FromUnixSeconds(3600), absl::UTCTimeZone()),
              HasSubstr("01:00:00  768 MiB    -          300 MiB"));
  EXPECT_THAT(FormatStatsHeader(), HasSubstr("TIME      ACTUAL"));
}

TEST(FormatTest, HostWithoutPsiSaysSo) {
  v1::HostStats host;
  host.set_mem_total_bytes(16 * kGiB);
  host.set_mem_available_bytes(10 * kGiB);
  EXPECT_THAT(FormatHost(host), HasSubstr("available        10 GiB\n"));
  EXPECT_THAT(FormatHost(host), HasSubstr("no /proc/pressure/memory"));
  host.mutable_pressure()->mutable_some()->set_avg10(1.5);
  EXPECT_THAT(FormatHost(host), HasSubstr("pressure some    avg10=1.50%"));
}

TEST(FormatTest, ADecisionNotAppliedSaysWhy) {
  v1::Decision d;
  d.mutable_time()->set_seconds(3600);
  d.set_domain("web");
  d.set_mode(v1::POLICY_MODE_ENFORCE);
  d.set_previous_bytes(1024 * kMiB);
  d.set_target_bytes(512 * kMiB);
  d.set_reason(v1::DECISION_REASON_HOST_RECLAIM);
  d.set_explanation("took 512 MiB");
  d.set_error("domain is not running");
  EXPECT_EQ(FormatDecision(d, absl::UTCTimeZone()),
            "01:00:00  web  enforce  1 GiB -> 512 MiB  host-reclaim  NOT APPLIED: domain is not "
            "running\n    took 512 MiB\n");
  d.set_applied(true);
  EXPECT_THAT(FormatDecision(d, absl::UTCTimeZone()), Not(HasSubstr("NOT APPLIED")));
}

TEST(FormatTest, PolicyFieldsByPathWithUnitsAndOverrides) {
  v1::Policy p;
  p.set_mode(v1::POLICY_MODE_OBSERVE);
  p.mutable_host()->set_reserve_bytes(2 * kGiB);
  p.mutable_cooperation_timeout()->set_seconds(10);
  (*p.mutable_domains())["db"].set_min_bytes(256 * kMiB);
  p.set_etag("0123456789abcdef");
  const std::string text = FormatPolicy(p);
  EXPECT_THAT(text, ::testing::ContainsRegex("etag +0123456789abcdef"));
  EXPECT_THAT(text, HasSubstr("mode "));
  EXPECT_THAT(text, HasSubstr("host.reserve_bytes "));
  EXPECT_THAT(text, HasSubstr("2 GiB"));
  EXPECT_THAT(text, HasSubstr("10s"));
  EXPECT_THAT(text, HasSubstr("domains[db].min_bytes"));
}

TEST(FormatTest, ADomainsSettingsSayWhereEachCameFrom) {
  v1::DomainPolicyInForce in_force;
  in_force.set_domain("db");
  in_force.mutable_settings()->set_enabled(true);
  in_force.mutable_settings()->set_min_bytes(512 * kMiB);
  in_force.mutable_settings()->set_shares(2000);
  (*in_force.mutable_sources())["enabled"] = v1::POLICY_SOURCE_BUILT_IN;
  (*in_force.mutable_sources())["min_bytes"] = v1::POLICY_SOURCE_METADATA;
  (*in_force.mutable_sources())["shares"] = v1::POLICY_SOURCE_API_DOMAIN;
  EXPECT_EQ(FormatDomainPolicy(in_force),
            "SETTING    VALUE    FROM\n"
            "enabled    true     built-in default\n"
            "min_bytes  512 MiB  libvirt metadata\n"
            "shares     2000     API: domain\n");
  in_force.set_metadata_problem("balloond metadata <min>: 'lots' is not a whole number; ignored");
  EXPECT_THAT(FormatDomainPolicy(in_force),
              HasSubstr("libvirt metadata of db: balloond metadata <min>: 'lots' is not a whole "
                        "number; ignored\n"));
}

TEST(FormatTest, JsonIsOneLine) {
  const std::string json = ToJsonLine(Web());
  EXPECT_THAT(json, HasSubstr("\"name\":\"web\""));
  EXPECT_EQ(json.find('\n'), json.size() - 1);
}

TEST(FormatTest, CapacitySaysWherePlaceableComesFromAndWhyAGuestGivesNothing) {
  v1::HostCapacity c;
  c.set_available_bytes(10LL << 30);
  c.set_reserve_bytes(2LL << 30);
  c.set_hard_reserve_bytes(256LL << 20);
  c.set_reserve_state(v1::RESERVE_STATE_LENT);
  c.set_reclaimable_bytes(1LL << 30);
  c.set_placeable_bytes(9LL << 30);
  c.set_mode(v1::POLICY_MODE_ENFORCE);
  v1::DomainCapacity* idle = c.add_domains();
  idle->set_name("idle");
  idle->set_balloon_bytes(2LL << 30);
  idle->set_used_bytes(512LL << 20);
  idle->set_needed_bytes(1LL << 30);
  idle->set_pressure_index(50);
  idle->set_reclaimable_bytes(1LL << 30);
  // Probing found 700 MiB two minutes before this judgement.
  *c.mutable_assess_time() = ToProtoTimestamp(absl::FromUnixSeconds(1000));
  idle->set_working_set_bytes(700LL << 20);
  *idle->mutable_working_set_time() = ToProtoTimestamp(absl::FromUnixSeconds(880));
  v1::DomainCapacity* held = c.add_domains();
  held->set_name("held");
  held->set_not_reclaimable_reason("an operator holds it");
  const std::string text = FormatCapacity(c, absl::UTCTimeZone());
  EXPECT_THAT(text, HasSubstr("placeable        9 GiB (available 10 GiB - reserve 2 GiB - unbacked "
                              "0 B - reserved 0 B - jumps 0 B + reclaimable 1 GiB)"));
  EXPECT_THAT(text, HasSubstr("pressure index   - (no guest has fresh statistics)"));
  EXPECT_THAT(text, HasSubstr("reserve          2 GiB (hard 256 MiB): lent to guests in a storm"));
  EXPECT_THAT(text, ::testing::ContainsRegex("idle +2 GiB .* 50 +700 MiB \\(2m ago\\) +- +1 GiB"));
  EXPECT_THAT(text, HasSubstr("- (an operator holds it)"));
  c.set_mode(v1::POLICY_MODE_OBSERVE);
  EXPECT_THAT(FormatCapacity(c, absl::UTCTimeZone()),
              HasSubstr("nothing reclaimed: the policy does not enforce"));
}

TEST(FormatTest, CapacityShowsWhatSharingSavesAndWhatItMergedOfEachGuest) {
  v1::HostCapacity c;
  v1::HostSharing* k = c.mutable_sharing();
  k->set_state(v1::KSM_STATE_RUNNING);
  k->set_mode(v1::KSM_MODE_ALWAYS);
  k->set_running(true);
  k->set_pages_to_scan(624);
  k->set_sleep_millisecs(20);
  k->set_saved_bytes(87LL << 20);
  k->set_lasting_saved_bytes(80LL << 20);
  k->set_ksmd_cpu_percent(3.3);
  k->set_explanation("ksmd faster (312 -> 624 pages): its last full scan merged 20 MiB");
  v1::DomainCapacity* twin = c.add_domains();
  twin->set_name("twin");
  twin->mutable_sharing()->set_merging_bytes(44LL << 20);
  v1::DomainCapacity* apart = c.add_domains();
  apart->set_name("apart");
  apart->mutable_sharing()->set_nosharepages(true);
  v1::DomainCapacity* unknown = c.add_domains();
  unknown->set_name("unknown");
  const std::string text = FormatCapacity(c, absl::UTCTimeZone());
  EXPECT_THAT(text, HasSubstr("sharing          87 MiB saved (80 MiB of it lasting), ksmd running, "
                              "624 pages every 20 ms, 3.3% of a CPU; balloond: running (mode "
                              "always)"));
  EXPECT_THAT(text, HasSubstr("ksm              ksmd faster (312 -> 624 pages)"));
  EXPECT_THAT(text, HasSubstr("SHARED"));
  EXPECT_THAT(text, ::testing::ContainsRegex("twin .* 44 MiB"));
  EXPECT_THAT(text, ::testing::ContainsRegex("apart .* - \\(nosharepages\\)"));
  k->set_state(v1::KSM_STATE_UNAVAILABLE);
  EXPECT_THAT(FormatCapacity(c, absl::UTCTimeZone()),
              HasSubstr("sharing          - (the kernel has no KSM)"));
}

}  // namespace
}  // namespace balloond
