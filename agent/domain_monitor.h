#ifndef BALLOOND_AGENT_DOMAIN_MONITOR_H_
#define BALLOOND_AGENT_DOMAIN_MONITOR_H_

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/hypervisor.h"
#include "agent/qmp.h"

namespace balloond {

// Typed QMP calls on one domain: each builds its command, sends it through the Hypervisor with a
// deadline, and parses the reply.
class DomainMonitor {
 public:
  DomainMonitor(Hypervisor& hypervisor, std::string uuid, absl::Time deadline,
                QmpCaller caller = QmpCaller::kAgent)
      : hypervisor_(hypervisor), uuid_(std::move(uuid)), deadline_(deadline), caller_(caller) {}

  absl::StatusOr<nlohmann::json> Execute(absl::string_view command,
                                         const nlohmann::json& arguments = nullptr);
  absl::StatusOr<std::vector<QomPropertyInfo>> QomList(const std::string& path);
  absl::StatusOr<nlohmann::json> QomGet(const std::string& path, const std::string& property);
  absl::Status QomSet(const std::string& path, const std::string& property,
                      const nlohmann::json& value);
  absl::StatusOr<int64_t> QueryBalloon();
  absl::Status SetBalloon(int64_t target_bytes);

 private:
  Hypervisor& hypervisor_;
  std::string uuid_;
  absl::Time deadline_;
  QmpCaller caller_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_DOMAIN_MONITOR_H_
