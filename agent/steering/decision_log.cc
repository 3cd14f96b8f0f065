#include "agent/steering/decision_log.h"

#include <algorithm>

#include "absl/strings/match.h"

namespace balloond {

uint64_t DecisionLog::Append(balloon::v1::Decision decision) {
  {
    absl::MutexLock lock(&mu_);
    decision.set_sequence(next_sequence_++);
    ++totals_[{decision.reason(), decision.applied()}];
    decisions_.push_back(decision);
    while (decisions_.size() > capacity_) decisions_.pop_front();
  }
  if (listener_ != nullptr) listener_->OnDecision(decision);
  return decision.sequence();
}

std::map<std::pair<balloon::v1::DecisionReason, bool>, uint64_t> DecisionLog::Totals() const {
  absl::MutexLock lock(&mu_);
  return totals_;
}

std::vector<balloon::v1::Decision> DecisionLog::List(const std::string& domain, size_t limit,
                                                     uint64_t before_sequence) const {
  absl::MutexLock lock(&mu_);
  // A UUID first: the decisions of the domain with that UUID, not of one named like it.
  const bool by_uuid =
      !domain.empty() &&
      std::any_of(decisions_.begin(), decisions_.end(), [&](const balloon::v1::Decision& d) {
        return absl::EqualsIgnoreCase(d.uuid(), domain);
      });
  std::vector<balloon::v1::Decision> out;
  for (auto it = decisions_.rbegin(); it != decisions_.rend() && out.size() < limit; ++it) {
    if (before_sequence > 0 && it->sequence() >= before_sequence) continue;
    const bool match = domain.empty() || (by_uuid ? absl::EqualsIgnoreCase(it->uuid(), domain)
                                                  : it->domain() == domain);
    if (match) out.push_back(*it);
  }
  return {out.rbegin(), out.rend()};
}

}  // namespace balloond
