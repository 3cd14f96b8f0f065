#include "policy/policy.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;
using google::protobuf::util::TimeUtil;

constexpr int64_t kMiB = 1024 * 1024;
// More memory than any host this runs on has: larger sizes are refused in settings and treated as
// lies in reports, so that no sum of sizes can overflow.
constexpr int64_t kMaxMemoryBytes = int64_t{1} << 50;  // 1 PiB
constexpr absl::Duration kBaseBackoff = absl::Seconds(30);
// A guest just relieved keeps what it got this long even on a short host: its inputs settle
// (growth stops, rates fall) and taking memory straight back would be a flip-flop.
constexpr absl::Duration kReliefHold = absl::Seconds(30);
// How long a relieved guest's peak use stays its floor. Guests that never needed relief (idle ones)
// are reclaimed down to their current use at once.
constexpr absl::Duration kPeakWindow = absl::Minutes(5);

// Defaults, in one place; README's policy table mirrors them.
v1::DomainPolicy DefaultDomainPolicy() {
  v1::DomainPolicy d;
  d.set_enabled(true);
  d.set_min_bytes(128 * kMiB);
  d.set_shares(1000);
  d.set_headroom_bytes(128 * kMiB);
  d.set_headroom_fraction(0.15);
  d.set_low_watermark_bytes(64 * kMiB);
  d.set_swap_in_bytes_per_second(1 * kMiB);
  d.set_major_faults_per_second(200);
  return d;
}

v1::HostPolicy DefaultHostPolicy() {
  v1::HostPolicy h;
  h.set_reserve_bytes(1024 * kMiB);
  // Reclaim starts where MOM's does (20% free) and Proxmox aims (80% used): balloond can afford it
  // because it never goes below use + headroom and relieves a guest within a cycle.
  h.set_reserve_fraction(0.2);
  h.set_pressure_threshold(20);
  // Well under the reclaim level, so reclaim and give-back never take turns.
  h.set_target_used_fraction(0.6);
  h.set_min_available_bytes(256 * kMiB);
  return h;
}

std::string MiB(int64_t bytes) {
  const double mib = static_cast<double>(bytes) / kMiB;
  if (std::abs(mib) >= 10240) return absl::StrFormat("%.1f GiB", mib / 1024);
  return absl::StrFormat("%.0f MiB", mib);
}

// Everything the policy works out about one domain in one cycle.
struct Assessment {
  const DomainInput* input = nullptr;
  v1::DomainPolicy settings;
  DomainMemory memory;
  bool eligible = false;  // running, enabled, with a balloon, not backing off
  bool backing_off = false;
  bool fresh = false;  // statistics recent and believable
  std::string why_not_fresh;
  int64_t actual = 0;
  int64_t used = 0;
  int64_t overhead = 0;  // what QEMU gives the guest beyond its MemTotal (kernel reservations)
  int64_t headroom = 0;
  int64_t floor = 0;         // never below: max(min, used + headroom)
  int64_t ceiling = 0;       // never above
  int64_t growth_ahead = 0;  // use expected to be added before the next report is acted on
  bool pressure = false;
  bool pressure_from_rates = false;  // swapping or faulting, not short of MemAvailable
  std::string pressure_why;
  absl::Duration stats_age = absl::ZeroDuration();
  int64_t target = 0;
  v1::DecisionReason reason = v1::DECISION_REASON_UNSPECIFIED;
  std::string explanation;
};

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
  if (a.memory.last_report && now.last_update > a.memory.last_report->last_update) {
    const GuestReport& before = *a.memory.last_report;
    const absl::Duration dt = now.last_update - before.last_update;
    const int64_t used_before = before.total_bytes - before.available_bytes;
    a.memory.used_growth_bytes_per_second =
        PerSecond(static_cast<double>(a.used - used_before), dt);
    a.memory.swap_in_bytes_per_second =
        now.swap_in_bytes && before.swap_in_bytes
            ? PerSecond(static_cast<double>(
                            std::max<int64_t>(0, *now.swap_in_bytes - *before.swap_in_bytes)),
                        dt)
            : 0;
    a.memory.major_faults_per_second =
        now.major_faults && before.major_faults
            ? PerSecond(static_cast<double>(
                            std::max<int64_t>(0, *now.major_faults - *before.major_faults)),
                        dt)
            : 0;
  }
  if (!a.memory.last_report || now.last_update > a.memory.last_report->last_update) {
    a.memory.last_report = now;
  }
}

