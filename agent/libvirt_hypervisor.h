#ifndef BALLOOND_AGENT_LIBVIRT_HYPERVISOR_H_
#define BALLOOND_AGENT_LIBVIRT_HYPERVISOR_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/hypervisor.h"

namespace balloond {

// The Hypervisor of a real host: libvirt, with QMP passed through virDomainQemuMonitorCommand.
// Connects lazily, follows lifecycle events, and reconnects with backoff after libvirtd goes away.
class LibvirtHypervisor final : public Hypervisor {
 public:
  explicit LibvirtHypervisor(std::string uri);
  ~LibvirtHypervisor() override;

  absl::StatusOr<std::vector<DomainInfo>> ListActiveDomains() override;
  absl::StatusOr<DomainInfo> LookupDomain(absl::string_view name_or_uuid) override;
  absl::StatusOr<std::string> RunQmp(const std::string& uuid, const std::string& command,
                                     absl::Time deadline, QmpCaller caller) override;
  void SetChangeCallback(std::function<void()> on_change) override;

  // Called from libvirt's event loop.
  void OnConnectionClosed();
  void OnDomainEvent();
  void OnBalloonChange(const std::string& uuid);

 private:
  class Connection;
  // One QMP command at a time per domain: libvirt serializes them anyway, and a hung QEMU must
  // hold up only the calls to itself.
  struct MonitorLane;

  // The current connection (listing, lookups, events), opening a new one if there is none and
  // the backoff allows.
  absl::StatusOr<std::shared_ptr<Connection>> Connect();
  // The connection QMP commands go over; replaced when hung QEMUs hold too many of its calls.
  absl::StatusOr<std::shared_ptr<Connection>> MonitorConnection();
  std::shared_ptr<MonitorLane> LaneFor(const std::string& uuid);

  const std::string uri_;
  absl::Mutex mu_;
  std::shared_ptr<Connection> connection_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Connection> monitor_connection_ ABSL_GUARDED_BY(mu_);
  absl::Time next_connect_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_);
  std::string last_connect_error_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_change_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<MonitorLane>> lanes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> balloon_changes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_HYPERVISOR_H_
