#include "agent/steering/domain_resolver.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/base/error_reason.h"
#include "agent/libvirt/domain_ref.h"

namespace balloond {

absl::Status DomainGoneStatus(Hypervisor& hypervisor, const std::string& name_or_uuid,
                              absl::Time deadline) {
  auto info = hypervisor.LookupDomain(name_or_uuid, deadline);
  if (!info.ok()) return info.status();
  if (!info->active) {
    return WithReason(absl::FailedPreconditionError(absl::StrCat(
                          "domain '", info->name, "' is not running; start it with `virsh start ",
                          info->name, "`")),
                      "DOMAIN_NOT_RUNNING", {{"domain", info->name}});
  }
  return WithReason(absl::UnavailableError(absl::StrCat(
                        "domain '", info->name,
                        "' has just started; its balloon is not read yet, retry in a few seconds")),
                    "DOMAIN_JUST_STARTED", {{"domain", info->name}});
}

absl::StatusOr<DomainSnapshot> ResolveDomain(const SnapshotStore& store, Hypervisor& hypervisor,
                                             absl::string_view name_or_uuid, absl::Time deadline) {
  if (absl::Status s = ValidateDomainRef(name_or_uuid); !s.ok()) return s;
  if (auto snap = store.Find(name_or_uuid)) return *snap;
  return DomainGoneStatus(hypervisor, std::string(name_or_uuid), deadline);
}

}  // namespace balloond
