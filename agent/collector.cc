#include "agent/collector.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/balloon_path.h"
#include "agent/domain_monitor.h"

namespace balloond {

Collector::Collector(Hypervisor& hypervisor, SnapshotStore& store, Clock& clock,
                     CollectorOptions options)
    : hypervisor_(hypervisor),
      store_(store),
      clock_(clock),
      options_(options),
      pool_("collector", options.workers) {}

Collector::~Collector() { Stop(); }

void Collector::Start() {
  hypervisor_.SetChangeCallback([this] { RequestRefresh(); });
  loop_ = std::thread([this] { Loop(); });
}

void Collector::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (loop_.joinable()) loop_.join();
}

void Collector::RequestRefresh() {
  absl::MutexLock lock(&mu_);
  refresh_requested_ = true;
}

int64_t Collector::guest_stats_period_seconds() const {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(
                                  absl::ToDoubleSeconds(options_.stats_period))));
}

bool Collector::libvirt_reachable() const {
  absl::MutexLock lock(&mu_);
  return reachable_.value_or(false);
}

void Collector::SetReachabilityCallback(std::function<void(bool)> callback) {
  absl::MutexLock lock(&mu_);
  on_reachability_ = std::move(callback);
}

void Collector::SetReachable(bool reachable) {
  std::function<void(bool)> callback;
  {
    absl::MutexLock lock(&mu_);
    if (reachable_ == reachable) return;
    reachable_ = reachable;
    callback = on_reachability_;
  }
  if (callback) callback(reachable);
}

void Collector::SetRoundCallback(std::function<void()> callback) {
  absl::MutexLock lock(&mu_);
  on_round_ = std::move(callback);
}

void Collector::Loop() {
  for (;;) {
    RunGuarded("a collection round", [this] { CollectOnce(); });
    pool_.WaitIdleFor(std::min(options_.monitor_timeout, options_.stats_period));
    std::function<void()> on_round;
    {
      absl::MutexLock lock(&mu_);
      // Without libvirt the snapshots only age: nothing to decide on.
      if (reachable_.value_or(false)) on_round = on_round_;
    }
    if (on_round) RunGuarded("the end of a collection round", on_round);
    absl::MutexLock lock(&mu_);
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || refresh_requested_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&woken), options_.stats_period);
    if (stopping_) return;
    refresh_requested_ = false;
  }
}

void Collector::CollectOnce() {
  auto domains = hypervisor_.ListActiveDomains();
  SetReachable(domains.ok());
  if (!domains.ok()) return;  // keep the last snapshots; health reports NOT_SERVING meanwhile

  std::vector<Tracked> to_collect;
  std::vector<std::string> gone;
  {
    absl::MutexLock lock(&mu_);
    std::map<std::string, Tracked> next;
    for (const DomainInfo& info : *domains) {
      auto it = tracked_.find(info.uuid);
      Tracked t;
      // A new ID is a new QEMU process: its balloon must be found and its polling switched on again.
      if (it != tracked_.end() && it->second.info.id == info.id) t = it->second;
      t.info = info;
      if (!t.in_flight) {
        t.in_flight = true;
        to_collect.push_back(t);
      }
      next[info.uuid] = std::move(t);
    }
    for (const auto& [uuid, t] : tracked_) {
      if (next.count(uuid) == 0) gone.push_back(uuid);
    }
    tracked_ = std::move(next);
  }
  for (const std::string& uuid : gone) store_.Remove(uuid);
  for (Tracked& t : to_collect) {
    pool_.Submit([this, t = std::move(t)]() mutable { CollectDomain(std::move(t)); });
  }
}

void Collector::WaitForCollections() { pool_.WaitIdle(); }

namespace {

// Every this many rounds the agent asks QEMU what it otherwise learns from events or rarely needs:
// the balloon's size and whether a migration runs.
constexpr int64_t kRecheckEvery = 5;

std::string MonitorProblem(const DomainInfo& info, const absl::Status& status) {
  if (status.code() == absl::StatusCode::kDeadlineExceeded) {
    return absl::StrCat("QEMU monitor of domain '", info.name,
                        "' did not answer in time; is its QEMU process stopped or overloaded? (",
                        status.message(), ")");
  }
  return absl::StrCat("QEMU monitor of domain '", info.name, "' failed: ", status.message());
}

std::string NoDeviceProblem(const DomainInfo& info) {
  return absl::StrCat("domain '", info.name,
                      "' has no virtio balloon device; add <memballoon model='virtio'/> to its "
                      "XML and restart it");
}

}  // namespace

