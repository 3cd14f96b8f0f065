#ifndef BALLOOND_POLICY_UNITS_H_
#define BALLOOND_POLICY_UNITS_H_

// Sizes, times and enum names as balloond writes them everywhere: the agent, the policy, balloonctl
// and the tests share these, so a size or a mode reads the same in a log line, a decision and a
// table.

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/generated_enum_reflection.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace balloond {

inline constexpr int64_t kKiB = 1024;
inline constexpr int64_t kMiB = 1024 * kKiB;
inline constexpr int64_t kGiB = 1024 * kMiB;

// 536870912 → "512 MiB", 1610612736 → "1.5 GiB", 1000 → "1000 B": powers of 1024, one decimal at
// most.
std::string FormatBytes(int64_t bytes);

// protobuf's well-known time types and absl's, both ways (nanoseconds kept).
google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);
google::protobuf::Duration ToProtoDuration(absl::Duration d);
absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t);
absl::Duration FromProtoDuration(const google::protobuf::Duration& d);
// `d` as an absl duration if it is a well-formed protobuf Duration (seconds within ±10000 years,
// nanos of the same sign) within [min, max]; INVALID_ARGUMENT naming `field` otherwise. Checked
// in absl's arithmetic, which saturates: no value a client sends can wrap around into the range.
absl::StatusOr<absl::Duration> DurationInRange(const google::protobuf::Duration& d,
                                               absl::string_view field, absl::Duration min,
                                               absl::Duration max);
// The same range check for a duration already in absl's form (a flag's, say).
absl::Status CheckDurationRange(absl::Duration d, absl::string_view field, absl::Duration min,
                                absl::Duration max);

// An enum value's name without its type's prefix, in lower case with dashes: POLICY_MODE_ENFORCE
// is "enforce", DECISION_REASON_HOST_RECLAIM "host-reclaim", BALLOON_STATE_NO_DEVICE "no-device".
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value);
template <typename Enum>
std::string ShortName(Enum value) {
  return ShortEnumName(google::protobuf::GetEnumDescriptor<Enum>()->FindValueByNumber(value));
}
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

#endif  // BALLOOND_POLICY_UNITS_H_
