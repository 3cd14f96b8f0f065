#include "agent/steering/hold_store.h"

#include "absl/strings/str_cat.h"
#include "agent/base/files.h"
#include "balloon/v1/config.pb.h"
#include "policy/durations.h"
#include "policy/settings.h"

namespace balloond {

namespace v1 = balloon::v1;

namespace {

bool Lasts(const v1::Hold& hold, absl::Time now) { return FromProtoTimestamp(hold.until()) > now; }

// A saved hold is what the API could have made: a domain, a target it takes, an end.
absl::Status CheckSaved(const v1::Hold& hold) {
  if (hold.uuid().empty()) return absl::InvalidArgumentError("a hold without a uuid");
  if (hold.target_bytes() <= 0 || hold.target_bytes() > policy::kMaxMemoryBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the hold of ", hold.uuid(), " has a target of ",
                                                   hold.target_bytes(), " bytes, out of (0, ",
                                                   policy::kMaxMemoryBytes, "]"));
  }
  return CheckTimestamp(hold.until(), absl::StrCat("the end of the hold of ", hold.uuid()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<HoldStore>> HoldStore::Open(const std::string& state_dir) {
  std::unique_ptr<HoldStore> store(new HoldStore(state_dir));
  if (absl::Status s = EnsureDirectory(state_dir, "state directory"); !s.ok()) return s;
  auto text = ReadSavedState(store->saved_path(), "the holds set through the API");
  if (!text.ok()) return text.status();
  if (!*text) return store;  // none saved yet
  v1::SavedHolds saved;
  if (absl::Status s = ParseTextFormat(**text, store->saved_path(), saved); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(s.message(), " (the holds set through the API; fix or remove the file)"));
  }
  absl::MutexLock lock(&store->mu_);
  for (const v1::Hold& hold : saved.holds()) {
    if (absl::Status s = CheckSaved(hold); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(store->saved_path(), ": ", s.message(), " (fix or remove the file)"));
    }
    store->holds_[hold.uuid()] = hold;
  }
  return store;
}

absl::Status HoldStore::Save(std::map<std::string, v1::Hold> holds, absl::Time now) {
  v1::SavedHolds saved;
  for (auto it = holds.begin(); it != holds.end();) {
    if (!Lasts(it->second, now)) {
      it = holds.erase(it);
      continue;
    }
    *saved.add_holds() = it->second;
    ++it;
  }
  if (absl::Status s = SaveTextProto(saved_path(), saved, "the hold"); !s.ok()) return s;
  holds_ = std::move(holds);
  return absl::OkStatus();
}

absl::Status HoldStore::Set(const v1::Hold& hold, absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::map<std::string, v1::Hold> next = holds_;
  next[hold.uuid()] = hold;
  return Save(std::move(next), now);
}

absl::StatusOr<std::optional<v1::Hold>> HoldStore::Release(const std::string& uuid,
                                                           absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = holds_.find(uuid);
  if (it == holds_.end()) return std::nullopt;
  std::optional<v1::Hold> released;
  if (Lasts(it->second, now)) released = it->second;
  std::map<std::string, v1::Hold> next = holds_;
  next.erase(uuid);
  if (absl::Status s = Save(std::move(next), now); !s.ok()) return s;
  return released;
}

std::optional<v1::Hold> HoldStore::Find(const std::string& uuid, absl::Time now) const {
  absl::MutexLock lock(&mu_);
  auto it = holds_.find(uuid);
  if (it == holds_.end() || !Lasts(it->second, now)) return std::nullopt;
  return it->second;
}

std::map<std::string, v1::Hold> HoldStore::Active(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, v1::Hold> active;
  for (const auto& [uuid, hold] : holds_) {
    if (Lasts(hold, now)) active[uuid] = hold;
  }
  return active;
}

}  // namespace balloond
