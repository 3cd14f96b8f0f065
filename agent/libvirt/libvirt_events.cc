#include "agent/libvirt/libvirt_events.h"

#include <libvirt/virterror.h>

#include <mutex>
#include <thread>
#include <utility>

#include "agent/libvirt/libvirt_glue.h"

namespace balloond {

void LibvirtEvents::Close() {
  absl::MutexLock lock(&mu_);
  listener_ = nullptr;
}

void LibvirtEvents::Notify(const std::string& uuid) {
  absl::ReaderMutexLock lock(&mu_);
  if (listener_ != nullptr) listener_->OnDomainChanged(uuid);
}

namespace {

using EventsRef = std::shared_ptr<LibvirtEvents>;

void IgnoreLibvirtError(void*, virErrorPtr) {}

void NotifyDomain(virDomainPtr dom, void* opaque) {
  (*static_cast<EventsRef*>(opaque))->Notify(UuidOf(dom));
}

int LifecycleCallback(virConnectPtr, virDomainPtr dom, int, int, void* opaque) {
  NotifyDomain(dom, opaque);
  return 0;
}

void BalloonChangeCallback(virConnectPtr, virDomainPtr dom, unsigned long long, void* opaque) {
  NotifyDomain(dom, opaque);
}

void DeviceCallback(virConnectPtr, virDomainPtr dom, const char*, void* opaque) {
  NotifyDomain(dom, opaque);
}

void MemoryDeviceSizeCallback(virConnectPtr, virDomainPtr dom, const char*, unsigned long long,
                              void* opaque) {
  NotifyDomain(dom, opaque);
}

void MetadataCallback(virConnectPtr, virDomainPtr dom, int, const char*, void* opaque) {
  NotifyDomain(dom, opaque);
}

}  // namespace

void StartLibvirtEventLoop() {
  static std::once_flag once;
  std::call_once(once, [] {
    virSetErrorFunc(nullptr, IgnoreLibvirtError);
    virEventRegisterDefaultImpl();
    std::thread([] {
      for (;;) virEventRunDefaultImpl();
    }).detach();
  });
}

std::vector<int> RegisterDomainEvents(virConnectPtr conn,
                                      const std::shared_ptr<LibvirtEvents>& events) {
  std::vector<int> registrations;
  for (auto [event, callback] :
       {std::pair{VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(LifecycleCallback)},
        std::pair{VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE,
                  VIR_DOMAIN_EVENT_CALLBACK(BalloonChangeCallback)},
        std::pair{VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_CALLBACK(DeviceCallback)},
        std::pair{VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, VIR_DOMAIN_EVENT_CALLBACK(DeviceCallback)},
        std::pair{VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(MetadataCallback)},
        std::pair{VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE,
                  VIR_DOMAIN_EVENT_CALLBACK(MemoryDeviceSizeCallback)}}) {
    // Each registration holds the events until libvirt frees it, after its last callback.
    registrations.push_back(
        virConnectDomainEventRegisterAny(conn, nullptr, event, callback, new EventsRef(events),
                                         [](void* ref) { delete static_cast<EventsRef*>(ref); }));
  }
  return registrations;
}

void DeregisterDomainEvents(virConnectPtr conn, const std::vector<int>& registrations) {
  for (int id : registrations) {
    if (id >= 0) virConnectDomainEventDeregisterAny(conn, id);
  }
}

}  // namespace balloond
