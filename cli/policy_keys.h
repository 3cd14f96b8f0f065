#ifndef BALLOOND_CLI_POLICY_KEYS_H_
#define BALLOOND_CLI_POLICY_KEYS_H_

#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace balloond {

// Applies `balloonctl policy set` arguments (KEY=VALUE) to `message` (a balloon.v1.Policy, or a
// DomainPolicy with --domain) and names each set field in `mask`. Keys are field names; on a
// Policy, DomainPolicy fields stand for "defaults.<field>" and host fields are written
// "host.<field>". Values: sizes in virsh's units for *_bytes fields (a plain number is KiB),
// durations like 10s, true/false, off/observe/enforce for mode, numbers otherwise. INVALID_ARGUMENT
// says what is wrong.
absl::Status ApplyPolicyAssignments(const std::vector<std::string>& assignments,
                                    google::protobuf::Message& message,
                                    google::protobuf::FieldMask& mask);

}  // namespace balloond

#endif  // BALLOOND_CLI_POLICY_KEYS_H_
