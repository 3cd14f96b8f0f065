#include "tests/sim/policies.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "policy/judgement.h"

namespace balloond::sim {

namespace v1 = balloon::v1;

BalloondPolicy::BalloondPolicy(absl::Duration period, v1::Policy policy)
    : period_(period), policy_(std::move(policy)) {
  policy_.set_mode(v1::POLICY_MODE_ENFORCE);
}

std::map<size_t, int64_t> BalloondPolicy::Cycle(const HostView& host,
                                                const std::vector<GuestView>& guests,
                                                absl::Time now) {
  policy::HostInput h;
  h.total_bytes = host.total_bytes;
  h.available_bytes = host.available_bytes;
  h.reserved_bytes = reserved_bytes_;
  std::vector<policy::DomainInput> inputs;
  v1::Policy p = policy_;
  std::map<std::string, size_t> index;  // by name, which stands for the UUID
  for (size_t i = 0; i < guests.size(); ++i) {
    const std::string& uuid = guests[i].name;
    index[uuid] = i;
    auto planned = plan_.find(uuid);
    const int every = planned == plan_.end() ? 1 : planned->second;
    auto reading = readings_.find(uuid);
    auto last = last_work_.find(uuid);
    const bool busy =
        last != last_work_.end() && guests[i].memory_work_bytes - last->second >
                                        kBusyBytesPerSecond * absl::ToDoubleSeconds(period_);
    last_work_[uuid] = guests[i].memory_work_bytes;
    const bool due = reading == readings_.end() || busy ||
                     reading->second.view.actual_bytes != guests[i].actual_bytes ||
                     now >= reading->second.at + (every - 0.5) * period_;
    ++guest_cycles_;
    if (due) {
      ++reads_;
      readings_[uuid] = Reading{guests[i], now};
    }
    const GuestView& g = readings_[uuid].view;
    policy::DomainInput in;
    in.uuid = uuid;
    in.name = g.name;
    // libvirt's maximum counts a virtio-mem device's size.
    in.max_memory_bytes = g.max_bytes + (g.hotplug ? g.hotplug->size_bytes : 0);
    in.actual_bytes = g.actual_bytes;
    in.hotplug = g.hotplug;
    in.autodeflate = g.autodeflate;
    in.resident_bytes = g.resident_bytes;
    in.report = g.report;
    in.stats_period = g.stats_period;
    inputs.push_back(std::move(in));
    // The scenario's per-guest minimum and shares, as an operator would configure them.
    auto& override_policy = (*p.mutable_domains())[g.name];
    if (!override_policy.has_min_bytes() && g.min_bytes > 0)
      override_policy.set_min_bytes(g.min_bytes);
    if (!override_policy.has_shares()) override_policy.set_shares(g.shares);
  }
  ++cycles_;
  // One judgement for the decisions and the capacity, as the agent's cycle has it (the simulator
  // always enforces, so Decide's "policy off" shortcut does not apply).
  policy::Judgement judgement = policy::Judge(p, h, inputs, state_, now);
  if (track_capacity_) capacity_ = policy::CapacityOf(judgement, h.reserved_bytes);
  policy::Outcome out = policy::Decide(std::move(judgement), h.reserved_bytes);
  state_ = std::move(out.state);
  plan_ = std::move(out.collect_every);
  std::map<size_t, int64_t> targets;
  for (const policy::Decision& d : out.decisions) {
    targets[index.at(d.uuid)] = d.balloon_target_bytes;
    if (d.requested_bytes) requests_[index.at(d.uuid)] = *d.requested_bytes;
  }
  return targets;
}

std::map<size_t, int64_t> BalloondPolicy::TakeRequests() { return std::exchange(requests_, {}); }

std::map<size_t, int64_t> MomPolicy::Cycle(const HostView& host,
                                           const std::vector<GuestView>& guests, absl::Time) {
  constexpr size_t kWindow = 10;
  samples_.resize(guests.size());
  host_free_fraction_.push_back(static_cast<double>(host.available_bytes) / host.total_bytes);
  if (host_free_fraction_.size() > kWindow) host_free_fraction_.pop_front();
  const double hfp = std::accumulate(host_free_fraction_.begin(), host_free_fraction_.end(), 0.0) /
                     host_free_fraction_.size();
  const bool pressure = hfp < 0.20;
  const double gfp = hfp <= 0.05 ? hfp - 0.05 : hfp;

  std::map<size_t, int64_t> targets;
  for (size_t i = 0; i < guests.size(); ++i) {
    const GuestView& g = guests[i];
    Sample s;
    s.balloon_cur = static_cast<double>(g.actual_bytes);
    if (g.report) {
      s.mem_unused = static_cast<double>(g.report->free_bytes);
      s.has_stats = true;
    }
    auto& window = samples_[i];
    window.push_back(s);
    if (window.size() > kWindow) window.pop_front();
    if (!s.has_stats) continue;  // MOM skips guests without statistics
    double cur_avg = 0, unused_avg = 0;
    for (const Sample& w : window) cur_avg += w.balloon_cur, unused_avg += w.mem_unused;
    cur_avg /= window.size();
    unused_avg /= window.size();
    const double cur = static_cast<double>(g.actual_bytes);
    const double balloon_min = static_cast<double>(g.min_bytes);
    const double balloon_max = static_cast<double>(g.max_bytes);
    const double used = cur_avg - unused_avg;
    const double floor = std::max(balloon_min, used + gfp * cur);
    double target;
    if (cur < balloon_min) {
      target = balloon_min;
    } else if (pressure) {
      target = std::max(cur * 0.95, floor);
    } else {
      if (cur >= balloon_max) continue;
      target = std::min(std::max(cur * 1.05, floor), balloon_max);
    }
    if (std::abs(target - cur) < 0.0025 * cur) continue;
    targets[i] = static_cast<int64_t>(target);
  }
  return targets;
}

std::map<size_t, int64_t> ProxmoxPolicy::Cycle(const HostView& host,
                                               const std::vector<GuestView>& guests, absl::Time) {
  constexpr double kStep = 100.0 * kMiB;
  const double goal = host.total_bytes * 0.80 - (host.total_bytes - host.available_bytes);
  if (std::abs(goal) <= 10.0 * kMiB) return {};
  // Eligible: the driver reports, and a minimum below the maximum is configured.
  std::vector<size_t> pressured, enough_free;
  for (size_t i = 0; i < guests.size(); ++i) {
    const GuestView& g = guests[i];
    if (!g.report || g.min_bytes <= 0 || g.min_bytes >= g.max_bytes) continue;
    const bool under = g.report->free_bytes <= 0.25 * g.min_bytes || g.actual_bytes < g.min_bytes;
    (under ? pressured : enough_free).push_back(i);
  }
  // Growing serves the pressured VMs first, shrinking takes from those with enough free first; when
  // that list is empty, every eligible VM takes part.
  std::vector<size_t> chosen = goal > 0 ? pressured : enough_free;
  if (chosen.empty()) {
    chosen = pressured;
    chosen.insert(chosen.end(), enough_free.begin(), enough_free.end());
  }
  if (chosen.empty()) return {};
  double pool = goal, shares = 0;
  for (size_t i : chosen) {
    pool += guests[i].actual_bytes - guests[i].min_bytes;
    shares += guests[i].shares;
  }
  std::map<size_t, int64_t> targets;
  for (size_t i : chosen) {
    const GuestView& g = guests[i];
    const double desired =
        std::clamp(g.min_bytes + pool * g.shares / shares, static_cast<double>(g.min_bytes),
                   static_cast<double>(g.max_bytes));
    const double move = std::clamp(desired - g.actual_bytes, -kStep, kStep);
    if (std::abs(move) < kMiB) continue;
    targets[i] = static_cast<int64_t>(g.actual_bytes + move);
  }
  return targets;
}

std::map<size_t, int64_t> SqueezedPolicy::Cycle(const HostView& host,
                                                const std::vector<GuestView>& guests,
                                                absl::Time now) {
  if (last_target_.size() != guests.size()) {
    last_target_.assign(guests.size(), -1);
    last_actual_.assign(guests.size(), -1);
    last_progress_.assign(guests.size(), now);
  }
  std::vector<bool> stuck(guests.size(), false);
  double surplus = static_cast<double>(host.available_bytes - host_target_);
  double range = 0;
  for (size_t i = 0; i < guests.size(); ++i) {
    const GuestView& g = guests[i];
    const bool moved = last_actual_[i] < 0 || std::abs(g.actual_bytes - last_actual_[i]) > kMiB;
    const bool at_target =
        last_target_[i] < 0 || std::abs(g.actual_bytes - last_target_[i]) <= kMiB;
    if (moved || at_target) last_progress_[i] = now;
    last_actual_[i] = g.actual_bytes;
    stuck[i] = now - last_progress_[i] > absl::Seconds(5);
    if (stuck[i]) continue;
    surplus += std::max<int64_t>(0, g.actual_bytes - g.min_bytes);
    range += g.max_bytes - g.min_bytes;
  }
  const double gamma = range > 0 ? std::clamp(surplus / range, 0.0, 1.0) : 0.0;
  std::map<size_t, int64_t> targets;
  for (size_t i = 0; i < guests.size(); ++i) {
    if (stuck[i]) continue;
    const GuestView& g = guests[i];
    const int64_t target = g.min_bytes + static_cast<int64_t>(gamma * (g.max_bytes - g.min_bytes));
    if (std::abs(target - last_target_[i]) <= kMiB) continue;
    last_target_[i] = target;
    targets[i] = target;
  }
  return targets;
}

std::vector<std::unique_ptr<SimPolicy>> AllPolicies(const Scenario& scenario) {
  std::vector<std::unique_ptr<SimPolicy>> all;
  all.push_back(std::make_unique<BalloondPolicy>(absl::Seconds(scenario.stats_period_s),
                                                 scenario.balloond_policy));
  all.push_back(std::make_unique<MomPolicy>());
  all.push_back(std::make_unique<ProxmoxPolicy>());
  all.push_back(std::make_unique<SqueezedPolicy>());
  all.push_back(std::make_unique<NoBallooning>());
  return all;
}

}  // namespace balloond::sim
