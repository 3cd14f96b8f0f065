#include "agent/steering/reservation_store.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/base/error_reason.h"
#include "agent/base/files.h"
#include "balloon/v1/config.pb.h"
#include "policy/durations.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond {

namespace v1 = balloon::v1;

namespace {

constexpr absl::Duration kDefaultTtl = absl::Minutes(10);
// Ids have at most 15 digits (ReservationNumber).
constexpr int64_t kMaxNextNumber = 999999999999999;

void MoveTo(v1::Reservation& r, v1::ReservationState state, std::string why, absl::Time now) {
  r.set_state(state);
  r.set_explanation(std::move(why));
  *r.mutable_state_time() = ToProtoTimestamp(now);
}

absl::Status CheckDomainName(const std::string& name) {
  if (name.size() > 255) return absl::InvalidArgumentError("domain: longer than 255 characters");
  for (char c : name) {
    if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("domain: holds a control character");
    }
  }
  return absl::OkStatus();
}

// How the host stands toward `bytes` more: for a reservation's explanation.
std::string Standing(int64_t room, const policy::HostCapacity& c, bool policy_enforces) {
  return absl::StrCat(
      FormatBytes(std::max<int64_t>(0, room)), " available beyond the host's reserve of ",
      FormatBytes(c.reserve_bytes), ", what guests were given and have not touched (",
      FormatBytes(c.unbacked_bytes), "), the room the guests' jumps need (",
      FormatBytes(c.jump_room_bytes), ") and earlier reservations, ",
      policy_enforces ? absl::StrCat(FormatBytes(c.reclaimable_bytes),
                                     " reclaimable from guests without putting one under pressure")
                      : "and the policy does not enforce, so it takes nothing back from guests");
}

}  // namespace

bool Alive(const v1::Reservation& r) {
  return r.state() == v1::RESERVATION_STATE_PENDING || r.state() == v1::RESERVATION_STATE_READY;
}

absl::Status ValidateReservationId(const std::string& id) {
  if (ReservationNumber(id) > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("\"", absl::CHexEscape(id.substr(0, 40)),
                   "\" is not a reservation's id: balloond names them r-1, r-2, ..."));
}

int64_t ReservationNumber(const std::string& id) {
  constexpr size_t kMaxDigits = 15;  // below 2^53: any client's JSON number holds it
  absl::string_view digits = id;
  if (!absl::ConsumePrefix(&digits, "r-") || digits.empty() || digits.size() > kMaxDigits ||
      digits[0] == '0' || !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit)) {
    return -1;
  }
  int64_t number = 0;
  return absl::SimpleAtoi(digits, &number) ? number : -1;
}

