#include "agent/state_series.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "policy/enum_names.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void AddSample(MetricFamily& family, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  family.metric.push_back(std::move(m));
}

// Hyper-V's memory pressure (needed / has, x100 in the policy) as the 0-1 ratio Prometheus names
// `_ratio`, and beside it the x100 `_pressure_index` series it replaces, kept until 2.0.
struct NeedSeries {
  MetricFamily ratio, index;
  NeedSeries(const std::string& scope, const std::string& help)
      : ratio(
            Family(absl::StrCat("balloon_", scope, "_memory_need_ratio"), help, MetricType::Gauge)),
        index(Family(
            absl::StrCat("balloon_", scope, "_pressure_index"),
            absl::StrCat("Deprecated, the same x100: use balloon_", scope, "_memory_need_ratio."),
            MetricType::Gauge)) {}
  void Add(const std::vector<ClientMetric::Label>& labels, double pressure_index) {
    AddSample(ratio, labels, pressure_index / 100);
    AddSample(index, labels, pressure_index);
  }
  void MoveTo(std::vector<MetricFamily>& out) {
    out.push_back(std::move(ratio));
    out.push_back(std::move(index));
  }
};

// The guest statistics shown per domain: QEMU's name, the metric, its help, and its type.
struct GuestSeries {
  const char* stat;
  const char* name;
  const char* help;
  MetricType type;
};
constexpr GuestSeries kGuestSeries[] = {
    {guest_stat::kTotalMemory, "balloon_guest_memory_total_bytes",
     "The guest's MemTotal: the memory its kernel manages.", MetricType::Gauge},
    {guest_stat::kAvailableMemory, "balloon_guest_memory_available_bytes",
     "The guest's MemAvailable: what it could use without swapping.", MetricType::Gauge},
    {guest_stat::kFreeMemory, "balloon_guest_memory_free_bytes", "The guest's MemFree.",
     MetricType::Gauge},
    {guest_stat::kDiskCaches, "balloon_guest_memory_cache_bytes",
     "The guest's page cache (file-backed memory it can give up).", MetricType::Gauge},
    {guest_stat::kResident, "balloon_domain_resident_bytes",
     "What the host holds of the domain: its QEMU's resident memory (below the balloon's size "
     "when the guest reports free pages, or has not touched them).",
     MetricType::Gauge},
    {guest_stat::kSwapIn, "balloon_guest_swap_in_bytes_total", "Bytes the guest swapped in.",
     MetricType::Counter},
    {guest_stat::kSwapOut, "balloon_guest_swap_out_bytes_total", "Bytes the guest swapped out.",
     MetricType::Counter},
    {guest_stat::kMajorFaults, "balloon_guest_major_faults_total",
     "Page faults that needed I/O in the guest.", MetricType::Counter},
    {guest_stat::kOomKills, "balloon_guest_oom_kills_total",
     "Processes the guest's OOM killer ended (QEMU 9.2+ and Linux 6.12+ guests).",
     MetricType::Counter},
};

}  // namespace

StateSeries::StateSeries(Sources sources) : sources_(std::move(sources)) {}

std::vector<MetricFamily> StateSeries::Collect() const {
  std::vector<MetricFamily> out;
  CollectDomains(out);
  CollectDecisions(out);
  CollectHost(out);
  // One copy of the last cycle's reading for both: it holds a figure per domain.
  if (sources_.capacity != nullptr) {
    if (const std::optional<CapacityReading> reading = sources_.capacity->Latest()) {
      CollectCapacity(*reading, out);
      CollectSharing(*reading, out);
    }
  }
  CollectWatches(out);
  return out;
}