Assessment Assess(const v1::Policy& policy, const DomainInput& in, const DomainMemory& memory,
                  absl::Time now) {
  Assessment a;
  a.input = &in;
  a.settings = EffectiveDomainPolicy(policy, in.name);
  a.memory = memory;
  if (!in.actual_bytes) return a;
  a.actual = *in.actual_bytes;
  a.ceiling = std::min(in.max_memory_bytes,
                       a.settings.has_max_bytes() ? a.settings.max_bytes() : in.max_memory_bytes);
  a.backing_off = now < memory.backoff_until;
  a.eligible = in.activity == Activity::kRunning && a.settings.enabled() && !a.backing_off;

  if (!in.report) {
    a.why_not_fresh = "the guest has not reported statistics";
  } else if (std::string bad = Implausible(*in.report, in); !bad.empty()) {
    a.why_not_fresh = absl::StrCat("the guest ", bad);
  } else {
    a.stats_age = now - in.report->last_update;
    const int periods = policy.has_stale_after_periods() ? policy.stale_after_periods() : 3;
    if (a.stats_age > in.stats_period * periods) {
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
  if (a.actual != a.memory.seen_actual) {
    // First sight (when it last moved is unknown: long ago) or a move since the last cycle.
    a.memory.actual_since = a.memory.seen_actual < 0 ? absl::InfinitePast() : now;
    a.memory.seen_actual = a.actual;
  }
  if (r.last_update > a.memory.actual_since + absl::Seconds(1)) {
    a.memory.kernel_bytes = std::max<int64_t>(0, a.actual - r.total_bytes);
  }
  a.overhead = a.memory.kernel_bytes.value_or(std::max<int64_t>(0, a.actual - r.total_bytes));
  a.headroom =
      std::max(a.settings.headroom_bytes(),
               static_cast<int64_t>(a.settings.headroom_fraction() * static_cast<double>(a.used)));
  UpdateRates(a);
  const bool recently_relieved = now - a.memory.relieved_at < kPeakWindow;
  a.memory.peak_used = recently_relieved ? std::max(a.memory.peak_used, a.used) : a.used;
  a.floor = std::clamp(a.memory.peak_used + a.headroom + a.overhead, min, a.ceiling);

  // What the guest's growing use will take before its next report can be acted on.
  a.growth_ahead = static_cast<int64_t>(std::max(0.0, a.memory.used_growth_bytes_per_second) *
                                        absl::ToDoubleSeconds(2 * in.stats_period));
  if (r.available_bytes < a.settings.low_watermark_bytes()) {
    a.pressure = true;
    a.pressure_why = absl::StrCat(MiB(r.available_bytes), " available, under its low watermark of ",
                                  MiB(a.settings.low_watermark_bytes()));
  } else if (r.available_bytes - a.growth_ahead < a.settings.low_watermark_bytes()) {
    a.pressure = true;
    a.pressure_why = absl::StrCat(
        MiB(r.available_bytes), " available and falling fast enough to cross its low watermark of ",
        MiB(a.settings.low_watermark_bytes()), " before the next report");
  } else if (a.memory.swap_in_bytes_per_second >
             static_cast<double>(a.settings.swap_in_bytes_per_second())) {
    a.pressure = a.pressure_from_rates = true;
    a.pressure_why = absl::StrCat(
        "swapping in ", MiB(static_cast<int64_t>(a.memory.swap_in_bytes_per_second)), "/s");
  } else if (a.memory.major_faults_per_second > a.settings.major_faults_per_second()) {
    a.pressure = a.pressure_from_rates = true;
    a.pressure_why = absl::StrFormat("%.0f major faults/s", a.memory.major_faults_per_second);
  }
  return a;
}

int64_t Deadband(const v1::Policy& policy, int64_t actual) {
  const int64_t bytes = policy.has_deadband_bytes() ? policy.deadband_bytes() : 16 * kMiB;
  const double fraction = policy.has_deadband_fraction() ? policy.deadband_fraction() : 0.02;
  return std::max(bytes, static_cast<int64_t>(fraction * static_cast<double>(actual)));
}

v1::DecisionInputs Inputs(const Assessment& a, const HostInput& host, int64_t host_reserve) {
  v1::DecisionInputs in;
  if (a.input->report) {
    in.set_guest_total_bytes(a.input->report->total_bytes);
    in.set_guest_available_bytes(a.input->report->available_bytes);
    if (a.fresh) in.set_guest_used_bytes(a.used);
    *in.mutable_stats_age() =
        TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(a.stats_age));
  }
  in.set_headroom_bytes(a.headroom);
  in.set_floor_bytes(a.floor);
  in.set_ceiling_bytes(a.ceiling);
  in.set_host_available_bytes(host.available_bytes);
  in.set_host_reserve_bytes(host_reserve);
  in.set_used_growth_bytes_per_second(a.memory.used_growth_bytes_per_second);
  in.set_swap_in_bytes_per_second(a.memory.swap_in_bytes_per_second);
  in.set_major_faults_per_second(a.memory.major_faults_per_second);
  return in;
}

// Watches balloons moving toward the targets sent earlier; a balloon that does not move is marked
// uncooperative (its target reset to where it is) and left alone for a growing backoff.
void CheckCooperation(const v1::Policy& policy, Assessment& a, absl::Time now,
                      std::vector<Decision>& out, const HostInput& host, int64_t host_reserve) {
  DomainMemory& m = a.memory;
  if (!m.pending_target || a.input->activity != Activity::kRunning) return;
  const int64_t target = *m.pending_target;
  const int64_t remaining = std::abs(a.actual - target);
  if (remaining <= Deadband(policy, a.actual)) {
    m.pending_target.reset();
    m.strikes = 0;
    return;
  }
  const absl::Duration timeout = policy.has_cooperation_timeout()
                                     ? absl::Seconds(policy.cooperation_timeout().seconds()) +
                                           absl::Nanoseconds(policy.cooperation_timeout().nanos())
                                     : absl::Seconds(10);
  if (now - m.sent_at < timeout) return;
  const int64_t wanted = std::abs(m.actual_when_sent - target);
  if (remaining * 2 <= wanted) {  // more than halfway: slow but moving
    return;
  }
  m.strikes += 1;
  const absl::Duration max_backoff =
      policy.has_max_backoff() ? absl::Seconds(policy.max_backoff().seconds()) : absl::Minutes(10);
  const absl::Duration backoff =
      std::min(max_backoff, kBaseBackoff * (1 << std::min(m.strikes - 1, 16)));
  m.backoff_until = now + backoff;
  m.pending_target.reset();
  a.backing_off = true;
  a.eligible = false;
  Decision d;
  d.uuid = a.input->uuid;
  d.name = a.input->name;
  d.previous_bytes = a.actual;
  d.target_bytes = a.actual;
  d.reason = v1::DECISION_REASON_UNCOOPERATIVE;
  d.explanation = absl::StrCat(a.input->name, "'s balloon stayed at ", MiB(a.actual), " for ",
                               absl::FormatDuration(absl::Trunc(now - m.sent_at, absl::Seconds(1))),
                               " instead of moving to ", MiB(target), ": target reset to ",
                               MiB(a.actual), ", not counted as reclaimed, left alone for ",
                               absl::FormatDuration(backoff), " (strike ", m.strikes, ")");
  d.inputs = Inputs(a, host, host_reserve);
  out.push_back(std::move(d));
}

void Propose(Assessment& a, int64_t target, v1::DecisionReason reason, std::string why) {
  a.target = target;
  a.reason = reason;
  a.explanation = std::move(why);
}

// Hands out `budget` bytes among `wants` (what each would take), in proportion to `weights`, never
// more than each wants; what one cannot take goes to the others.
std::vector<int64_t> Share(int64_t budget, const std::vector<int64_t>& wants,
                           const std::vector<double>& weights) {
  std::vector<int64_t> got(wants.size(), 0);
  for (int round = 0; round < 8 && budget > 0; ++round) {
    double total_weight = 0;
    for (size_t i = 0; i < wants.size(); ++i) {
      if (got[i] < wants[i]) total_weight += weights[i];
    }
    if (total_weight <= 0) break;
    int64_t handed = 0;
    for (size_t i = 0; i < wants.size(); ++i) {
      if (got[i] >= wants[i]) continue;
      const int64_t portion =
          static_cast<int64_t>(static_cast<double>(budget) * weights[i] / total_weight);
      const int64_t take = std::min(wants[i] - got[i], std::max<int64_t>(portion, 1));
      got[i] += take;
      handed += take;
    }
    budget -= handed;
    if (handed == 0) break;
  }
  return got;
}

}  // namespace

