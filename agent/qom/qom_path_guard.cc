#include "agent/qom/qom_path_guard.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/base/error_reason.h"

namespace balloond {

absl::Status QomPathGuard::CheckSegment(const std::string& parent, const std::string& segment,
                                        const std::string& path, const QomLister& list) {
  auto props = list(parent);
  if (!props.ok()) return props.status();
  for (const QomPropertyInfo& p : *props) {
    if (p.name != segment) continue;
    if (absl::StartsWith(p.type, "child<")) return absl::OkStatus();
    return WithReason(
        absl::PermissionDeniedError(absl::StrCat(
            "QOM path '", path, "' goes through '", segment, "' of ", parent, ", a ", p.type,
            " property; balloond follows only child<> properties, because a link or alias can "
            "lead below /objects, where secrets are kept. Use the object's own path (its child<> "
            "chain)")),
        "QOM_PATH_REFUSED", {{"path", std::string(path)}});
  }
  return absl::NotFoundError(
      absl::StrCat("QOM path '", path, "': ", parent, " has no property '", segment, "'"));
}

absl::Status QomPathGuard::Check(const std::string& process, const std::string& path,
                                 const QomLister& list) {
  absl::string_view rest = absl::StripSuffix(absl::StripPrefix(path, "/"), "/");
  if (rest.empty()) return absl::OkStatus();
  std::string parent = "/";
  for (absl::string_view segment : absl::StrSplit(rest, '/')) {
    const std::string prefix =
        parent == "/" ? absl::StrCat("/", segment) : absl::StrCat(parent, "/", segment);
    bool known;
    {
      absl::MutexLock lock(&mu_);
      auto it = checked_.find(process);
      known = it != checked_.end() && it->second.count(prefix) > 0;
    }
    if (!known) {
      if (absl::Status s = CheckSegment(parent, std::string(segment), path, list); !s.ok()) {
        return s;
      }
      absl::MutexLock lock(&mu_);
      // A bound, not an eviction policy: clients re-check what is forgotten.
      if (remembered_ >= max_remembered_paths_) {
        checked_.clear();
        remembered_ = 0;
      }
      remembered_ += checked_[process].insert(prefix).second ? 1 : 0;
    }
    parent = prefix;
  }
  return absl::OkStatus();
}

}  // namespace balloond
