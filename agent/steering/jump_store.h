#ifndef BALLOOND_AGENT_STEERING_JUMP_STORE_H_
#define BALLOOND_AGENT_STEERING_JUMP_STORE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "policy/history.h"

namespace balloond {

// The guests' jumps in use (policy/history.h Jumps: the largest rise by hour for the last day, and
// since when each guest has been watched), by domain UUID, kept in STATE_DIR/jumps so that a
// restart of balloond does not forget what each guest has been seen to do: probing's slack and
// capacity's jump room go on from what was learned instead of starting over at the default slack.
// Only the policy runner's thread uses it.
class JumpStore {
 public:
  // Saved jumps older than this are not restored: the guests may have changed while balloond was
  // away, and a guest counted as watched whose day of jumps aged out would keep no slack.
  static constexpr absl::Duration kMaxAge = absl::Hours(1);

  // Reads the saved jumps (written at `saved`; none when older than kMaxAge at `now`). A file that
  // cannot be read is an error naming it; one that does not parse is dropped with a warning (what
  // is lost is learned again, from the default slack).
  static absl::StatusOr<std::unique_ptr<JumpStore>> Open(const std::string& state_dir,
                                                         absl::Time now);

  std::string saved_path() const { return state_dir_ + "/jumps"; }
  // The saved jumps of the domain `uuid`, once: the runner seeds a domain's history with them when
  // it first sees the domain.
  std::optional<policy::Jumps> Take(const std::string& uuid);
  // Writes these (atomically); UNAVAILABLE naming the file when it cannot.
  absl::Status Save(const std::map<std::string, policy::Jumps>& jumps, absl::Time now) const;

  // The file's text for `jumps` at `now`, and back (nothing when it does not parse).
  static std::string Format(const std::map<std::string, policy::Jumps>& jumps, absl::Time now);
  static std::optional<std::map<std::string, policy::Jumps>> Parse(absl::string_view text,
                                                                   absl::Time now);

 private:
  explicit JumpStore(std::string state_dir) : state_dir_(std::move(state_dir)) {}

  const std::string state_dir_;
  std::map<std::string, policy::Jumps> loaded_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_JUMP_STORE_H_
