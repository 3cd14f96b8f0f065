#include "agent/steering/policy_runner.h"

#include "absl/strings/str_cat.h"
#include "agent/base/log.h"
#include "agent/base/worker_pool.h"
#include "agent/steering/memory_actuator.h"
#include "policy/capacity.h"
#include "policy/durations.h"
#include "policy/enum_names.h"
#include "policy/layers.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond {

namespace v1 = balloon::v1;

namespace {

// How often the guests' jumps are saved: a crash loses at most this much of what was learned.
constexpr absl::Duration kSaveJumpsEvery = absl::Minutes(5);

}  // namespace

policy::DomainInput ToPolicyInput(const DomainSnapshot& snap) {
  policy::DomainInput in;
  in.uuid = snap.info.uuid;
  in.name = snap.info.name;
  switch (snap.info.state) {
    case DomainRunState::kRunning:
      in.activity = snap.migrating ? policy::Activity::kMigrating : policy::Activity::kRunning;
      break;
    case DomainRunState::kPaused:
      in.activity = policy::Activity::kPaused;
      break;
    case DomainRunState::kShuttingDown:
      in.activity = policy::Activity::kShuttingDown;
      break;
    case DomainRunState::kOther:
      in.activity = policy::Activity::kOther;
      break;
  }
  in.max_memory_bytes = snap.info.max_memory_bytes;
  in.autodeflate = snap.config && snap.config->autodeflate;
  in.hotplug = HotplugOf(snap);
  // libvirt's balloon.current counts what a virtio-mem device plugged, as the policy does. Before
  // the definition is read, whether the domain has such a device (and so its boot memory) is not
  // known: the policy leaves it alone until it is, while the host's figures count it.
  in.definition_read = snap.config.has_value();
  if (snap.balloon == BalloonStatus::kActive || snap.balloon == BalloonStatus::kMonitorError) {
    in.actual_bytes = snap.actual_bytes;
  }
  in.stats_period = absl::Seconds(std::max<int64_t>(1, snap.stats_period_seconds));
  if (snap.guest && snap.guest->last_update_unix_seconds > 0) {
    const auto total = snap.guest->Get(guest_stat::kTotalMemory);
    const auto available = snap.guest->Get(guest_stat::kAvailableMemory);
    const auto free = snap.guest->Get(guest_stat::kFreeMemory);
    if (total && available) {
      policy::GuestReport r;
      r.total_bytes = *total;
      r.available_bytes = *available;
      r.free_bytes = free.value_or(*available);
      r.swap_in_bytes = snap.guest->Get(guest_stat::kSwapIn);
      r.major_faults = snap.guest->Get(guest_stat::kMajorFaults);
      r.last_update = absl::FromUnixSeconds(snap.guest->last_update_unix_seconds);
      in.report = r;
    }
  }
  if (snap.guest) in.resident_bytes = snap.guest->Get(guest_stat::kResident);
  return in;
}

PolicyRunner::PolicyRunner(Parts parts, HostReader read_host, PolicyRunnerOptions options)
    : parts_(parts),
      read_host_(std::move(read_host)),
      options_(std::move(options)),
      cycle_events_(parts.events) {
  if (options_.ksm) ksm_.emplace(*options_.ksm);
}

PolicyRunner::~PolicyRunner() { Stop(); }

void PolicyRunner::Start() {
  loop_ = std::thread([this] { Loop(); });
}

void PolicyRunner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (loop_.joinable()) loop_.join();
  Finish();
}

void PolicyRunner::Finish() {
  absl::MutexLock run(&run_mu_);
  if (ksm_) ksm_->Restore();
  SaveJumps(parts_.clock.Now());
}

void PolicyRunner::SaveJumps(absl::Time now) {
  if (parts_.jumps == nullptr) return;
  std::map<std::string, policy::Jumps> jumps;
  for (const auto& [uuid, history] : state_.domains) jumps[uuid] = history.jumps;
  if (absl::Status s = parts_.jumps->Save(jumps, now); !s.ok()) {
    Log(LogLevel::kWarning, absl::StrCat("the guests' jumps were not saved: ", s.message()));
  }
  jumps_saved_at_ = now;
}

