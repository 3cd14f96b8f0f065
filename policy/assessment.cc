#include "policy/assessment.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "policy/durations.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;

// How long a relieved guest's peak use stays its floor. Guests that never needed relief (idle ones)
// are reclaimed down to their current use at once.
constexpr absl::Duration kPeakWindow = absl::Minutes(5);

double PerSecond(double delta, absl::Duration dt) {
  const double s = absl::ToDoubleSeconds(dt);
  return s > 0 ? delta / s : 0;
}

// Statistics that cannot be true are treated as no statistics at all.
std::string Implausible(const GuestReport& r, const DomainInput& in) {
  if (r.total_bytes <= 0) return "reported no total memory";
  if (r.available_bytes < 0 || r.free_bytes < 0) return "reported negative memory";
  if (r.total_bytes > kMaxMemoryBytes) return "reported more memory than any machine has";
  if (r.available_bytes > r.total_bytes) return "reported more memory available than it has";
  if (r.free_bytes > r.total_bytes) return "reported more memory free than it has";
  if (in.max_memory_bytes > 0 && r.total_bytes > in.max_memory_bytes) {
    return "reported more memory than the domain's maximum";
  }
  return "";
}

void UpdateRates(Assessment& a) {
  const GuestReport& now = *a.input->report;
  if (a.history.rates.last_report && now.last_update > a.history.rates.last_report->last_update) {
    const GuestReport& before = *a.history.rates.last_report;
    // Read sparsely (steady), it is read again because it changed: the change is recent, so the
    // rates are taken over the last period rather than spread over the whole gap.
    const absl::Duration gap = now.last_update - before.last_update;
    const absl::Duration dt =
        a.history.collect_every > 1 ? std::min(gap, a.input->stats_period) : gap;
    const int64_t used_before = before.total_bytes - before.available_bytes;
    a.history.rates.previous_refaults_per_second = RefaultsPerSecond(a.history.rates);
    a.history.rates.known = true;
    a.history.rates.from = before.last_update;
    a.history.rates.used_growth_bytes_per_second =
        PerSecond(static_cast<double>(a.used - used_before), dt);
    a.history.jumps.Add(std::max<int64_t>(0, a.used - used_before), now.last_update);
    a.history.rates.swap_in_bytes_per_second =
        now.swap_in_bytes && before.swap_in_bytes
            ? PerSecond(static_cast<double>(
                            std::max<int64_t>(0, *now.swap_in_bytes - *before.swap_in_bytes)),
                        dt)
            : 0;
    a.history.rates.major_faults_per_second =
        now.major_faults && before.major_faults
            ? PerSecond(static_cast<double>(
                            std::max<int64_t>(0, *now.major_faults - *before.major_faults)),
                        dt)
            : 0;
  }
  if (!a.history.rates.last_report || now.last_update > a.history.rates.last_report->last_update) {
    a.history.rates.last_report = now;
  }
  if (a.history.jumps.watched_since == absl::InfinitePast()) {
    a.history.jumps.watched_since = now.last_update;
  }
}

}  // namespace

