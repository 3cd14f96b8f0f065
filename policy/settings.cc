#include "policy/settings.h"

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "policy/durations.h"
#include "policy/sizes.h"

namespace balloond::policy {
namespace {

namespace v1 = balloon::v1;
using google::protobuf::util::TimeUtil;

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
  // Off until an operator turns it on: it trades refaults for memory (README, "Probing").
  d.set_probe(false);
  d.set_probe_major_faults_per_second(10);
  d.set_probe_step_fraction(0.02);
  d.set_probe_max_step_bytes(64 * kMiB);
  d.set_probe_slack_fraction(0.5);
  d.mutable_probe_slack_learn()->set_seconds(3600);
  return d;
}

v1::HostPolicy DefaultHostPolicy() {
  v1::HostPolicy h;
  // Half of MOM's 20% (tests/sim/RESULTS.md, "The host reserve": smaller ones let storms reach
  // the host's swap): what a jump needs while reclaim catches up. Its hard part (1% of the host,
  // ESX's minFree on a large one; min_available_bytes at least) is never lent.
  h.set_reserve_bytes(1024 * kMiB);
  h.set_reserve_fraction(0.1);
  h.set_hard_reserve_fraction(0.01);
  h.mutable_reserve_reclaim_after()->set_seconds(60);
  h.set_pressure_threshold(20);
  // Well under the reclaim level, so reclaim and give-back never take turns.
  h.set_target_used_fraction(0.6);
  h.set_min_available_bytes(256 * kMiB);
  // KSM runs when the host is short or nearly so, as MOM and ksmtuned run it; a roomy host's is
  // left as found (README, "Page sharing").
  h.mutable_ksm()->set_mode(v1::KSM_MODE_WHEN_SHORT);
  h.mutable_ksm()->set_max_pages_to_scan(1250);
  h.mutable_ksm()->set_unmerge_when_off(false);
  return h;
}

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

// Every Duration set in `over`, at any depth outside repeated fields, copied whole into `base`.
void TakeDurationsWhole(google::protobuf::Message& base, const google::protobuf::Message& over) {
  using google::protobuf::FieldDescriptor;
  const auto* reflection = over.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(over, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || f->is_repeated()) continue;
    google::protobuf::Message* into = base.GetReflection()->MutableMessage(&base, f);
    if (f->message_type() == google::protobuf::Duration::descriptor()) {
      into->CopyFrom(reflection->GetMessage(over, f));
    } else {
      TakeDurationsWhole(*into, reflection->GetMessage(over, f));
    }
  }
}

}  // namespace

void Overlay(google::protobuf::Message& base, const google::protobuf::Message& over) {
  base.MergeFrom(over);
  TakeDurationsWhole(base, over);
}

v1::DomainPolicy EffectiveDomainPolicy(const v1::Policy& policy, const std::string& domain_name) {
  v1::DomainPolicy effective = DefaultDomainPolicy();
  Overlay(effective, policy.defaults());
  if (auto it = policy.domains().find(domain_name); it != policy.domains().end()) {
    Overlay(effective, it->second);
  }
  return effective;
}

v1::Policy WithDefaults(const v1::Policy& policy) {
  v1::Policy p = policy;
  if (p.mode() == v1::POLICY_MODE_UNSPECIFIED) p.set_mode(v1::POLICY_MODE_OBSERVE);
  v1::DomainPolicy defaults = DefaultDomainPolicy();
  Overlay(defaults, policy.defaults());
  *p.mutable_defaults() = defaults;
  v1::HostPolicy host = DefaultHostPolicy();
  Overlay(host, policy.host());
  *p.mutable_host() = host;
  if (!p.has_deadband_bytes()) p.set_deadband_bytes(16 * kMiB);
  if (!p.has_deadband_fraction()) p.set_deadband_fraction(0.02);
  if (!p.has_max_shrink_step_bytes()) p.set_max_shrink_step_bytes(512 * kMiB);
  if (!p.has_max_grow_step_bytes()) p.set_max_grow_step_bytes(1024 * kMiB);
  if (!p.has_cooperation_timeout()) p.mutable_cooperation_timeout()->set_seconds(10);
  if (!p.has_max_backoff()) p.mutable_max_backoff()->set_seconds(600);
  if (!p.has_default_hold()) p.mutable_default_hold()->set_seconds(3600);
  if (!p.has_stale_after_periods()) p.set_stale_after_periods(3);
  if (!p.has_max_collect_interval_periods()) p.set_max_collect_interval_periods(5);
  if (!p.has_probe_interval()) p.mutable_probe_interval()->set_seconds(5);
  if (p.on_hold_broken() == v1::HOLD_BREAK_ACTION_UNSPECIFIED) {
    p.set_on_hold_broken(v1::HOLD_BREAK_ACTION_REAPPLY);
  }
  return p;
}

