#ifndef BALLOOND_AGENT_QOM_QOM_REQUEST_H_
#define BALLOOND_AGENT_QOM_QOM_REQUEST_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace balloond {

// Checks a client's QOM path: absolute, no empty or relative segments, QOM's name characters only.
// The QMP command is built as JSON either way; this turns typos into INVALID_ARGUMENT with a
// reason.
absl::Status ValidateQomPath(absl::string_view path);

// Refuses qom-list and qom-get below /objects with PERMISSION_DENIED: user-creatable objects live
// there, secrets among them (libvirt's masterKey0, whose very names say what is stored), and the
// read-only socket is open to every local user.
absl::Status CheckQomPathAllowed(absl::string_view path);

// Checks a QOM property name: QOM's name characters only, e.g. "guest-stats", "child[4]".
absl::Status ValidateQomProperty(absl::string_view property);

}  // namespace balloond

#endif  // BALLOOND_AGENT_QOM_QOM_REQUEST_H_
