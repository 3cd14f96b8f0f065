#ifndef BALLOOND_AGENT_DECISION_LOG_H_
#define BALLOOND_AGENT_DECISION_LOG_H_

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// The policy's recent decisions, newest last, numbered in order.
class DecisionLog {
 public:
  explicit DecisionLog(size_t capacity = 2000) : capacity_(capacity) {}

  // Numbers `decision` and keeps it, dropping the oldest beyond capacity; then tells the listener.
  uint64_t Append(balloon::v1::Decision decision);
  // The newest `limit` decisions whose domain or UUID is `domain` (all when empty).
  std::vector<balloon::v1::Decision> List(const std::string& domain, size_t limit) const;

  // How many decisions were appended since start, by reason and whether they were applied.
  std::map<std::pair<balloon::v1::DecisionReason, bool>, uint64_t> Totals() const;

  // `listener` hears of each decision after it is appended, on the appending thread. An empty one
  // stops that, waiting for a notification in progress to end.
  void SetListener(std::function<void(const balloon::v1::Decision&)> listener);

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<balloon::v1::Decision> decisions_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::pair<balloon::v1::DecisionReason, bool>, uint64_t> totals_ ABSL_GUARDED_BY(mu_);
  // Held (shared) while the listener is told, so that SetListener can wait for it.
  mutable absl::Mutex listener_mu_;
  std::function<void(const balloon::v1::Decision&)> listener_ ABSL_GUARDED_BY(listener_mu_);
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_DECISION_LOG_H_
