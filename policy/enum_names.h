#ifndef BALLOOND_POLICY_ENUM_NAMES_H_
#define BALLOOND_POLICY_ENUM_NAMES_H_

// The API's enum values as balloond writes and reads them in logs, tables and flags: "enforce",
// "host-reclaim", "no-device".

#include <google/protobuf/descriptor.h>
#include <google/protobuf/generated_enum_reflection.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace balloond {

// An enum value's name without its type's prefix, in lower case with dashes: POLICY_MODE_ENFORCE
// is "enforce", DECISION_REASON_HOST_RECLAIM "host-reclaim", BALLOON_STATE_NO_DEVICE "no-device".
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value);
template <typename Enum>
std::string ShortName(Enum value) {
  return ShortEnumName(google::protobuf::GetEnumDescriptor<Enum>()->FindValueByNumber(value));
}
// Every value's short name but the UNSPECIFIED one's, in the enum's order.
std::vector<std::string> ShortEnumNames(const google::protobuf::EnumDescriptor* type);
// The value a short name stands for; nullopt for none (or for the UNSPECIFIED value).
std::optional<int> EnumByShortName(const google::protobuf::EnumDescriptor* type,
                                   absl::string_view name);
template <typename Enum>
std::optional<Enum> ParseShortName(absl::string_view name) {
  auto number = EnumByShortName(google::protobuf::GetEnumDescriptor<Enum>(), name);
  if (!number) return std::nullopt;
  return static_cast<Enum>(*number);
}

}  // namespace balloond

#endif  // BALLOOND_POLICY_ENUM_NAMES_H_
