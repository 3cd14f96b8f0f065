#include "policy/units.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/time_util.h>

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace balloond {
namespace {

using google::protobuf::util::TimeUtil;

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

std::string FormatBytes(int64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while ((value >= 1024 || value <= -1024) && unit < 6) value /= 1024, ++unit;
  if (unit == 0) return absl::StrCat(bytes, " B");
  std::string out = absl::StrFormat("%.1f", value);
  if (absl::EndsWith(out, ".0")) out.resize(out.size() - 2);
  return absl::StrCat(out, " ", kUnits[unit]);
}

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  return TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
}

absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

absl::Duration FromProtoDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::Status CheckDurationRange(absl::Duration d, absl::string_view field, absl::Duration min,
                                absl::Duration max) {
  if (d >= min && d <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be between ", absl::FormatDuration(min), " and ",
                   absl::FormatDuration(max), ", got ", absl::FormatDuration(d)));
}

absl::StatusOr<absl::Duration> DurationInRange(const google::protobuf::Duration& d,
                                               absl::string_view field, absl::Duration min,
                                               absl::Duration max) {
  const bool well_formed = d.seconds() >= TimeUtil::kDurationMinSeconds &&
                           d.seconds() <= TimeUtil::kDurationMaxSeconds &&
                           d.nanos() > -1000000000 && d.nanos() < 1000000000 &&
                           !(d.seconds() > 0 && d.nanos() < 0) &&
                           !(d.seconds() < 0 && d.nanos() > 0);
  if (!well_formed) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is not a valid duration (", d.seconds(), " s, ", d.nanos(), " ns)"));
  }
  const absl::Duration out = FromProtoDuration(d);
  if (absl::Status s = CheckDurationRange(out, field, min, max); !s.ok()) return s;
  return out;
}

std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value) {
  if (value == nullptr) return "unknown";
  absl::string_view name = value->name();
  const std::string prefix = ValuePrefix(value->type());
  if (absl::StartsWith(name, prefix)) name.remove_prefix(prefix.size());
  return absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", "-"}});
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
