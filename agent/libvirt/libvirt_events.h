#ifndef BALLOOND_AGENT_LIBVIRT_LIBVIRT_EVENTS_H_
#define BALLOOND_AGENT_LIBVIRT_LIBVIRT_EVENTS_H_

// libvirt's domain events, as one DomainChangeListener hears them.

#include <libvirt/libvirt.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/libvirt/hypervisor.h"

namespace balloond {

// What libvirt's event thread calls. The registrations share it, so that an event that arrives as
// balloond goes away finds no one to tell instead of freed memory; and it is never held across a
// libvirt call, so that events flow while a connection is being opened.
class LibvirtEvents {
 public:
  explicit LibvirtEvents(DomainChangeListener& listener) : listener_(&listener) {}
  // No one hears of events from here on (a notification in progress ends first).
  void Close();
  // Tells the listener that `uuid` changed ("" for every domain: the connection was lost).
  void Notify(const std::string& uuid);

 private:
  absl::Mutex mu_;
  DomainChangeListener* listener_ ABSL_GUARDED_BY(mu_);
};

// Runs libvirt's default event loop on a thread of its own, once per process: events, connection
// close and keepalive need it. libvirt's errors are returned as statuses, not printed.
void StartLibvirtEventLoop();

// Registers for the events that change what balloond knows of a domain (lifecycle, balloon,
// devices, metadata, virtio-mem size), each told to `events`. The registrations' IDs, for
// Deregister.
std::vector<int> RegisterDomainEvents(virConnectPtr conn,
                                      const std::shared_ptr<LibvirtEvents>& events);
void DeregisterDomainEvents(virConnectPtr conn, const std::vector<int>& registrations);

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_LIBVIRT_EVENTS_H_
