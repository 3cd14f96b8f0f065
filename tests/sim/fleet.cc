#include "tests/sim/fleet.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tests/sim/policies.h"

namespace balloond::sim {
namespace {

constexpr double kTick = 0.1;  // seconds, as the host model's

struct Vm {
  std::string name;
  int64_t max_bytes = 0;
  double ends_at = 0;
};

// A VM waiting for its reservation to be READY (the balloond rule).
struct Pending {
  GuestSpec spec;
  double ends_at = 0;
  double arrived_at = 0;
};

struct Host {
  std::unique_ptr<Scenario> config;  // the model keeps a reference
  std::unique_ptr<BalloondPolicy> policy;
  std::unique_ptr<HostModel> model;
  std::vector<Vm> vms;
  std::deque<Pending> pending;  // oldest first, as their reservations were made
  // A capacity answer is for one cycle: a host starts VMs from one answer once, and waits for the
  // next cycle to see what they took.
  int64_t started_in_cycle = -1;

  int64_t Committed() const {
    int64_t sum = 0;
    for (const Vm& vm : vms) sum += vm.max_bytes;
    return sum;
  }
  int64_t Reserved() const {
    int64_t sum = 0;
    for (const Pending& p : pending) sum += p.spec.max_bytes;
    return sum;
  }
  int64_t Usable() const { return config->host_ram_bytes - config->host_base_bytes; }
  // What balloond would answer GetHostCapacity with now: the last cycle's capacity with the
  // reservations made since.
  int64_t Placeable() const {
    const auto& c = policy->capacity();
    return c ? policy::WithReserved(*c, Reserved()).placeable_bytes : 0;
  }
};

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t i = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[i];
}

class Fleet {
 public:
  Fleet(const FleetScenario& f, PlacementRule rule) : f_(f), rule_(rule), rng_(f.seed) {
    for (int i = 0; i < f.host_count; ++i) {
      Host h;
      h.config = std::make_unique<Scenario>(f.host);
      h.config->guests.clear();
      h.policy = std::make_unique<BalloondPolicy>(absl::Seconds(f.host.stats_period_s),
                                                  f.host.balloond_policy);
      h.policy->track_capacity();
      h.model = std::make_unique<HostModel>(*h.config, *h.policy);
      hosts_.push_back(std::move(h));
    }
    std::vector<double> weights;
    for (const VmKind& k : f.kinds) weights.push_back(k.weight);
    pick_kind_ = std::discrete_distribution<size_t>(weights.begin(), weights.end());
    next_arrival_ = NextGap();
  }

  FleetMetrics Run() {
    const int steps = static_cast<int>(f_.duration_s / kTick);
    for (int step = 0; step < steps; ++step) {
      const double t = step * kTick;
      while (next_arrival_ <= t) {
        Arrive(t);
        next_arrival_ += NextGap();
      }
      for (Host& h : hosts_) {
        Depart(h, t);
        StartReady(h, t);
        h.model->Step();
      }
      int running = 0;
      for (const Host& h : hosts_) running += static_cast<int>(h.vms.size());
      m_.peak_vms_running = std::max(m_.peak_vms_running, running);
    }
    for (Host& h : hosts_) {
      m_.vms_refused += static_cast<int>(h.pending.size());  // still waiting at the end
      const Metrics hm = h.model->Finish();
      m_.pressure_seconds += hm.pressure_seconds;
      m_.guest_seconds += hm.guest_seconds;
      m_.oom_kills += hm.oom_kills;
      m_.host_oom_kills += hm.host_oom_kills;
    }
    m_.ready_p50_s = Percentile(ready_, 0.5);
    m_.ready_p99_s = Percentile(ready_, 0.99);
    return m_;
  }

 private:
  double NextGap() {
    return std::exponential_distribution<double>(1.0 / f_.arrival_interval_s)(rng_);
  }

