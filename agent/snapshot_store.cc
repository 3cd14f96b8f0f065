#include "agent/snapshot_store.h"

#include "absl/strings/match.h"

namespace balloond {

void SnapshotStore::Put(DomainSnapshot snapshot) {
  absl::MutexLock lock(&mu_);
  snapshot.generation = next_generation_++;
  by_uuid_[snapshot.info.uuid] = std::move(snapshot);
}

void SnapshotStore::Remove(const std::string& uuid) {
  absl::MutexLock lock(&mu_);
  by_uuid_.erase(uuid);
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
  for (const auto& [uuid, snap] : by_uuid_) {
    if (snap.info.name == name_or_uuid || absl::EqualsIgnoreCase(uuid, name_or_uuid)) return snap;
  }
  return std::nullopt;
}

std::optional<DomainSnapshot> SnapshotStore::FindByUuid(const std::string& uuid) const {
  absl::MutexLock lock(&mu_);
  auto it = by_uuid_.find(uuid);
  if (it == by_uuid_.end()) return std::nullopt;
  return it->second;
}

std::optional<DomainSnapshot> SnapshotStore::WaitForChange(const std::string& uuid,
                                                           uint64_t generation,
                                                           absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto changed = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    auto it = by_uuid_.find(uuid);
    return it == by_uuid_.end() || it->second.generation != generation;
  };
  mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  auto it = by_uuid_.find(uuid);
  if (it == by_uuid_.end()) return std::nullopt;
  return it->second;
}

}  // namespace balloond
