#include "agent/api/proto_convert.h"

#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "policy/durations.h"
#include "policy/settings.h"

namespace balloond {
namespace {

balloon::v1::DomainState ToProtoState(DomainRunState state) {
  switch (state) {
    case DomainRunState::kRunning:
      return balloon::v1::DOMAIN_STATE_RUNNING;
    case DomainRunState::kPaused:
      return balloon::v1::DOMAIN_STATE_PAUSED;
    case DomainRunState::kShuttingDown:
      return balloon::v1::DOMAIN_STATE_SHUTTING_DOWN;
    case DomainRunState::kOther:
      return balloon::v1::DOMAIN_STATE_OTHER;
  }
  return balloon::v1::DOMAIN_STATE_UNSPECIFIED;
}

balloon::v1::BalloonState ToProtoBalloon(BalloonStatus status) {
  switch (status) {
    case BalloonStatus::kDiscovering:
      return balloon::v1::BALLOON_STATE_DISCOVERING;
    case BalloonStatus::kActive:
      return balloon::v1::BALLOON_STATE_ACTIVE;
    case BalloonStatus::kNoDevice:
      return balloon::v1::BALLOON_STATE_NO_DEVICE;
    case BalloonStatus::kMonitorError:
      return balloon::v1::BALLOON_STATE_MONITOR_ERROR;
  }
  return balloon::v1::BALLOON_STATE_UNSPECIFIED;
}

using Setter = void (balloon::v1::GuestMemoryStats::*)(int64_t);

// QEMU's statistic names and the typed field each fills.
const std::pair<const char*, Setter> kStatFields[] = {
    {guest_stat::kSwapIn, &balloon::v1::GuestMemoryStats::set_swap_in_bytes},
    {guest_stat::kSwapOut, &balloon::v1::GuestMemoryStats::set_swap_out_bytes},
    {guest_stat::kMajorFaults, &balloon::v1::GuestMemoryStats::set_major_faults},
    {guest_stat::kMinorFaults, &balloon::v1::GuestMemoryStats::set_minor_faults},
    {guest_stat::kFreeMemory, &balloon::v1::GuestMemoryStats::set_free_memory_bytes},
    {guest_stat::kTotalMemory, &balloon::v1::GuestMemoryStats::set_total_memory_bytes},
    {guest_stat::kAvailableMemory, &balloon::v1::GuestMemoryStats::set_available_memory_bytes},
    {guest_stat::kDiskCaches, &balloon::v1::GuestMemoryStats::set_disk_caches_bytes},
    {guest_stat::kHtlbPgalloc, &balloon::v1::GuestMemoryStats::set_hugetlb_allocations},
    {guest_stat::kHtlbPgfail, &balloon::v1::GuestMemoryStats::set_hugetlb_failures},
    {guest_stat::kOomKills, &balloon::v1::GuestMemoryStats::set_oom_kills},
    {guest_stat::kAllocStalls, &balloon::v1::GuestMemoryStats::set_alloc_stalls},
    {guest_stat::kAsyncScans, &balloon::v1::GuestMemoryStats::set_async_scans},
    {guest_stat::kDirectScans, &balloon::v1::GuestMemoryStats::set_direct_scans},
    {guest_stat::kAsyncReclaims, &balloon::v1::GuestMemoryStats::set_async_reclaims},
    {guest_stat::kDirectReclaims, &balloon::v1::GuestMemoryStats::set_direct_reclaims},
};

}  // namespace

void ToProto(const DomainSnapshot& snapshot, balloon::v1::Domain* out) {
  out->set_name(snapshot.info.name);
  out->set_uuid(snapshot.info.uuid);
  out->set_state(ToProtoState(snapshot.info.state));
  out->set_max_memory_bytes(snapshot.info.max_memory_bytes);
  if (snapshot.actual_bytes) out->set_balloon_actual_bytes(*snapshot.actual_bytes);
  out->set_balloon_state(ToProtoBalloon(snapshot.balloon));
  // Metadata that cannot be used is a problem of its own: the domain is still collected.
  out->set_problem(snapshot.problem.empty() || snapshot.metadata_problem.empty()
                       ? snapshot.problem + snapshot.metadata_problem
                       : absl::StrCat(snapshot.problem, "; ", snapshot.metadata_problem));
  if (snapshot.config) {
    out->set_autodeflate(snapshot.config->autodeflate);
    out->mutable_sharing()->set_nosharepages(snapshot.config->nosharepages);
    out->set_free_page_reporting(snapshot.config->free_page_reporting);
    for (const MemoryDevice& d : snapshot.config->memory_devices) {
      balloon::v1::MemoryDevice* device = out->add_memory_devices();
      device->set_alias(d.alias);
      device->set_size_bytes(d.size_bytes);
      device->set_block_bytes(d.block_bytes);
      device->set_node(d.node);
      device->set_requested_bytes(d.requested_bytes);
      device->set_plugged_bytes(d.current_bytes);
    }
  }
  if (snapshot.guest && snapshot.collect_time != absl::InfinitePast()) {
    *out->mutable_stats_collect_time() = ToProtoTimestamp(snapshot.collect_time);
  }
}

void ToProto(const GuestStats& stats, balloon::v1::GuestMemoryStats* out) {
  for (const auto& [name, value] : stats.values) {
    bool known = false;
    for (const auto& [stat, setter] : kStatFields) {
      if (name == stat) {
        (out->*setter)(value);
        known = true;
        break;
      }
    }
    if (!known) (*out->mutable_other())[name] = value;
  }
}

void ToProto(const DomainSnapshot& snapshot, absl::Time now, balloon::v1::MemoryStats* out) {
  ToProto(snapshot, out->mutable_domain());
  *out->mutable_stats_period() = ToProtoDuration(absl::Seconds(snapshot.stats_period_seconds));
  if (!snapshot.guest) return;
  ToProto(*snapshot.guest, out->mutable_guest());
  *out->mutable_collect_time() = ToProtoTimestamp(snapshot.collect_time);
  if (snapshot.guest->last_update_unix_seconds > 0) {
    const absl::Time last = absl::FromUnixSeconds(snapshot.guest->last_update_unix_seconds);
    *out->mutable_last_update_time() = ToProtoTimestamp(last);
    *out->mutable_stats_age() = ToProtoDuration(std::max(absl::ZeroDuration(), now - last));
  }
}

namespace {

void FillPressure(const HostMemory& host, balloon::v1::MemoryPressure* out) {
  auto fill = [](const PressureAverages& a, balloon::v1::PressureLine* line) {
    line->set_avg10(a.avg10);
    line->set_avg60(a.avg60);
    line->set_avg300(a.avg300);
    *line->mutable_total_stall() = ToProtoDuration(absl::Microseconds(a.total_microseconds));
  };
  if (host.pressure_some) fill(*host.pressure_some, out->mutable_some());
  if (host.pressure_full) fill(*host.pressure_full, out->mutable_full());
}

}  // namespace

void ToProto(const HostMemory& host, absl::Time read_time, balloon::v1::HostStats* out) {
  out->set_mem_total_bytes(host.mem_total_bytes);
  out->set_mem_free_bytes(host.mem_free_bytes);
  out->set_mem_available_bytes(host.mem_available_bytes);
  out->set_cached_bytes(host.cached_bytes);
  out->set_swap_total_bytes(host.swap_total_bytes);
  out->set_swap_free_bytes(host.swap_free_bytes);
  if (host.pressure_some || host.pressure_full) FillPressure(host, out->mutable_pressure());
  *out->mutable_read_time() = ToProtoTimestamp(read_time);
}

void ToProto(const CapacityReading& reading, balloon::v1::HostCapacity* out) {
  const policy::HostCapacity& c = reading.capacity;
  out->set_total_bytes(c.total_bytes);
  out->set_available_bytes(c.available_bytes);
  out->set_reserve_bytes(c.reserve_bytes);
  out->set_hard_reserve_bytes(c.standing.hard_reserve_bytes);
  out->set_reserve_state(c.standing.ReserveState());
  out->set_balloon_bytes(c.balloon_bytes);
  out->set_committed_bytes(c.committed_bytes);
  out->set_used_bytes(c.used_bytes);
  out->set_needed_bytes(c.needed_bytes);
  out->set_reclaimable_bytes(c.reclaimable_bytes);
  out->set_reserved_bytes(c.reserved_bytes);
  out->set_unbacked_bytes(c.unbacked_bytes);
  out->set_jump_room_bytes(c.jump_room_bytes);
  if (c.pressure_index) out->set_pressure_index(*c.pressure_index);
  out->set_placeable_bytes(c.placeable_bytes);
  if (reading.host.pressure_some || reading.host.pressure_full) {
    FillPressure(reading.host, out->mutable_pressure());
  }
  out->set_mode(reading.mode);
  *out->mutable_assess_time() = ToProtoTimestamp(reading.time);
  if (reading.sharing) *out->mutable_sharing() = *reading.sharing;
  for (const policy::DomainCapacity& d : c.domains) {
    balloon::v1::DomainCapacity* o = out->add_domains();
    o->set_name(d.name);
    o->set_uuid(d.uuid);
    o->set_balloon_bytes(d.balloon_bytes);
    o->set_max_memory_bytes(d.max_bytes);
    if (d.used_bytes) o->set_used_bytes(*d.used_bytes);
    if (d.needed_bytes) o->set_needed_bytes(*d.needed_bytes);
    o->set_reclaimable_bytes(d.reclaimable_bytes);
    o->set_not_reclaimable_reason(std::string(d.not_reclaimable_why));
    if (d.pressure_index) o->set_pressure_index(*d.pressure_index);
    if (d.resident_bytes) o->set_resident_bytes(*d.resident_bytes);
    o->set_unbacked_bytes(d.unbacked_bytes);
    o->set_jump_room_bytes(d.jump_room_bytes);
    if (auto sharing = reading.domain_sharing.find(d.uuid);
        sharing != reading.domain_sharing.end()) {
      *o->mutable_sharing() = sharing->second;
    }
    if (d.working_set_bytes) {
      o->set_working_set_bytes(*d.working_set_bytes);
      *o->mutable_working_set_time() = ToProtoTimestamp(d.working_set_at);
    }
  }
}

}  // namespace balloond
