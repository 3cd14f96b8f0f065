#ifndef BALLOOND_POLICY_OUTCOME_H_
#define BALLOOND_POLICY_OUTCOME_H_

// What one cycle of the policy decides.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "balloon/v1/balloon.pb.h"
#include "policy/history.h"

namespace balloond::policy {

struct Decision {
  std::string uuid;
  std::string name;
  int64_t previous_bytes = 0;
  int64_t target_bytes = 0;
  balloon::v1::DecisionReason reason = balloon::v1::DECISION_REASON_UNSPECIFIED;
  std::string explanation;
  balloon::v1::DecisionInputs inputs;
  bool hold_overridden = false;
  // How the move is made: the balloon's target, and a virtio-mem device's new requested size
  // (absent when it stays as it is, or the guest has none).
  int64_t balloon_target_bytes = 0;
  std::optional<int64_t> requested_bytes;
};

// The host as the policy stands toward it: short (it takes memory back), neutral, or comfortable
// (it gives memory back). One rule (policy/standing.h) for the decisions, the capacity figures and
// the events.
enum class HostCondition { kShort, kNeutral, kComfortable };

struct Outcome {
  std::vector<Decision> decisions;
  State state;
  HostCondition host = HostCondition::kNeutral;
  // By UUID: how many stats periods may pass before the domain's statistics are needed again. 1
  // while anything about it moves; doubling, up to the policy's max_collect_interval_periods, while
  // it stays steady; the maximum for a domain the policy does not act on (paused, migrating,
  // disabled). Domains not named are collected every period.
  std::map<std::string, int> collect_every;
};

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_OUTCOME_H_
