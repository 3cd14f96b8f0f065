#include "policy/ksm.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;

// A full scan that merged at least this share of the pages it looked at is worth a faster pace;
// under the second share, a slower one (MOM and ksmtuned pace by free memory alone, so ksmd burns
// a core on a host whose guests share nothing).
constexpr double kWorthFaster = 0.01;
constexpr double kWorthLess = 0.001;
// After this many such scans at the slowest pace, ksmd rests this long, then tries again.
constexpr int kIdleScans = 3;
constexpr absl::Duration kRest = absl::Minutes(10);
// The host is nearly short below this many reserves free, and no longer above the second.
constexpr double kNearlyShortReserves = 2.0;
constexpr double kRoomyReserves = 2.5;

std::string Describe(const KsmKnobs& k) {
  switch (k.run) {
    case 0:
      return "stopped";
    case 1:
      return absl::StrCat("running, ", k.pages_to_scan, " pages every ", k.sleep_millisecs, " ms");
    case 2:
      return "unmerging everything";
    default:
      return absl::StrCat("run=", k.run);
  }
}

KsmKnobs Running(int64_t pages_to_scan) { return {1, pages_to_scan, kKsmSleepMillis}; }

// Forgets that balloond manages KSM; keeps what it watched of the saving.
void StopManaging(KsmHistory& h) {
  KsmHistory fresh;
  fresh.watched_since = h.watched_since;
  std::copy(std::begin(h.least), std::end(h.least), std::begin(fresh.least));
  std::copy(std::begin(h.minute_start), std::end(h.minute_start), std::begin(fresh.minute_start));
  fresh.explanation = h.explanation;
  fresh.changed_at = h.changed_at;
  h = fresh;
}

}  // namespace

void KsmHistory::TrackSaving(int64_t saved_bytes, absl::Time now) {
  if (watched_since == absl::InfinitePast()) watched_since = now;
  const int64_t minute = absl::ToUnixSeconds(now) / 60;
  const int i = static_cast<int>(minute % kMinutes);
  const absl::Time start = absl::FromUnixSeconds(minute * 60);
  if (minute_start[i] != start) minute_start[i] = start, least[i] = saved_bytes;
  least[i] = std::min(least[i], saved_bytes);
}

int64_t KsmHistory::LastingSavedBytes(absl::Time now) const {
  if (watched_since == absl::InfinitePast() || now - watched_since < absl::Minutes(kMinutes)) {
    return 0;
  }
  int64_t lasting = -1;
  for (int i = 0; i < kMinutes; ++i) {
    if (now - minute_start[i] >= absl::Minutes(kMinutes)) continue;
    lasting = lasting < 0 ? least[i] : std::min(lasting, least[i]);
  }
  return std::max<int64_t>(0, lasting);
}