absl::Status ValidateDomainPolicy(const v1::DomainPolicy& settings, const std::string& prefix) {
  auto bad = [](absl::string_view field, absl::string_view rule) {
    return absl::InvalidArgumentError(absl::StrCat(field, " ", rule));
  };
  if (std::string field = FieldAboveMaxMemory(settings, prefix); !field.empty()) {
    return bad(field, "must not exceed 1 PiB");
  }
  if (settings.has_min_bytes() && settings.min_bytes() < 0)
    return bad(prefix + "min_bytes", "must not be negative");
  if (settings.has_max_bytes() && settings.max_bytes() <= 0)
    return bad(prefix + "max_bytes", "must be positive");
  if (settings.has_min_bytes() && settings.has_max_bytes() &&
      settings.min_bytes() > settings.max_bytes()) {
    return bad(prefix + "min_bytes", "must not exceed max_bytes");
  }
  if (settings.has_shares() && (settings.shares() < 1 || settings.shares() > 1000000)) {
    return bad(prefix + "shares", "must be in [1, 1000000]");
  }
  if (settings.has_headroom_bytes() && settings.headroom_bytes() < 0)
    return bad(prefix + "headroom_bytes", "must not be negative");
  if (settings.has_headroom_fraction() &&
      !(settings.headroom_fraction() >= 0 && settings.headroom_fraction() <= 1)) {
    return bad(prefix + "headroom_fraction", "must be in [0, 1]");
  }
  if (settings.has_low_watermark_bytes() && settings.low_watermark_bytes() < 0) {
    return bad(prefix + "low_watermark_bytes", "must not be negative");
  }
  if (settings.has_swap_in_bytes_per_second() && settings.swap_in_bytes_per_second() < 0) {
    return bad(prefix + "swap_in_bytes_per_second", "must not be negative");
  }
  if (settings.has_major_faults_per_second() && !(settings.major_faults_per_second() >= 0)) {
    return bad(prefix + "major_faults_per_second", "must not be negative");
  }
  if (settings.has_probe_major_faults_per_second() &&
      !(settings.probe_major_faults_per_second() >= 0)) {
    return bad(prefix + "probe_major_faults_per_second", "must not be negative");
  }
  if (settings.has_probe_step_fraction() &&
      !(settings.probe_step_fraction() > 0 && settings.probe_step_fraction() <= 0.25)) {
    return bad(prefix + "probe_step_fraction", "must be in (0, 0.25]");
  }
  if (settings.has_probe_max_step_bytes() && settings.probe_max_step_bytes() <= 0) {
    return bad(prefix + "probe_max_step_bytes", "must be positive");
  }
  if (settings.has_probe_slack_fraction() &&
      !(settings.probe_slack_fraction() >= 0 && settings.probe_slack_fraction() <= 1)) {
    return bad(prefix + "probe_slack_fraction", "must be in [0, 1]");
  }
  if (settings.has_probe_slack_learn()) {
    if (auto in_range = DurationInRange(settings.probe_slack_learn(), prefix + "probe_slack_learn",
                                        absl::ZeroDuration(), absl::Hours(24 * 7));
        !in_range.ok()) {
      return in_range.status();
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePolicy(const v1::Policy& policy) {
  auto bad = [](absl::string_view field, absl::string_view rule) {
    return absl::InvalidArgumentError(absl::StrCat(field, " ", rule));
  };
  if (std::string field = FieldAboveMaxMemory(policy, ""); !field.empty()) {
    return bad(field, "must not exceed 1 PiB");
  }
  if (auto s = ValidateDomainPolicy(policy.defaults(), "defaults."); !s.ok()) return s;
  for (const auto& [name, d] : policy.domains()) {
    if (name.empty()) return bad("domains", "keys must be domain names");
    if (auto s = ValidateDomainPolicy(d, absl::StrCat("domains[", name, "].")); !s.ok()) {
      return s;
    }
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
  if (h.has_hard_reserve_fraction() &&
      !(h.hard_reserve_fraction() >= 0 && h.hard_reserve_fraction() <= 1)) {
    return bad("host.hard_reserve_fraction", "must be in [0, 1]");
  }
  if (!v1::KsmMode_IsValid(h.ksm().mode())) return bad("host.ksm.mode", "is not a known mode");
  if (h.ksm().has_max_pages_to_scan() && !(h.ksm().max_pages_to_scan() >= kMinKsmPagesToScan &&
                                           h.ksm().max_pages_to_scan() <= kMaxKsmPagesToScan)) {
    return bad("host.ksm.max_pages_to_scan",
               absl::StrCat("must be in [", kMinKsmPagesToScan, ", ", kMaxKsmPagesToScan, "]"));
  }
  if (h.has_reserve_reclaim_after()) {
    if (auto in_range = DurationInRange(h.reserve_reclaim_after(), "host.reserve_reclaim_after",
                                        absl::ZeroDuration(), absl::Hours(1));
        !in_range.ok()) {
      return in_range.status();
    }
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
  struct DurationSetting {
    const char* name;
    bool set;
    const google::protobuf::Duration& value;
    absl::Duration min, max;
  };
  for (const DurationSetting& d : {
           DurationSetting{"cooperation_timeout", policy.has_cooperation_timeout(),
                           policy.cooperation_timeout(), absl::Milliseconds(1), absl::Hours(1)},
           DurationSetting{"default_hold", policy.has_default_hold(), policy.default_hold(),
                           absl::ZeroDuration(), kMaxHold},
           DurationSetting{"max_backoff", policy.has_max_backoff(), policy.max_backoff(),
                           absl::Milliseconds(1), absl::Hours(24)},
           DurationSetting{"probe_interval", policy.has_probe_interval(), policy.probe_interval(),
                           absl::Seconds(1), absl::Hours(1)},
       }) {
    if (!d.set) continue;
    if (auto in_range = DurationInRange(d.value, d.name, d.min, d.max); !in_range.ok()) {
      return in_range.status();
    }
  }
  if (policy.has_stale_after_periods() &&
      (policy.stale_after_periods() < 1 || policy.stale_after_periods() > 1000)) {
    return bad("stale_after_periods", "must be between 1 and 1000");
  }
  if (policy.has_max_collect_interval_periods() &&
      (policy.max_collect_interval_periods() < 1 || policy.max_collect_interval_periods() > 60)) {
    return bad("max_collect_interval_periods", "must be in [1, 60]");
  }
  return absl::OkStatus();
}

int64_t Deadband(const v1::Policy& full, int64_t actual) {
  return std::max(full.deadband_bytes(),
                  static_cast<int64_t>(full.deadband_fraction() * static_cast<double>(actual)));
}

int64_t HostReserve(const v1::HostPolicy& full, int64_t host_total_bytes) {
  return std::max(
      full.reserve_bytes(),
      static_cast<int64_t>(full.reserve_fraction() * static_cast<double>(host_total_bytes)));
}

int64_t HardReserve(const v1::HostPolicy& full, int64_t host_total_bytes) {
  return std::min(HostReserve(full, host_total_bytes),
                  std::max(full.min_available_bytes(),
                           static_cast<int64_t>(full.hard_reserve_fraction() *
                                                static_cast<double>(host_total_bytes))));
}

int64_t ComfortableAvailable(const v1::HostPolicy& full, int64_t host_total_bytes) {
  return std::max(HostReserve(full, host_total_bytes),
                  static_cast<int64_t>((1 - full.target_used_fraction()) *
                                       static_cast<double>(host_total_bytes)));
}

}  // namespace balloond::policy
