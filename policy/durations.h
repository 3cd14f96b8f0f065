#ifndef BALLOOND_POLICY_DURATIONS_H_
#define BALLOOND_POLICY_DURATIONS_H_

// protobuf's durations and timestamps in absl's types, and the range checks every configured or
// requested duration goes through.

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace balloond {

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
// OK for a well-formed protobuf Timestamp (years 1 to 9999, nanos in [0, 1e9)); INVALID_ARGUMENT
// naming `field` otherwise.
absl::Status CheckTimestamp(const google::protobuf::Timestamp& t, absl::string_view field);
// The same range check for a duration already in absl's form (a flag's, say).
absl::Status CheckDurationRange(absl::Duration d, absl::string_view field, absl::Duration min,
                                absl::Duration max);

}  // namespace balloond

#endif  // BALLOOND_POLICY_DURATIONS_H_
