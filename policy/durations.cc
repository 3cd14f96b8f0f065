#include "policy/durations.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"

namespace balloond {

using google::protobuf::util::TimeUtil;

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

absl::Status CheckTimestamp(const google::protobuf::Timestamp& t, absl::string_view field) {
  if (t.seconds() >= TimeUtil::kTimestampMinSeconds &&
      t.seconds() <= TimeUtil::kTimestampMaxSeconds && t.nanos() >= 0 && t.nanos() < 1000000000) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, " is not a valid time (", t.seconds(), " s, ", t.nanos(), " ns)"));
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

}  // namespace balloond
