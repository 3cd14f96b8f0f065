#ifndef BALLOOND_AGENT_LIBVIRT_LIBVIRT_GLUE_H_
#define BALLOOND_AGENT_LIBVIRT_LIBVIRT_GLUE_H_

// The C API's ways, made C++: errors as statuses, strings and handles that free themselves, and
// what a domain handle tells without a call to libvirtd.

#include <libvirt/libvirt.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/libvirt/libvirt_stats.h"

namespace balloond {

// libvirt's error for the calling thread, as a status with the nearest gRPC-style code.
absl::Status LastLibvirtError(absl::string_view what);

// A string libvirt returned for the caller to free, copied and freed.
std::string TakeLibvirtString(char* text);

// The domain's UUID ("" if libvirt cannot say).
std::string UuidOf(virDomainPtr dom);

// Name, UUID and ID: libvirt keeps them in the handle, no call to libvirtd.
void Identify(virDomainPtr dom, DomainInfo& info);

// Identify, and the run state and maximum memory (a call to libvirtd).
absl::StatusOr<DomainInfo> DescribeDomain(virDomainPtr dom);

// A statistics record's numeric fields, as ParseDomainStats takes them.
std::vector<StatParam> StatParams(const virDomainStatsRecord& record);

// A domain handle that frees itself.
class DomainHandle {
 public:
  explicit DomainHandle(virDomainPtr dom) : ptr_(dom) {}
  ~DomainHandle() {
    if (ptr_ != nullptr) virDomainFree(ptr_);
  }
  DomainHandle(const DomainHandle&) = delete;
  DomainHandle& operator=(const DomainHandle&) = delete;
  virDomainPtr get() const { return ptr_; }

 private:
  virDomainPtr ptr_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_LIBVIRT_GLUE_H_