void StateSeries::CollectDomains(std::vector<MetricFamily>& out) const {
  MetricFamily actual = Family("balloon_domain_balloon_actual_bytes",
                               "The memory the guest has now (the balloon's size; with virtio-mem, "
                               "what it plugged too).",
                               MetricType::Gauge);
  MetricFamily maximum =
      Family("balloon_domain_memory_maximum_bytes",
             "The memory the domain started with: the largest target.", MetricType::Gauge);
  MetricFamily age = Family("balloon_guest_stats_age_seconds",
                            "How old the guest's latest statistics report is.", MetricType::Gauge);
  MetricFamily plugged = Family("balloon_domain_virtio_mem_plugged_bytes",
                                "What a virtio-mem device has plugged into the guest (counted in "
                                "balloon_domain_balloon_actual_bytes).",
                                MetricType::Gauge);
  MetricFamily requested = Family("balloon_domain_virtio_mem_requested_bytes",
                                  "What a virtio-mem device was asked to have plugged: above or "
                                  "below plugged while the guest "
                                  "plugs or unplugs, or when it cannot.",
                                  MetricType::Gauge);
  MetricFamily device_size = Family("balloon_domain_virtio_mem_size_bytes",
                                    "The most a virtio-mem device can plug.", MetricType::Gauge);
  std::vector<MetricFamily> guest;
  for (const GuestSeries& s : kGuestSeries) guest.push_back(Family(s.name, s.help, s.type));
  const absl::Time now = sources_.clock.Now();
  for (const DomainSnapshot& snap : sources_.snapshots.List()) {
    std::vector<ClientMetric::Label> labels = {{"domain", snap.info.name},
                                               {"uuid", snap.info.uuid}};
    AddSample(maximum, labels, static_cast<double>(snap.info.max_memory_bytes));
    if (snap.actual_bytes) AddSample(actual, labels, static_cast<double>(*snap.actual_bytes));
    // (Not a ternary over the devices: that would copy them, XML and all, at every scrape.)
    if (snap.config) {
      for (const MemoryDevice& m : snap.config->memory_devices) {
        std::vector<ClientMetric::Label> device = labels;
        device.push_back({"device", m.alias});
        AddSample(plugged, device, static_cast<double>(m.current_bytes));
        AddSample(requested, device, static_cast<double>(m.requested_bytes));
        AddSample(device_size, device, static_cast<double>(m.size_bytes));
      }
    }
    if (!snap.guest) continue;
    for (size_t i = 0; i < guest.size(); ++i) {
      if (auto v = snap.guest->Get(kGuestSeries[i].stat)) {
        AddSample(guest[i], labels, static_cast<double>(*v));
      }
    }
    if (snap.guest->last_update_unix_seconds > 0) {
      const absl::Time last = absl::FromUnixSeconds(snap.guest->last_update_unix_seconds);
      AddSample(age, labels, absl::ToDoubleSeconds(std::max(absl::ZeroDuration(), now - last)));
    }
  }
  out.push_back(std::move(actual));
  out.push_back(std::move(maximum));
  for (MetricFamily& f : guest) out.push_back(std::move(f));
  out.push_back(std::move(age));
  out.push_back(std::move(plugged));
  out.push_back(std::move(requested));
  out.push_back(std::move(device_size));
}

void StateSeries::CollectDecisions(std::vector<MetricFamily>& out) const {
  MetricFamily total = Family("balloon_policy_decisions_total",
                              "The policy's decisions, by reason and whether they were applied "
                              "(enforce mode) or only proposed (observe mode).",
                              MetricType::Counter);
  for (const auto& [key, count] : sources_.decisions.Totals()) {
    // Prometheus label values in snake case: host_reclaim.
    const std::string reason = absl::StrReplaceAll(ShortName(key.first), {{"-", "_"}});
    AddSample(total, {{"reason", reason}, {"applied", key.second ? "true" : "false"}},
              static_cast<double>(count));
  }
  out.push_back(std::move(total));

  // The newest target for each domain that still runs.
  MetricFamily target =
      Family("balloon_policy_target_bytes", "The balloon target of the policy's latest decision.",
             MetricType::Gauge);
  std::map<std::string, const v1::Decision*> latest;
  const std::vector<v1::Decision> decisions = sources_.decisions.List("", 2000);
  for (const v1::Decision& d : decisions) latest[d.uuid()] = &d;
  for (const DomainSnapshot& snap : sources_.snapshots.List()) {
    auto it = latest.find(snap.info.uuid);
    if (it == latest.end()) continue;
    AddSample(target, {{"domain", snap.info.name}, {"uuid", snap.info.uuid}},
              static_cast<double>(it->second->target_bytes()));
  }
  out.push_back(std::move(target));
  if (sources_.holds) CollectHolds(out);
  if (sources_.outside_changes) {
    // Present from the start (at 0), so that an alert on increase() sees the first one.
    MetricFamily outside = Family("balloon_balloon_changes_outside_total",
                                  "Balloons moved by someone other than balloond (virsh setmem, "
                                  "another agent) since balloond started.",
                                  MetricType::Counter);
    AddSample(outside, {}, static_cast<double>(sources_.outside_changes()));
    out.push_back(std::move(outside));
  }
}