Assessment Assess(const v1::Policy& policy, const DomainInput& in, const DomainHistory& history,
                  absl::Time now) {
  Assessment a;
  a.input = &in;
  a.settings = EffectiveDomainPolicy(policy, in.name);
  a.history = history;
  a.held = in.held_until && *in.held_until > now;
  if (!in.actual_bytes) return a;
  a.actual = *in.actual_bytes;
  a.ceiling = std::min(in.max_memory_bytes,
                       a.settings.has_max_bytes() ? a.settings.max_bytes() : in.max_memory_bytes);
  // With autodeflate, the guest's driver takes pages back from the balloon when the guest is about
  // to run out of memory (Linux: 1 MiB per OOM event, before its OOM killer would act): a balloon
  // that grew without a target asking for it is a guest in trouble, not an uncooperative one. It
  // keeps what it took (reclaim waits as after relief). A balloon at rest does not move by itself
  // otherwise, so a single event's MiB counts; one an operator holds moves to the operator's
  // target.
  const int64_t before = std::exchange(a.history.following.last_actual, a.actual);
  const bool asked_to_grow =
      history.following.pending_target && *history.following.pending_target > before;
  if (in.autodeflate && before >= 0 && !asked_to_grow && !a.held && a.actual - before >= kMiB) {
    a.deflated_by_itself = a.actual - before;
    a.history.following.pending_target.reset();
    a.history.backoff.strikes = 0;
    a.history.backoff.until = absl::InfinitePast();
    a.history.relief.at = now;
  }
  a.backing_off = now < a.history.backoff.until;
  a.eligible = in.activity == Activity::kRunning && a.settings.enabled() && !a.backing_off &&
               in.definition_read;

  if (!in.report) {
    a.why_not_fresh = "the guest has not reported statistics";
  } else if (std::string bad = Implausible(*in.report, in); !bad.empty()) {
    a.why_not_fresh = absl::StrCat("the guest ", bad);
  } else {
    a.stats_age = now - in.report->last_update;
    // A steady guest collected every few periods has statistics that many periods older.
    if (a.stats_age >
        in.stats_period * (policy.stale_after_periods() + history.collect_every - 1)) {
      a.why_not_fresh =
          absl::StrCat("the guest's statistics are ",
                       absl::FormatDuration(absl::Trunc(a.stats_age, absl::Seconds(1))), " old");
    } else {
      a.fresh = true;
    }
  }

  const int64_t min = std::min(a.settings.min_bytes(), a.ceiling);
  a.floor = std::max(min, std::min(a.actual, a.ceiling));  // without fresh stats: hold
  if (!a.fresh) return a;

  const GuestReport& r = *in.report;
  a.used = r.total_bytes - r.available_bytes;
  if (a.actual != a.history.following.seen_actual) {
    // First sight (when it last moved is unknown: long ago) or a move since the last cycle.
    a.history.following.actual_since =
        a.history.following.seen_actual < 0 ? absl::InfinitePast() : now;
    a.history.following.seen_actual = a.actual;
  }
  if (r.last_update > a.history.following.actual_since + absl::Seconds(1)) {
    a.history.following.kernel_bytes = std::max<int64_t>(0, a.actual - r.total_bytes);
  }
  a.overhead =
      a.history.following.kernel_bytes.value_or(std::max<int64_t>(0, a.actual - r.total_bytes));
  a.headroom =
      std::max(a.settings.headroom_bytes(),
               static_cast<int64_t>(a.settings.headroom_fraction() * static_cast<double>(a.used)));
  UpdateRates(a);
  const bool recently_relieved = now - a.history.relief.at < kPeakWindow;
  a.history.relief.peak_used =
      recently_relieved ? std::max(a.history.relief.peak_used, a.used) : a.used;
  // What the guest's growing use will take before its next report can be acted on: never more
  // than the guest can hold (a domain's <stats period> may be as long as libvirt allows).
  a.growth_ahead =
      static_cast<int64_t>(std::min(std::max(0.0, a.history.rates.used_growth_bytes_per_second) *
                                        absl::ToDoubleSeconds(2 * in.stats_period),
                                    static_cast<double>(kMaxMemoryBytes)));
  // A growing guest is not shrunk below what it will use by then.
  a.floor = std::clamp(a.history.relief.peak_used + a.headroom + a.overhead + a.growth_ahead, min,
                       a.ceiling);
  // Swapping and faulting measured before the last relief or in the period after it (the guest
  // reads back what it lost, at its disk's pace), or falling by half or more since, say nothing of
  // whether the relief was enough.
  const double refaults = RefaultsPerSecond(a.history.rates);
  const bool rates_settled = a.history.rates.from >= a.history.relief.at + in.stats_period &&
                             !(now - a.history.relief.at < kReliefHold &&
                               refaults <= a.history.rates.previous_refaults_per_second / 2);
  if (r.available_bytes < a.settings.low_watermark_bytes()) {
    a.pressure = true;
    a.pressure_why =
        absl::StrCat(FormatBytes(r.available_bytes), " available, under its low watermark of ",
                     FormatBytes(a.settings.low_watermark_bytes()));
  } else if (r.available_bytes - a.growth_ahead < a.settings.low_watermark_bytes()) {
    a.pressure = true;
    a.pressure_why =
        absl::StrCat(FormatBytes(r.available_bytes),
                     " available and falling fast enough to cross its low watermark of ",
                     FormatBytes(a.settings.low_watermark_bytes()), " before the next report");
  } else if (!rates_settled) {
    // A later report tells whether the last relief was enough: granting now would grant twice.
  } else if (a.history.rates.swap_in_bytes_per_second >
             static_cast<double>(a.settings.swap_in_bytes_per_second())) {
    a.pressure = a.pressure_from_rates = true;
    a.pressure_why = absl::StrCat(
        "swapping in ", FormatBytes(static_cast<int64_t>(a.history.rates.swap_in_bytes_per_second)),
        "/s");
  } else if (a.history.rates.major_faults_per_second > a.settings.major_faults_per_second()) {
    a.pressure = a.pressure_from_rates = true;
    a.pressure_why =
        absl::StrFormat("%.0f major faults/s", a.history.rates.major_faults_per_second);
  } else if (a.growth_ahead > Deadband(policy, a.actual) &&
             r.available_bytes - a.growth_ahead < a.headroom &&
             !a.history.following.pending_target &&
             a.history.following.actual_since <= a.history.rates.from) {
    // MemAvailable counts the page cache, which the guest may be rereading and which stays until
    // the growing use has pushed it out: relief starts when the growth will eat into the
    // headroom, not only when it nears the watermark, while the host can still pay (a storm).
    // Only growth measured while the balloon stood still: one inflating between the two reports
    // shows its pages as use the guest took.
    a.pressure = true;
    a.pressure_why = absl::StrCat(
        FormatBytes(r.available_bytes), " available (page cache among it) and use growing ",
        FormatBytes(static_cast<int64_t>(a.history.rates.used_growth_bytes_per_second)),
        "/s: less than its headroom of ", FormatBytes(a.headroom), " left before the next report");
  }
  // Rates measured wholly after the last relief, and no longer high: that relief was enough.
  if (rates_settled && !a.pressure_from_rates) {
    a.history.relief.rate_reliefs = 0;
  }
  if (a.deflated_by_itself > 0) {
    const std::string why =
        absl::StrCat("its balloon gave back ", FormatBytes(a.deflated_by_itself),
                     " by itself (autodeflate: the guest was running out)");
    a.pressure_why = a.pressure ? absl::StrCat(a.pressure_why, "; ", why) : why;
    a.pressure = true;
  }
  return a;
}

