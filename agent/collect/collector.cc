#include "agent/collect/collector.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/base/log.h"
#include "agent/libvirt/policy_metadata.h"

namespace balloond {
namespace {

// A domain's jobs are checked when it is read and this many stats periods have passed since the
// last check (a migration runs for many).
constexpr int kJobCheckPeriods = 5;
// How long a client's read of a domain keeps it read every period, in stats periods.
constexpr int kInterestPeriods = 5;
// A steady domain whose QEMU uses this share of a CPU more than when idle is read at once: growing
// memory takes CPU (at 2 % of a CPU, a guest touches at most some 20 MiB/s).
constexpr double kBusyCpuShare = 0.02;

// The share of a CPU used between `point` and (`cpu_ns`, `now`); nullopt without a point.
std::optional<double> CpuShare(const std::optional<std::pair<int64_t, absl::Time>>& point,
                               int64_t cpu_ns, absl::Time now) {
  if (!point || now <= point->second || cpu_ns < point->first) return std::nullopt;
  return static_cast<double>(cpu_ns - point->first) /
         static_cast<double>(absl::ToInt64Nanoseconds(now - point->second));
}

bool Busy(double share, double idle_share) {
  return share > std::max(0.0, idle_share) + kBusyCpuShare;
}
// Collections in a row without the guest's statistics before the domain shows a monitor problem:
// one can be a call that happened to hold the monitor.
constexpr int kMissesBeforeProblem = 2;
// How long clients' QOM queries already running get to finish before a collection starts.
constexpr absl::Duration kClientDrain = absl::Milliseconds(100);
// A domain whose reporting could not be switched on is tried again after this long.
constexpr absl::Duration kReportingRetry = absl::Seconds(30);

std::string MonitorProblem(const DomainInfo& info, int missed) {
  return absl::StrCat("libvirt could not read the guest statistics of domain '", info.name,
                      "' in the last ", missed,
                      " collections: its QEMU monitor is busy or did not answer; is its QEMU "
                      "process stopped or overloaded?");
}

}  // namespace

Collector::Collector(Hypervisor& hypervisor, SnapshotStore& store, Clock& clock,
                     CollectorOptions options, CollectorSeams seams)
    : hypervisor_(hypervisor),
      store_(store),
      clock_(clock),
      options_(options),
      seams_(seams),
      pool_("domain setup", options.workers) {}

Collector::~Collector() { Stop(); }

void Collector::Start() {
  started_ = clock_.Monotonic();
  loop_ = std::thread([this] { Loop(); });
}

void Collector::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (loop_.joinable()) loop_.join();
  pool_.Stop();
}

void Collector::RequestRefresh(const std::string& uuid) {
  absl::MutexLock lock(&mu_);
  refresh_requested_ = true;
  if (uuid.empty()) {
    read_all_ = true;
  } else {
    changed_.insert(uuid);
    due_now_.insert(uuid);
  }
}

void Collector::SetCollectionPlan(const std::map<std::string, int>& every) {
  absl::MutexLock lock(&mu_);
  plan_ = every;
  for (auto& [uuid, t] : tracked_) {
    auto it = plan_.find(uuid);
    t.every = it == plan_.end() ? 1 : std::max(1, it->second);
  }
}

void Collector::NoteInterest(const std::string& uuid) {
  const absl::Time until = clock_.Now() + kInterestPeriods * options_.stats_period;
  absl::MutexLock lock(&mu_);
  auto it = tracked_.find(uuid);
  if (it == tracked_.end()) return;
  // Not a collection at once: a client reading in a loop must not make balloond read in a loop.
  it->second.interest_until = until;
}