namespace {

// A saved reservation is one the API could have made, in a state it could have reached.
absl::Status CheckSaved(const v1::Reservation& r, int64_t next_number) {
  const int64_t number = ReservationNumber(r.id());
  if (number <= 0 || number >= next_number) {
    return absl::InvalidArgumentError(absl::StrCat("reservation id \"", absl::CHexEscape(r.id()),
                                                   "\" is not r-N with N below next_number ",
                                                   next_number));
  }
  if (r.bytes() <= 0 || r.bytes() > policy::kMaxMemoryBytes || r.made_bytes() < 0 ||
      r.made_bytes() > r.bytes()) {
    return absl::InvalidArgumentError(
        absl::StrCat(r.id(), ": bytes ", r.bytes(), " and made_bytes ", r.made_bytes(),
                     " are not within (0, ", policy::kMaxMemoryBytes, "]"));
  }
  if (!v1::ReservationState_IsValid(r.state()) || r.state() == v1::RESERVATION_STATE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(r.id(), ": state ", r.state(), " is not one"));
  }
  for (const auto& [field, time] :
       {std::pair{"create_time", &r.create_time()}, std::pair{"expire_time", &r.expire_time()},
        std::pair{"state_time", &r.state_time()}}) {
    if (absl::Status s = CheckTimestamp(*time, absl::StrCat(r.id(), "'s ", field)); !s.ok()) {
      return s;
    }
  }
  if (FromProtoTimestamp(r.expire_time()) - FromProtoTimestamp(r.create_time()) >
      policy::kMaxHold) {
    return absl::InvalidArgumentError(absl::StrCat(r.id(), ": it lasts longer than a ttl may (",
                                                   absl::FormatDuration(policy::kMaxHold), ")"));
  }
  return CheckDomainName(r.domain());
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReservationStore>> ReservationStore::Open(
    const std::string& state_dir, Settings settings) {
  std::unique_ptr<ReservationStore> store(new ReservationStore(state_dir, settings));
  if (absl::Status s = EnsureDirectory(state_dir, "state directory"); !s.ok()) return s;
  auto text = ReadSavedState(store->saved_path(), "the reservations made through the API");
  if (!text.ok()) return text.status();
  if (!*text) return store;  // none saved yet
  v1::SavedReservations saved;
  if (absl::Status s = ParseTextFormat(**text, store->saved_path(), saved); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(s.message(), " (the reservations made through the API; fix or remove it)"));
  }
  if (saved.next_number() < 1 || saved.next_number() > kMaxNextNumber) {
    return absl::InvalidArgumentError(absl::StrCat(store->saved_path(), ": next_number ",
                                                   saved.next_number(), " is not within [1, ",
                                                   kMaxNextNumber, "] (fix or remove the file)"));
  }
  int alive = 0;
  for (const v1::Reservation& r : saved.reservations()) {
    if (absl::Status s = CheckSaved(r, saved.next_number()); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(store->saved_path(), ": ", s.message(), " (fix or remove the file)"));
    }
    if (Alive(r)) ++alive;
  }
  if (alive > settings.max_alive) {
    return absl::InvalidArgumentError(
        absl::StrCat(store->saved_path(), ": ", alive, " reservations alive, more than the ",
                     settings.max_alive, " balloond keeps (fix or remove the file)"));
  }
  absl::MutexLock lock(&store->mu_);
  store->reservations_.assign(saved.reservations().begin(), saved.reservations().end());
  std::sort(store->reservations_.begin(), store->reservations_.end(),
            [](const v1::Reservation& a, const v1::Reservation& b) {
              return ReservationNumber(a.id()) < ReservationNumber(b.id());
            });
  store->next_number_ = saved.next_number();
  return store;
}

absl::Status ReservationStore::Save(std::vector<v1::Reservation> next, int64_t next_number,
                                    absl::Time now) {
  // What ended leaves after keep_ended, and beyond the newest max_ended (the vector is oldest
  // first): the file, rewritten at each change, stays bounded.
  int ended_newer = 0;
  std::vector<v1::Reservation> kept;
  for (auto it = next.rbegin(); it != next.rend(); ++it) {
    const bool stays =
        Alive(*it) || (ended_newer++ < settings_.max_ended &&
                       now - FromProtoTimestamp(it->state_time()) <= settings_.keep_ended);
    if (stays) kept.push_back(std::move(*it));
  }
  next.assign(std::make_move_iterator(kept.rbegin()), std::make_move_iterator(kept.rend()));
  v1::SavedReservations saved;
  for (const v1::Reservation& r : next) *saved.add_reservations() = r;
  saved.set_next_number(next_number);
  if (absl::Status s = SaveTextProto(saved_path(), saved, "the reservations"); !s.ok()) return s;
  reservations_ = std::move(next);
  next_number_ = next_number;
  return absl::OkStatus();
}

