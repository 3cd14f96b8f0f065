#include "tests/sim/model.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <utility>

#include "absl/strings/str_format.h"

namespace balloond::sim {
namespace {

constexpr double kTick = 0.1;  // seconds
// Fraction of its working set a swapping guest touches again each second: swap-in traffic.
constexpr double kRefaultPerSecond = 0.2;
// What one major fault of the page cache costs the guest: a read from a virtio disk on SSD.
constexpr double kRefaultSeconds = 100e-6;
// How long a guest the host's OOM killer ended takes to be running its workload again.
constexpr double kRestartSeconds = 30;

// One guest as the model runs it.
struct Guest {
  const GuestSpec* spec;
  bool gone = false;   // left the host: holds nothing, and no policy sees it
  double actual = 0;   // memory the guest has (balloon + plugged), bytes
  double balloon = 0;  // the balloon's size within the boot memory
  int64_t target = 0;  // the balloon's target
  double plugged = 0;  // what its virtio-mem device plugged, and was asked to
  int64_t requested = 0;
  double cache = 0;
  // Bytes of memory use changed so far (anonymous and cache, either way): the sim's CPU time.
  double memory_work = 0;
  double last_anon = 0;
  double touched = 0;         // memory the guest has used since the host last got it back
  double oom_offset = 0;      // anon freed by OOM kills, until the killed work runs again
  double oom_restart_at = 0;  // when the work the guest's OOM killer ended runs again, whole
  double swap_in_total = 0;
  double major_faults = 0;
  std::optional<policy::GuestReport> report;
  bool pressured = false;
  double refault_stall = 0;  // the fraction of this tick spent waiting for refaults
  int last_direction = 0;
  double working_set =
      0;  // what the guest uses now (resident, cache, kernel): the host's hot pages
  double down_until = -1;  // ended by the host's OOM killer: restarting until then

  double Total() const { return actual - spec->kernel_bytes; }
};

double Anon(const Guest& g, double t) {
  return std::max(0.0, g.spec->anon.At(t + g.spec->phase_s) * kMiB - g.oom_offset);
}

// The host when its guests hold more than its RAM: it swaps out the pages they touched and no
// longer use first (no one feels that), then the pages they use, in proportion to what each uses:
// each guest whose working set is partly on the host's swap is under pressure, whatever its own
// statistics say (a guest cannot see the host swapping it). Beyond RAM + swap the host's OOM
// killer ends the guest holding the most; it starts again from nothing. Returns what the guests
// hold after that.
double HostSwaps(const Scenario& scenario, std::vector<Guest>& guests, double held, Metrics& m,
                 double t) {
  const double ram = static_cast<double>(scenario.host_ram_bytes - scenario.host_base_bytes);
  if (held <= ram) return held;
  m.overcommit_seconds += kTick;
  if (held - ram > static_cast<double>(scenario.host_swap_bytes)) {
    Guest* largest = &guests.front();
    for (Guest& g : guests) {
      if (g.touched > largest->touched) largest = &g;
    }
    ++m.oom_kills;
    ++m.host_oom_kills;
    held -= largest->touched;
    largest->touched = largest->working_set = largest->cache = 0;
    largest->oom_offset = 0;
    largest->down_until = t + kRestartSeconds;
    largest->pressured = true;
    if (held <= ram) return held;
  }
  double cold = 0, hot = 0;
  for (const Guest& g : guests) {
    cold += std::max(0.0, g.touched - g.working_set);
    hot += g.working_set;
  }
  const double hot_swapped = held - ram - cold;
  if (hot_swapped <= 0 || hot <= 0) return held;
  for (Guest& g : guests) {
    // A guest with under 1 MiB of its working set out is not slowed enough to count.
    if (hot_swapped * g.working_set / hot < kMiB || g.pressured) continue;
    g.pressured = true;
    m.host_swap_seconds += kTick;
  }
  return held;
}

}  // namespace

double Trace::At(double t) const {
  if (points.empty()) return 0;
  if (repeat_s > 0) t = std::fmod(t, repeat_s);
  if (t <= points.front().first) return points.front().second;
  for (size_t i = 1; i < points.size(); ++i) {
    if (t <= points[i].first) {
      const auto& [t0, v0] = points[i - 1];
      const auto& [t1, v1] = points[i];
      return t1 == t0 ? v1 : v0 + (v1 - v0) * (t - t0) / (t1 - t0);
    }
  }
  return points.back().second;
}

struct HostModel::Impl {
  Impl(const Scenario& s, SimPolicy& p)
      : scenario(s), policy(p), policy_period(absl::ToDoubleSeconds(p.period())) {
    next_policy = policy_period;
  }
  void Add(GuestSpec spec);
  void Remove(const std::string& name);
  void Step();
  Metrics Finish();

