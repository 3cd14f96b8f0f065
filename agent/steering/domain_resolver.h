#ifndef BALLOOND_AGENT_STEERING_DOMAIN_RESOLVER_H_
#define BALLOOND_AGENT_STEERING_DOMAIN_RESOLVER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/collect/snapshot_store.h"
#include "agent/libvirt/hypervisor.h"

namespace balloond {

// Turns a request's domain reference into the domain's latest snapshot, or the status a client
// should see: INVALID_ARGUMENT (malformed), NOT_FOUND (libvirt knows no such domain),
// FAILED_PRECONDITION (defined but not running), UNAVAILABLE (just started, or libvirt
// unreachable).
// libvirt is asked only when the store does not have the domain, and waited for until `deadline`.
absl::StatusOr<DomainSnapshot> ResolveDomain(const SnapshotStore& store, Hypervisor& hypervisor,
                                             absl::string_view name_or_uuid, absl::Time deadline);

// The status for a domain that is no longer in the store: NOT_FOUND if libvirt forgot it (a
// transient domain destroyed), FAILED_PRECONDITION if it is defined but stopped.
absl::Status DomainGoneStatus(Hypervisor& hypervisor, const std::string& name_or_uuid,
                              absl::Time deadline);

// How long balloond waits on libvirt to look a domain up when no client's deadline says.
inline constexpr absl::Duration kLookupTimeout = absl::Seconds(5);

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_DOMAIN_RESOLVER_H_