void StateSeries::CollectHolds(std::vector<MetricFamily>& out) const {
  // Held domains: when the hold ends, and at what target.
  MetricFamily until = Family("balloon_domain_hold_end_timestamp_seconds",
                              "When the operator's hold on the domain's balloon ends (Unix time); "
                              "absent without a hold.",
                              MetricType::Gauge);
  MetricFamily held_target =
      Family("balloon_domain_hold_target_bytes", "The balloon target an operator's hold keeps.",
             MetricType::Gauge);
  for (const auto& [uuid, hold] : sources_.holds()) {
    const std::vector<ClientMetric::Label> labels = {{"domain", hold.domain()}, {"uuid", uuid}};
    AddSample(until, labels, static_cast<double>(hold.until().seconds()));
    AddSample(held_target, labels, static_cast<double>(hold.target_bytes()));
  }
  out.push_back(std::move(until));
  out.push_back(std::move(held_target));
}

void StateSeries::CollectHost(std::vector<MetricFamily>& out) const {
  if (!sources_.read_host) return;
  auto host = sources_.read_host();
  if (!host.ok()) return;
  MetricFamily total =
      Family("balloon_host_memory_total_bytes", "The host's MemTotal.", MetricType::Gauge);
  AddSample(total, {}, static_cast<double>(host->mem_total_bytes));
  MetricFamily available =
      Family("balloon_host_memory_available_bytes", "The host's MemAvailable.", MetricType::Gauge);
  AddSample(available, {}, static_cast<double>(host->mem_available_bytes));
  out.push_back(std::move(total));
  out.push_back(std::move(available));
  for (auto [pressure, kind] :
       {std::pair{&host->pressure_some, "some"}, std::pair{&host->pressure_full, "full"}}) {
    if (!*pressure) continue;
    MetricFamily psi = Family(absl::StrCat("balloon_host_memory_pressure_", kind, "_avg10_ratio"),
                              absl::StrCat("Share of the last 10 s in which ", kind,
                                           " tasks waited for memory (the kernel's PSI)."),
                              MetricType::Gauge);
    AddSample(psi, {}, (*pressure)->avg10 / 100.0);
    out.push_back(std::move(psi));
  }
}

