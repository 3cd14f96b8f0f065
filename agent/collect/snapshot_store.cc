#include "agent/collect/snapshot_store.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/base/error_reason.h"

namespace balloond {

std::string NoBalloonDeviceProblem(absl::string_view domain_name) {
  return absl::StrCat("domain '", domain_name,
                      "' has no virtio balloon device; add <memballoon model='virtio'/> to its "
                      "XML and restart it");
}

absl::Status NoBalloonDevice(absl::string_view domain_name) {
  return WithReason(absl::FailedPreconditionError(NoBalloonDeviceProblem(domain_name)),
                    "NO_BALLOON_DEVICE", {{"domain", std::string(domain_name)}});
}

void SnapshotStore::Put(DomainSnapshot snapshot) {
  {
    absl::MutexLock lock(&mu_);
    snapshot.generation = next_generation_++;
    // The listener gets its own copy: the slot may change as soon as the lock is released.
    if (listener_ == nullptr) {
      by_uuid_[snapshot.info.uuid] = std::move(snapshot);
      return;
    }
    by_uuid_[snapshot.info.uuid] = snapshot;
  }
  listener_->OnSnapshot(snapshot);
}

void SnapshotStore::Remove(const std::string& uuid) {
  DomainSnapshot last;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_uuid_.find(uuid);
    if (it == by_uuid_.end()) return;
    last = std::move(it->second);
    by_uuid_.erase(it);
  }
  if (listener_ != nullptr) listener_->OnRemoved(last);
}

std::vector<DomainSnapshot> SnapshotStore::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<DomainSnapshot> out;
  out.reserve(by_uuid_.size());
  for (const auto& [uuid, snap] : by_uuid_) out.push_back(snap);
  return out;
}

std::optional<DomainSnapshot> SnapshotStore::Find(absl::string_view name_or_uuid) const {
  absl::MutexLock lock(&mu_);
  // A UUID first: a domain may be named like another one's UUID.
  for (const auto& [uuid, snap] : by_uuid_) {
    if (absl::EqualsIgnoreCase(uuid, name_or_uuid)) return snap;
  }
  for (const auto& [uuid, snap] : by_uuid_) {
    if (snap.info.name == name_or_uuid) return snap;
  }
  return std::nullopt;
}

std::optional<DomainSnapshot> SnapshotStore::FindByUuid(const std::string& uuid) const {
  absl::MutexLock lock(&mu_);
  auto it = by_uuid_.find(uuid);
  if (it == by_uuid_.end()) return std::nullopt;
  return it->second;
}

}  // namespace balloond