v1::DomainPolicy EffectiveDomainPolicy(const v1::Policy& policy, const std::string& domain_name) {
  v1::DomainPolicy effective = DefaultDomainPolicy();
  effective.MergeFrom(policy.defaults());
  if (auto it = policy.domains().find(domain_name); it != policy.domains().end()) {
    effective.MergeFrom(it->second);
  }
  return effective;
}

v1::Policy WithDefaults(const v1::Policy& policy) {
  v1::Policy p = policy;
  if (p.mode() == v1::POLICY_MODE_UNSPECIFIED) p.set_mode(v1::POLICY_MODE_OBSERVE);
  v1::DomainPolicy defaults = DefaultDomainPolicy();
  defaults.MergeFrom(policy.defaults());
  *p.mutable_defaults() = defaults;
  v1::HostPolicy host = DefaultHostPolicy();
  host.MergeFrom(policy.host());
  *p.mutable_host() = host;
  if (!p.has_deadband_bytes()) p.set_deadband_bytes(16 * kMiB);
  if (!p.has_deadband_fraction()) p.set_deadband_fraction(0.02);
  if (!p.has_max_shrink_step_bytes()) p.set_max_shrink_step_bytes(512 * kMiB);
  if (!p.has_max_grow_step_bytes()) p.set_max_grow_step_bytes(1024 * kMiB);
  if (!p.has_cooperation_timeout()) p.mutable_cooperation_timeout()->set_seconds(10);
  if (!p.has_max_backoff()) p.mutable_max_backoff()->set_seconds(600);
  if (!p.has_stale_after_periods()) p.set_stale_after_periods(3);
  return p;
}

