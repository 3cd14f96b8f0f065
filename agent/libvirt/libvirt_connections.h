#ifndef BALLOOND_AGENT_LIBVIRT_LIBVIRT_CONNECTIONS_H_
#define BALLOOND_AGENT_LIBVIRT_LIBVIRT_CONNECTIONS_H_

#include <libvirt/libvirt.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"
#include "agent/libvirt/call_lanes.h"
#include "agent/libvirt/libvirt_events.h"
#include "agent/libvirt/libvirt_glue.h"

namespace balloond {

// One connection to libvirtd, and the domain handles found on it.
class LibvirtConnection {
 public:
  // Opens a connection to `uri`. With `events`, it is the events connection: the domain events go
  // to `events`, and keepalive notices a libvirtd that stopped answering. May block for as long
  // as libvirtd does not answer.
  static absl::StatusOr<std::shared_ptr<LibvirtConnection>> Open(
      const std::string& uri, const std::shared_ptr<LibvirtEvents>& events);
  ~LibvirtConnection();
  LibvirtConnection(const LibvirtConnection&) = delete;
  LibvirtConnection& operator=(const LibvirtConnection&) = delete;

  virConnectPtr get() const { return conn_; }
  // Closed by libvirtd, or a call on it found libvirtd gone.
  bool broken() const { return broken_->load(); }
  void MarkBroken() { broken_->store(true); }
  // Calls whose caller gave up at its deadline while QEMU still has not answered.
  int stuck() const { return stuck_.load(); }
  void AddStuck(int n) { stuck_.fetch_add(n); }

  // The domain's handle on this connection: one found by the last listing, or looked up.
  absl::StatusOr<std::shared_ptr<DomainHandle>> HandleFor(const std::string& uuid);
  // Adds `dom` (taking a reference of its own) to `kept`, the handles ReplaceHandles will keep.
  static void Keep(virDomainPtr dom, std::map<std::string, std::shared_ptr<DomainHandle>>& kept);
  void ReplaceHandles(std::map<std::string, std::shared_ptr<DomainHandle>> kept);

 private:
  struct CloseTarget;
  LibvirtConnection(virConnectPtr conn, std::shared_ptr<std::atomic<bool>> broken,
                    std::unique_ptr<CloseTarget> close_target,
                    std::vector<int> event_registrations);
  static void OnClose(virConnectPtr, int, void* opaque);

  virConnectPtr conn_;
  std::shared_ptr<std::atomic<bool>> broken_;  // shared with the close callback
  std::unique_ptr<CloseTarget> close_target_;  // what the close callback is given
  std::vector<int> event_registrations_;
  std::atomic<int> stuck_{0};
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<DomainHandle>> handles_ ABSL_GUARDED_BY(mu_);
};

// balloond's two connections to libvirtd: one for events and lookups, one for the calls that wait
// on QEMU. libvirtd serves at most max_client_requests (default 5) calls of one connection at once,
// and a call to a hung QEMU keeps its slot until QEMU answers: a calls connection carrying two such
// calls is retired for a fresh one, so hung QEMUs never wedge the agent, and events never queue
// behind them. Connects lazily, and again with backoff after libvirtd goes away.
class LibvirtConnections {
 public:
  using Call = std::function<absl::Status(LibvirtConnection&)>;
  using DomainCall = std::function<absl::Status(virDomainPtr)>;

  // `events` hears of the domain events and of a lost connection; `clock` paces reconnecting.
  LibvirtConnections(std::string uri, Clock& clock, std::shared_ptr<LibvirtEvents> events);
  ~LibvirtConnections();

  // Runs `call` on the calls connection in `lane` (a domain's UUID, or "" for none), waiting until
  // `deadline`: its status, DEADLINE_EXCEEDED at the deadline (the call is then counted stuck on
  // its connection until it returns), or UNAVAILABLE when libvirtd cannot be reached. `call` may
  // outlive this wait: it must own what it writes to.
  absl::Status Run(const std::string& lane, absl::Time deadline, Call call);
  // The same for a call on one domain, given its handle on that connection.
  absl::Status RunOnDomain(const std::string& uuid, absl::Time deadline, DomainCall call);

  // Several calls started at once on one connection, each in its lane; each one's status as Run
  // gives it, or why none could start.
  struct LaneCall {
    std::string lane;
    Call call;
  };
  absl::StatusOr<std::vector<absl::Status>> RunEach(std::vector<LaneCall> calls,
                                                    absl::Time deadline);

  // Threads running libvirt calls now (they are not created per call).
  int threads() const { return lanes_.threads(); }

 private:
  class PendingOpen;
  class TrackedCall;
  // A connection in use, and the one being opened to replace it.
  struct Slot {
    std::shared_ptr<LibvirtConnection> current;
    std::shared_ptr<PendingOpen> opening;
  };

  // The connection in `slot`, or a new one: waited for until `deadline`, and not again after it
  // has failed to answer for a few seconds (UNAVAILABLE then, at once).
  absl::StatusOr<std::shared_ptr<LibvirtConnection>> Open(Slot& slot, bool with_events,
                                                          absl::Time deadline);
  // The events connection decides whether libvirtd is reachable (and paces reconnecting); the calls
  // connection is replaced when hung QEMUs hold too many of its calls.
  absl::StatusOr<std::shared_ptr<LibvirtConnection>> CallsConnection(absl::Time deadline);

  const std::string uri_;
  Clock& clock_;
  const std::shared_ptr<LibvirtEvents> events_;
  CallLanes lanes_;
  absl::Mutex mu_;
  Slot main_ ABSL_GUARDED_BY(mu_);
  Slot calls_ ABSL_GUARDED_BY(mu_);
  absl::Time next_connect_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_);
  std::string last_connect_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_LIBVIRT_CONNECTIONS_H_
