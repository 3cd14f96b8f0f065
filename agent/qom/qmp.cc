#include "agent/qom/qmp.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace balloond {

using nlohmann::json;

std::optional<std::string> StringMember(const json& object, absl::string_view name) {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find(std::string(name));
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::string DumpJson(const json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

std::string QmpCommand(absl::string_view execute, const json& arguments) {
  json cmd = {{"execute", std::string(execute)}};
  if (!arguments.is_null()) cmd["arguments"] = arguments;
  return DumpJson(cmd);
}

namespace {

absl::Status QmpErrorToStatus(const json& error) {
  const std::string cls = StringMember(error, "class").value_or("");
  const std::string desc =
      StringMember(error, "desc").value_or("QEMU returned an error without a description");
  if (cls == "DeviceNotFound") return absl::NotFoundError(desc);
  if (cls == "DeviceNotActive") return absl::FailedPreconditionError(desc);
  if (cls == "CommandNotFound") return absl::UnimplementedError(desc);
  return absl::InvalidArgumentError(desc);
}

}  // namespace

absl::StatusOr<json> ParseQmpReturn(absl::string_view reply) {
  json doc = json::parse(reply.begin(), reply.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InternalError(
        absl::StrCat("QEMU sent a reply that is not a JSON object: ", reply.substr(0, 200)));
  }
  if (auto it = doc.find("error"); it != doc.end() && it->is_object()) {
    return QmpErrorToStatus(*it);
  }
  auto it = doc.find("return");
  if (it == doc.end()) {
    return absl::InternalError(
        absl::StrCat("QEMU reply has neither return nor error: ", reply.substr(0, 200)));
  }
  return std::move(*it);
}

absl::StatusOr<std::vector<QomPropertyInfo>> ParseQomList(const json& ret) {
  if (!ret.is_array()) return absl::InternalError("qom-list did not return an array");
  std::vector<QomPropertyInfo> props;
  props.reserve(ret.size());
  for (const json& entry : ret) {
    if (!entry.is_object()) continue;
    auto name = entry.find("name");
    auto type = entry.find("type");
    if (name == entry.end() || !name->is_string()) continue;
    props.push_back({name->get<std::string>(),
                     type != entry.end() && type->is_string() ? type->get<std::string>() : ""});
  }
  return props;
}

}  // namespace balloond
