#include "agent/decision_log.h"

namespace balloond {

uint64_t DecisionLog::Append(balloon::v1::Decision decision) {
  absl::MutexLock lock(&mu_);
  decision.set_sequence(next_sequence_++);
  decisions_.push_back(std::move(decision));
  while (decisions_.size() > capacity_) decisions_.pop_front();
  return decisions_.back().sequence();
}

std::vector<balloon::v1::Decision> DecisionLog::List(const std::string& domain, size_t limit) const {
  absl::MutexLock lock(&mu_);
  std::vector<balloon::v1::Decision> out;
  for (auto it = decisions_.rbegin(); it != decisions_.rend() && out.size() < limit; ++it) {
    if (domain.empty() || it->domain() == domain || it->uuid() == domain) out.push_back(*it);
  }
  return {out.rbegin(), out.rend()};
}

std::vector<balloon::v1::Decision> DecisionLog::WaitAfter(uint64_t after, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto newer = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return next_sequence_ - 1 > after; };
  mu_.AwaitWithTimeout(absl::Condition(&newer), timeout);
  std::vector<balloon::v1::Decision> out;
  for (const auto& d : decisions_) {
    if (d.sequence() > after) out.push_back(d);
  }
  return out;
}

uint64_t DecisionLog::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return next_sequence_ - 1;
}

}  // namespace balloond
