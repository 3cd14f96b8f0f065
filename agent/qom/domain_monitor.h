#ifndef BALLOOND_AGENT_QOM_DOMAIN_MONITOR_H_
#define BALLOOND_AGENT_QOM_DOMAIN_MONITOR_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/qom/qmp.h"

namespace balloond {

// Clients' QOM queries on one domain, as QMP through the Hypervisor (which taints the domain in
// libvirt's eyes: balloond itself never calls this): each builds its command, sends it with a
// deadline, and parses the reply.
class DomainMonitor {
 public:
  DomainMonitor(Hypervisor& hypervisor, std::string uuid, absl::Time deadline)
      : hypervisor_(hypervisor), uuid_(std::move(uuid)), deadline_(deadline) {}

  absl::StatusOr<nlohmann::json> Execute(absl::string_view command,
                                         const nlohmann::json& arguments = nullptr);
  absl::StatusOr<std::vector<QomPropertyInfo>> QomList(const std::string& path);
  absl::StatusOr<nlohmann::json> QomGet(const std::string& path, const std::string& property);

 private:
  Hypervisor& hypervisor_;
  std::string uuid_;
  absl::Time deadline_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_QOM_DOMAIN_MONITOR_H_