absl::StatusOr<v1::Reservation> ReservationStore::Create(
    const v1::ReserveMemoryRequest& request, const std::string& created_by,
    const std::optional<policy::HostCapacity>& capacity, bool policy_enforces, absl::Time now,
    bool* repeat) {
  if (repeat != nullptr) *repeat = false;
  if (request.bytes() <= 0 || request.bytes() > policy::kMaxMemoryBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("bytes must be in (0, ", policy::kMaxMemoryBytes, "], got ", request.bytes()));
  }
  absl::Duration ttl = kDefaultTtl;
  if (request.has_ttl()) {
    auto checked = DurationInRange(request.ttl(), "ttl", absl::Seconds(1), policy::kMaxHold);
    if (!checked.ok()) return checked.status();
    ttl = *checked;
  }
  if (absl::Status s = CheckDomainName(request.domain()); !s.ok()) return s;

  absl::MutexLock lock(&mu_);
  // A retry of a request that made one (the ledger forgets across a restart; the store does not).
  if (!request.request_id().empty()) {
    for (const v1::Reservation& made : reservations_) {
      if (made.request_id() == request.request_id() && made.created_by() == created_by) {
        if (repeat != nullptr) *repeat = true;
        return made;
      }
    }
  }
  const int alive =
      static_cast<int>(std::count_if(reservations_.begin(), reservations_.end(),
                                     [](const v1::Reservation& r) { return Alive(r); }));
  if (alive >= settings_.max_alive) {
    return WithReason(
        absl::ResourceExhaustedError(absl::StrCat("balloond keeps at most ", settings_.max_alive,
                                                  " reservations alive; release one (balloonctl "
                                                  "reservations release ID) or let one expire")),
        "LIMIT_EXCEEDED", {{"setting", "reservations alive"}});
  }
  if (next_number_ > kMaxNextNumber) {
    return absl::ResourceExhaustedError("balloond has given out every reservation id it can");
  }
  v1::Reservation r;
  r.set_id(absl::StrCat("r-", next_number_));
  r.set_bytes(request.bytes());
  r.set_domain(request.domain());
  r.set_created_by(created_by);
  r.set_request_id(request.request_id());
  *r.mutable_create_time() = ToProtoTimestamp(now);
  *r.mutable_expire_time() = ToProtoTimestamp(now + ttl);
  MoveTo(r, v1::RESERVATION_STATE_PENDING,
         "making room: the policy takes memory back from the guests that need it least", now);
  if (capacity) {
    int64_t held = 0;
    for (const v1::Reservation& other : reservations_) {
      if (Alive(other)) held += other.bytes();
    }
    const int64_t room = policy::RoomBeyondReserve(*capacity) - held;
    // What placeable_bytes offers: not the room the guests' jumps need.
    const int64_t possible =
        room - capacity->jump_room_bytes + (policy_enforces ? capacity->reclaimable_bytes : 0);
    if (possible < r.bytes()) {
      r.set_made_bytes(std::clamp<int64_t>(possible, 0, r.bytes()));
      MoveTo(r, v1::RESERVATION_STATE_FAILED,
             absl::StrCat("the host can make only ", FormatBytes(r.made_bytes()), " of ",
                          FormatBytes(r.bytes()), ": ", Standing(room, *capacity, policy_enforces)),
             now);
    } else if (room >= r.bytes()) {
      r.set_made_bytes(r.bytes());
      MoveTo(r, v1::RESERVATION_STATE_READY,
             absl::StrCat("the room was there: ", Standing(room, *capacity, policy_enforces)), now);
    } else {
      r.set_made_bytes(std::max<int64_t>(0, room));
    }
  }
  if (r.state() == v1::RESERVATION_STATE_FAILED) {
    ++next_number_;  // saved with the next change: an id answered is not given again this run
    return r;
  }
  std::vector<v1::Reservation> next = reservations_;
  next.push_back(r);
  if (absl::Status s = Save(std::move(next), next_number_ + 1, now); !s.ok()) return s;
  return r;
}