CollectionFilter Collector::Steady(absl::Time now) {
  CollectionFilter filter;
  // What the busy check compares with: each steady domain's last CPU point and idle share.
  auto points =
      std::make_shared<std::map<std::string, std::pair<std::pair<int64_t, absl::Time>, double>>>();
  {
    absl::MutexLock lock(&mu_);
    std::set<std::string> due_now;
    due_now.swap(due_now_);
    if (std::exchange(read_all_, false)) return filter;
    // Half a period early: collections are a period apart give or take the time each takes.
    for (const auto& [uuid, t] : tracked_) {
      const absl::Time due = t.last_read + (t.every - 0.5) * options_.stats_period;
      if (t.every > 1 && now < due && now >= t.interest_until && t.missed == 0 && t.config &&
          !due_now.count(uuid)) {
        if (t.state == DomainRunState::kPaused) {
          filter.asleep.insert(uuid);
          continue;
        }
        filter.steady.insert(uuid);
        if (t.cpu_point) (*points)[uuid] = {*t.cpu_point, t.idle_cpu_share};
      }
    }
  }
  // Outside the lock: the check takes the watch streams' own.
  if (seams_.watched != nullptr) {
    for (auto* set : {&filter.steady, &filter.asleep}) {
      for (auto it = set->begin(); it != set->end();) {
        it = seams_.watched->Watched(*it) ? set->erase(it) : std::next(it);
      }
    }
  }
  filter.busy = [points, now](const std::string& uuid, int64_t cpu_ns) {
    auto it = points->find(uuid);
    if (it == points->end()) return false;  // the first look at it: nothing to compare with yet
    const std::optional<double> share = CpuShare(it->second.first, cpu_ns, now);
    return share && Busy(*share, it->second.second);
  };
  return filter;
}

int64_t Collector::guest_stats_period_seconds() const {
  return std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(options_.stats_period))));
}

bool Collector::libvirt_reachable() const {
  absl::MutexLock lock(&mu_);
  return reachable_.value_or(false);
}

void Collector::SetReachable(const absl::Status& reachable) {
  {
    absl::MutexLock lock(&mu_);
    if (reachable_ == reachable.ok()) return;
    reachable_ = reachable.ok();
  }
  if (seams_.events != nullptr) seams_.events->OnReachability(reachable);
}

void Collector::Loop() {
  for (;;) {
    RunGuarded("a collection", [this] { CollectOnce(); });
    if (seams_.events != nullptr) {
      seams_.events->OnHeartbeat();
      // Without libvirt the snapshots only age: nothing to decide on.
      if (libvirt_reachable()) {
        RunGuarded("the end of a collection", [&] { seams_.events->OnRound(last_round_); });
      }
    }
    absl::MutexLock lock(&mu_);
    auto woken = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || refresh_requested_; };
    clock_.AwaitWithTimeout(mu_, absl::Condition(&woken), options_.stats_period);
    if (stopping_) return;
    refresh_requested_ = false;
  }
}