  const Scenario& scenario;
  SimPolicy& policy;
  const absl::Time epoch = absl::FromUnixSeconds(1795600000);
  const double policy_period;
  Metrics m;
  std::deque<GuestSpec> specs;  // each guest's (a deque: Guest::spec points into it)
  std::vector<Guest> guests;
  int step = 0;
  double next_report = 0, next_policy = 0;
  std::optional<double> spike_pressure_since;
  bool spike_relieved = false;
  double reclaimed_sum = 0;
  double held_before = 0;
  CycleLog cycle_log;
};

namespace {

void LogCycle(const CycleLog& log, double t, int64_t host_available,
              const std::vector<GuestView>& views, const std::vector<size_t>& live,
              const std::vector<Guest>& guests, const std::map<size_t, int64_t>& targets) {
  if (log.out == nullptr || t < log.from_s || t >= log.to_s) return;
  std::ostream& out = *log.out;
  out << absl::StrFormat("t=%.1f host available %d MiB:", t, host_available / kMiB);
  for (size_t i = 0; i < views.size(); ++i) {
    const Guest& g = guests[live[i]];
    out << absl::StrFormat(" %s%s %.0f/%.0f", g.pressured ? "*" : "", g.spec->name, g.actual / kMiB,
                           Anon(g, t) / kMiB);
    if (g.report) out << absl::StrFormat(" a%d", g.report->available_bytes / kMiB);
    if (auto it = targets.find(i); it != targets.end()) {
      out << absl::StrFormat("->%d", it->second / kMiB);
    }
  }
  out << "\n";
}

}  // namespace

void HostModel::Impl::Add(GuestSpec spec) {
  specs.push_back(std::move(spec));
  const GuestSpec& s = specs.back();
  Guest g;
  g.spec = &s;
  g.actual = g.balloon =
      static_cast<double>(s.start_balloon_bytes > 0 ? s.start_balloon_bytes : s.max_bytes);
  g.target = static_cast<int64_t>(g.balloon);
  g.plugged = static_cast<double>(s.start_plugged_bytes);
  g.requested = s.start_plugged_bytes;
  g.actual += g.plugged;
  guests.push_back(g);
}

void HostModel::Impl::Remove(const std::string& name) {
  for (Guest& g : guests) {
    if (g.gone || g.spec->name != name) continue;
    g.gone = true;
    g.touched = g.working_set = g.cache = 0;
    g.pressured = false;
    g.refault_stall = 0;
  }
}

void HostModel::Impl::Step() {
  const double t = step * kTick;
  ++step;
  double held = 0;
  for (Guest& g : guests) {
    if (g.gone) continue;
    const GuestSpec& s = *g.spec;
    if (t < g.down_until) {  // killed by the host: holds nothing, serves nothing
      g.pressured = true;
      reclaimed_sum += static_cast<double>(s.max_bytes) - g.actual;
      continue;
    }
    // The balloon moves toward its target; inflating cannot take what the guest's working set
    // holds (the driver's allocations fail and it retries later).
    // So does virtio-mem toward its request: unplugging cannot take what the guest uses either
    // (no free memory to move its pages to), nor what it cannot move.
    if (!s.uncooperative) {
      const double needed = Anon(g, t) + s.kernel_bytes + 0.02 * g.actual;
      if (g.target < g.balloon) {
        const double floor = std::min(g.balloon, needed - g.plugged);
        g.balloon = std::max(
            {static_cast<double>(g.target), g.balloon - s.inflate_bytes_per_s * kTick, floor});
      } else if (g.target > g.balloon) {
        g.balloon =
            std::min(static_cast<double>(g.target), g.balloon + s.deflate_bytes_per_s * kTick);
      }
      if (g.requested > g.plugged) {
        g.plugged =
            std::min(static_cast<double>(g.requested), g.plugged + s.plug_bytes_per_s * kTick);
      } else if (g.requested < g.plugged) {
        const double floor = std::min(
            g.plugged, std::max(static_cast<double>(s.unmovable_bytes), needed - g.balloon));
        g.plugged = std::max(
            {static_cast<double>(g.requested), g.plugged - s.unplug_bytes_per_s * kTick, floor});
      }
      g.actual = g.balloon + g.plugged;
    }
    double total = g.Total();
    double anon = Anon(g, t);
    // Anonymous memory beyond what fits goes to swap; beyond swap too, the OOM killer frees it.
    double fits = total * 0.97;
    if (s.autodeflate && anon > fits + static_cast<double>(s.swap_bytes) &&
        g.balloon < static_cast<double>(s.max_bytes)) {
      // An autodeflate balloon gives the guest what it lacks first, as far as it has any.
      const double lacking = (anon - static_cast<double>(s.swap_bytes)) / 0.97 - total;
      g.balloon = std::min(static_cast<double>(s.max_bytes), g.balloon + lacking);
      g.actual = g.balloon + g.plugged;
      total = g.Total();
      fits = total * 0.97;
    }
    if (anon > fits + static_cast<double>(s.swap_bytes)) {
      ++m.oom_kills;
      g.oom_offset += anon - fits * 0.5;
      g.oom_restart_at = t + kRestartSeconds;
      anon = Anon(g, t);
    } else if (g.oom_offset > 0 && t >= g.oom_restart_at) {
      // The killed work is restarted and grows back to what its trace says: killed again if it
      // still does not fit.
      g.oom_offset = 0;
    }
    const double swapped = std::max(0.0, anon - fits);
    const double resident = anon - swapped;
    // The page cache fills free memory toward the file set, and gives way at once.
    const double cache_want = s.cache.At(t + s.phase_s) * kMiB;
    const double room = std::max(0.0, fits - resident);
    const double cache_before = g.cache;
    g.cache = std::min({room, cache_want, g.cache + 64.0 * kMiB * kTick});
    g.memory_work += std::abs(anon - g.last_anon) + std::abs(g.cache - cache_before);
    // The hot part of the file set that the memory left for cache cannot hold is read from disk
    // again and again: major faults, and time the guest waits for them (LRU keeps the hot part
    // first, so squeezing the cold part costs nothing).
    const double hot_want = std::min(s.hot_cache.At(t + s.phase_s) * kMiB, cache_want);
    const double reread = std::max(0.0, hot_want - room) * s.hot_reread_per_s;  // bytes/s
    g.major_faults += reread / 4096 * kTick;
    g.memory_work += reread * kTick;
    g.refault_stall = std::min(1.0, reread / 4096 * kRefaultSeconds);
    g.last_anon = anon;
    const double free = std::max(0.0, total - resident - g.cache);
    const double available = free + g.cache;
    if (swapped > 0) {
      const double in = swapped * kRefaultPerSecond * kTick;
      g.swap_in_total += in;
      g.major_faults += in / 4096;
    }
    g.pressured = swapped > 0 || available < 0.02 * total;

    g.working_set = std::min(resident + g.cache + s.kernel_bytes, g.actual);
    g.touched = std::min(std::max(g.touched, g.working_set), g.actual);
    held += g.touched;

    const bool reporting = !s.stops_reporting_at_s || t < *s.stops_reporting_at_s;
    if (t >= next_report && reporting) {
      policy::GuestReport r;
      r.total_bytes = static_cast<int64_t>(total);
      r.available_bytes = static_cast<int64_t>(available);
      r.free_bytes = static_cast<int64_t>(free);
      if (!s.lies.empty() && t >= s.lies_from_s) {
        const double claimed = s.lies == "starving" ? 0 : 2 * total;
        r.available_bytes = r.free_bytes = static_cast<int64_t>(claimed);
      }
      r.swap_in_bytes = static_cast<int64_t>(g.swap_in_total);
      r.major_faults = static_cast<int64_t>(g.major_faults);
      r.last_update = epoch + absl::Seconds(std::floor(t));
      g.report = r;
    }
    reclaimed_sum += static_cast<double>(s.max_bytes) - g.actual;
  }
  if (t >= next_report) next_report += scenario.stats_period_s;
  held = HostSwaps(scenario, guests, held, m, t);
  held_before = held;
  bool any_pressured = false;
  for (Guest& g : guests) {
    if (g.gone) continue;
    m.guest_seconds += kTick;
    // Under pressure, a guest's refaults are part of it; otherwise they are pressure of their
    // own.
    const double felt = g.pressured ? kTick : g.refault_stall * kTick;
    if (!g.pressured) m.refault_seconds += felt;
    any_pressured |= g.pressured;
    if (felt <= 0) continue;
    m.pressure_seconds += felt;
    m.pressure_seconds_by_guest[g.spec->name] += felt;
    if (t >= 60) m.pressure_seconds_after_first_minute += felt;
  }
  if (scenario.spike_guest && t >= scenario.spike_at_s &&
      t < scenario.spike_at_s + scenario.spike_window_s && any_pressured) {
    m.storm_relieved_s = t + kTick - scenario.spike_at_s;
  }

  if (scenario.spike_guest && t >= scenario.spike_at_s && !spike_relieved) {
    for (const Guest& g : guests) {
      if (g.spec->name != *scenario.spike_guest) continue;
      if (g.pressured && !spike_pressure_since) spike_pressure_since = t;
      if (!g.pressured && spike_pressure_since) {
        m.time_to_relief_s = t - *spike_pressure_since;
        spike_relieved = true;
      }
    }
  }

  if (t >= next_policy) {
    next_policy += policy_period;
    HostView host;
    host.total_bytes = scenario.host_ram_bytes;
    host.available_bytes = std::max<int64_t>(
        0, scenario.host_ram_bytes - scenario.host_base_bytes - static_cast<int64_t>(held_before));
    std::vector<GuestView> views;
    std::vector<size_t> live;  // views[i] is guests[live[i]]
    for (size_t i = 0; i < guests.size(); ++i) {
      const Guest& g = guests[i];
      if (g.gone) continue;
      live.push_back(i);
      GuestView v;
      v.name = g.spec->name;
      v.max_bytes = g.spec->max_bytes;
      v.min_bytes = g.spec->min_bytes;
      v.shares = g.spec->shares;
      v.actual_bytes = static_cast<int64_t>(g.actual);
      v.autodeflate = g.spec->autodeflate;
      v.resident_bytes = static_cast<int64_t>(g.touched);
      if (g.spec->virtio_mem_bytes > 0) {
        // libvirt reports plugged sizes in whole blocks.
        const int64_t plugged = static_cast<int64_t>(g.plugged) / (2 * kMiB) * (2 * kMiB);
        v.hotplug = policy::Hotplug{plugged, g.requested, g.spec->virtio_mem_bytes, 2 * kMiB};
        v.actual_bytes = static_cast<int64_t>(g.balloon) + plugged;
      }
      v.report = g.report;
      v.memory_work_bytes = static_cast<int64_t>(g.memory_work);
      v.stats_period = absl::Seconds(scenario.stats_period_s);
      views.push_back(std::move(v));
    }
    const std::map<size_t, int64_t> targets = policy.Cycle(host, views, epoch + absl::Seconds(t));
    LogCycle(cycle_log, t, host.available_bytes, views, live, guests, targets);
    std::map<size_t, std::pair<int64_t, int64_t>> moves;  // balloon target, requested
    for (const auto& [index, target] : targets) {
      const Guest& g = guests[live[index]];
      moves[index] = {
          std::clamp<int64_t>(target, g.spec->kernel_bytes + 16 * kMiB, g.spec->max_bytes),
          g.requested};
    }
    for (const auto& [index, requested] : policy.TakeRequests()) {
      const Guest& g = guests[live[index]];
      auto [it, added] = moves.try_emplace(index, g.target, g.requested);
      it->second.second =
          std::clamp<int64_t>(requested, 0, g.spec->virtio_mem_bytes) / (2 * kMiB) * (2 * kMiB);
    }
    for (const auto& [index, move] : moves) {
      Guest& g = guests[live[index]];
      const auto [balloon_target, requested] = move;
      const int64_t before = g.target + g.requested;
      const int64_t after = balloon_target + requested;
      if (balloon_target == g.target && requested == g.requested) continue;
      g.requested = requested;
      const int64_t clamped = balloon_target;
      if (after == before) {
        g.target = clamped;
        ++m.commands;
        continue;
      }
      const int direction = after > before ? 1 : -1;
      if (direction > 0 && scenario.spike_guest && g.spec->name == *scenario.spike_guest &&
          t >= scenario.spike_at_s && !m.first_grow_after_spike_s) {
        m.first_grow_after_spike_s = t - scenario.spike_at_s;
      }
      if (g.last_direction != 0 && direction != g.last_direction) ++m.reversals;
      g.last_direction = direction;
      g.target = clamped;
      ++m.commands;
    }
  }
}

Metrics HostModel::Impl::Finish() {
  if (scenario.spike_guest && !spike_pressure_since)
    m.time_to_relief_s = 0;  // never under pressure
  if (scenario.spike_guest && !m.storm_relieved_s) m.storm_relieved_s = 0;
  for (const Guest& g : guests) {
    m.end_plugged_by_guest[g.spec->name] = g.plugged;
    m.end_balloon_by_guest[g.spec->name] = g.balloon;
  }
  m.reclaimed_mean_bytes = reclaimed_sum / std::max(1, step);
  m.returned_gib_hours = reclaimed_sum * kTick / (1024.0 * kMiB) / 3600;
  return m;
}

HostModel::HostModel(const Scenario& scenario, SimPolicy& policy)
    : impl_(std::make_unique<Impl>(scenario, policy)) {
  for (const GuestSpec& spec : scenario.guests) impl_->Add(spec);
}
HostModel::~HostModel() = default;
void HostModel::AddGuest(GuestSpec spec) { impl_->Add(std::move(spec)); }
void HostModel::RemoveGuest(const std::string& name) { impl_->Remove(name); }
void HostModel::Step() { impl_->Step(); }
double HostModel::now() const { return impl_->step * kTick; }
int64_t HostModel::available_bytes() const {
  return std::max<int64_t>(0, impl_->scenario.host_ram_bytes - impl_->scenario.host_base_bytes -
                                  static_cast<int64_t>(impl_->held_before));
}
Metrics HostModel::Finish() { return impl_->Finish(); }
void HostModel::LogCyclesTo(const CycleLog& log) { impl_->cycle_log = log; }

Metrics Simulate(const Scenario& scenario, SimPolicy& policy, const CycleLog& log) {
  HostModel host(scenario, policy);
  host.LogCyclesTo(log);
  const int steps = static_cast<int>(scenario.duration_s / kTick);
  for (int i = 0; i < steps; ++i) host.Step();
  return host.Finish();
}

}  // namespace balloond::sim
