#ifndef BALLOOND_AGENT_POLICY_STORE_H_
#define BALLOOND_AGENT_POLICY_STORE_H_

#include <string>

#include <google/protobuf/field_mask.pb.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// The policy in force. Changes made through the API are validated, then written to the state
// directory (temp file, fsync, rename, fsync of the directory) before they take effect, so a
// restart keeps them and a crash never leaves half a file.
class PolicyStore {
 public:
  // Starts from `initial` (the config file's policy), or from STATE_DIR/policy.textproto where an
  // earlier API change left one. A saved policy that does not parse or validate is an error naming
  // the file: balloond does not start with a policy other than the one it was given.
  static absl::StatusOr<std::unique_ptr<PolicyStore>> Open(const std::string& state_dir,
                                                           const balloon::v1::Policy& initial);

  balloon::v1::Policy Get() const;
  std::string saved_path() const { return state_dir_ + "/policy.textproto"; }

  // Sets the fields named in `mask` from `update` (a field in the mask but unset in `update` goes
  // back to its default). INVALID_ARGUMENT for unknown paths or invalid values; nothing changes then.
  absl::StatusOr<balloon::v1::Policy> Update(const balloon::v1::Policy& update,
                                             const google::protobuf::FieldMask& mask);
  // The same for one domain's override; an empty mask removes it.
  absl::StatusOr<balloon::v1::Policy> UpdateDomain(const std::string& domain,
                                                   const balloon::v1::DomainPolicy& update,
                                                   const google::protobuf::FieldMask& mask);
  // Changes the mode for this run only (the --policy-mode flag); not saved.
  void OverrideMode(balloon::v1::PolicyMode mode);

 private:
  explicit PolicyStore(std::string state_dir) : state_dir_(std::move(state_dir)) {}
  absl::StatusOr<balloon::v1::Policy> Commit(balloon::v1::Policy next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string state_dir_;
  mutable absl::Mutex mu_;
  balloon::v1::Policy policy_ ABSL_GUARDED_BY(mu_);
};

// Writes `contents` to `path` atomically and durably.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents);

// Sets the fields of `target` named by `mask` (dotted paths) from `source`; INVALID_ARGUMENT for a
// path the message does not have.
absl::Status ApplyFieldMask(const google::protobuf::Message& source,
                            const google::protobuf::FieldMask& mask, google::protobuf::Message& target);

}  // namespace balloond

#endif  // BALLOOND_AGENT_POLICY_STORE_H_