namespace {

// The first size (an int64 *_bytes or *_bytes_per_second field, at any depth, in map values too)
// above kMaxMemoryBytes, as "prefix.field"; empty if none.
std::string FieldAboveMaxMemory(const google::protobuf::Message& m, const std::string& prefix) {
  using google::protobuf::FieldDescriptor;
  const auto* reflection = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    std::string name = prefix + f->name();
    if (f->is_map()) {
      for (int i = 0; i < reflection->FieldSize(m, f); ++i) {
        const auto& entry = reflection->GetRepeatedMessage(m, f, i);
        const auto* value = entry.GetDescriptor()->FindFieldByName("value");
        if (value->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
        std::string key =
            entry.GetReflection()->GetString(entry, entry.GetDescriptor()->FindFieldByName("key"));
        std::string bad = FieldAboveMaxMemory(entry.GetReflection()->GetMessage(entry, value),
                                              absl::StrCat(name, "[", key, "]."));
        if (!bad.empty()) return bad;
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
      std::string bad = FieldAboveMaxMemory(reflection->GetMessage(m, f), name + ".");
      if (!bad.empty()) return bad;
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT64 && !f->is_repeated() &&
               (absl::EndsWith(f->name(), "_bytes") ||
                absl::EndsWith(f->name(), "_bytes_per_second")) &&
               reflection->GetInt64(m, f) > kMaxMemoryBytes) {
      return name;
    }
  }
  return "";
}

}  // namespace

absl::Status ValidatePolicy(const v1::Policy& policy) {
  auto bad = [](absl::string_view field, absl::string_view rule) {
    return absl::InvalidArgumentError(absl::StrCat(field, " ", rule));
  };
  if (std::string field = FieldAboveMaxMemory(policy, ""); !field.empty()) {
    return bad(field, "must not exceed 1 PiB");
  }
  auto check_domain = [&](const std::string& prefix, const v1::DomainPolicy& d) -> absl::Status {
    if (d.has_min_bytes() && d.min_bytes() < 0)
      return bad(prefix + "min_bytes", "must not be negative");
    if (d.has_max_bytes() && d.max_bytes() <= 0)
      return bad(prefix + "max_bytes", "must be positive");
    if (d.has_min_bytes() && d.has_max_bytes() && d.min_bytes() > d.max_bytes()) {
      return bad(prefix + "min_bytes", "must not exceed max_bytes");
    }
    if (d.has_shares() && (d.shares() < 1 || d.shares() > 1000000)) {
      return bad(prefix + "shares", "must be in [1, 1000000]");
    }
    if (d.has_headroom_bytes() && d.headroom_bytes() < 0)
      return bad(prefix + "headroom_bytes", "must not be negative");
    if (d.has_headroom_fraction() && !(d.headroom_fraction() >= 0 && d.headroom_fraction() <= 1)) {
      return bad(prefix + "headroom_fraction", "must be in [0, 1]");
    }
    if (d.has_low_watermark_bytes() && d.low_watermark_bytes() < 0) {
      return bad(prefix + "low_watermark_bytes", "must not be negative");
    }
    if (d.has_swap_in_bytes_per_second() && d.swap_in_bytes_per_second() < 0) {
      return bad(prefix + "swap_in_bytes_per_second", "must not be negative");
    }
    if (d.has_major_faults_per_second() && !(d.major_faults_per_second() >= 0)) {
      return bad(prefix + "major_faults_per_second", "must not be negative");
    }
    return absl::OkStatus();
  };
  if (auto s = check_domain("defaults.", policy.defaults()); !s.ok()) return s;
  for (const auto& [name, d] : policy.domains()) {
    if (name.empty()) return bad("domains", "keys must be domain names");
    if (auto s = check_domain(absl::StrCat("domains[", name, "]."), d); !s.ok()) return s;
  }
  const v1::HostPolicy& h = policy.host();
  if (h.has_reserve_bytes() && h.reserve_bytes() < 0)
    return bad("host.reserve_bytes", "must not be negative");
  if (h.has_reserve_fraction() && !(h.reserve_fraction() >= 0 && h.reserve_fraction() < 1)) {
    return bad("host.reserve_fraction", "must be in [0, 1)");
  }
  if (h.has_pressure_threshold() &&
      !(h.pressure_threshold() > 0 && h.pressure_threshold() <= 100)) {
    return bad("host.pressure_threshold", "must be in (0, 100] percent");
  }
  if (h.has_target_used_fraction() &&
      !(h.target_used_fraction() > 0 && h.target_used_fraction() <= 1)) {
    return bad("host.target_used_fraction", "must be in (0, 1]");
  }
  const v1::Policy full = WithDefaults(policy);
  // A host comfortable at the target use must not be short at the same time, or give-back and
  // reclaim would take turns.
  if (full.host().target_used_fraction() > 1 - full.host().reserve_fraction()) {
    return bad("host.target_used_fraction",
               "must leave at least host.reserve_fraction of memory free");
  }
  if (h.has_min_available_bytes() && h.min_available_bytes() < 0) {
    return bad("host.min_available_bytes", "must not be negative");
  }
  if (policy.has_deadband_bytes() && policy.deadband_bytes() < 0)
    return bad("deadband_bytes", "must not be negative");
  if (policy.has_deadband_fraction() &&
      !(policy.deadband_fraction() >= 0 && policy.deadband_fraction() < 1)) {
    return bad("deadband_fraction", "must be in [0, 1)");
  }
  if (policy.has_max_shrink_step_bytes() && policy.max_shrink_step_bytes() <= 0) {
    return bad("max_shrink_step_bytes", "must be positive");
  }
  if (policy.has_max_grow_step_bytes() && policy.max_grow_step_bytes() <= 0) {
    return bad("max_grow_step_bytes", "must be positive");
  }
  if (policy.has_cooperation_timeout() &&
      TimeUtil::DurationToMilliseconds(policy.cooperation_timeout()) <= 0) {
    return bad("cooperation_timeout", "must be positive");
  }
  if (policy.has_max_backoff() && TimeUtil::DurationToMilliseconds(policy.max_backoff()) <= 0) {
    return bad("max_backoff", "must be positive");
  }
  if (policy.has_stale_after_periods() && policy.stale_after_periods() < 1) {
    return bad("stale_after_periods", "must be at least 1");
  }
  return absl::OkStatus();
}

namespace {

// Inputs held to what a machine can have: a size no machine has is a lie (or a bug) that must not
// overflow the sums below. A balloon of impossible size is left alone, as one without a size.
HostInput Sane(const HostInput& host) {
  HostInput out = host;
  out.total_bytes = std::clamp<int64_t>(host.total_bytes, 0, kMaxMemoryBytes);
  out.available_bytes = std::clamp<int64_t>(host.available_bytes, 0, kMaxMemoryBytes);
  return out;
}

std::vector<DomainInput> Sane(const std::vector<DomainInput>& domains) {
  std::vector<DomainInput> out = domains;
  for (DomainInput& d : out) {
    d.max_memory_bytes = std::clamp<int64_t>(d.max_memory_bytes, 0, kMaxMemoryBytes);
    if (d.actual_bytes && (*d.actual_bytes < 0 || *d.actual_bytes > kMaxMemoryBytes)) {
      d.actual_bytes.reset();
    }
  }
  return out;
}

}  // namespace

Outcome Decide(const v1::Policy& raw_policy, const HostInput& raw_host,
               const std::vector<DomainInput>& raw_domains, const State& state, absl::Time now) {
  const HostInput host = Sane(raw_host);
  const std::vector<DomainInput> domains = Sane(raw_domains);
  const v1::Policy policy = WithDefaults(raw_policy);
  const bool enforce = policy.mode() == v1::POLICY_MODE_ENFORCE;
  Outcome out;
  if (policy.mode() == v1::POLICY_MODE_OFF) {
    out.state = state;
    return out;
  }

  const v1::HostPolicy& hp = policy.host();
  const int64_t reserve =
      std::max(hp.reserve_bytes(),
               static_cast<int64_t>(hp.reserve_fraction() * static_cast<double>(host.total_bytes)));
  const bool psi_high =
      host.pressure_some_avg10 && *host.pressure_some_avg10 > hp.pressure_threshold();
  const int64_t comfortable_available =
      std::max(reserve, static_cast<int64_t>((1 - hp.target_used_fraction()) *
                                             static_cast<double>(host.total_bytes)));
  if (host.available_bytes < reserve || psi_high) {
    out.host = HostCondition::kShort;
  } else if (host.available_bytes > comfortable_available) {
    out.host = HostCondition::kComfortable;
  }

  std::vector<Assessment> all;
  all.reserve(domains.size());
  for (const DomainInput& in : domains) {
    auto it = state.domains.find(in.uuid);
    all.push_back(Assess(policy, in, it == state.domains.end() ? DomainMemory() : it->second, now));
  }
  for (Assessment& a : all) {
    if (!a.input->actual_bytes) continue;
    if (enforce) CheckCooperation(policy, a, now, out.decisions, host, reserve);
    a.target = a.actual;
  }

  // 1. Bounds and guest relief come first, paid from what the host has above its hard minimum.
  int64_t relief_budget = host.available_bytes - hp.min_available_bytes();
  std::vector<Assessment*> relief;
  std::vector<Assessment*> stale_give_back;
  for (Assessment& a : all) {
    if (!a.eligible) continue;
    if (a.actual > a.ceiling) {
      Propose(a, a.ceiling, v1::DECISION_REASON_ABOVE_MAX,
              absl::StrCat(a.input->name, " had ", MiB(a.actual), ", above its policy maximum of ",
                           MiB(a.ceiling), ": lowered to it"));
    } else if (a.fresh && a.pressure) {
      // Enough to restore the headroom in one step, plus what the guest's growth will eat before
      // the next report arrives.
      int64_t want = a.used + a.headroom + a.overhead + a.growth_ahead;
      // Swapping or faulting with memory "available" means the guest needs its page cache: give
      // it a headroom's worth more than it has.
      if (a.pressure_from_rates) want = std::max(want, a.actual + a.headroom);
      want = std::min(a.ceiling, want);
      if (want > a.actual) {
        Propose(a, want, v1::DECISION_REASON_GUEST_PRESSURE,
                absl::StrCat(
                    a.input->name, " was under pressure (", a.pressure_why, "; use growing ",
                    MiB(static_cast<int64_t>(std::max(0.0, a.memory.used_growth_bytes_per_second))),
                    "/s): grown from ", MiB(a.actual), " to ", MiB(want), " to restore ",
                    MiB(a.headroom), " of headroom"));
        relief.push_back(&a);
      }
    } else if (!a.fresh && a.input->report && a.actual < a.ceiling &&
               out.host != HostCondition::kShort) {
      // Only a guest that did report: one that never has is usually still booting at its maximum.
      const int64_t give = std::min(a.ceiling - a.actual, policy.max_grow_step_bytes());
      Propose(
          a, a.actual + give, v1::DECISION_REASON_STATS_STALE,
          absl::StrCat(a.input->name, ": ", a.why_not_fresh, "; without knowing its use, gave it ",
                       MiB(give), " back (", MiB(a.actual), " toward its maximum of ",
                       MiB(a.ceiling), ") rather than leave it short"));
      stale_give_back.push_back(&a);
    } else if (a.actual < std::min(a.settings.min_bytes(), a.ceiling)) {
      const int64_t min = std::min(a.settings.min_bytes(), a.ceiling);
      Propose(a, min, v1::DECISION_REASON_BELOW_FLOOR,
              absl::StrCat(a.input->name, " had ", MiB(a.actual), ", below its minimum of ",
                           MiB(min), ": raised to it"));
      relief.push_back(&a);
    }
  }
  // The most starved guests are served first when the host cannot pay for all.
  std::stable_sort(relief.begin(), relief.end(), [](const Assessment* x, const Assessment* y) {
    return x->input->report && y->input->report
               ? x->input->report->available_bytes < y->input->report->available_bytes
               : false;
  });
  int64_t unmet_relief = 0;
  for (Assessment* a : relief) {
    const int64_t grant =
        std::clamp<int64_t>(a->target - a->actual, 0, std::max<int64_t>(0, relief_budget));
    unmet_relief += a->target - a->actual - grant;
    if (grant < a->target - a->actual) {
      a->explanation +=
          absl::StrCat(" (limited to ", MiB(grant), " by the host's minimum available of ",
                       MiB(hp.min_available_bytes()), ")");
    }
    a->target = a->actual + grant;
    relief_budget -= grant;
  }

  // Stale guests get memory back only from what the host has above its reserve, after relief.
  int64_t stale_budget = std::min(relief_budget, host.available_bytes - reserve);
  int64_t unmet_stale = 0;
  for (Assessment* a : stale_give_back) {
    const int64_t grant =
        std::clamp<int64_t>(a->target - a->actual, 0, std::max<int64_t>(0, stale_budget));
    unmet_stale += a->target - a->actual - grant;
    a->target = a->actual + grant;
    stale_budget -= grant;
  }

  // 2. Memory is taken back when the host is short of it, or when a guest's need could not be paid
  //    this cycle (paid the next): from the guests with the most excess over their floor, weighted
  //    by shares, a limited step per cycle. Guests without fresh statistics are not shrunk. While a
  //    pressured guest goes unpaid, the others lend their headroom down to their low watermark.
  if (out.host == HostCondition::kShort || unmet_relief > 0 || unmet_stale > 0) {
    // A short host is taken a quarter of its reserve past it, so the next cycles hold rather than
    // trim again at every small change.
    int64_t needed = (out.host == HostCondition::kShort && host.available_bytes < reserve
                          ? reserve - host.available_bytes + reserve / 4
                          : 0) +
                     unmet_relief + unmet_stale;
    if (needed == 0) needed = policy.max_shrink_step_bytes();  // PSI high with memory available
    const bool lend_headroom = unmet_relief > 0;
    std::vector<Assessment*> donors;
    std::vector<int64_t> bases, wants;
    std::vector<double> weights;
    for (Assessment& a : all) {
      if (!a.eligible || !a.fresh || a.pressure || a.reason != v1::DECISION_REASON_UNSPECIFIED)
        continue;
      if (now - a.memory.relieved_at < kReliefHold) continue;
      if (lend_headroom) {
        a.floor = std::max(
            std::min(a.settings.min_bytes(), a.ceiling),
            a.used + a.settings.low_watermark_bytes() + a.overhead + Deadband(policy, a.actual));
      }
      // A shrink still on its way counts as done: the step is measured from where the balloon goes.
      const int64_t base = enforce && a.memory.pending_target
                               ? std::min(a.actual, *a.memory.pending_target)
                               : a.actual;
      const int64_t excess = base - a.floor;
      if (excess <= Deadband(policy, a.actual)) continue;
      donors.push_back(&a);
      bases.push_back(base);
      wants.push_back(std::min(excess, policy.max_shrink_step_bytes()));
      weights.push_back(static_cast<double>(excess) * 1000.0 / a.settings.shares());
    }
    // The largest excess per share gives first, each up to its step: as few guests as possible
    // are touched per cycle, and more shares mean giving later.
    std::vector<size_t> order(donors.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t x, size_t y) { return weights[x] > weights[y]; });
    std::vector<int64_t> taken(donors.size(), 0);
    for (size_t i : order) {
      if (needed <= 0) break;
      taken[i] = std::min(wants[i], needed);
      needed -= taken[i];
    }
    const std::string why =
        out.host == HostCondition::kShort
            ? absl::StrCat("the host had ", MiB(host.available_bytes), " available",
                           psi_high ? absl::StrFormat(" and memory pressure %.1f%%",
                                                      *host.pressure_some_avg10)
                                    : "",
                           " (reserve ", MiB(reserve), ")")
            : absl::StrCat("other guests need ", MiB(unmet_relief + unmet_stale),
                           " the host cannot give");
    for (size_t i = 0; i < donors.size(); ++i) {
      Assessment& a = *donors[i];
      if (taken[i] <= 0) continue;
      Propose(a, bases[i] - taken[i], v1::DECISION_REASON_HOST_RECLAIM,
              absl::StrCat(why, ": took ", MiB(taken[i]), " from ", a.input->name, ", shrunk from ",
                           MiB(bases[i]), " toward its floor of ", MiB(a.floor),
                           lend_headroom ? absl::StrCat(" (use ", MiB(a.used),
                                                        " + low watermark, lending its headroom)")
                                         : absl::StrCat(" (use ", MiB(a.used), " + headroom ",
                                                        MiB(a.headroom), ")")));
    }
  }

