#ifndef BALLOOND_AGENT_QOM_QMP_H_
#define BALLOOND_AGENT_QOM_QMP_H_

// QMP commands and replies as plain data over JSON text, for clients' QOM queries: no I/O here, so
// every function is tested against replies recorded from real QEMU (tests/testdata/qemu-7.2).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace balloond {

// The string member `name` of `object`; nullopt when `object` is not an object or the member is
// missing or not a string. QEMU's replies are read only through checks like this one: nlohmann's
// own accessors throw on a type they did not expect.
std::optional<std::string> StringMember(const nlohmann::json& object, absl::string_view name);

// `value` as JSON text; invalid UTF-8 in strings becomes U+FFFD instead of an exception.
std::string DumpJson(const nlohmann::json& value);

// One QMP command: {"execute": NAME, "arguments": ARGS}.
std::string QmpCommand(absl::string_view execute, const nlohmann::json& arguments = nullptr);

// The "return" member of a QMP reply, or the reply's error as a status: DeviceNotFound becomes
// NOT_FOUND, DeviceNotActive FAILED_PRECONDITION, CommandNotFound UNIMPLEMENTED, anything else
// INVALID_ARGUMENT; the message carries QEMU's description.
absl::StatusOr<nlohmann::json> ParseQmpReturn(absl::string_view reply);

struct QomPropertyInfo {
  std::string name;
  std::string type;
};
absl::StatusOr<std::vector<QomPropertyInfo>> ParseQomList(const nlohmann::json& ret);

}  // namespace balloond

#endif  // BALLOOND_AGENT_QOM_QMP_H_