void Collector::CollectOnce() {
  if (seams_.traffic != nullptr) seams_.traffic->Pause(kClientDrain);
  const absl::Duration round_start = clock_.Monotonic();
  const CollectionFilter filter = Steady(clock_.Now());
  auto collected = hypervisor_.CollectStats(clock_.Now() + options_.monitor_timeout, filter);
  if (seams_.traffic != nullptr) seams_.traffic->Resume();
  if (!collected.ok()) {
    // Unreachable: the last snapshots stay, and health reports NOT_SERVING meanwhile. Too slow: a
    // QEMU stopped answering during the call; libvirt is there, and the next one leaves it out.
    {
      absl::MutexLock lock(&mu_);
      read_all_ = true;  // whatever happened meanwhile, the next collection sees all of it
    }
    if (collected.status().code() == absl::StatusCode::kUnavailable) {
      SetReachable(collected.status());
    } else {
      Log(LogLevel::kWarning, absl::StrCat("a collection failed: ", collected.status().message()));
    }
    return;
  }

  const absl::Time now = clock_.Now();
  std::vector<DomainSnapshot> snapshots;
  std::vector<std::string> gone;
  std::vector<std::function<void()>> calls;
  {
    absl::MutexLock lock(&mu_);
    std::map<std::string, Tracked> next;
    for (const DomainStats& d : *collected) {
      auto it = tracked_.find(d.info.uuid);
      // A new ID is a new QEMU process: its definition is read and its reporting checked again.
      Tracked t;
      if (it != tracked_.end() && it->second.id == d.info.id) t = it->second;
      t.id = d.info.id;
      if (!d.skipped) t.state = d.info.state;
      if (auto planned = plan_.find(d.info.uuid); planned != plan_.end()) {
        t.every = std::max(1, planned->second);
      }
      if (d.cpu_time_ns) {
        // What it uses idle: the lowest share seen lately, rising slowly when its idle rises.
        if (auto share = CpuShare(t.cpu_point, *d.cpu_time_ns, now)) {
          t.idle_cpu_share = t.idle_cpu_share < 0
                                 ? *share
                                 : std::min(*share, 0.9 * t.idle_cpu_share + 0.1 * *share);
        }
        t.cpu_point = std::make_pair(*d.cpu_time_ns, now);
      } else {
        t.cpu_point.reset();  // read every time: the CPU it uses meanwhile says nothing
      }
      if (!d.skipped) {
        // Read now: a definition that may have changed is read again (a skipped one waits).
        if (changed_.erase(d.info.uuid) && !t.config_requested) t.config.reset();
        t.last_read = now;
        RequestCalls(d, t, now, calls);
        snapshots.push_back(Assemble(d, t, now));
      }
      next[d.info.uuid] = t;
    }
    for (const auto& [uuid, t] : tracked_) {
      if (next.count(uuid) == 0) gone.push_back(uuid);
    }
    // Nothing kept of a domain that went away.
    for (auto c = changed_.begin(); c != changed_.end();) {
      c = next.count(*c) ? std::next(c) : changed_.erase(c);
    }
    tracked_ = std::move(next);
  }
  for (DomainSnapshot& s : snapshots) store_.Put(std::move(s));
  for (const std::string& uuid : gone) store_.Remove(uuid);
  for (auto& call : calls) pool_.Submit(std::move(call));
  if (!std::exchange(inventoried_, true)) {
    Log(absl::StrCat(
        "first collection: ", collected->size(), " running domains, ",
        absl::FormatDuration(absl::Trunc(clock_.Monotonic() - started_, absl::Milliseconds(1))),
        " after start"));
  }
  // Only now: SERVING promises a complete inventory to the first ListDomains.
  SetReachable(absl::OkStatus());
  last_round_ = clock_.Monotonic() - round_start;
  if (LogEnabled(LogLevel::kDebug)) {
    Log(LogLevel::kDebug,
        absl::StrCat("collection round of ", collected->size(), " domains (", snapshots.size(),
                     " read) took ", absl::ToDoubleMilliseconds(last_round_), "ms"));
  }
}

DomainSnapshot Collector::Assemble(const DomainStats& d, Tracked& t, absl::Time now) {
  DomainSnapshot snap;
  if (auto prev = store_.FindByUuid(d.info.uuid); prev && prev->info.id == d.info.id) {
    snap = std::move(*prev);  // a collection without statistics keeps the last ones, with their age
  }
  snap.info = d.info;
  snap.config = t.config;
  snap.metadata_policy = t.metadata_policy;
  snap.metadata_problem = t.metadata_problem;
  snap.migrating = t.migrating;
  snap.problem.clear();
  if (d.actual_bytes) snap.actual_bytes = d.actual_bytes;
  if (t.config) snap.stats_period_seconds = t.config->stats_period_seconds;
  if (t.config && !t.config->has_balloon) {
    snap.balloon = BalloonStatus::kNoDevice;
    snap.problem = NoBalloonDeviceProblem(d.info.name);
    snap.guest.reset();
    return snap;
  }
  if (!d.stats_read) {
    if (++t.missed >= kMissesBeforeProblem) {
      snap.balloon = BalloonStatus::kMonitorError;
      snap.problem = MonitorProblem(d.info, t.missed);
    }
    return snap;
  }
  t.missed = 0;
  snap.balloon = BalloonStatus::kActive;
  snap.guest = d.guest;
  snap.collect_time = now;
  if (snap.guest->last_update_unix_seconds == 0) {
    snap.problem =
        absl::StrCat("the guest of domain '", d.info.name,
                     "' has not reported memory statistics; is its virtio_balloon driver loaded?");
  }
  return snap;
}

