#ifndef BALLOOND_AGENT_QOM_BALLOON_PATH_H_
#define BALLOOND_AGENT_QOM_BALLOON_PATH_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/qom/qmp.h"

namespace balloond {

// Runs qom-list on one QOM path.
using QomLister =
    std::function<absl::StatusOr<std::vector<QomPropertyInfo>>(const std::string& path)>;

struct BalloonSearchLimits {
  // The walk of the whole tree stops after this many qom-list calls or this depth.
  int max_lists = 200;
  int max_depth = 6;
};

// Finds the QOM path of a domain's virtio-balloon device the way libvirt does: a balloon child
// under /machine/peripheral (libvirt names it balloon0) or /machine/peripheral-anon, else a bounded
// walk of child<...> entries from / for a link<virtio-balloon-*> (the layout of older machines,
// e.g. /machine/i440fx/pci.0/child[4]). The device must have guest-stats-polling-interval.
// NOT_FOUND when the domain has no balloon; a failing monitor's error (e.g. DEADLINE_EXCEEDED) as
// is.
absl::StatusOr<std::string> FindBalloonPath(const QomLister& list,
                                            const BalloonSearchLimits& limits = {});

// True for "child<virtio-balloon-pci>", "link<virtio-balloon-ccw>" and the other balloon device
// types.
bool IsBalloonType(const std::string& qom_type);

}  // namespace balloond

#endif  // BALLOOND_AGENT_QOM_BALLOON_PATH_H_
