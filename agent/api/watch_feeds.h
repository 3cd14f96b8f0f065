#ifndef BALLOOND_AGENT_API_WATCH_FEEDS_H_
#define BALLOOND_AGENT_API_WATCH_FEEDS_H_

#include <memory>
#include <string>

#include "agent/api/watch_hub.h"
#include "agent/base/clock.h"
#include "agent/base/worker_pool.h"
#include "agent/collect/collector.h"
#include "agent/collect/snapshot_store.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/qom/balloon_path_cache.h"
#include "agent/steering/decision_log.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// One domain's statistics as watchers get them, numbered by the snapshot's generation so that a
// stream never goes back to older ones.
struct StatsUpdate {
  uint64_t generation = 0;
  balloon::v1::MemoryStats stats;
};

// Turns each change of the snapshot store into one StatsUpdate, shared by every stream watching
// that domain, and ends those streams when the domain stops (with libvirt's word on why: NOT_FOUND
// for a destroyed transient domain, FAILED_PRECONDITION for a stopped one).
class StatsFeed final : public SnapshotListener, public WatchedDomains {
 public:
  // The snapshot store's listener. `lookups` runs the libvirt lookup that explains a domain's end,
  // off the collector's thread.
  StatsFeed(Hypervisor& hypervisor, Clock& clock, WorkerPool& lookups,
            const BalloonPathCache& balloon_paths)
      : hypervisor_(hypervisor), clock_(clock), lookups_(lookups), balloon_paths_(balloon_paths) {}

  WatchHub<StatsUpdate>& hub() { return hub_; }
  // The domain's statistics as the API shows them now (GetMemoryStats, and each watch update).
  std::shared_ptr<const StatsUpdate> Update(const DomainSnapshot& snapshot);
  // The status a watch of the domain `name` (UUID `uuid`) ends with, now that it is gone.
  absl::Status WhyGone(const std::string& uuid, const std::string& name);

  void OnSnapshot(const DomainSnapshot& snapshot) override;
  void OnRemoved(const DomainSnapshot& last) override;
  // A domain someone watches is read every period, however steady.
  bool Watched(const std::string& uuid) const override { return hub_.HasWatchers(uuid); }

 private:
  Hypervisor& hypervisor_;
  Clock& clock_;
  WorkerPool& lookups_;
  const BalloonPathCache& balloon_paths_;
  WatchHub<StatsUpdate> hub_;
};

// Hands each decision to the streams watching every domain (key ""), its domain's name, or UUID.
class DecisionFeed final : public DecisionListener {
 public:
  WatchHub<balloon::v1::Decision>& hub() { return hub_; }
  void OnDecision(const balloon::v1::Decision& decision) override;
  // The key a watch of `domain` (a UUID or a name; "" for every domain) subscribes with.
  static std::string KeyFor(const SnapshotStore& store, absl::string_view domain);

 private:
  static std::string UuidKey(absl::string_view uuid);
  static std::string NameKey(absl::string_view name);

  WatchHub<balloon::v1::Decision> hub_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_WATCH_FEEDS_H_
