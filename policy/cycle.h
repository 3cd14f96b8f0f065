#ifndef BALLOOND_POLICY_CYCLE_H_
#define BALLOOND_POLICY_CYCLE_H_

// One policy cycle's phases (inside the policy library): what they share, and each phase, in the
// order Decide (policy.cc) runs them. Each phase has a file of its own.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/assessment.h"
#include "policy/judgement.h"
#include "policy/outcome.h"
#include "policy/standing.h"

namespace balloond::policy {

// What the phases of one cycle read and hand each other.
struct CycleContext {
  CycleContext(Judgement judgement, int64_t reserved_bytes);

  // The judgement the cycle acts on: its assessments are the phases' to change.
  Judgement judgement;
  const balloon::v1::Policy& policy;
  const balloon::v1::HostPolicy& host_policy;
  const bool enforce;
  const HostInput& host;
  const absl::Time now;
  const HostStanding standing;
  // standing.FreeBytes(): what reclaim and give-back go by.
  const int64_t free;
  std::vector<Assessment>& all;

  Outcome out;
  // Guests granted relief, and guests given memory back because their reports stopped.
  std::vector<Assessment*> relief;
  std::vector<Assessment*> stale_give_back;
  // What the host can still pay above its minimum, and what relief and give-back could not get.
  int64_t relief_budget = 0;
  int64_t unmet_relief = 0;
  int64_t unmet_stale = 0;
};

// The decision the policy proposes for `a` this cycle (the phases' common way to decide).
void Propose(Assessment& a, int64_t target, balloon::v1::DecisionReason reason, std::string why);
// A decision about `a` that moves nothing by itself (the balloon stays at `a.actual`): a report.
Decision MakeDecision(const CycleContext& c, const Assessment& a,
                      balloon::v1::DecisionReason reason, std::string explanation);
// The decision's move made of the balloon and virtio-mem (policy/hotplug.h), and said.
void SplitDecision(const CycleContext& c, const Assessment& a, Decision& d);
// What a guest is given back without being under pressure: up to its ceiling, but not past what
// its virtio-mem device has plugged (memory is plugged only for a guest that needs it).
int64_t GiveBackCeiling(const Assessment& a);
// What keeps a fresh guest `watermarks` low watermarks above its use until its next report: its
// use, the watermarks, the overhead and its growth ahead. Relief pays this first (one watermark);
// reclaim leaves it to a guest lending in a storm.
int64_t OffWatermarkBytes(const Assessment& a, int watermarks);

// watch.cc: guests that kept virtio-mem memory plugged they were asked to unplug are asked for what
// they kept, and unplugged from no more for a while; balloons that did not move toward their last
// target are reset and left alone (enforce).
void WatchHotplug(CycleContext& c);
void WatchBalloons(CycleContext& c);
// relief.cc: bounds first, then guests under pressure, paid from what the host has above its
// minimum; guests whose reports stopped get memory back from what it has above its reserve.
void GrantRelief(CycleContext& c);
void GiveBackToStale(CycleContext& c);
// reclaim.cc: memory taken back when the host is short or a guest's need went unpaid.
void Reclaim(CycleContext& c);
// probe.cc: guests with probing on are shrunk a step at a time while their refaults stay low, and
// given memory back at once when they rise (DomainPolicy.probe).
void Probe(CycleContext& c);
// give_back.cc: a comfortable host gives ballooned-down guests memory back, by shares (not to
// probed guests).
void GiveBackWhenComfortable(CycleContext& c);
// publish.cc: how soon each domain's statistics are needed again; changes inside the deadband
// dropped, the rest made decisions, the history of this cycle kept.
void PlanCollection(CycleContext& c);
Outcome Publish(CycleContext& c);

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_CYCLE_H_
