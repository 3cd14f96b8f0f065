#ifndef BALLOOND_AGENT_STEERING_CAPACITY_STORE_H_
#define BALLOOND_AGENT_STEERING_CAPACITY_STORE_H_

#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/collect/host_stats.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/capacity.h"

namespace balloond {

// The host's capacity as one policy cycle judged it, with what it was judged from.
struct CapacityReading {
  policy::HostCapacity capacity;
  HostMemory host;
  balloon::v1::PolicyMode mode = balloon::v1::POLICY_MODE_UNSPECIFIED;
  absl::Time time;
  // Page sharing on the host and, by UUID, of each domain (absent where balloond does not read
  // KSM).
  std::optional<balloon::v1::HostSharing> sharing;
  std::map<std::string, balloon::v1::DomainSharing> domain_sharing;
};

// The latest reading: the policy runner publishes one each cycle, GetHostCapacity and the metrics
// read it; a reservation made or released between cycles updates it at once.
class CapacityStore {
 public:
  void Publish(CapacityReading reading) {
    absl::MutexLock lock(&mu_);
    latest_ = std::move(reading);
  }
  // The latest reading as it stands with `reserved_bytes` promised to reservations (the cycle's
  // judgement, reservations made or released since applied); nothing before the first cycle.
  void ApplyReserved(int64_t reserved_bytes) {
    absl::MutexLock lock(&mu_);
    if (latest_)
      latest_->capacity = policy::WithReserved(std::move(latest_->capacity), reserved_bytes);
  }
  // Absent before the first policy cycle.
  std::optional<CapacityReading> Latest() const {
    absl::MutexLock lock(&mu_);
    return latest_;
  }

 private:
  mutable absl::Mutex mu_;
  std::optional<CapacityReading> latest_ ABSL_GUARDED_BY(mu_);
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_CAPACITY_STORE_H_