  // 3. A comfortable host gives ballooned-down guests memory back toward their maximum, by shares,
  //    without going below the comfortable level.
  if (out.host == HostCondition::kComfortable) {
    int64_t granted = 0;
    for (const Assessment* a : relief) granted += a->target - a->actual;
    const int64_t surplus =
        host.available_bytes - comfortable_available - granted - Deadband(policy, 0);
    std::vector<Assessment*> takers;
    std::vector<int64_t> wants;
    std::vector<double> weights;
    for (Assessment& a : all) {
      if (!a.eligible || a.reason != v1::DECISION_REASON_UNSPECIFIED || a.actual >= a.ceiling)
        continue;
      takers.push_back(&a);
      wants.push_back(std::min(a.ceiling - a.actual, policy.max_grow_step_bytes()));
      weights.push_back(a.settings.shares());
    }
    const std::vector<int64_t> given = Share(std::max<int64_t>(0, surplus), wants, weights);
    for (size_t i = 0; i < takers.size(); ++i) {
      Assessment& a = *takers[i];
      if (given[i] <= 0) continue;
      Propose(a, a.actual + given[i], v1::DECISION_REASON_HOST_GIVE_BACK,
              absl::StrCat("the host was comfortable (", MiB(host.available_bytes), " available, ",
                           absl::StrFormat("%.0f%%", 100 * hp.target_used_fraction()),
                           " use target): gave ", a.input->name, " ", MiB(given[i]), " back, from ",
                           MiB(a.actual), " toward its maximum of ", MiB(a.ceiling)));
    }
  }