void PolicyRunner::Trigger() {
  absl::MutexLock lock(&mu_);
  triggered_ = true;
}

void PolicyRunner::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || triggered_; };
      // Only fresh statistics start a cycle: a stalled collector means nothing new to act on.
      mu_.Await(absl::Condition(&woken));
      if (stopping_) return;
      triggered_ = false;
      // Extra collection rounds (after a target is applied, or a lifecycle event) must not make
      // extra cycles: the per-cycle step limits are rate limits.
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (last_run_ && parts_.clock.AwaitWithTimeout(
                           mu_, absl::Condition(&stopping),
                           *last_run_ + options_.interval / 2 - parts_.clock.Monotonic())) {
        return;
      }
    }
    last_run_ = parts_.clock.Monotonic();
    RunGuarded("a policy cycle", [this] { RunOnce(); });
  }
}

void PolicyRunner::RunOnce() {
  absl::MutexLock run(&run_mu_);
  const v1::Policy policy = parts_.policy.Get();
  const v1::PolicyMode mode = policy::WithDefaults(policy).mode();
  auto host = read_host_();
  if (!host.ok()) {
    if (mode == v1::POLICY_MODE_OFF) parts_.planner.SetCollectionPlan({});
    Log(LogLevel::kWarning, absl::StrCat("policy skipped a cycle: ", host.status().message()));
    return;
  }
  policy::HostInput host_input;
  host_input.total_bytes = host->mem_total_bytes;
  host_input.available_bytes = host->mem_available_bytes;
  if (host->pressure_some) host_input.pressure_some_avg10 = host->pressure_some->avg10;

  const absl::Time now = parts_.clock.Now();
  const auto holds = parts_.holds.Active(now);
  std::vector<policy::DomainInput> inputs;
  std::map<std::string, v1::DomainPolicy> metadata;
  // The decisions are sent to the domains as this cycle saw them (their devices, their balloons).
  std::map<std::string, DomainSnapshot> snapshots;
  for (DomainSnapshot& snap : parts_.snapshots.List()) {
    snapshots[snap.info.uuid] = std::move(snap);
  }
  for (const auto& [uuid, snap] : snapshots) {
    // A domain seen for the first time since balloond started goes on from the jumps it was seen
    // to make before.
    if (parts_.jumps != nullptr && state_.domains.count(uuid) == 0) {
      if (auto jumps = parts_.jumps->Take(uuid)) state_.domains[uuid].jumps = *jumps;
    }
    inputs.push_back(ToPolicyInput(snap));
    if (auto hold = holds.find(snap.info.uuid); hold != holds.end()) {
      inputs.back().held_until = FromProtoTimestamp(hold->second.until());
      inputs.back().held_target_bytes = hold->second.target_bytes();
    }
    if (snap.metadata_policy) metadata[snap.info.name] = *snap.metadata_policy;
  }
  if (ksm_ && ksm_->Read(snapshots, now)) {
    host_input.shared_saved_bytes = ksm_->SavedBytes();
    host_input.shared_lasting_bytes = ksm_->LastingBytes(now);
  }
  // One judgement of the cycle's inputs, read by everything below: the capacity figures (what they
  // call reclaimable is what the cycle takes), the reservations (whether their room is there), the
  // events (the host is short when the cycle reclaims for it) and the decisions.
  policy::Judgement judgement =
      policy::Judge(policy::WithMetadata(policy, metadata), host_input, inputs, state_, now);
  int64_t reserved = parts_.reservations.ReservedBytes(now);
  policy::HostCapacity capacity = policy::CapacityOf(judgement, reserved);
  // A reservation for a domain ends once the domain is in the judgement: from then on all it may
  // hold is counted as its own.
  std::set<std::string> accounted;
  for (const policy::DomainInput& in : judgement.domains) accounted.insert(in.name);
  const auto changed =
      parts_.reservations.Advance(capacity, accounted, mode == v1::POLICY_MODE_ENFORCE, now);
  for (const v1::Reservation& r : changed) {
    Log(absl::StrCat("reservation ", r.id(), " (", FormatBytes(r.bytes()),
                     "): ", ShortName(r.state()), ": ", r.explanation()));
    cycle_events_.OnReservationChanged(r);
  }
  if (!changed.empty()) {
    reserved = parts_.reservations.ReservedBytes(now);
    capacity = policy::WithReserved(std::move(capacity), reserved);
  }
  cycle_events_.Observe(capacity, holds, now);
  CapacityReading reading;
  reading.capacity = std::move(capacity);
  reading.host = *host;
  reading.mode = mode;
  reading.time = now;
  if (ksm_) {
    const auto told = ksm_->Decide(judgement.policy.host(), mode, reading.capacity.standing, now);
    if (told && mode != v1::POLICY_MODE_OBSERVE) cycle_events_.OnKsmChanged(*told);
    reading.sharing = ksm_->HostStatus();
    reading.domain_sharing = ksm_->DomainStatus();
  }
  parts_.capacity.Publish(std::move(reading));
  // An operator's hold stands in every mode: one broken from outside is acted on first.
  if (parts_.outside != nullptr) {
    parts_.outside->ActOnBrokenHolds(parts_.hypervisor, snapshots,
                                     policy::WithDefaults(policy).on_hold_broken(),
                                     parts_.clock.Now() + options_.monitor_timeout);
  }
  if (mode == v1::POLICY_MODE_OFF) {
    parts_.planner.SetCollectionPlan({});
    return;
  }
  policy::Outcome outcome = policy::Decide(std::move(judgement), reserved);
  state_ = std::move(outcome.state);
  if (now - jumps_saved_at_ >= kSaveJumpsEvery) SaveJumps(now);
  parts_.planner.SetCollectionPlan(outcome.collect_every);

  bool applied_any = false;
  for (policy::Decision& d : outcome.decisions) {
    v1::Decision record;
    *record.mutable_time() = ToProtoTimestamp(now);
    record.set_domain(d.name);
    record.set_uuid(d.uuid);
    record.set_mode(mode);
    record.set_previous_bytes(d.previous_bytes);
    record.set_target_bytes(d.target_bytes);
    record.set_reason(d.reason);
    record.set_explanation(d.explanation);
    *record.mutable_inputs() = d.inputs;
    record.set_hold_overridden(d.hold_overridden);
    record.set_balloon_target_bytes(d.balloon_target_bytes);
    if (d.requested_bytes) record.set_requested_bytes(*d.requested_bytes);
    if (mode == v1::POLICY_MODE_ENFORCE) {
      // An uncooperative balloon's target goes back to its size, so QEMU stops chasing the old one.
      auto snap = snapshots.find(d.uuid);
      if (parts_.outside != nullptr) parts_.outside->Expect(d.uuid, d.target_bytes);
      absl::Status sent = snap == snapshots.end()
                              ? absl::NotFoundError("the domain stopped")
                              : SendMove(parts_.hypervisor, snap->second,
                                         {d.balloon_target_bytes, d.requested_bytes},
                                         parts_.clock.Now() + options_.monitor_timeout);
      record.set_applied(sent.ok());
      // A target QEMU did not take stays pending: the balloon does not move, so the policy marks
      // the domain uncooperative and backs off instead of retrying every cycle.
      if (!sent.ok()) record.set_error(std::string(sent.message()));
      applied_any |= sent.ok();
    }
    Log(absl::StrCat(
        mode == v1::POLICY_MODE_ENFORCE ? (record.applied() ? "policy: " : "policy (failed): ")
                                        : "policy (observe): ",
        d.explanation, record.error().empty() ? "" : absl::StrCat(" [", record.error(), "]")));
    record.set_sequence(parts_.log.Append(record));
    cycle_events_.OnDecision(record);
  }
  if (applied_any) parts_.interest.RequestRefresh("");
}

}  // namespace balloond
