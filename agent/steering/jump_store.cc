#include "agent/steering/jump_store.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/base/files.h"
#include "agent/base/log.h"

namespace balloond {

// One line per domain: "UUID WATCHED_SINCE HOUR_START:LARGEST ...", times in Unix seconds, after a
// line "saved UNIX_SECONDS". Hours without a jump are left out.
std::string JumpStore::Format(const std::map<std::string, policy::Jumps>& jumps, absl::Time now) {
  std::string out = absl::StrCat(
      "# balloond: the guests' largest jumps in use by hour (policy/history.h); safe to remove\n",
      "saved ", absl::ToUnixSeconds(now), "\n");
  for (const auto& [uuid, j] : jumps) {
    if (j.watched_since == absl::InfinitePast()) continue;
    absl::StrAppend(&out, uuid, " ", absl::ToUnixSeconds(j.watched_since));
    for (int i = 0; i < policy::Jumps::kHours; ++i) {
      if (j.largest[i] > 0) {
        absl::StrAppend(&out, " ", absl::ToUnixSeconds(j.hour_start[i]), ":", j.largest[i]);
      }
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::optional<std::map<std::string, policy::Jumps>> JumpStore::Parse(absl::string_view text,
                                                                     absl::Time now) {
  std::map<std::string, policy::Jumps> jumps;
  bool saved_seen = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t seconds = 0;
    if (fields.size() < 2 || !absl::SimpleAtoi(fields[1], &seconds)) return std::nullopt;
    if (fields[0] == "saved") {
      if (now - absl::FromUnixSeconds(seconds) > kMaxAge) return jumps;  // too old: none
      saved_seen = true;
      continue;
    }
    policy::Jumps j;
    j.watched_since = absl::FromUnixSeconds(seconds);
    for (size_t f = 2; f < fields.size(); ++f) {
      std::pair<absl::string_view, absl::string_view> hour = absl::StrSplit(fields[f], ':');
      int64_t start = 0, largest = 0;
      if (!absl::SimpleAtoi(hour.first, &start) || !absl::SimpleAtoi(hour.second, &largest) ||
          start % 3600 != 0 || largest < 0) {
        return std::nullopt;
      }
      j.Add(largest, absl::FromUnixSeconds(start));
    }
    jumps[std::string(fields[0])] = j;
  }
  if (!saved_seen) return std::nullopt;
  return jumps;
}

absl::StatusOr<std::unique_ptr<JumpStore>> JumpStore::Open(const std::string& state_dir,
                                                           absl::Time now) {
  std::unique_ptr<JumpStore> store(new JumpStore(state_dir));
  if (absl::Status s = EnsureDirectory(state_dir, "state directory"); !s.ok()) return s;
  auto text = ReadSavedState(store->saved_path(), "the guests' jumps");
  if (!text.ok()) return text.status();
  if (!*text) return store;
  auto parsed = Parse(**text, now);
  if (!parsed) {
    Log(LogLevel::kWarning,
        absl::StrCat(store->saved_path(), " does not parse: the guests' jumps are learned again"));
    return store;
  }
  store->loaded_ = *std::move(parsed);
  return store;
}

std::optional<policy::Jumps> JumpStore::Take(const std::string& uuid) {
  auto it = loaded_.find(uuid);
  if (it == loaded_.end()) return std::nullopt;
  policy::Jumps j = it->second;
  loaded_.erase(it);
  return j;
}

absl::Status JumpStore::Save(const std::map<std::string, policy::Jumps>& jumps,
                             absl::Time now) const {
  return WriteFileAtomically(saved_path(), Format(jumps, now), 0600);
}

}  // namespace balloond