// The host's capacity from the last policy cycle: what an orchestrator places by.
void StateSeries::CollectCapacity(const CapacityReading& reading,
                                  std::vector<MetricFamily>& out) const {
  const policy::HostCapacity& c = reading.capacity;
  const struct {
    const char* name;
    const char* help;
    int64_t value;
  } host_series[] = {
      {"balloon_host_placeable_bytes",
       "What a new VM could get now if room were made (GetHostCapacity.placeable_bytes).",
       c.placeable_bytes},
      {"balloon_host_reclaimable_bytes",
       "What the policy could take from guests now without putting one under pressure.",
       c.reclaimable_bytes},
      {"balloon_host_reserve_bytes", "What the policy keeps available on the host.",
       c.reserve_bytes},
      {"balloon_host_hard_reserve_bytes",
       "The part of the reserve never lent to guests, not even in a storm.",
       c.standing.hard_reserve_bytes},
      {"balloon_host_committed_bytes", "The sum of the guests' maximum memory.", c.committed_bytes},
      {"balloon_host_jump_room_bytes",
       "What the guests' jumps need beyond what they keep: not offered to new VMs.",
       c.jump_room_bytes},
      {"balloon_host_guests_needed_bytes",
       "The sum of what the policy judges the guests with fresh statistics need.", c.needed_bytes},
      {"balloon_host_reserved_bytes", "Memory promised to reservations.", c.reserved_bytes},
      {"balloon_host_unbacked_bytes",
       "What the guests may hold beyond what the host holds of them (free on the host, but "
       "theirs to touch).",
       c.unbacked_bytes},
      {"balloon_host_free_bytes",
       "What is available and not reserved (nor, while there are reservations, promised to "
       "guests): what the policy compares with the reserve.",
       c.standing.FreeBytes()},
      {"balloon_host_short",
       "1 while the policy judges the host short of memory (free under the reserve, or memory "
       "PSI high) and reclaims for it; 0 otherwise.",
       c.standing.Condition() == policy::HostCondition::kShort ? 1 : 0},
  };
  for (const auto& s : host_series) {
    MetricFamily f = Family(s.name, s.help, MetricType::Gauge);
    AddSample(f, {}, static_cast<double>(s.value));
    out.push_back(std::move(f));
  }
  // One series per state, 1 for the state the reserve is in (kept, lent, reclaiming, hard).
  MetricFamily reserve_state =
      Family("balloon_host_reserve_state",
             "1 for the state the host's reserve is in: kept (all available), lent (to guests "
             "in a storm), reclaiming (taken back from guests), hard (below the hard reserve).",
             MetricType::Gauge);
  const v1::ReserveState state = c.standing.ReserveState();
  for (const v1::ReserveState s : {v1::RESERVE_STATE_KEPT, v1::RESERVE_STATE_LENT,
                                   v1::RESERVE_STATE_RECLAIMING, v1::RESERVE_STATE_HARD}) {
    AddSample(reserve_state, {{"state", ShortName(s)}}, s == state ? 1 : 0);
  }
  out.push_back(std::move(reserve_state));
  MetricFamily reclaimable =
      Family("balloon_domain_reclaimable_bytes",
             "What the policy could take from the guest now without putting it under pressure.",
             MetricType::Gauge);
  NeedSeries need("domain",
                  "What the guest needs over what it has (Hyper-V's memory pressure as a ratio: "
                  "under 1 it has what it needs).");
  MetricFamily working_set =
      Family("balloon_domain_working_set_bytes",
             "What probing found the guest needs: the size at which its refaults rose, or its "
             "floor (only for guests probed so far).",
             MetricType::Gauge);
  for (const policy::DomainCapacity& d : c.domains) {
    const std::vector<ClientMetric::Label> labels = {{"domain", d.name}, {"uuid", d.uuid}};
    AddSample(reclaimable, labels, static_cast<double>(d.reclaimable_bytes));
    if (d.pressure_index) need.Add(labels, *d.pressure_index);
    if (d.working_set_bytes) {
      AddSample(working_set, labels, static_cast<double>(*d.working_set_bytes));
    }
  }
  out.push_back(std::move(reclaimable));
  need.MoveTo(out);
  out.push_back(std::move(working_set));
  if (c.pressure_index) {
    NeedSeries host_need("host",
                         "The mean of the guests' need ratios (Hyper-V's average pressure as a "
                         "ratio).");
    host_need.Add({}, *c.pressure_index);
    host_need.MoveTo(out);
  }
}

