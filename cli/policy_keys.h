#ifndef BALLOOND_CLI_POLICY_KEYS_H_
#define BALLOOND_CLI_POLICY_KEYS_H_

#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace balloond {

// Applies `balloonctl policy set` arguments (KEY=VALUE) to `message` (a balloon.v1.Policy, or a
// DomainPolicy with --domain) and names each set field in `mask`. Keys are field names; on a
// Policy, DomainPolicy fields stand for "defaults.<field>" and host fields are written
// "host.<field>". Values: sizes with their unit for *_bytes fields (cli/size.h),
// durations like 10s, true/false, off/observe/enforce for mode, numbers otherwise. INVALID_ARGUMENT
// says what is wrong.
absl::Status ApplyPolicyAssignments(const std::vector<std::string>& assignments,
                                    google::protobuf::Message& message,
                                    google::protobuf::FieldMask& mask);

// The field path a key names on messages of type `d`, as above ("headroom_bytes" on a Policy is
// "defaults.headroom_bytes"); INVALID_ARGUMENT naming the nearest keys for one it does not know.
absl::StatusOr<std::string> PolicyKeyPath(const google::protobuf::Descriptor* d,
                                          const std::string& key);
// Every key of `d`, sorted: the settings `policy set` takes (etag and the domains map are not).
std::vector<std::string> PolicyKeys(const google::protobuf::Descriptor* d);

}  // namespace balloond

#endif  // BALLOOND_CLI_POLICY_KEYS_H_
