#include "agent/domain_resolver.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/qom_request.h"

namespace balloond {

bool LooksLikeUuid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !absl::ascii_isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

absl::Status DomainGoneStatus(Hypervisor& hypervisor, const std::string& name_or_uuid,
                              absl::Time deadline) {
  auto info = hypervisor.LookupDomain(name_or_uuid, deadline);
  if (!info.ok()) return info.status();
  if (!info->active) {
    return absl::FailedPreconditionError(absl::StrCat(
        "domain '", info->name, "' is not running; start it with `virsh start ", info->name, "`"));
  }
  return absl::UnavailableError(absl::StrCat("domain '", info->name,
                                             "' has just started; its balloon is not read yet, "
                                             "retry in a few seconds"));
}

absl::StatusOr<DomainSnapshot> ResolveDomain(const SnapshotStore& store, Hypervisor& hypervisor,
                                             absl::string_view name_or_uuid, absl::Time deadline) {
  if (absl::Status s = ValidateDomainRef(name_or_uuid); !s.ok()) return s;
  if (auto snap = store.Find(name_or_uuid)) return *snap;
  return DomainGoneStatus(hypervisor, std::string(name_or_uuid), deadline);
}

}  // namespace balloond
