#include "agent/state_series.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "tests/agent/libvirt/fake_hypervisor.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::testing::HasSubstr;
using ::testing::Not;

class StateSeriesTest : public ::testing::Test {
 protected:
  StateSeriesTest()
      : series_({store_, decisions_, clock_,
                 [] {
                   HostMemory h;
                   h.mem_total_bytes = 8LL << 30;
                   h.mem_available_bytes = 6LL << 30;
                   h.pressure_some = PressureAverages{12.5, 0, 0};
                   return absl::StatusOr<HostMemory>(h);
                 },
                 [] { return 3; }, nullptr, &capacity_}) {}

  void PutDomain(const std::string& name, const std::string& uuid) {
    DomainSnapshot s;
    s.info.name = name;
    s.info.uuid = uuid;
    s.info.id = 7;
    s.info.max_memory_bytes = 1LL << 30;
    s.actual_bytes = 512LL << 20;
    GuestStats g;
    g.values["stat-available-memory"] = 300LL << 20;
    g.values["stat-swap-in"] = 4096;
    g.values["rss"] = 200LL << 20;
    g.last_update_unix_seconds = absl::ToUnixSeconds(clock_.Now()) - 3;
    s.guest = g;
    store_.Put(s);
  }

  SnapshotStore store_;
  DecisionLog decisions_;
  FakeClock clock_;
  CapacityStore capacity_;
  StateSeries series_;

  // The series as a scrape shows them.
  std::string Scrape() const { return prometheus::TextSerializer().Serialize(series_.Collect()); }
};

TEST_F(StateSeriesTest, ShowsEachDomainsBalloonAndGuestInBaseUnits) {
  PutDomain("web1", "uuid-1");
  const std::string text = Scrape();
  EXPECT_THAT(text,
              HasSubstr("balloon_domain_balloon_actual_bytes{domain=\"web1\",uuid=\"uuid-1\"} "
                        "536870912"));
  EXPECT_THAT(text,
              HasSubstr("balloon_domain_memory_maximum_bytes{domain=\"web1\",uuid=\"uuid-1\"} "
                        "1073741824"));
  EXPECT_THAT(text,
              HasSubstr("balloon_guest_memory_available_bytes{domain=\"web1\",uuid=\"uuid-1\"} "
                        "314572800"));
  EXPECT_THAT(text, HasSubstr("# TYPE balloon_guest_swap_in_bytes_total counter"));
  EXPECT_THAT(text, HasSubstr("balloon_guest_swap_in_bytes_total{domain=\"web1\",uuid=\"uuid-1\"} "
                              "4096"));
  EXPECT_THAT(text,
              HasSubstr("balloon_guest_stats_age_seconds{domain=\"web1\",uuid=\"uuid-1\"} 3"));
  EXPECT_THAT(text, HasSubstr("balloon_domain_resident_bytes{domain=\"web1\",uuid=\"uuid-1\"} "
                              "209715200"));
  // Not reported by this guest: no series rather than a zero.
  EXPECT_THAT(text, Not(HasSubstr("balloon_guest_oom_kills_total{")));
}

TEST_F(StateSeriesTest, VirtioMemDevicesBySeriesOfTheirOwn) {
  PutDomain("web1", "uuid-1");
  auto snap = store_.FindByUuid("uuid-1");
  ASSERT_TRUE(snap);
  DomainConfig config;
  MemoryDevice m;
  m.alias = "virtiomem0";
  m.size_bytes = 2LL << 30;
  m.requested_bytes = 1LL << 30;
  m.current_bytes = 256LL << 20;
  config.memory_devices.push_back(m);
  snap->config = config;
  store_.Put(*snap);
  const std::string text = Scrape();
  const std::string labels = "{domain=\"web1\",uuid=\"uuid-1\",device=\"virtiomem0\"} ";
  EXPECT_THAT(text, HasSubstr("balloon_domain_virtio_mem_plugged_bytes" + labels + "268435456"));
  EXPECT_THAT(text, HasSubstr("balloon_domain_virtio_mem_requested_bytes" + labels + "1073741824"));
  EXPECT_THAT(text, HasSubstr("balloon_domain_virtio_mem_size_bytes" + labels + "2147483648"));
}

TEST_F(StateSeriesTest, ADestroyedDomainsSeriesGoWithIt) {
  PutDomain("web1", "uuid-1");
  PutDomain("web2", "uuid-2");
  store_.Remove("uuid-1");
  const std::string text = Scrape();
  EXPECT_THAT(text, Not(HasSubstr("uuid-1")));
  EXPECT_THAT(text, HasSubstr("domain=\"web2\""));
}

TEST_F(StateSeriesTest, HostPolicyAndWatchSeries) {
  PutDomain("web1", "uuid-1");
  balloon::v1::Decision d;
  d.set_domain("web1");
  d.set_uuid("uuid-1");
  d.set_reason(balloon::v1::DECISION_REASON_HOST_RECLAIM);
  d.set_target_bytes(400LL << 20);
  d.set_applied(true);
  decisions_.Append(d);
  decisions_.Append(d);

  const std::string text = Scrape();
  EXPECT_THAT(
      text,
      HasSubstr("balloon_policy_decisions_total{reason=\"host_reclaim\",applied=\"true\"} 2"));
  EXPECT_THAT(text,
              HasSubstr("balloon_policy_target_bytes{domain=\"web1\",uuid=\"uuid-1\"} 419430400"));
  EXPECT_THAT(text, HasSubstr("balloon_host_memory_available_bytes 6442450944"));
  EXPECT_THAT(text, HasSubstr("balloon_host_memory_pressure_some_avg10_ratio 0.125"));
  EXPECT_THAT(text, HasSubstr("balloon_watch_streams 3"));
}

