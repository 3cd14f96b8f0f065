#ifndef BALLOOND_AGENT_QOM_BALLOON_PATH_CACHE_H_
#define BALLOOND_AGENT_QOM_BALLOON_PATH_CACHE_H_

#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace balloond {

// Where each QEMU process keeps its balloon in the QOM tree, as ListDomains shows it. balloond
// never searches on its own (only QMP passthrough can, and that taints a domain): the path is found
// after a client's first QOM query of the domain, which has tainted it already.
class BalloonPathCache {
 public:
  // The path found for `process` (UUID:ID), empty if none was found; nullopt if not searched yet.
  std::optional<std::string> Get(const std::string& process) const {
    absl::MutexLock lock(&mu_);
    auto it = paths_.find(process);
    if (it == paths_.end()) return std::nullopt;
    return it->second;
  }
  void Set(const std::string& process, std::string path) {
    absl::MutexLock lock(&mu_);
    if (paths_.size() >= kMaxProcesses)
      paths_.clear();  // a bound; forgotten ones are searched again
    paths_[process] = std::move(path);
  }

 private:
  static constexpr size_t kMaxProcesses = 4096;
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> paths_ ABSL_GUARDED_BY(mu_);
};

// The key of one QEMU process: a domain's UUID and libvirt's runtime ID.
inline std::string ProcessKey(const std::string& uuid, int id) {
  return uuid + ":" + std::to_string(id);
}

}  // namespace balloond

#endif  // BALLOOND_AGENT_QOM_BALLOON_PATH_CACHE_H_