void Collector::CollectDomain(Tracked t) {
  DomainSnapshot snap;
  if (auto prev = store_.FindByUuid(t.info.uuid); prev && prev->info.id == t.info.id) {
    snap = std::move(*prev);  // a failing round keeps the last values, with their age
  }
  snap.info = t.info;
  snap.problem.clear();
  const absl::Time now = clock_.Now();
  DomainMonitor monitor(hypervisor_, t.info.uuid, now + options_.monitor_timeout);

  if (t.balloon_path.empty()) {
    if (now < t.next_discovery) {
      Publish(t, std::move(snap));
      return;
    }
    auto path = FindBalloonPath([&](const std::string& p) { return monitor.QomList(p); });
    if (!path.ok()) {
      if (path.status().code() == absl::StatusCode::kNotFound) {
        snap.balloon = BalloonStatus::kNoDevice;
        snap.problem = NoDeviceProblem(t.info);
        t.next_discovery = now + options_.rediscover_after;
      } else {
        snap.balloon = BalloonStatus::kMonitorError;
        snap.problem = MonitorProblem(t.info, path.status());
      }
      Publish(t, std::move(snap));
      return;
    }
    t.balloon_path = *path;
    t.polling_checked = false;
  }
  snap.balloon_path = t.balloon_path;

  if (!t.polling_checked) {
    auto interval = monitor.QomGet(t.balloon_path, "guest-stats-polling-interval");
    if (interval.ok() && interval->is_number_integer()) {
      int64_t seconds = interval->get<int64_t>();
      if (seconds <= 0) {
        seconds = guest_stats_period_seconds();
        if (absl::Status s = monitor.QomSet(t.balloon_path, "guest-stats-polling-interval", seconds);
            !s.ok()) {
          seconds = 0;
        }
      }
      snap.stats_period_seconds = seconds;
      t.polling_checked = seconds > 0;
    }
  }

  // query-balloon has news only after QEMU reported a change (libvirt's event), and every few
  // rounds in case an event was lost: most rounds need one QMP command per domain, not two.
  const int64_t round = t.rounds++;
  const bool read_balloon = !snap.actual_bytes || round % kRecheckEvery == 0 ||
                            t.info.balloon_changes != t.balloon_changes_read;
  absl::StatusOr<int64_t> actual = snap.actual_bytes.value_or(0);
  if (read_balloon) {
    t.balloon_changes_read = t.info.balloon_changes;
    actual = monitor.QueryBalloon();
  }
  if (!actual.ok()) {
    if (actual.status().code() == absl::StatusCode::kFailedPrecondition) {
      // DeviceNotActive: the device exists but QEMU has no active balloon (e.g. unplugged).
      snap.balloon = BalloonStatus::kNoDevice;
      snap.problem = NoDeviceProblem(t.info);
      t.balloon_path.clear();
      t.next_discovery = now + options_.rediscover_after;
    } else {
      snap.balloon = BalloonStatus::kMonitorError;
      snap.problem = MonitorProblem(t.info, actual.status());
    }
    Publish(t, std::move(snap));
    return;
  }
  snap.actual_bytes = *actual;
  // The policy leaves a migrating domain alone; QEMU knows best whether it is migrating. Asked every
  // few rounds (a migration runs for many): each QMP call wakes QEMU and libvirtd.
  if (round % kRecheckEvery == 0) {
    if (auto migration = monitor.Execute("query-migrate"); migration.ok() && migration->is_object()) {
      const std::string status = StringMember(*migration, "status").value_or("");
      snap.migrating = status == "setup" || status == "active" || status == "postcopy-active" ||
                       status == "postcopy-paused" || status == "postcopy-recover" ||
                       status == "device" || status == "pre-switchover" || status == "wait-unplug";
    }
  }

  auto stats_json = monitor.QomGet(t.balloon_path, "guest-stats");
  absl::StatusOr<GuestStats> stats =
      stats_json.ok() ? ParseGuestStats(*stats_json) : absl::StatusOr<GuestStats>(stats_json.status());
  if (!stats.ok()) {
    snap.balloon = BalloonStatus::kMonitorError;
    snap.problem = MonitorProblem(t.info, stats.status());
    Publish(t, std::move(snap));
    return;
  }
  snap.balloon = BalloonStatus::kActive;
  snap.guest = std::move(*stats);
  snap.collect_time = clock_.Now();
  if (snap.guest->last_update_unix_seconds == 0) {
    snap.problem = absl::StrCat(
        "the guest of domain '", t.info.name,
        "' has not reported memory statistics; is its virtio_balloon driver loaded?");
  }
  Publish(t, std::move(snap));
}

void Collector::Publish(const Tracked& after, DomainSnapshot snapshot) {
  {
    absl::MutexLock lock(&mu_);
    auto it = tracked_.find(after.info.uuid);
    // The domain stopped or restarted while we were asking its old QEMU: drop the result.
    if (it == tracked_.end() || it->second.info.id != after.info.id) return;
    it->second.balloon_path = after.balloon_path;
    it->second.polling_checked = after.polling_checked;
    it->second.next_discovery = after.next_discovery;
    it->second.rounds = after.rounds;
    it->second.balloon_changes_read = after.balloon_changes_read;
    it->second.in_flight = false;
    // Under mu_, so CollectOnce cannot remove the domain between the check and the Put.
    store_.Put(std::move(snapshot));
  }
}

}  // namespace balloond
