#ifndef BALLOOND_AGENT_QOM_QOM_PATH_GUARD_H_
#define BALLOOND_AGENT_QOM_QOM_PATH_GUARD_H_

#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "agent/qom/balloon_path.h"

namespace balloond {

// Keeps clients' QOM paths on QEMU's tree of children. QEMU resolves a path segment through link<>
// and alias properties as well as child<> ones, so a path like /machine/peripheral/rng0/rng leads
// to /objects/objrng0: a text check of the path cannot keep a reader out of /objects, where secrets
// (libvirt's masterKey0) live. The guard asks qom-list of each parent for its segment's type and
// remembers the prefixes it has checked, per QEMU process.
class QomPathGuard {
 public:
  explicit QomPathGuard(size_t max_remembered_paths = 4096)
      : max_remembered_paths_(max_remembered_paths) {}

  // OK when every segment of `path` (already validated by ValidateQomPath) is a child<> property of
  // its parent, listing parents with `list` where not checked before. PERMISSION_DENIED naming the
  // segment and its type when one is not; NOT_FOUND when one does not exist; `list`'s failure as
  // is. `process` names the QEMU process (UUID and libvirt's domain ID): a restart forgets its
  // paths.
  absl::Status Check(const std::string& process, const std::string& path, const QomLister& list);

 private:
  absl::Status CheckSegment(const std::string& parent, const std::string& segment,
                            const std::string& path, const QomLister& list);

  const size_t max_remembered_paths_;
  absl::Mutex mu_;
  // Paths known to be reached through children only, by QEMU process.
  std::map<std::string, std::set<std::string>> checked_ ABSL_GUARDED_BY(mu_);
  size_t remembered_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_QOM_QOM_PATH_GUARD_H_
