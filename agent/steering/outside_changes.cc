#include "agent/steering/outside_changes.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/steering/memory_actuator.h"
#include "policy/durations.h"
#include "policy/sizes.h"

namespace balloond {

namespace v1 = balloon::v1;

namespace {

// QEMU counts whole pages and libvirt KiB: smaller differences are no move.
int64_t Tolerance(int64_t bytes) { return std::max<int64_t>(2 * kMiB, bytes / 100); }

std::string TimeOfDay(absl::Time t) {
  return absl::FormatTime("%H:%M:%S UTC", t, absl::UTCTimeZone());
}

std::string Describe(const OutsideChanges::Change& c) {
  return absl::StrCat(
      "balloon changed from outside balloond: ", FormatBytes(c.from_bytes), " \u2192 ",
      FormatBytes(c.to_bytes),
      c.expected_bytes ? absl::StrCat(" (balloond last set ", FormatBytes(*c.expected_bytes), ")")
                       : " (balloond had not set it)",
      "; virsh setmem, another agent (MOM) or a second balloond?");
}

bool SameHold(const v1::Hold& a, const v1::Hold& b) {
  return a.target_bytes() == b.target_bytes() && a.until().seconds() == b.until().seconds();
}

}  // namespace

void OutsideChanges::Expect(const std::string& uuid, int64_t target_bytes) {
  absl::MutexLock lock(&mu_);
  auto it = watched_.find(uuid);
  if (it == watched_.end()) return;
  it->second.expected = target_bytes;
  it->second.quiet_until = absl::InfinitePast();  // a move away from this one is a new change
}

void OutsideChanges::OnSnapshot(const DomainSnapshot& snap) {
  if (!snap.actual_bytes) return;
  const absl::Time now = parts_.clock.Now();
  const int64_t actual = *snap.actual_bytes;
  std::optional<Change> change;
  {
    absl::MutexLock lock(&mu_);
    Watched& w = watched_[snap.info.uuid];
    if (w.id != snap.info.id) {  // a new run (or the first sight): its balloon is where it starts
      w = Watched{snap.info.id, now, actual, std::nullopt, absl::InfinitePast(), {}};
      recent_.erase(snap.info.uuid);
      return;
    }
    const int64_t before = std::exchange(w.last_bytes, actual);
    // Booting (the driver inflates to <currentMemory>), or in a job of libvirt's (a migration).
    if (now - w.started < kSettling || snap.migrating) return;
    const int64_t moved = actual - before;
    if (std::llabs(moved) <= Tolerance(before)) {
      w.last_bytes = before;  // small steps add up: a slow drift is seen once it is a move
      return;
    }
    // Deflate-on-OOM: the guest took pages back itself (the autodeflate event says so).
    if (moved > 0 && snap.config && snap.config->autodeflate) return;
    if (w.expected) {
      const int64_t target = *w.expected;
      const bool closer = std::llabs(actual - target) < std::llabs(before - target);
      const bool past = (before - target > 0) != (actual - target > 0) &&
                        std::llabs(actual - target) > Tolerance(target);
      if (closer && !past) return;  // balloond's own move, on its way
    }
    if (now < w.quiet_until) return;  // the same change, still moving
    w.quiet_until = now + absl::Seconds(30);
    Change c{snap.info.name, snap.info.uuid, before, actual, w.expected, now, std::nullopt, 0};
    w.expected.reset();  // balloond's target is gone: QEMU goes where the other one said
    if (auto hold = parts_.holds.Find(snap.info.uuid, now);
        hold && std::llabs(actual - hold->target_bytes()) > Tolerance(hold->target_bytes())) {
      while (!w.breaks.empty() && now - w.breaks.front() > absl::Minutes(10)) w.breaks.pop_front();
      w.breaks.push_back(now);
      c.broken_hold = *hold;
      c.recent_breaks = static_cast<int>(w.breaks.size());
      broken_.push_back(c);
    }
    recent_[snap.info.uuid] = c;
    ++total_;
    change = std::move(c);
  }
  v1::Event event = DomainEvent(
      v1::EVENT_KIND_BALLOON_CHANGED_OUTSIDE, change->name, change->uuid,
      absl::StrCat(Describe(*change),
                   change->broken_hold
                       ? absl::StrCat("; it broke the hold at ",
                                      FormatBytes(change->broken_hold->target_bytes()), " set by ",
                                      change->broken_hold->set_by(),
                                      ", which the policy's next cycle re-applies or releases "
                                      "(policy on_hold_broken)")
                       : ""));
  event.set_bytes(change->to_bytes);
  parts_.events.Announce(std::move(event));
}

void OutsideChanges::OnRemoved(const DomainSnapshot& last) {
  absl::MutexLock lock(&mu_);
  watched_.erase(last.info.uuid);
  recent_.erase(last.info.uuid);
}

std::optional<OutsideChanges::Change> OutsideChanges::Recent(const std::string& uuid) const {
  absl::MutexLock lock(&mu_);
  auto it = recent_.find(uuid);
  if (it == recent_.end() || parts_.clock.Now() - it->second.when > kShown) return std::nullopt;
  return it->second;
}

std::string OutsideChanges::Problem(const Change& c) {
  return absl::StrCat("balloon changed from outside balloond at ", TimeOfDay(c.when), ": ",
                      FormatBytes(c.from_bytes), " \u2192 ", FormatBytes(c.to_bytes),
                      c.broken_hold ? " (it broke a hold)" : "");
}

uint64_t OutsideChanges::total() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

void OutsideChanges::ActOnBrokenHolds(Hypervisor& hypervisor,
                                      const std::map<std::string, DomainSnapshot>& domains,
                                      v1::HoldBreakAction action, absl::Time deadline) {
  std::vector<Change> broken;
  {
    absl::MutexLock lock(&mu_);
    broken.swap(broken_);
  }
  const absl::Time now = parts_.clock.Now();
  for (const Change& c : broken) {
    const v1::Hold& hold = *c.broken_hold;
    // Released, replaced or ended since: nothing of it left to act on.
    const auto current = parts_.holds.Find(c.uuid, now);
    auto snap = domains.find(c.uuid);
    if (!current || !SameHold(*current, hold) || snap == domains.end()) continue;
    const std::string at = FormatBytes(hold.target_bytes());
    const bool fight = c.recent_breaks >= 3;
    if (action == v1::HOLD_BREAK_ACTION_RELEASE || fight) {
      if (!parts_.holds.Release(c.uuid, now).ok()) continue;  // the next break tries again
      v1::Event event = DomainEvent(
          v1::EVENT_KIND_HOLD_RELEASED, c.name, c.uuid,
          absl::StrCat("hold at ", at, " set by ", hold.set_by(),
                       " released: broken from outside (", FormatBytes(c.to_bytes), " now)",
                       fight ? absl::StrCat(", ", c.recent_breaks,
                                            " times in ten minutes: something keeps moving this "
                                            "balloon, and balloond does not fight it")
                             : "; policy on_hold_broken=release"));
      event.set_bytes(hold.target_bytes());
      parts_.events.Announce(std::move(event));
      continue;
    }
    Expect(c.uuid, hold.target_bytes());
    const absl::Status sent = SendTotal(hypervisor, snap->second, hold.target_bytes(), deadline);
    v1::Event event = DomainEvent(
        v1::EVENT_KIND_TARGET_SET, c.name, c.uuid,
        sent.ok() ? absl::StrCat("balloon target set to ", at, " (was ", FormatBytes(c.to_bytes),
                                 ") by balloond: the hold set by ", hold.set_by(),
                                 " was broken from outside and is re-applied (policy "
                                 "on_hold_broken=reapply)")
                  : absl::StrCat(
                        "the hold at ", at,
                        " was broken from outside and could not be re-applied: ", sent.message()));
    event.set_bytes(hold.target_bytes());
    parts_.events.Announce(std::move(event));
  }
}

}  // namespace balloond
