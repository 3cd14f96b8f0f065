#include "agent/qom/qom_traffic.h"

namespace balloond {

std::optional<QomTraffic::Pass> QomTraffic::Enter(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto open = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !paused_; };
  if (!clock_.AwaitWithDeadline(mu_, absl::Condition(&open), deadline)) return std::nullopt;
  ++running_;
  return Pass(this);
}

int QomTraffic::running() {
  absl::MutexLock lock(&mu_);
  return running_;
}

void QomTraffic::Exit() {
  absl::MutexLock lock(&mu_);
  --running_;
}

void QomTraffic::Pause(absl::Duration wait) {
  absl::MutexLock lock(&mu_);
  paused_ = true;
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ == 0; };
  clock_.AwaitWithTimeout(mu_, absl::Condition(&drained), wait);
}

void QomTraffic::Resume() {
  absl::MutexLock lock(&mu_);
  paused_ = false;
}

}  // namespace balloond
