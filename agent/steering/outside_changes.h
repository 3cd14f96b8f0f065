#ifndef BALLOOND_AGENT_STEERING_OUTSIDE_CHANGES_H_
#define BALLOOND_AGENT_STEERING_OUTSIDE_CHANGES_H_

// Balloons moved by someone other than balloond: `virsh setmem`, MOM, a second agent. Each
// collection (and libvirt's balloon-change event, which brings one at once) compares a domain's
// balloon with what balloond last set: a move toward that target is balloond's own; any other is
// from outside, and is an event (with its log line), a problem in `balloonctl list` for a while,
// and a count in the metrics. A hold broken that way is re-applied or released, as the policy says.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"
#include "agent/collect/snapshot_store.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/steering/event_log.h"
#include "agent/steering/hold_store.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

class OutsideChanges final : public SnapshotListener {
 public:
  struct Parts {
    EventLog& events;
    HoldStore& holds;
    Clock& clock;
  };
  explicit OutsideChanges(Parts parts) : parts_(parts) {}

  // A domain just started settles this long (its balloon driver loads and inflates to libvirt's
  // <currentMemory>) before its moves count.
  static constexpr absl::Duration kSettling = absl::Seconds(20);
  // A change from outside shows in its domain's problem this long.
  static constexpr absl::Duration kShown = absl::Minutes(10);

  // balloond is about to move the domain to `target_bytes` (all the guest is to have, as its
  // snapshot's actual_bytes counts it): moves toward it are balloond's.
  void Expect(const std::string& uuid, int64_t target_bytes);

  void OnSnapshot(const DomainSnapshot& snapshot) override;
  void OnRemoved(const DomainSnapshot& last) override;

  struct Change {
    std::string name;
    std::string uuid;
    int64_t from_bytes = 0;
    int64_t to_bytes = 0;
    std::optional<int64_t> expected_bytes;  // what balloond last set, if anything
    absl::Time when;
    std::optional<balloon::v1::Hold> broken_hold;
    int recent_breaks = 0;  // of the hold, in the last ten minutes, this one included
  };
  // The domain's latest change from outside, within kShown.
  std::optional<Change> Recent(const std::string& uuid) const;
  // "balloon changed from outside balloond at 12:00:05 UTC: 400 MiB → 512 MiB ..." for `list`.
  static std::string Problem(const Change& change);
  // Changes from outside seen since balloond started.
  uint64_t total() const;

  // Re-applies (or releases, per `action`, or after three breaks in ten minutes) each hold broken
  // since the last call, through `hypervisor`; each is announced. The policy's cycle calls it.
  void ActOnBrokenHolds(Hypervisor& hypervisor,
                        const std::map<std::string, DomainSnapshot>& domains,
                        balloon::v1::HoldBreakAction action, absl::Time deadline);

 private:
  struct Watched {
    int id = -1;             // libvirt's ID: a new one is a new run
    absl::Time started;      // when this run was first seen
    int64_t last_bytes = 0;  // the balloon at the previous snapshot
    std::optional<int64_t> expected;
    absl::Time quiet_until;         // one event per change, however many collections it takes
    std::deque<absl::Time> breaks;  // of its hold
  };

  const Parts parts_;
  mutable absl::Mutex mu_;
  std::map<std::string, Watched> watched_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Change> recent_ ABSL_GUARDED_BY(mu_);
  std::vector<Change> broken_ ABSL_GUARDED_BY(mu_);
  uint64_t total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_OUTSIDE_CHANGES_H_