HostInput SaneHost(const HostInput& host) {
  HostInput out = host;
  out.total_bytes = std::clamp<int64_t>(host.total_bytes, 0, kMaxMemoryBytes);
  out.available_bytes = std::clamp<int64_t>(host.available_bytes, 0, kMaxMemoryBytes);
  out.reserved_bytes = std::clamp<int64_t>(host.reserved_bytes, 0, kMaxMemoryBytes);
  out.shared_saved_bytes = std::clamp<int64_t>(host.shared_saved_bytes, 0, kMaxMemoryBytes);
  out.shared_lasting_bytes =
      std::clamp<int64_t>(host.shared_lasting_bytes, 0, out.shared_saved_bytes);
  return out;
}

std::vector<DomainInput> SaneDomains(const std::vector<DomainInput>& domains) {
  std::vector<DomainInput> out = domains;
  for (DomainInput& d : out) {
    d.max_memory_bytes = std::clamp<int64_t>(d.max_memory_bytes, 0, kMaxMemoryBytes);
    if (d.actual_bytes && (*d.actual_bytes < 0 || *d.actual_bytes > kMaxMemoryBytes)) {
      d.actual_bytes.reset();
    }
    if (d.resident_bytes && (*d.resident_bytes < 0 || *d.resident_bytes > kMaxMemoryBytes)) {
      d.resident_bytes.reset();
    }
  }
  return out;
}

int64_t MayHoldBytes(const Assessment& a) {
  const DomainInput& in = *a.input;
  if (!in.actual_bytes) return in.max_memory_bytes;
  int64_t may_hold = a.actual;
  if (in.hotplug) {
    may_hold += std::max<int64_t>(0, in.hotplug->requested_bytes - in.hotplug->plugged_bytes);
  }
  may_hold = std::max(may_hold, a.history.following.pending_target.value_or(0));
  if (a.held && in.held_target_bytes) may_hold = std::max(may_hold, *in.held_target_bytes);
  return std::clamp<int64_t>(may_hold, 0, std::max(in.max_memory_bytes, a.actual));
}

