#ifndef BALLOOND_AGENT_COLLECT_SNAPSHOT_STORE_H_
#define BALLOOND_AGENT_COLLECT_SNAPSHOT_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/libvirt/hypervisor.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

enum class BalloonStatus { kDiscovering, kActive, kNoDevice, kMonitorError };

// The problem of a domain without a balloon (kNoDevice), with what to do about it.
std::string NoBalloonDeviceProblem(absl::string_view domain_name);
// The error of a call that needs a balloon the domain does not have (reason NO_BALLOON_DEVICE).
absl::Status NoBalloonDevice(absl::string_view domain_name);

// The latest known state of one running domain's balloon.
struct DomainSnapshot {
  DomainInfo info;
  BalloonStatus balloon = BalloonStatus::kDiscovering;
  // Why the balloon or its statistics are unavailable, and what to do; empty when all is well.
  std::string problem;
  std::optional<int64_t> actual_bytes;
  std::optional<GuestStats> guest;
  // The balloon's definition, once read (after the domain starts, and when its devices change).
  std::optional<DomainConfig> config;
  // The policy settings in the domain's libvirt metadata (agent/policy_metadata.h), when it has
  // usable ones; why they are not used, when they are not.
  std::optional<balloon::v1::DomainPolicy> metadata_policy;
  std::string metadata_problem;
  // libvirt runs a job on the domain (a migration, a save) that ballooning must leave alone.
  bool migrating = false;
  // The guest's reporting period in seconds (0: the guest does not report).
  int64_t stats_period_seconds = 0;
  absl::Time collect_time = absl::InfinitePast();
  // Increases with every change of this domain's snapshot.
  uint64_t generation = 0;
};

// Told of every change of the store, after it is made, on the thread that made it.
class SnapshotListener {
 public:
  virtual ~SnapshotListener() = default;
  virtual void OnSnapshot(const DomainSnapshot& snapshot) = 0;
  // `last` is the domain's snapshot as it was removed.
  virtual void OnRemoved(const DomainSnapshot& last) = 0;
};

// The snapshot of every running domain, shared by the collector (writer) and the API (readers), so
// that reads never wait on QEMU.
class SnapshotStore {
 public:
  // `listener` (if any) hears of each change, and must outlive the last Put or Remove.
  explicit SnapshotStore(SnapshotListener* listener = nullptr) : listener_(listener) {}

  // Stores `snapshot`, giving it the next generation.
  void Put(DomainSnapshot snapshot);
  void Remove(const std::string& uuid);
  std::vector<DomainSnapshot> List() const;
  // By libvirt name or UUID (any case).
  std::optional<DomainSnapshot> Find(absl::string_view name_or_uuid) const;
  std::optional<DomainSnapshot> FindByUuid(const std::string& uuid) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, DomainSnapshot> by_uuid_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
  SnapshotListener* const listener_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_COLLECT_SNAPSHOT_STORE_H_
