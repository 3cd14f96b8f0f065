#include "agent/api/watch_feeds.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/api/proto_convert.h"
#include "agent/libvirt/domain_ref.h"
#include "agent/steering/domain_resolver.h"

namespace balloond {

std::shared_ptr<const StatsUpdate> StatsFeed::Update(const DomainSnapshot& snapshot) {
  auto update = std::make_shared<StatsUpdate>();
  update->generation = snapshot.generation;
  ToProto(snapshot, clock_.Now(), &update->stats);
  update->stats.mutable_domain()->set_balloon_qom_path(
      balloon_paths_.Get(ProcessKey(snapshot.info.uuid, snapshot.info.id)).value_or(""));
  return update;
}

absl::Status StatsFeed::WhyGone(const std::string& uuid, const std::string& name) {
  absl::Status gone = DomainGoneStatus(hypervisor_, uuid, clock_.Now() + kLookupTimeout);
  const std::string label = name.empty() ? uuid : name;
  if (gone.code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(
        absl::StrCat("domain '", label, "' was destroyed and no longer exists"));
  }
  if (gone.code() == absl::StatusCode::kUnavailable) {
    return absl::UnavailableError(absl::StrCat("domain '", label, "' restarted; watch it again"));
  }
  return gone;
}

void StatsFeed::OnSnapshot(const DomainSnapshot& snapshot) {
  if (!hub_.HasWatchers(snapshot.info.uuid)) return;
  hub_.Publish(snapshot.info.uuid, Update(snapshot));
}

void StatsFeed::OnRemoved(const DomainSnapshot& last) {
  const std::string uuid = last.info.uuid;
  if (!hub_.HasWatchers(uuid)) return;
  absl::Status queued = lookups_.TrySubmit([this, uuid, name = last.info.name] {
    hub_.CloseKey(uuid, ToGrpcStatus(WhyGone(uuid, name)));
  });
  if (!queued.ok()) {
    hub_.CloseKey(uuid, grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                     absl::StrCat("domain '", last.info.name,
                                                  "' stopped running; watch it again")));
  }
}

std::string DecisionFeed::UuidKey(absl::string_view uuid) {
  return absl::StrCat("uuid:", absl::AsciiStrToLower(uuid));
}

std::string DecisionFeed::NameKey(absl::string_view name) { return absl::StrCat("name:", name); }

std::string DecisionFeed::KeyFor(const SnapshotStore& store, absl::string_view domain) {
  if (domain.empty()) return "";
  // As everywhere: a UUID first, then a name.
  if (auto snap = store.Find(domain)) return UuidKey(snap->info.uuid);
  return LooksLikeUuid(domain) ? UuidKey(domain) : NameKey(domain);
}

void DecisionFeed::OnDecision(const balloon::v1::Decision& decision) {
  auto shared = std::make_shared<const balloon::v1::Decision>(decision);
  hub_.Publish("", shared);
  hub_.Publish(NameKey(decision.domain()), shared);
  hub_.Publish(UuidKey(decision.uuid()), shared);
}

}  // namespace balloond