void Collector::RequestCalls(const DomainStats& d, Tracked& t, absl::Time now,
                             std::vector<std::function<void()>>& calls) {
  const std::string uuid = d.info.uuid;
  const int id = t.id;
  if (!t.config && !t.config_requested) {
    t.config_requested = true;
    calls.push_back([this, uuid, id, name = d.info.name] { ReadConfig(uuid, id, name); });
  }
  if (t.config && t.config->has_balloon && t.config->stats_period_seconds == 0 &&
      !t.reporting_requested && clock_.Now() >= t.reporting_retry_at) {
    t.reporting_requested = true;
    calls.push_back([this, uuid, id, name = d.info.name] { SwitchReportingOn(uuid, id, name); });
  }
  if (now - t.last_job_check >=
          kJobCheckPeriods * options_.stats_period - options_.stats_period / 2 &&
      !t.job_check_requested && d.info.state == DomainRunState::kRunning) {
    t.job_check_requested = true;
    t.last_job_check = now;
    calls.push_back([this, uuid, id] { CheckJob(uuid, id); });
  }
}

Collector::Tracked* Collector::Find(const std::string& uuid, int id) {
  auto it = tracked_.find(uuid);
  // The domain stopped or restarted meanwhile: what was learnt of its old QEMU is dropped.
  if (it == tracked_.end() || it->second.id != id) return nullptr;
  return &it->second;
}

void Collector::ReadConfig(const std::string& uuid, int id, const std::string& name) {
  auto config = hypervisor_.ReadConfig(uuid, clock_.Now() + options_.monitor_timeout);
  bool switch_on = false;
  std::optional<DomainSnapshot> published;
  {
    absl::MutexLock lock(&mu_);
    Tracked* t = Find(uuid, id);
    if (t == nullptr) return;
    t->config_requested = false;  // on failure, the next collection asks again
    if (!config.ok()) return;
    t->config = *config;
    MetadataSettings metadata = ReadMetadataSettings(config->policy_metadata);
    t->metadata_policy = std::move(metadata.settings);
    t->metadata_problem = std::move(metadata.problem);
    if (!t->metadata_problem.empty()) {
      Log(LogLevel::kWarning, absl::StrCat("domain '", name, "': ", t->metadata_problem));
    }
    // Straight on, rather than a collection later: a new guest should report at once.
    switch_on = config->has_balloon && config->stats_period_seconds == 0 &&
                !t->reporting_requested && clock_.Now() >= t->reporting_retry_at;
    if (switch_on) t->reporting_requested = true;
    // Shown at once rather than at the domain's next read (which may be periods away): its
    // metadata policy and balloon features.
    if (auto snap = store_.FindByUuid(uuid); snap && snap->info.id == id) {
      snap->config = t->config;
      snap->metadata_policy = t->metadata_policy;
      snap->metadata_problem = t->metadata_problem;
      published = std::move(*snap);
    }
  }
  if (published) store_.Put(*std::move(published));
  if (switch_on) SwitchReportingOn(uuid, id, name);
}

void Collector::SwitchReportingOn(const std::string& uuid, int id, const std::string& name) {
  const int period = static_cast<int>(guest_stats_period_seconds());
  absl::Status s =
      hypervisor_.SetStatsPeriod(uuid, period, clock_.Now() + options_.monitor_timeout);
  if (!s.ok()) {
    Log(LogLevel::kWarning,
        absl::StrCat("cannot switch on the guest statistics of domain '", name, "': ", s.message(),
                     "; trying again in ", absl::FormatDuration(kReportingRetry)));
  }
  absl::MutexLock lock(&mu_);
  Tracked* t = Find(uuid, id);
  if (t == nullptr) return;
  t->reporting_requested = false;
  if (!s.ok()) t->reporting_retry_at = clock_.Now() + kReportingRetry;
  if (s.ok() && t->config) t->config->stats_period_seconds = period;
}

void Collector::CheckJob(const std::string& uuid, int id) {
  auto active = hypervisor_.JobActive(uuid, clock_.Now() + options_.monitor_timeout);
  absl::MutexLock lock(&mu_);
  Tracked* t = Find(uuid, id);
  if (t == nullptr) return;
  t->job_check_requested = false;
  if (active.ok()) t->migrating = *active;
}

void Collector::WaitForCalls() { pool_.WaitIdle(); }

}  // namespace balloond
