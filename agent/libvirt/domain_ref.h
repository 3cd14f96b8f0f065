#ifndef BALLOOND_AGENT_LIBVIRT_DOMAIN_REF_H_
#define BALLOOND_AGENT_LIBVIRT_DOMAIN_REF_H_

// A reference to a libvirt domain, as a client writes it: its name or its UUID.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace balloond {

// Checks a domain reference from a request: not empty, not overlong, no control characters.
// INVALID_ARGUMENT saying which.
absl::Status ValidateDomainRef(absl::string_view ref);

// Whether `ref` is written as a UUID (8-4-4-4-12 hex digits): such a reference names a domain by
// UUID first, whatever other domain may be named like it.
bool LooksLikeUuid(absl::string_view ref);

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_DOMAIN_REF_H_
