#include "policy/enum_names.h"

#include <google/protobuf/descriptor.h>

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"

namespace balloond {
namespace {

// "PolicyMode" → "POLICY_MODE_": the prefix protobuf's style gives an enum's values.
std::string ValuePrefix(const google::protobuf::EnumDescriptor* type) {
  std::string prefix;
  for (char c : type->name()) {
    if (std::isupper(static_cast<unsigned char>(c)) && !prefix.empty()) prefix += '_';
    prefix += absl::ascii_toupper(static_cast<unsigned char>(c));
  }
  return prefix + "_";
}

}  // namespace

std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value) {
  if (value == nullptr) return "unknown";
  absl::string_view name = value->name();
  const std::string prefix = ValuePrefix(value->type());
  if (absl::StartsWith(name, prefix)) name.remove_prefix(prefix.size());
  return absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", "-"}});
}

std::vector<std::string> ShortEnumNames(const google::protobuf::EnumDescriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() != 0) names.push_back(ShortEnumName(type->value(i)));
  }
  return names;
}

std::optional<int> EnumByShortName(const google::protobuf::EnumDescriptor* type,
                                   absl::string_view name) {
  for (int i = 0; i < type->value_count(); ++i) {
    const auto* value = type->value(i);
    if (value->number() != 0 && ShortEnumName(value) == name) return value->number();
  }
  return std::nullopt;
}

}  // namespace balloond