KsmOutcome DecideKsm(const v1::HostPolicy& host_policy, bool manages, const HostStanding& standing,
                     const KsmReading& reading, const KsmHistory& history, absl::Time now) {
  KsmOutcome out;
  out.history = history;
  KsmHistory& h = out.history;
  h.TrackSaving(reading.SavedBytes(), now);
  const v1::KsmPolicy& ksm = host_policy.ksm();
  auto change = [&](const KsmKnobs& to, std::string why) {
    if (!h.found) h.found = reading.knobs;
    out.write = to;
    h.set = to;
    h.explanation = std::move(why);
    h.changed_at = now;
  };

  // Left alone: put back what balloond found, if it had changed it.
  const bool mode_off = ksm.mode() == v1::KSM_MODE_OFF;
  if (!manages || mode_off) {
    out.state = v1::KSM_STATE_LEFT_ALONE;
    const std::string why = mode_off ? "host.ksm.mode is off" : "the policy is off";
    if (h.found) {
      KsmKnobs back = *h.found;
      if (ksm.unmerge_when_off()) back.run = 2;
      out.write = back;
      h.explanation = absl::StrCat(
          "KSM put back as balloond found it (", Describe(*h.found), ")",
          back.run == 2 ? ", and unmerged (host.ksm.unmerge_when_off)" : "", ": ", why);
      h.changed_at = now;
      StopManaging(h);
    } else if (h.changed_at == absl::InfinitePast()) {
      h.explanation = absl::StrCat("balloond leaves KSM alone: ", why);
    }
    return out;
  }

  const int64_t max_pace = ksm.max_pages_to_scan();
  const int64_t free = standing.FreeBytes();
  const int64_t reserve = standing.reserve_bytes;
  const bool host_short = standing.Condition() == HostCondition::kShort;
  if (host_short || free < static_cast<int64_t>(kNearlyShortReserves * reserve)) {
    h.nearly_short = true;
  } else if (free >= static_cast<int64_t>(kRoomyReserves * reserve)) {
    h.nearly_short = false;
  }
  const bool always = ksm.mode() == v1::KSM_MODE_ALWAYS;
  const bool wanted = always || h.nearly_short;
  const std::string why_run =
      always       ? "host.ksm.mode is always"
      : host_short ? absl::StrCat("the host is short (", standing.DescribeShort(), ")")
                   : absl::StrCat("the host had ", FormatBytes(free),
                                  " free, under twice its reserve of ", FormatBytes(reserve));

  if (!wanted) {
    // A roomy host again: KSM goes back as balloond found it (what is merged stays merged).
    out.state = v1::KSM_STATE_LEFT_ALONE;
    if (h.found) {
      out.write = *h.found;
      h.explanation = absl::StrCat("KSM put back as balloond found it (", Describe(*h.found),
                                   "): the host has ", FormatBytes(free),
                                   " free, over two and a half times its reserve of ",
                                   FormatBytes(reserve), "; what is merged stays merged");
      h.changed_at = now;
      StopManaging(h);
    } else if (h.changed_at == absl::InfinitePast()) {
      h.explanation = absl::StrCat("balloond leaves KSM alone while the host is roomy (",
                                   FormatBytes(free), " free, its reserve ", FormatBytes(reserve),
                                   "): host.ksm.mode is when-short");
    }
    return out;
  }

  auto start = [&](const std::string& prefix) {
    const int64_t pace =
        std::clamp<int64_t>(host_short ? max_pace : max_pace / 4, kMinKsmPagesToScan, max_pace);
    change(Running(pace), absl::StrCat(prefix, ": ", why_run, " (", Describe(Running(pace)), ")"));
    h.scans_seen = reading.full_scans;
    h.sharing_then = reading.pages_sharing;
    h.scanned_then = reading.pages_scanned;
    h.scan_seen_at = now;
    h.idle_scans = 0;
  };

  if (!h.set) {
    start("ksmd started");
    out.state = v1::KSM_STATE_RUNNING;
    return out;
  }
  if (h.set->run == 0) {
    // Resting after scans that gained nothing.
    if (now < h.resting_until) {
      out.state = v1::KSM_STATE_STOPPED;
      if (reading.knobs != *h.set) {
        change(*h.set,
               absl::StrCat("KSM set back to stopped (someone made it ", Describe(reading.knobs),
                            "): ksmd rests until ",
                            absl::FormatTime("%H:%M:%S", h.resting_until, absl::UTCTimeZone())));
      }
      return out;
    }
    start("ksmd tries again after resting");
    out.state = v1::KSM_STATE_RUNNING;
    return out;
  }
  out.state = v1::KSM_STATE_RUNNING;
  if (reading.knobs != *h.set) {
    change(*h.set, absl::StrCat("KSM set back to ", Describe(*h.set), " (someone made it ",
                                Describe(reading.knobs), "): balloond manages it, ", why_run));
    return out;
  }
  if (reading.full_scans <= h.scans_seen) return out;

  // A full scan ended: pace by what it merged of what it looked at.
  const int64_t scans = std::max<int64_t>(1, reading.full_scans - h.scans_seen);
  const int64_t gained = (reading.pages_sharing - h.sharing_then) / scans;
  int64_t scanned = 0;
  if (reading.pages_scanned && h.scanned_then) {
    scanned = *reading.pages_scanned - *h.scanned_then;
  } else {
    scanned =
        static_cast<int64_t>(absl::ToDoubleSeconds(now - h.scan_seen_at) * 1000.0 /
                             static_cast<double>(std::max<int64_t>(1, h.set->sleep_millisecs)) *
                             static_cast<double>(h.set->pages_to_scan));
  }
  scanned = std::max<int64_t>(1, scanned / scans);
  h.scans_seen = reading.full_scans;
  h.sharing_then = reading.pages_sharing;
  h.scanned_then = reading.pages_scanned;
  h.scan_seen_at = now;
  const double share = static_cast<double>(gained) / static_cast<double>(scanned);
  const std::string merged =
      absl::StrFormat("its last full scan merged %s, %.2f%% of the %s it looked at",
                      FormatBytes(std::max<int64_t>(0, gained) * reading.page_bytes), 100 * share,
                      FormatBytes(scanned * reading.page_bytes));
  const int64_t pace = h.set->pages_to_scan;
  if (share >= kWorthFaster || (host_short && share >= kWorthLess)) {
    h.idle_scans = 0;
    if (pace < max_pace) {
      const int64_t faster = std::min(max_pace, pace * 2);
      change(Running(faster), absl::StrCat("ksmd faster (", pace, " -> ", faster, " pages): ",
                                           merged, host_short ? " and the host is short" : ""));
    }
  } else if (share < kWorthLess) {
    ++h.idle_scans;
    if (pace > kMinKsmPagesToScan) {
      const int64_t slower = std::max<int64_t>(kMinKsmPagesToScan, pace / 2);
      change(Running(slower), absl::StrCat("ksmd slower (", pace, " -> ", slower,
                                           " pages): ", merged, ", under 0.1%"));
    } else if (h.idle_scans >= kIdleScans) {
      h.resting_until = now + kRest;
      change(
          {0, pace, kKsmSleepMillis},
          absl::StrCat("ksmd stopped to rest: its last ", h.idle_scans,
                       " full scans at the slowest pace merged under 0.1% of what they looked at (",
                       merged, "); it tries again in ", absl::FormatDuration(kRest),
                       "; what is merged stays merged"));
      out.state = v1::KSM_STATE_STOPPED;
    }
  } else {
    h.idle_scans = 0;
  }
  return out;
}

}  // namespace balloond::policy
