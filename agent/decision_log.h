#ifndef BALLOOND_AGENT_DECISION_LOG_H_
#define BALLOOND_AGENT_DECISION_LOG_H_

#include <deque>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// The policy's recent decisions, newest last, numbered in order; readers can wait for new ones.
class DecisionLog {
 public:
  explicit DecisionLog(size_t capacity = 2000) : capacity_(capacity) {}

  // Numbers `decision` and keeps it, dropping the oldest beyond capacity.
  uint64_t Append(balloon::v1::Decision decision);
  // The newest `limit` decisions whose domain or UUID is `domain` (all when empty).
  std::vector<balloon::v1::Decision> List(const std::string& domain, size_t limit) const;
  // Decisions numbered above `after`, waiting up to `timeout` for the first.
  std::vector<balloon::v1::Decision> WaitAfter(uint64_t after, absl::Duration timeout) const;
  uint64_t last_sequence() const;

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<balloon::v1::Decision> decisions_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_DECISION_LOG_H_
