#ifndef BALLOOND_AGENT_STEERING_RESERVATION_STORE_H_
#define BALLOOND_AGENT_STEERING_RESERVATION_STORE_H_

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/capacity.h"

namespace balloond {

// Room reserved for VMs to come (ReserveMemory), kept in STATE_DIR/reservations.textproto (written
// atomically and durably) so that a restart of balloond keeps them. The policy runner tells the
// store what each cycle judged the host's capacity; the store moves each reservation through its
// states (PENDING, READY, FAILED, EXPIRED, RELEASED, CLAIMED) and says how much the policy must
// keep free. Thread-safe.
class ReservationStore {
 public:
  struct Settings {
    // A reservation that cannot be made fails only after this long (a guest whose statistics are a
    // moment old gives nothing until they are fresh again) ...
    absl::Duration grace = absl::Seconds(10);
    // ... and one not made after this long fails however close it came.
    absl::Duration make_room_timeout = absl::Minutes(2);
    // Ended reservations are listed this long, the newest max_ended of them.
    absl::Duration keep_ended = absl::Hours(1);
    int max_ended = 256;
    int max_alive = 64;
  };
  // Reads the saved reservations; a file that does not parse is an error naming it and its line.
  static absl::StatusOr<std::unique_ptr<ReservationStore>> Open(const std::string& state_dir,
                                                                Settings settings);
  static absl::StatusOr<std::unique_ptr<ReservationStore>> Open(const std::string& state_dir) {
    return Open(state_dir, Settings());
  }
  std::string saved_path() const { return state_dir_ + "/reservations.textproto"; }

  // A new reservation, PENDING (or READY, or FAILED at once when `capacity`, the latest judgement,
  // shows the host can or cannot place it). One that FAILED at once is answered and not kept: it
  // holds nothing, and a client retrying its way through a full host must not fill the store. A
  // request with a request_id that `created_by` already made one with gets that one back, also
  // across a restart. INVALID_ARGUMENT for a size or ttl out of range; RESOURCE_EXHAUSTED past
  // max_alive; UNAVAILABLE when it cannot be saved. `repeat` (if given) tells whether it was such a
  // retry.
  absl::StatusOr<balloon::v1::Reservation> Create(
      const balloon::v1::ReserveMemoryRequest& request, const std::string& created_by,
      const std::optional<policy::HostCapacity>& capacity, bool policy_enforces, absl::Time now,
      bool* repeat = nullptr);
  // Ends it (RELEASED); one that ended already is returned as it is. NOT_FOUND for an unknown id,
  // INVALID_ARGUMENT for one that is not a reservation's id.
  // `ended` (if given) tells whether this call ended it.
  absl::StatusOr<balloon::v1::Reservation> Release(const std::string& id, absl::Time now,
                                                   bool* ended = nullptr);
  absl::StatusOr<balloon::v1::Reservation> Get(const std::string& id) const;
  std::vector<balloon::v1::Reservation> List() const;

  // What the reservations alive at `now` hold: what the policy keeps free for them.
  int64_t ReservedBytes(absl::Time now) const;
  // One policy cycle's news: the capacity it judged (with ReservedBytes counted), the domains it
  // counted in full (all each may hold: a reservation for one of them is CLAIMED, its room being
  // the domain's own from then on), and whether the policy enforces. Expires, claims, and moves
  // PENDING reservations to READY or FAILED. The reservations whose state changed, for the log.
  std::vector<balloon::v1::Reservation> Advance(const policy::HostCapacity& capacity,
                                                const std::set<std::string>& accounted_domains,
                                                bool policy_enforces, absl::Time now);

 private:
  ReservationStore(std::string state_dir, Settings settings)
      : state_dir_(std::move(state_dir)), settings_(settings) {}
  // Writes `next` (dropping what ended more than keep_ended ago, and all but the newest max_ended
  // of the others that ended) and makes it the store's.
  absl::Status Save(std::vector<balloon::v1::Reservation> next, int64_t next_number, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string state_dir_;
  const Settings settings_;
  mutable absl::Mutex mu_;
  std::vector<balloon::v1::Reservation> reservations_ ABSL_GUARDED_BY(mu_);  // oldest first
  int64_t next_number_ ABSL_GUARDED_BY(mu_) = 1;
};

// PENDING and READY reservations hold memory; the others have ended.
bool Alive(const balloon::v1::Reservation& reservation);

// A reservation's id is "r-" and its number; INVALID_ARGUMENT for anything else (such an id is
// never one balloond made).
absl::Status ValidateReservationId(const std::string& id);
// The number of a valid id ("r-12": 12); -1 for an invalid one.
int64_t ReservationNumber(const std::string& id);

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_RESERVATION_STORE_H_
