#ifndef BALLOOND_AGENT_HYPERVISOR_H_
#define BALLOOND_AGENT_HYPERVISOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace balloond {

enum class DomainRunState { kRunning, kPaused, kShuttingDown, kOther };

// Who sends a QMP command: the agent itself (collection, targets) or a client's QOM query.
enum class QmpCaller { kAgent, kClient };

struct DomainInfo {
  std::string name;
  std::string uuid;
  // libvirt's runtime ID: a new one at every start, so a changed ID means a new QEMU process.
  int id = -1;
  bool active = false;
  DomainRunState state = DomainRunState::kOther;
  // The memory the domain was started with; the largest balloon target.
  int64_t max_memory_bytes = 0;
  // How many times QEMU has reported the balloon's size changing (libvirt's BALLOON_CHANGE event)
  // since the agent started: when this moves, query-balloon has something new to say.
  uint64_t balloon_changes = 0;
};

// What the agent needs of libvirt and QEMU. The real one is LibvirtHypervisor; unit tests use a fake
// that answers with QMP JSON recorded from QEMU.
class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  // The running and paused domains. UNAVAILABLE while libvirt cannot be reached.
  virtual absl::StatusOr<std::vector<DomainInfo>> ListActiveDomains() = 0;

  // A defined or running domain by libvirt name or UUID; NOT_FOUND if libvirt knows none.
  virtual absl::StatusOr<DomainInfo> LookupDomain(absl::string_view name_or_uuid) = 0;

  // Sends one QMP command (JSON text) to a running domain's QEMU and returns the reply (JSON text).
  // Commands to one domain run one at a time; a kAgent command goes ahead of waiting kClient ones,
  // so clients' queries never make the agent's statistics late. Returns DEADLINE_EXCEEDED at
  // `deadline` if QEMU has not answered, and at once while an earlier command to the domain has
  // gone unanswered for long (a hung QEMU); calls to other domains are never held up by it.
  virtual absl::StatusOr<std::string> RunQmp(const std::string& uuid, const std::string& command,
                                             absl::Time deadline,
                                             QmpCaller caller = QmpCaller::kAgent) = 0;

  // `on_change` runs (on any thread) when a domain starts, stops or changes state, and when the
  // connection to libvirt is lost.
  virtual void SetChangeCallback(std::function<void()> on_change) = 0;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_HYPERVISOR_H_