// Page sharing (KSM): what it saves on the host and of each domain, and balloond's control of it.
void StateSeries::CollectSharing(const CapacityReading& reading,
                                 std::vector<MetricFamily>& out) const {
  if (!reading.sharing || reading.sharing->state() == v1::KSM_STATE_UNAVAILABLE) return;
  const v1::HostSharing& k = *reading.sharing;
  const struct {
    const char* name;
    const char* help;
    double value;
  } host_series[] = {
      {"balloon_host_ksm_running", "1 while ksmd runs (/sys/kernel/mm/ksm/run is 1).",
       k.running() ? 1.0 : 0.0},
      {"balloon_host_ksm_pages_to_scan", "Pages ksmd scans each time it wakes (every 20 ms).",
       static_cast<double>(k.pages_to_scan())},
      {"balloon_host_ksm_shared_bytes", "The merged pages KSM keeps (pages_shared).",
       static_cast<double>(k.shared_bytes())},
      {"balloon_host_ksm_sharing_bytes",
       "The pages that map merged pages (pages_sharing): what merging saves.",
       static_cast<double>(k.sharing_bytes())},
      {"balloon_host_ksm_saved_bytes",
       "What merging saves less KSM's bookkeeping (general_profit; pages_sharing where the "
       "kernel lacks it).",
       static_cast<double>(k.has_saved_bytes() ? k.saved_bytes() : k.sharing_bytes())},
      {"balloon_host_ksm_lasting_saved_bytes",
       "The least saved in the last 10 minutes: the part of the saving counted as capacity.",
       static_cast<double>(k.lasting_saved_bytes())},
      {"balloon_host_ksm_full_scans", "Full scans ksmd has made since boot.",
       static_cast<double>(k.full_scans())},
  };
  for (const auto& s : host_series) {
    MetricFamily f = Family(s.name, s.help, MetricType::Gauge);
    AddSample(f, {}, s.value);
    out.push_back(std::move(f));
  }
  if (k.has_ksmd_cpu_percent()) {
    MetricFamily cpu =
        Family("balloon_host_ksm_cpu_ratio", "ksmd's share of one CPU over the last policy cycle.",
               MetricType::Gauge);
    AddSample(cpu, {}, k.ksmd_cpu_percent() / 100.0);
    out.push_back(std::move(cpu));
  }
  MetricFamily state = Family("balloon_host_ksm_state",
                              "1 for the state of balloond's control of KSM: left-alone, running, "
                              "stopped (resting after scans that gained nothing), no-access.",
                              MetricType::Gauge);
  for (const v1::KsmState s : {v1::KSM_STATE_LEFT_ALONE, v1::KSM_STATE_RUNNING,
                               v1::KSM_STATE_STOPPED, v1::KSM_STATE_NO_ACCESS}) {
    AddSample(state, {{"state", ShortName(s)}}, s == k.state() ? 1 : 0);
  }
  out.push_back(std::move(state));
  MetricFamily merging = Family("balloon_domain_ksm_merging_bytes",
                                "The guest's memory KSM merged with identical pages "
                                "(ksm_merging_pages of its QEMU).",
                                MetricType::Gauge);
  MetricFamily saved = Family("balloon_domain_ksm_saved_bytes",
                              "What merging saves the host of the guest (ksm_process_profit of "
                              "its QEMU).",
                              MetricType::Gauge);
  for (const policy::DomainCapacity& d : reading.capacity.domains) {
    auto it = reading.domain_sharing.find(d.uuid);
    if (it == reading.domain_sharing.end() || !it->second.has_merging_bytes()) continue;
    const std::vector<ClientMetric::Label> labels = {{"domain", d.name}, {"uuid", d.uuid}};
    AddSample(merging, labels, static_cast<double>(it->second.merging_bytes()));
    if (it->second.has_saved_bytes()) {
      AddSample(saved, labels, static_cast<double>(it->second.saved_bytes()));
    }
  }
  out.push_back(std::move(merging));
  out.push_back(std::move(saved));
}

void StateSeries::CollectWatches(std::vector<MetricFamily>& out) const {
  MetricFamily watches =
      Family("balloon_watch_streams", "Watch streams open now.", MetricType::Gauge);
  AddSample(watches, {}, sources_.open_watches ? sources_.open_watches() : 0);
  out.push_back(std::move(watches));
}

}  // namespace balloond
