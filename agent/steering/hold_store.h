#ifndef BALLOOND_AGENT_STEERING_HOLD_STORE_H_
#define BALLOOND_AGENT_STEERING_HOLD_STORE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// Operators' holds on balloons (SetBalloonTargetRequest.hold), by domain UUID, kept in
// STATE_DIR/holds.textproto (written atomically and durably) so that a restart of balloond keeps
// them. A hold past its end counts as none, and leaves the file at the next change. Thread-safe.
class HoldStore {
 public:
  // Reads the saved holds. A file that does not parse is an error naming it and its line: balloond
  // does not start and silently drop an operator's pins.
  static absl::StatusOr<std::unique_ptr<HoldStore>> Open(const std::string& state_dir);

  std::string saved_path() const { return state_dir_ + "/holds.textproto"; }
  // Sets (replaces) the hold of `hold.uuid()`; UNAVAILABLE, and nothing changes, when it cannot be
  // saved.
  absl::Status Set(const balloon::v1::Hold& hold, absl::Time now);
  // Ends the domain's hold: the hold that ended, or nullopt when it had none (or it had ended).
  absl::StatusOr<std::optional<balloon::v1::Hold>> Release(const std::string& uuid, absl::Time now);
  // The domain's hold, while it lasts.
  std::optional<balloon::v1::Hold> Find(const std::string& uuid, absl::Time now) const;
  // Every hold that lasts at `now`, by UUID.
  std::map<std::string, balloon::v1::Hold> Active(absl::Time now) const;

 private:
  explicit HoldStore(std::string state_dir) : state_dir_(std::move(state_dir)) {}
  // Writes `holds` (those lasting at `now`) and makes them the store's.
  absl::Status Save(std::map<std::string, balloon::v1::Hold> holds, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string state_dir_;
  mutable absl::Mutex mu_;
  std::map<std::string, balloon::v1::Hold> holds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_HOLD_STORE_H_
