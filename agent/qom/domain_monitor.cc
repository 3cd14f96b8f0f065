#include "agent/qom/domain_monitor.h"

namespace balloond {

using nlohmann::json;

absl::StatusOr<json> DomainMonitor::Execute(absl::string_view command, const json& arguments) {
  auto reply = hypervisor_.RunQmp(uuid_, QmpCommand(command, arguments), deadline_);
  if (!reply.ok()) return reply.status();
  return ParseQmpReturn(*reply);
}

absl::StatusOr<std::vector<QomPropertyInfo>> DomainMonitor::QomList(const std::string& path) {
  auto ret = Execute("qom-list", {{"path", path}});
  if (!ret.ok()) return ret.status();
  return ParseQomList(*ret);
}

absl::StatusOr<json> DomainMonitor::QomGet(const std::string& path, const std::string& property) {
  return Execute("qom-get", {{"path", path}, {"property", property}});
}

}  // namespace balloond