  GuestSpec NewGuest(double t) {
    const VmKind& kind = f_.kinds[pick_kind_(rng_)];
    GuestSpec spec = kind.guest;
    spec.name = absl::StrCat(kind.name, "-", ++arrivals_);
    // Its traces start when it does, or run on the fleet's clock, each VM a little apart.
    spec.phase_s =
        kind.host_clock ? std::uniform_real_distribution<double>(0, kind.guest.phase_s)(rng_) : -t;
    return spec;
  }

  double Lifetime() {
    return f_.lifetime_s > 0 ? std::exponential_distribution<double>(1.0 / f_.lifetime_s)(rng_)
                             : f_.duration_s;
  }

  void Arrive(double t) {
    GuestSpec spec = NewGuest(t);
    const double ends_at = t + Lifetime();
    Host* chosen = nullptr;
    if (rule_ == PlacementRule::kBalloond) {
      // The host that can place the most, if it can place this VM's maximum.
      for (Host& h : hosts_) {
        if (h.Placeable() >= spec.max_bytes && (!chosen || h.Placeable() > chosen->Placeable())) {
          chosen = &h;
        }
      }
      if (!chosen) {
        ++m_.vms_refused;
        return;
      }
      chosen->pending.push_back({std::move(spec), ends_at, t});
      chosen->policy->set_reserved_bytes(chosen->Reserved());
      return;
    }
    const double ratio = rule_ == PlacementRule::kStatic15 ? 1.5 : 1.0;
    for (Host& h : hosts_) {  // the least committed host it fits on
      const bool fits = static_cast<double>(h.Committed() + spec.max_bytes) <=
                        ratio * static_cast<double>(h.Usable());
      if (fits && (!chosen || h.Committed() < chosen->Committed())) chosen = &h;
    }
    if (!chosen) {
      ++m_.vms_refused;
      return;
    }
    Start(*chosen, std::move(spec), ends_at);
    ready_.push_back(0);
  }

  void Start(Host& h, GuestSpec spec, double ends_at) {
    h.vms.push_back({spec.name, spec.max_bytes, ends_at});
    h.model->AddGuest(std::move(spec));
    ++m_.vms_placed;
  }

  // Reservations whose room is there start their VM, oldest first (the room made for one is
  // counted before the next); those waiting past the timeout are refused.
  void StartReady(Host& h, double t) {
    const auto& c = h.policy->capacity();
    const bool answered = h.started_in_cycle == h.policy->cycles();
    bool started = false;
    int64_t room = c && !answered ? policy::RoomBeyondReserve(*c) : 0;
    while (!h.pending.empty()) {
      Pending& p = h.pending.front();
      if (room >= p.spec.max_bytes) {
        room -= p.spec.max_bytes;
        ready_.push_back(t - p.arrived_at);
        Start(h, std::move(p.spec), p.ends_at);
        h.pending.pop_front();
        started = true;
      } else if (t - p.arrived_at > f_.ready_timeout_s) {
        ++m_.vms_refused;
        h.pending.pop_front();
      } else {
        break;
      }
    }
    if (started) {
      h.policy->set_reserved_bytes(h.Reserved());
      h.started_in_cycle = h.policy->cycles();
    }
  }

  void Depart(Host& h, double t) {
    for (auto it = h.vms.begin(); it != h.vms.end();) {
      if (it->ends_at <= t) {
        h.model->RemoveGuest(it->name);
        it = h.vms.erase(it);
      } else {
        ++it;
      }
    }
  }

  const FleetScenario& f_;
  const PlacementRule rule_;
  std::mt19937_64 rng_;
  std::discrete_distribution<size_t> pick_kind_;
  std::vector<Host> hosts_;
  double next_arrival_ = 0;
  int arrivals_ = 0;
  std::vector<double> ready_;
  FleetMetrics m_;
};

}  // namespace

std::string RuleName(PlacementRule rule) {
  switch (rule) {
    case PlacementRule::kNoOvercommit:
      return "no-overcommit";
    case PlacementRule::kStatic15:
      return "static-1.5";
    case PlacementRule::kBalloond:
      return "balloond";
  }
  return "?";
}

FleetMetrics RunFleet(const FleetScenario& fleet, PlacementRule rule) {
  return Fleet(fleet, rule).Run();
}

}  // namespace balloond::sim
