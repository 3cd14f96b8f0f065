#ifndef BALLOOND_AGENT_STEERING_LIFECYCLE_EVENTS_H_
#define BALLOOND_AGENT_STEERING_LIFECYCLE_EVENTS_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "agent/collect/snapshot_store.h"
#include "agent/steering/event_log.h"

namespace balloond {

// The domains' lives and balloond's link to libvirt as events, from the snapshot store's changes
// and the collector's reachability: a domain that appears started, one that goes stopped (or
// migrated, when it went during a job), a job's start and end, libvirt lost and regained.
class LifecycleEvents final : public SnapshotListener {
 public:
  explicit LifecycleEvents(EventLog& log) : log_(log) {}

  void OnSnapshot(const DomainSnapshot& snapshot) override;
  void OnRemoved(const DomainSnapshot& last) override;
  // The collector's word on libvirt; the first success only ends the start-up (the domains seen
  // until then were running before balloond).
  void OnReachability(const absl::Status& reachable);

 private:
  struct Seen {
    int id = 0;  // libvirt's ID: a new one is a new run of the domain
    bool migrating = false;
  };

  EventLog& log_;
  absl::Mutex mu_;
  std::map<std::string, Seen> seen_ ABSL_GUARDED_BY(mu_);  // by UUID, every domain running
  bool started_ ABSL_GUARDED_BY(mu_) = false;              // the first collection is in
  bool reachable_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_LIFECYCLE_EVENTS_H_
