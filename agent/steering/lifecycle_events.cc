#include "agent/steering/lifecycle_events.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace balloond {

namespace v1 = balloon::v1;

constexpr absl::string_view kJobBegan =
    "libvirt runs a job on the domain (a migration, a save): ballooning leaves it alone";

void LifecycleEvents::OnSnapshot(const DomainSnapshot& snapshot) {
  const DomainInfo& info = snapshot.info;
  absl::MutexLock lock(&mu_);
  auto it = seen_.find(info.uuid);
  if (it != seen_.end() && it->second.id != info.id) {
    // Stopped and started again between two collections.
    log_.Append(DomainEvent(v1::EVENT_KIND_DOMAIN_STOPPED, info.name, info.uuid,
                            "the domain stopped running (and started again)"));
    seen_.erase(it);
    it = seen_.end();
  }
  if (it == seen_.end()) {
    seen_[info.uuid] = {info.id, snapshot.migrating};
    log_.Append(DomainEvent(
        v1::EVENT_KIND_DOMAIN_STARTED, info.name, info.uuid,
        started_ ? "the domain started" : "the domain was running when balloond started"));
    if (snapshot.migrating) {
      log_.Append(DomainEvent(v1::EVENT_KIND_MIGRATION_STARTED, info.name, info.uuid, kJobBegan));
    }
    return;
  }
  if (std::exchange(it->second.migrating, snapshot.migrating) == snapshot.migrating) return;
  log_.Append(DomainEvent(
      snapshot.migrating ? v1::EVENT_KIND_MIGRATION_STARTED : v1::EVENT_KIND_MIGRATION_ENDED,
      info.name, info.uuid,
      snapshot.migrating
          ? kJobBegan
          : "the job on the domain ended and it still runs here: ballooning resumes"));
}

void LifecycleEvents::OnRemoved(const DomainSnapshot& last) {
  absl::MutexLock lock(&mu_);
  seen_.erase(last.info.uuid);
  log_.Append(DomainEvent(
      last.migrating ? v1::EVENT_KIND_DOMAIN_MIGRATED : v1::EVENT_KIND_DOMAIN_STOPPED,
      last.info.name, last.info.uuid,
      last.migrating ? "the domain left this host during a job of libvirt's: migrated away"
                     : "the domain stopped running"));
}

void LifecycleEvents::OnReachability(const absl::Status& reachable) {
  absl::MutexLock lock(&mu_);
  if (reachable.ok() == reachable_) return;
  reachable_ = reachable.ok();
  if (!reachable.ok()) {
    log_.Append(HostEvent(v1::EVENT_KIND_LIBVIRT_LOST,
                          absl::StrCat("libvirt is unreachable: ", reachable.message())));
  } else if (started_) {
    log_.Append(HostEvent(v1::EVENT_KIND_LIBVIRT_REGAINED, "libvirt is reachable again"));
  }
  started_ = true;
}

}  // namespace balloond
