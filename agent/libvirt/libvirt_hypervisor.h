#ifndef BALLOOND_AGENT_LIBVIRT_LIBVIRT_HYPERVISOR_H_
#define BALLOOND_AGENT_LIBVIRT_LIBVIRT_HYPERVISOR_H_

#include <libvirt/libvirt.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"
#include "agent/libvirt/call_lanes.h"
#include "agent/libvirt/hypervisor.h"

namespace balloond {

// The Hypervisor of a real host: libvirt's own API for everything balloond does by itself
// (virConnectGetAllDomainStats, virDomainSetMemoryFlags, virDomainSetMemoryStatsPeriod,
// virDomainGetJobInfo, the domain XML, events), QMP passthrough only for RunQmp. Connects lazily,
// follows events, and reconnects with backoff after libvirtd goes away.
//
// Two connections: one for events and lookups, one for the calls that wait on QEMU. libvirtd serves
// at most max_client_requests (default 5) calls of one connection at once, and a call to a hung
// QEMU keeps its slot until QEMU answers: a calls connection carrying two such calls is retired for
// a fresh one, so hung QEMUs never wedge the agent, and events never queue behind them.
class LibvirtHypervisor final : public Hypervisor {
 public:
  // `changes` hears of libvirt's domain events and of a lost connection (it must outlive this);
  // `clock` paces reconnecting.
  LibvirtHypervisor(std::string uri, Clock& clock, DomainChangeListener& changes);
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
  int call_threads() const { return lanes_.threads(); }

  class Connection;
  class Events;

 private:
  struct Handle;
  class TrackedCall;
  class PendingOpen;
  // A connection in use, and the one being opened to replace it.
  struct Slot {
    std::shared_ptr<Connection> current;
    std::shared_ptr<PendingOpen> opening;
  };

  // The connection in `slot`, or a new one: waited for until `deadline`, and not again after it
  // has failed to answer for a few seconds (UNAVAILABLE then, at once).
  absl::StatusOr<std::shared_ptr<Connection>> Open(Slot& slot, bool with_events,
                                                   absl::Time deadline);
  // The connection for events, opening one if there is none and the backoff allows.
  absl::StatusOr<std::shared_ptr<Connection>> Connect(absl::Time deadline);
  // The connection for calls, which may wait on QEMU; replaced when hung QEMUs hold too many of
  // its calls.
  absl::StatusOr<std::shared_ptr<Connection>> CallsConnection(absl::Time deadline);
  // Runs `call` on the calls connection in `lane` (a domain's UUID, or "" for none), waiting until
  // `deadline`. A call its caller left while it was running is counted stuck on its connection.
  absl::Status OnCallsConnection(const std::string& lane, absl::Time deadline,
                                 std::function<absl::Status(Connection&)> call);
  // The same for a call on one domain, with its handle on that connection.
  absl::Status OnDomain(const std::string& uuid, absl::Time deadline,
                        std::function<absl::Status(virDomainPtr)> call);
  // Every domain in one call: the quick path, while no domain is suspect.
  absl::StatusOr<std::vector<DomainStats>> CollectAll(absl::Time deadline);
  // Lists the running domains and the steady ones' CPU times (libvirtd alone answers that), then
  // reads those due: the ones that answered last time in one call, each suspect in a call of its
  // own, so that a QEMU that stopped answering holds up only itself.
  absl::StatusOr<std::vector<DomainStats>> CollectListed(const std::set<std::string>& suspects,
                                                         const CollectionFilter& filter,
                                                         absl::Time deadline);

  const std::string uri_;
  Clock& clock_;
  const std::shared_ptr<Events> events_;
  CallLanes lanes_;
  absl::Mutex mu_;
  Slot main_ ABSL_GUARDED_BY(mu_);
  Slot calls_ ABSL_GUARDED_BY(mu_);
  absl::Time next_connect_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_);
  std::string last_connect_error_ ABSL_GUARDED_BY(mu_);
  // Domains collected one by one until they answer again, and what the last collection knew of
  // every domain (for those that did not answer this time).
  std::set<std::string> suspects_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, DomainInfo> known_ ABSL_GUARDED_BY(mu_);
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_LIBVIRT_HYPERVISOR_H_