TEST_F(StateSeriesTest, TheHostsCapacityFromTheLastPolicyCycle) {
  EXPECT_THAT(Scrape(), Not(HasSubstr("balloon_host_placeable_bytes")))
      << "no figure before the policy has judged the host";
  CapacityReading reading;
  reading.capacity.placeable_bytes = 5LL << 30;
  reading.capacity.reclaimable_bytes = 700LL << 20;
  reading.capacity.pressure_index = 42.5;
  reading.capacity.unbacked_bytes = 1LL << 30;
  // 3 GiB available, 2 reserved: 1 GiB free (the unbacked GiB counts too), under a 2 GiB reserve.
  reading.capacity.standing.available_bytes = 3LL << 30;
  reading.capacity.standing.reserved_bytes = 1LL << 30;
  reading.capacity.standing.unbacked_bytes = 1LL << 30;
  reading.capacity.standing.reserve_bytes = 2LL << 30;
  policy::DomainCapacity d;
  d.name = "web1";
  d.uuid = "uuid-1";
  d.reclaimable_bytes = 700LL << 20;
  d.pressure_index = 40;
  reading.capacity.domains.push_back(d);
  capacity_.Publish(reading);
  const std::string text = Scrape();
  EXPECT_THAT(text, HasSubstr("balloon_host_placeable_bytes 5368709120"));
  EXPECT_THAT(text, HasSubstr("balloon_host_reclaimable_bytes 734003200"));
  EXPECT_THAT(text, HasSubstr("balloon_host_memory_need_ratio 0.425"));
  EXPECT_THAT(text, HasSubstr("balloon_host_pressure_index 42.5"));  // deprecated, x100
  EXPECT_THAT(text, HasSubstr("balloon_host_unbacked_bytes 1073741824"));
  EXPECT_THAT(text, HasSubstr("balloon_host_free_bytes 1073741824"));
  EXPECT_THAT(text, HasSubstr("balloon_host_short 1"));
  EXPECT_THAT(
      text,
      HasSubstr("balloon_domain_reclaimable_bytes{domain=\"web1\",uuid=\"uuid-1\"} 734003200"));
  EXPECT_THAT(text,
              HasSubstr("balloon_domain_memory_need_ratio{domain=\"web1\",uuid=\"uuid-1\"} 0.4"));
  EXPECT_THAT(text, HasSubstr("balloon_domain_pressure_index{domain=\"web1\",uuid=\"uuid-1\"} 40"));
}

TEST_F(StateSeriesTest, PageSharingOnTheHostAndOfEachGuest) {
  CapacityReading reading;
  policy::DomainCapacity d;
  d.name = "web1";
  d.uuid = "uuid-1";
  reading.capacity.domains.push_back(d);
  capacity_.Publish(reading);
  EXPECT_THAT(Scrape(), Not(HasSubstr("balloon_host_ksm_")))
      << "no KSM series where balloond does not read KSM";
  v1::HostSharing sharing;
  sharing.set_state(v1::KSM_STATE_RUNNING);
  sharing.set_running(true);
  sharing.set_pages_to_scan(312);
  sharing.set_sharing_bytes(90LL << 20);
  sharing.set_saved_bytes(80LL << 20);
  sharing.set_lasting_saved_bytes(60LL << 20);
  sharing.set_ksmd_cpu_percent(12.5);
  reading.sharing = sharing;
  reading.domain_sharing["uuid-1"].set_merging_bytes(40LL << 20);
  reading.domain_sharing["uuid-1"].set_saved_bytes(30LL << 20);
  capacity_.Publish(reading);
  const std::string text = Scrape();
  EXPECT_THAT(text, HasSubstr("balloon_host_ksm_running 1"));
  EXPECT_THAT(text, HasSubstr("balloon_host_ksm_pages_to_scan 312"));
  EXPECT_THAT(text, HasSubstr("balloon_host_ksm_saved_bytes 83886080"));
  EXPECT_THAT(text, HasSubstr("balloon_host_ksm_lasting_saved_bytes 62914560"));
  EXPECT_THAT(text, HasSubstr("balloon_host_ksm_cpu_ratio 0.125"));
  EXPECT_THAT(text, HasSubstr("balloon_host_ksm_state{state=\"running\"} 1"));
  EXPECT_THAT(text, HasSubstr("balloon_host_ksm_state{state=\"left-alone\"} 0"));
  EXPECT_THAT(
      text,
      HasSubstr("balloon_domain_ksm_merging_bytes{domain=\"web1\",uuid=\"uuid-1\"} 41943040"));
  EXPECT_THAT(
      text, HasSubstr("balloon_domain_ksm_saved_bytes{domain=\"web1\",uuid=\"uuid-1\"} 31457280"));
}

}  // namespace
}  // namespace balloond