int64_t UnbackedBytes(const Assessment& a) {
  // Not known yet (a domain that has just started): all of it, or its room would be promised
  // twice, to it and to a reservation.
  const int64_t resident = a.input->resident_bytes.value_or(0);
  return std::clamp<int64_t>(MayHoldBytes(a) - resident, 0, kMaxMemoryBytes);
}

DonorBlock WhyNotDonor(const Assessment& a, absl::Time now) {
  if (!a.input->actual_bytes) return DonorBlock::kNoBalloon;
  if (a.input->activity != Activity::kRunning) return DonorBlock::kNotRunning;
  if (!a.settings.enabled()) return DonorBlock::kDisabled;
  if (!a.input->definition_read) return DonorBlock::kDefinitionUnread;
  if (a.backing_off) return DonorBlock::kBackingOff;
  if (a.held) return DonorBlock::kHeld;
  if (!a.fresh) return DonorBlock::kStale;
  if (a.pressure) return DonorBlock::kPressure;
  if (now - a.history.relief.at < kReliefHold) return DonorBlock::kJustRelieved;
  return DonorBlock::kNone;
}

absl::string_view Describe(DonorBlock block) {
  switch (block) {
    case DonorBlock::kNone:
      return "";
    case DonorBlock::kNoBalloon:
      return "it has no balloon";
    case DonorBlock::kNotRunning:
      return "it is not running";
    case DonorBlock::kDisabled:
      return "its policy is disabled";
    case DonorBlock::kDefinitionUnread:
      return "its definition has not been read yet";
    case DonorBlock::kBackingOff:
      return "its balloon did not follow its last target";
    case DonorBlock::kHeld:
      return "an operator holds it";
    case DonorBlock::kStale:
      return "its statistics are not fresh";
    case DonorBlock::kPressure:
      return "it is under pressure";
    case DonorBlock::kJustRelieved:
      return "it was just given memory for pressure";
  }
  return "";
}

v1::DecisionInputs Inputs(const Assessment& a, const HostInput& host, int64_t host_reserve) {
  v1::DecisionInputs in;
  if (a.input->report) {
    in.set_guest_total_bytes(a.input->report->total_bytes);
    in.set_guest_available_bytes(a.input->report->available_bytes);
    if (a.fresh) in.set_guest_used_bytes(a.used);
    *in.mutable_stats_age() = ToProtoDuration(a.stats_age);
  }
  in.set_headroom_bytes(a.headroom);
  in.set_floor_bytes(a.floor);
  in.set_ceiling_bytes(a.ceiling);
  in.set_host_available_bytes(host.available_bytes);
  in.set_host_reserve_bytes(host_reserve);
  in.set_used_growth_bytes_per_second(a.history.rates.used_growth_bytes_per_second);
  in.set_swap_in_bytes_per_second(a.history.rates.swap_in_bytes_per_second);
  in.set_major_faults_per_second(a.history.rates.major_faults_per_second);
  return in;
}

JumpSlack JumpSlackOf(const Assessment& a, absl::Time now) {
  constexpr int64_t kLeast = 64 * kMiB;
  const DomainHistory& m = a.history;
  const int64_t largest = m.jumps.Largest(now);
  const bool learned =
      now - m.jumps.watched_since >= FromProtoDuration(a.settings.probe_slack_learn());
  JumpSlack slack;
  if (learned) {
    slack.bytes = std::max(kLeast, largest + largest / 4);
    slack.why = absl::StrCat("its largest jump in a day ", FormatBytes(largest), " and a quarter");
  } else {
    slack.bytes =
        std::max(largest, static_cast<int64_t>(a.settings.probe_slack_fraction() *
                                               static_cast<double>(a.input->max_memory_bytes)));
    slack.why = absl::StrFormat("%.0f%% of its maximum until its jumps are known",
                                100 * a.settings.probe_slack_fraction());
  }
  const bool can_plug =
      a.input->hotplug && a.input->hotplug->size_bytes > a.input->hotplug->requested_bytes;
  if (a.input->autodeflate || can_plug) {
    slack.bytes /= 2;
    absl::StrAppend(&slack.why, ", halved: ", a.input->autodeflate ? "autodeflate" : "virtio-mem",
                    " catches a jump");
  }
  return slack;
}

}  // namespace balloond::policy