  // 4. Changes inside the deadband are dropped; the rest become decisions.
  for (Assessment& a : all) {
    if (!a.input->actual_bytes) continue;
    DomainMemory& m = a.memory;
    if (a.reason != v1::DECISION_REASON_UNSPECIFIED &&
        std::abs(a.target - a.actual) > Deadband(policy, a.actual)) {
      const int64_t already =
          enforce ? m.pending_target.value_or(-1) : m.last_proposed.value_or(-1);
      const bool repeat =
          already >= 0 && std::abs(already - a.target) <= Deadband(policy, a.actual);
      if (!repeat) {
        Decision d;
        d.uuid = a.input->uuid;
        d.name = a.input->name;
        d.previous_bytes = a.actual;
        d.target_bytes = a.target;
        d.reason = a.reason;
        d.explanation = a.explanation;
        d.inputs = Inputs(a, host, reserve);
        out.decisions.push_back(std::move(d));
        if (a.reason == v1::DECISION_REASON_GUEST_PRESSURE) m.relieved_at = now;
        if (enforce) {
          m.pending_target = a.target;
          m.actual_when_sent = a.actual;
          m.sent_at = now;
        } else {
          m.last_proposed = a.target;
        }
      }
    } else if (!enforce) {
      m.last_proposed.reset();
    }
    out.state.domains[a.input->uuid] = m;
  }
  return out;
}

}  // namespace balloond::policy
