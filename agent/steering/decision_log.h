#ifndef BALLOOND_AGENT_STEERING_DECISION_LOG_H_
#define BALLOOND_AGENT_STEERING_DECISION_LOG_H_

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// Told of each decision after it is appended, on the appending thread.
class DecisionListener {
 public:
  virtual ~DecisionListener() = default;
  virtual void OnDecision(const balloon::v1::Decision& decision) = 0;
};

// The policy's recent decisions, newest last, numbered in order.
class DecisionLog {
 public:
  // `listener` (if any) must outlive the last Append.
  explicit DecisionLog(DecisionListener* listener = nullptr, size_t capacity = 2000)
      : capacity_(capacity), listener_(listener) {}

  // Numbers `decision` and keeps it, dropping the oldest beyond capacity; then tells the listener.
  uint64_t Append(balloon::v1::Decision decision);
  // The newest `limit` decisions whose domain or UUID is `domain` (all when empty), oldest first;
  // with `before_sequence`, only those before it (the page before one that began there).
  std::vector<balloon::v1::Decision> List(const std::string& domain, size_t limit,
                                          uint64_t before_sequence = 0) const;

  // How many decisions were appended since start, by reason and whether they were applied.
  std::map<std::pair<balloon::v1::DecisionReason, bool>, uint64_t> Totals() const;

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<balloon::v1::Decision> decisions_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::pair<balloon::v1::DecisionReason, bool>, uint64_t> totals_ ABSL_GUARDED_BY(mu_);
  DecisionListener* const listener_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_DECISION_LOG_H_