absl::StatusOr<v1::Reservation> ReservationStore::Release(const std::string& id, absl::Time now,
                                                          bool* ended) {
  if (absl::Status s = ValidateReservationId(id); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (ended != nullptr) *ended = false;
  auto it = std::find_if(reservations_.begin(), reservations_.end(),
                         [&](const v1::Reservation& r) { return r.id() == id; });
  if (it == reservations_.end()) {
    return WithReason(absl::NotFoundError(absl::StrCat("no reservation \"", id,
                                                       "\" (balloonctl reservations "
                                                       "lists them; ended ones are kept an hour)")),
                      "RESERVATION_NOT_FOUND", {{"id", id}});
  }
  if (!Alive(*it)) return *it;
  std::vector<v1::Reservation> next = reservations_;
  v1::Reservation& r = next[static_cast<size_t>(it - reservations_.begin())];
  MoveTo(r, v1::RESERVATION_STATE_RELEASED, "released: its room goes back to the guests", now);
  const v1::Reservation released = r;
  if (absl::Status s = Save(std::move(next), next_number_, now); !s.ok()) return s;
  if (ended != nullptr) *ended = true;
  return released;
}

absl::StatusOr<v1::Reservation> ReservationStore::Get(const std::string& id) const {
  if (absl::Status s = ValidateReservationId(id); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  for (const v1::Reservation& r : reservations_) {
    if (r.id() == id) return r;
  }
  return WithReason(absl::NotFoundError(absl::StrCat("no reservation \"", id, "\"")),
                    "RESERVATION_NOT_FOUND", {{"id", id}});
}

std::vector<v1::Reservation> ReservationStore::List() const {
  absl::MutexLock lock(&mu_);
  return reservations_;
}

int64_t ReservationStore::ReservedBytes(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  int64_t held = 0;
  for (const v1::Reservation& r : reservations_) {
    if (Alive(r) && FromProtoTimestamp(r.expire_time()) > now) held += r.bytes();
  }
  return held;
}

std::vector<v1::Reservation> ReservationStore::Advance(const policy::HostCapacity& c,
                                                       const std::set<std::string>& accounted,
                                                       bool policy_enforces, absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Reservation> next = reservations_;
  std::vector<v1::Reservation> changed;
  // Room beyond the reserve goes to the reservations in the order they were made; what the policy
  // could still reclaim counts toward those not made yet.
  int64_t room = policy::RoomBeyondReserve(c);
  int64_t possible = room + (policy_enforces ? c.reclaimable_bytes : 0);
  for (v1::Reservation& r : next) {
    if (!Alive(r)) continue;
    const v1::ReservationState was = r.state();
    if (FromProtoTimestamp(r.expire_time()) <= now) {
      MoveTo(r, v1::RESERVATION_STATE_EXPIRED,
             "expired: its ttl passed; its room goes back to the guests", now);
    } else if (!r.domain().empty() && accounted.count(r.domain()) > 0) {
      MoveTo(r, v1::RESERVATION_STATE_CLAIMED,
             absl::StrCat("claimed: domain ", r.domain(), " started and uses the room"), now);
    } else {
      const int64_t standing_room = room;
      const int64_t made = std::clamp<int64_t>(room, 0, r.bytes());
      const int64_t can = std::clamp<int64_t>(possible, 0, r.bytes());
      room -= r.bytes();
      possible -= r.bytes();
      r.set_made_bytes(made);
      const absl::Duration pending_for = now - FromProtoTimestamp(r.create_time());
      if (r.state() == v1::RESERVATION_STATE_PENDING) {
        if (made >= r.bytes()) {
          MoveTo(r, v1::RESERVATION_STATE_READY,
                 absl::StrCat("room made in ",
                              absl::FormatDuration(absl::Trunc(pending_for, absl::Seconds(1))),
                              ": ", Standing(standing_room, c, policy_enforces)),
                 now);
        } else if (can < r.bytes() && pending_for >= settings_.grace) {
          r.set_made_bytes(can);
          MoveTo(r, v1::RESERVATION_STATE_FAILED,
                 absl::StrCat("the host can make only ", FormatBytes(can), " of ",
                              FormatBytes(r.bytes()), ": ",
                              Standing(standing_room, c, policy_enforces)),
                 now);
        } else if (pending_for >= settings_.make_room_timeout) {
          MoveTo(r, v1::RESERVATION_STATE_FAILED,
                 absl::StrCat("room not made within ",
                              absl::FormatDuration(settings_.make_room_timeout), ": ",
                              FormatBytes(made), " of ", FormatBytes(r.bytes()), "; ",
                              Standing(standing_room, c, policy_enforces)),
                 now);
        }
      } else if (made < r.bytes()) {
        // READY, and part of its room is gone: relief gave it to a guest about to run out, or
        // something outside balloond's guests took it. It stays reserved; the policy makes room
        // again as guests allow.
        r.set_explanation(absl::StrCat("ready, but only ", FormatBytes(made),
                                       " of it is free now (relief for a guest about "
                                       "to run out of memory comes first); ",
                                       Standing(standing_room, c, policy_enforces)));
      } else if (absl::StartsWith(r.explanation(), "ready, but only")) {
        r.set_explanation("ready: all of its room is free again");
      }
    }
    if (r.state() != was) changed.push_back(r);
  }
  if (changed.empty()) {
    reservations_ = std::move(next);  // made_bytes and explanations: not worth a write
  } else if (absl::Status s = Save(std::move(next), next_number_, now); !s.ok()) {
    return {};  // not saved: the same changes are found again at the next cycle
  }
  return changed;
}

}  // namespace balloond
