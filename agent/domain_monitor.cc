#include "agent/domain_monitor.h"

namespace balloond {

using nlohmann::json;

absl::StatusOr<json> DomainMonitor::Execute(absl::string_view command, const json& arguments) {
  auto reply = hypervisor_.RunQmp(uuid_, QmpCommand(command, arguments), deadline_, caller_);
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

absl::Status DomainMonitor::QomSet(const std::string& path, const std::string& property,
                                   const json& value) {
  return Execute("qom-set", {{"path", path}, {"property", property}, {"value", value}}).status();
}

absl::StatusOr<int64_t> DomainMonitor::QueryBalloon() {
  auto ret = Execute("query-balloon");
  if (!ret.ok()) return ret.status();
  return ParseQueryBalloon(*ret);
}

absl::Status DomainMonitor::SetBalloon(int64_t target_bytes) {
  return Execute("balloon", {{"value", target_bytes}}).status();
}

}  // namespace balloond
