#ifndef BALLOOND_AGENT_LIBVIRT_LIBVIRT_HYPERVISOR_H_
#define BALLOOND_AGENT_LIBVIRT_LIBVIRT_HYPERVISOR_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "agent/base/clock.h"
#include "agent/libvirt/call_meter.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/libvirt/libvirt_connections.h"
#include "agent/libvirt/libvirt_events.h"
#include "agent/libvirt/stats_collection.h"

namespace balloond {

// The Hypervisor of a real host: libvirt's own API for everything balloond does by itself
// (virConnectGetAllDomainStats, virDomainSetMemoryFlags, virDomainSetMemoryStatsPeriod,
// virDomainGetJobInfo, the domain XML, events), QMP passthrough only for RunQmp. Its connections
// (LibvirtConnections) keep hung QEMUs and a lost libvirtd from holding up the agent; each call is
// told to a CallMeter.
class LibvirtHypervisor final : public Hypervisor {
 public:
  // `changes` hears of libvirt's domain events and of a lost connection, `meter` of every call
  // (both must outlive this); `clock` paces reconnecting and times the calls.
  LibvirtHypervisor(std::string uri, Clock& clock, DomainChangeListener& changes,
                    CallMeter& meter = NoCallMeter());
  ~LibvirtHypervisor() override;

  absl::StatusOr<std::vector<DomainStats>> CollectStats(absl::Time deadline,
                                                        const CollectionFilter& filter) override;
  absl::StatusOr<DomainInfo> LookupDomain(absl::string_view name_or_uuid,
                                          absl::Time deadline) override;
  absl::StatusOr<DomainConfig> ReadConfig(const std::string& uuid, absl::Time deadline) override;
  absl::Status SetBalloonTarget(const std::string& uuid, int64_t target_bytes,
                                absl::Time deadline) override;
  absl::Status SetMemoryDeviceRequest(const std::string& uuid, const std::string& alias,
                                      int64_t requested_bytes, absl::Time deadline) override;
  absl::Status SetStatsPeriod(const std::string& uuid, int seconds, absl::Time deadline) override;
  absl::StatusOr<bool> JobActive(const std::string& uuid, absl::Time deadline) override;
  absl::StatusOr<std::string> RunQmp(const std::string& uuid, const std::string& command,
                                     absl::Time deadline) override;
  absl::StatusOr<std::string> ReadPolicyMetadata(const std::string& uuid,
                                                 absl::Time deadline) override;
  absl::Status WritePolicyMetadata(const std::string& uuid, const std::string& element,
                                   absl::Time deadline) override;

  // Threads running libvirt calls now (they are not created per call).
  int call_threads() const { return connections_.threads(); }

 private:
  template <typename F>
  auto Meter(absl::string_view name, F&& call) {
    return Metered(meter_, clock_, name, std::forward<F>(call));
  }

  Clock& clock_;
  CallMeter& meter_;
  const std::shared_ptr<LibvirtEvents> events_;
  LibvirtConnections connections_;
  StatsCollection stats_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_LIBVIRT_HYPERVISOR_H_
