#include "agent/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/base/log.h"
#include "agent/config.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// From 1 ms (one domain's statistics) to 10 s (a libvirt that stopped answering).
const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *buckets;
}

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

// Per-domain, host and policy series, made from the agent's state at each scrape.
class AgentMetrics::SnapshotCollectable final : public prometheus::Collectable {
 public:
  explicit SnapshotCollectable(Sources sources) : sources_(std::move(sources)) {}

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> out;
    CollectDomains(out);
    CollectDecisions(out);
    CollectHost(out);
    CollectCapacity(out);
    MetricFamily watches =
        Family("balloon_watch_streams", "Watch streams open now.", MetricType::Gauge);
    AddSample(watches, {}, sources_.open_watches ? sources_.open_watches() : 0);
    out.push_back(std::move(watches));
    return out;
  }

 private:
  void CollectDomains(std::vector<MetricFamily>& out) const {
    MetricFamily actual =
        Family("balloon_domain_balloon_actual_bytes",
               "The memory the guest has now (the balloon's size; with virtio-mem, "
               "what it plugged too).",
               MetricType::Gauge);
    MetricFamily maximum =
        Family("balloon_domain_memory_maximum_bytes",
               "The memory the domain started with: the largest target.", MetricType::Gauge);
    MetricFamily age =
        Family("balloon_guest_stats_age_seconds",
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

  void CollectDecisions(std::vector<MetricFamily>& out) const {
    MetricFamily total = Family("balloon_policy_decisions_total",
                                "The policy's decisions, by reason and whether they were applied "
                                "(enforce mode) or only proposed (observe mode).",
                                MetricType::Counter);
    for (const auto& [key, count] : sources_.decisions.Totals()) {
      const std::string name = v1::DecisionReason_Name(key.first);
      absl::string_view reason = name;
      absl::ConsumePrefix(&reason, "DECISION_REASON_");
      AddSample(
          total,
          {{"reason", absl::AsciiStrToLower(reason)}, {"applied", key.second ? "true" : "false"}},
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
  }

  void CollectHolds(std::vector<MetricFamily>& out) const {
    // Held domains: when the hold ends, and at what target.
    MetricFamily until =
        Family("balloon_domain_hold_end_timestamp_seconds",
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

  void CollectHost(std::vector<MetricFamily>& out) const {
    if (!sources_.read_host) return;
    auto host = sources_.read_host();
    if (!host.ok()) return;
    MetricFamily total =
        Family("balloon_host_memory_total_bytes", "The host's MemTotal.", MetricType::Gauge);
    AddSample(total, {}, static_cast<double>(host->mem_total_bytes));
    MetricFamily available = Family("balloon_host_memory_available_bytes",
                                    "The host's MemAvailable.", MetricType::Gauge);
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
  void CollectCapacity(std::vector<MetricFamily>& out) const {
    if (sources_.capacity == nullptr) return;
    const std::optional<CapacityReading> reading = sources_.capacity->Latest();
    if (!reading) return;
    const policy::HostCapacity& c = reading->capacity;
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
        {"balloon_host_committed_bytes", "The sum of the guests' maximum memory.",
         c.committed_bytes},
        {"balloon_host_guests_needed_bytes",
         "The sum of what the policy judges the guests with fresh statistics need.",
         c.needed_bytes},
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
    MetricFamily reclaimable =
        Family("balloon_domain_reclaimable_bytes",
               "What the policy could take from the guest now without putting it under pressure.",
               MetricType::Gauge);
    MetricFamily index = Family("balloon_domain_pressure_index",
                                "What the guest needs over what it has, x100 (Hyper-V's memory "
                                "pressure: under 100 it has what it needs).",
                                MetricType::Gauge);
    MetricFamily working_set =
        Family("balloon_domain_working_set_bytes",
               "What probing found the guest needs: the size at which its refaults rose, or its "
               "floor (only for guests probed so far).",
               MetricType::Gauge);
    for (const policy::DomainCapacity& d : c.domains) {
      const std::vector<ClientMetric::Label> labels = {{"domain", d.name}, {"uuid", d.uuid}};
      AddSample(reclaimable, labels, static_cast<double>(d.reclaimable_bytes));
      if (d.pressure_index) AddSample(index, labels, *d.pressure_index);
      if (d.working_set_bytes) {
        AddSample(working_set, labels, static_cast<double>(*d.working_set_bytes));
      }
    }
    out.push_back(std::move(reclaimable));
    out.push_back(std::move(index));
    out.push_back(std::move(working_set));
    if (c.pressure_index) {
      MetricFamily host_index = Family("balloon_host_pressure_index",
                                       "The mean of the guests' pressure indexes (Hyper-V's "
                                       "average pressure).",
                                       MetricType::Gauge);
      AddSample(host_index, {}, *c.pressure_index);
      out.push_back(std::move(host_index));
    }
  }

  Sources sources_;
};

AgentMetrics::AgentMetrics(Sources sources)
    : clock_(sources.clock),
      registry_(std::make_shared<prometheus::Registry>()),
      from_snapshots_(std::make_shared<SnapshotCollectable>(std::move(sources))) {
  round_ = &prometheus::BuildHistogram()
                .Name("balloon_collection_round_duration_seconds")
                .Help("How long one collection of the domains' statistics took.")
                .Register(*registry_)
                .Add({}, DurationBuckets());
  calls_ = &prometheus::BuildHistogram()
                .Name("balloon_libvirt_call_duration_seconds")
                .Help("How long balloond's calls to libvirt (and through it QEMU) took, by call.")
                .Register(*registry_);
  call_errors_ = &prometheus::BuildCounter()
                      .Name("balloon_libvirt_call_errors_total")
                      .Help("balloond's calls to libvirt that failed, by call and gRPC code.")
                      .Register(*registry_);
  libvirt_connected_ = &prometheus::BuildGauge()
                            .Name("balloon_libvirt_connected")
                            .Help("1 while balloond reaches libvirtd, 0 otherwise.")
                            .Register(*registry_)
                            .Add({});
}

AgentMetrics::~AgentMetrics() = default;

namespace {
constexpr int kMetricsWorkers = 4;
constexpr absl::Duration kMetricsRequestTimeout = absl::Seconds(2);
}  // namespace

absl::Status AgentMetrics::Serve(const std::string& address) {
  if (absl::Status s = ValidateHostPort("metrics address", address); !s.ok()) return s;
  try {
    // civetweb gives each connection a worker until its request is read: a few workers and a
    // short read timeout, so that idle connections cannot keep every scrape out for long.
    exposer_ = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", address, "num_threads", std::to_string(kMetricsWorkers),
        "request_timeout_ms", std::to_string(absl::ToInt64Milliseconds(kMetricsRequestTimeout))});
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(from_snapshots_);
  return absl::OkStatus();
}

int AgentMetrics::port() const {
  if (!exposer_) return -1;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? -1 : ports.front();
}

void AgentMetrics::StopServing() { exposer_.reset(); }

void AgentMetrics::ObserveRound(absl::Duration took) {
  round_->Observe(absl::ToDoubleSeconds(took));
}

void AgentMetrics::ObserveCall(const std::string& call, absl::Duration took,
                               const absl::Status& status) {
  calls_->Add({{"call", call}}, DurationBuckets()).Observe(absl::ToDoubleSeconds(took));
  if (!status.ok()) {
    call_errors_
        ->Add({{"call", call},
               {"code", absl::AsciiStrToLower(absl::StatusCodeToString(status.code()))}})
        .Increment();
  }
}

void AgentMetrics::SetLibvirtConnected(bool connected) {
  libvirt_connected_->Set(connected ? 1 : 0);
}

std::string AgentMetrics::Scrape() const {
  std::vector<MetricFamily> families = registry_->Collect();
  for (MetricFamily& f : from_snapshots_->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

namespace {

// Times `call` and reports it as `name`.
template <typename F>
auto Timed(AgentMetrics& metrics, const std::string& name, F call) {
  const absl::Duration start = metrics.clock().Monotonic();
  auto result = call();
  absl::Status status;
  if constexpr (std::is_same_v<decltype(result), absl::Status>) {
    status = result;
  } else {
    status = result.status();
  }
  metrics.ObserveCall(name, metrics.clock().Monotonic() - start, status);
  return result;
}

}  // namespace

absl::StatusOr<std::vector<DomainStats>> MeteredHypervisor::CollectStats(
    absl::Time deadline, const CollectionFilter& filter) {
  return Timed(metrics_, "collect_stats", [&] { return inner_.CollectStats(deadline, filter); });
}

absl::StatusOr<DomainInfo> MeteredHypervisor::LookupDomain(absl::string_view name_or_uuid,
                                                           absl::Time deadline) {
  return Timed(metrics_, "lookup_domain",
               [&] { return inner_.LookupDomain(name_or_uuid, deadline); });
}

absl::StatusOr<DomainConfig> MeteredHypervisor::ReadConfig(const std::string& uuid,
                                                           absl::Time deadline) {
  return Timed(metrics_, "read_config", [&] { return inner_.ReadConfig(uuid, deadline); });
}

absl::Status MeteredHypervisor::SetBalloonTarget(const std::string& uuid, int64_t target_bytes,
                                                 absl::Time deadline) {
  return Timed(metrics_, "set_balloon_target",
               [&] { return inner_.SetBalloonTarget(uuid, target_bytes, deadline); });
}

absl::Status MeteredHypervisor::SetMemoryDeviceRequest(const std::string& uuid,
                                                       const std::string& alias,
                                                       int64_t requested_bytes,
                                                       absl::Time deadline) {
  return Timed(metrics_, "set_memory_device_request", [&] {
    return inner_.SetMemoryDeviceRequest(uuid, alias, requested_bytes, deadline);
  });
}

absl::Status MeteredHypervisor::SetStatsPeriod(const std::string& uuid, int seconds,
                                               absl::Time deadline) {
  return Timed(metrics_, "set_stats_period",
               [&] { return inner_.SetStatsPeriod(uuid, seconds, deadline); });
}

absl::StatusOr<bool> MeteredHypervisor::JobActive(const std::string& uuid, absl::Time deadline) {
  return Timed(metrics_, "job_active", [&] { return inner_.JobActive(uuid, deadline); });
}

absl::StatusOr<std::string> MeteredHypervisor::ReadPolicyMetadata(const std::string& uuid,
                                                                  absl::Time deadline) {
  return Timed(metrics_, "read_metadata",
               [&] { return inner_.ReadPolicyMetadata(uuid, deadline); });
}

absl::Status MeteredHypervisor::WritePolicyMetadata(const std::string& uuid,
                                                    const std::string& element,
                                                    absl::Time deadline) {
  return Timed(metrics_, "write_metadata",
               [&] { return inner_.WritePolicyMetadata(uuid, element, deadline); });
}

absl::StatusOr<std::string> MeteredHypervisor::RunQmp(const std::string& uuid,
                                                      const std::string& command,
                                                      absl::Time deadline) {
  return Timed(metrics_, "qmp_passthrough", [&] { return inner_.RunQmp(uuid, command, deadline); });
}

}  // namespace balloond
