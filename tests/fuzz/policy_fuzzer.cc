// The policy through two cycles on made-up hosts, guests and settings (any the validator accepts):
// every decision stays within the domain's bounds, nothing is NaN or overflows (UBSan), and the
// same inputs always give the same decisions.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "policy/settings.h"

namespace {

namespace v1 = balloon::v1;
using balloond::policy::DomainInput;
using balloond::policy::GuestReport;
using balloond::policy::HostInput;

// Memory sizes a machine could have: up to 1 PiB.
constexpr int64_t kMaxMemory = int64_t{1} << 50;

int64_t Size(FuzzedDataProvider& in, int64_t max = kMaxMemory) {
  return in.ConsumeIntegralInRange<int64_t>(0, max);
}

// Any Duration a client can send, well-formed or not: the validator must refuse what it cannot
// hold without any arithmetic wrapping (UBSan).
void SetDuration(FuzzedDataProvider& in, google::protobuf::Duration* d) {
  d->set_seconds(in.ConsumeIntegral<int64_t>());
  d->set_nanos(in.ConsumeIntegral<int32_t>());
}

v1::Policy MakePolicy(FuzzedDataProvider& in) {
  v1::Policy p;
  p.set_mode(in.ConsumeBool() ? v1::POLICY_MODE_ENFORCE : v1::POLICY_MODE_OBSERVE);
  auto* d = p.mutable_defaults();
  if (in.ConsumeBool()) d->set_min_bytes(Size(in));
  if (in.ConsumeBool()) d->set_max_bytes(Size(in));
  if (in.ConsumeBool()) d->set_shares(in.ConsumeIntegralInRange(1, 1000000));
  if (in.ConsumeBool()) d->set_headroom_bytes(Size(in));
  if (in.ConsumeBool()) d->set_headroom_fraction(in.ConsumeFloatingPointInRange(0.0, 1.0));
  if (in.ConsumeBool()) d->set_low_watermark_bytes(Size(in));
  if (in.ConsumeBool()) d->set_swap_in_bytes_per_second(Size(in));
  if (in.ConsumeBool()) d->set_major_faults_per_second(in.ConsumeFloatingPointInRange(0.0, 1e9));
  auto* h = p.mutable_host();
  if (in.ConsumeBool()) h->set_reserve_bytes(Size(in));
  if (in.ConsumeBool()) h->set_reserve_fraction(in.ConsumeFloatingPointInRange(0.0, 0.99));
  if (in.ConsumeBool()) h->set_target_used_fraction(in.ConsumeFloatingPointInRange(0.01, 1.0));
  if (in.ConsumeBool()) h->set_min_available_bytes(Size(in));
  if (in.ConsumeBool()) p.set_deadband_bytes(Size(in));
  if (in.ConsumeBool()) p.set_deadband_fraction(in.ConsumeFloatingPointInRange(0.0, 0.99));
  if (in.ConsumeBool()) p.set_max_shrink_step_bytes(1 + Size(in));
  if (in.ConsumeBool()) p.set_max_grow_step_bytes(1 + Size(in));
  if (in.ConsumeBool()) p.set_stale_after_periods(in.ConsumeIntegralInRange(1, 100));
  if (in.ConsumeBool()) SetDuration(in, p.mutable_cooperation_timeout());
  if (in.ConsumeBool()) SetDuration(in, p.mutable_max_backoff());
  if (in.ConsumeBool()) SetDuration(in, p.mutable_default_hold());
  return p;
}

std::vector<DomainInput> MakeDomains(FuzzedDataProvider& in, absl::Time now) {
  std::vector<DomainInput> out;
  for (int i = 0, n = in.ConsumeIntegralInRange(0, 6); i < n; ++i) {
    DomainInput d;
    d.uuid = d.name = "dom" + std::to_string(i);
    d.activity = in.ConsumeBool() ? balloond::policy::Activity::kRunning
                                  : balloond::policy::Activity::kPaused;
    d.max_memory_bytes = in.ConsumeBool() ? Size(in) : in.ConsumeIntegral<int64_t>();
    if (in.ConsumeBool())
      d.actual_bytes = in.ConsumeBool() ? Size(in) : in.ConsumeIntegral<int64_t>();
    // libvirt takes any <stats period> up to INT_MAX seconds.
    d.stats_period = absl::Seconds(in.ConsumeIntegralInRange(1, INT32_MAX));
    if (in.ConsumeBool()) {
      // A guest reports anything at all: it may lie.
      GuestReport r;
      r.total_bytes = in.ConsumeIntegral<int64_t>();
      r.available_bytes = in.ConsumeIntegral<int64_t>();
      r.free_bytes = in.ConsumeIntegral<int64_t>();
      if (in.ConsumeBool()) r.swap_in_bytes = in.ConsumeIntegralInRange<int64_t>(0, INT64_MAX);
      if (in.ConsumeBool()) r.major_faults = in.ConsumeIntegralInRange<int64_t>(0, INT64_MAX);
      r.last_update = now - absl::Seconds(in.ConsumeIntegralInRange(0, 1000));
      d.report = r;
    }
    out.push_back(d);
  }
  return out;
}

std::string Describe(const balloond::policy::Outcome& o) {
  std::string s;
  for (const auto& d : o.decisions) {
    s += d.uuid + " " + std::to_string(d.target_bytes) + " " + std::to_string(d.reason) + " " +
         d.explanation + "\n";
  }
  return s;
}

void Check(const v1::Policy& policy, const std::vector<DomainInput>& domains,
           const balloond::policy::Outcome& o) {
  for (const auto& d : o.decisions) {
    const DomainInput* in = nullptr;
    for (const auto& x : domains) {
      if (x.uuid == d.uuid) in = &x;
    }
    if (in == nullptr || !in->actual_bytes) __builtin_trap();  // a decision about nothing
    const auto settings = balloond::policy::EffectiveDomainPolicy(policy, in->name);
    const int64_t max = std::clamp<int64_t>(in->max_memory_bytes, 0, kMaxMemory);
    const int64_t ceiling = std::min(max, settings.has_max_bytes() ? settings.max_bytes() : max);
    if (d.reason == v1::DECISION_REASON_UNCOOPERATIVE) continue;  // reset to where the balloon is
    if (d.target_bytes > ceiling) __builtin_trap();
    if (d.target_bytes < 0) __builtin_trap();
    if (d.reason == v1::DECISION_REASON_HOST_RECLAIM && d.target_bytes < d.inputs.floor_bytes()) {
      __builtin_trap();
    }
    for (double v : {d.inputs.used_growth_bytes_per_second(), d.inputs.swap_in_bytes_per_second(),
                     d.inputs.major_faults_per_second()}) {
      if (!std::isfinite(v)) __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const v1::Policy policy = MakePolicy(in);
  if (!balloond::policy::ValidatePolicy(policy).ok()) return 0;
  const absl::Time t0 = absl::FromUnixSeconds(1795600000);
  HostInput host;
  host.total_bytes = in.ConsumeBool() ? Size(in) : in.ConsumeIntegral<int64_t>();
  host.available_bytes = in.ConsumeBool() ? Size(in) : in.ConsumeIntegral<int64_t>();
  if (in.ConsumeBool()) host.pressure_some_avg10 = in.ConsumeFloatingPointInRange(0.0, 100.0);
  const std::vector<DomainInput> first = MakeDomains(in, t0);
  std::vector<DomainInput> second = first;
  for (auto& d : second) {
    if (d.report && in.ConsumeBool()) {
      d.report->available_bytes = in.ConsumeIntegral<int64_t>();
      d.report->last_update += absl::Seconds(in.ConsumeIntegralInRange(0, 10));
    }
  }
  const absl::Time t1 = t0 + absl::Seconds(in.ConsumeIntegralInRange(0, 100));

  auto a1 = balloond::policy::Decide(policy, host, first, {}, t0);
  auto a2 = balloond::policy::Decide(policy, host, second, a1.state, t1);
  auto b1 = balloond::policy::Decide(policy, host, first, {}, t0);
  auto b2 = balloond::policy::Decide(policy, host, second, b1.state, t1);
  Check(policy, first, a1);
  Check(policy, second, a2);
  if (Describe(a1) != Describe(b1) || Describe(a2) != Describe(b2)) __builtin_trap();
  return 0;
}
