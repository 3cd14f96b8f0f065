#ifndef BALLOOND_AGENT_STEERING_POLICY_STORE_H_
#define BALLOOND_AGENT_STEERING_POLICY_STORE_H_

#include <google/protobuf/field_mask.pb.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// The policy in force: the config file's policy, with the changes made through the API applied over
// it field by field, and the --policy-mode of this run over both. Only the API's changes are saved
// (to STATE_DIR/policy.textproto, validated first, then written atomically and durably: temp file,
// fsync, rename, fsync of the directory), so a restart keeps them, an edit of the config file still
// counts for every field the API did not change, and a run's --policy-mode is never saved.
class PolicyStore {
 public:
  // Starts from `config` and the changes an earlier run saved. Saved changes that do not parse or
  // validate are an error naming the file and line: balloond does not start with a policy other
  // than the one it was given.
  static absl::StatusOr<std::unique_ptr<PolicyStore>> Open(const std::string& state_dir,
                                                           const balloon::v1::Policy& config);

  // The policy in force (fields without a value take the policy's defaults).
  balloon::v1::Policy Get() const;
  std::string saved_path() const { return state_dir_ + "/policy.textproto"; }

  // Sets the fields named in `mask` from `update`. A field in the mask but unset in `update` drops
  // the API's change of it: the config file's value, or the default, applies again. Changing "mode"
  // ends this run's --policy-mode. INVALID_ARGUMENT for unknown paths or invalid values;
  // UNAVAILABLE when the change cannot be saved; ABORTED when `expected_etag` is given and the
  // policy in force no longer has it (another writer changed it); nothing changes then.
  absl::StatusOr<balloon::v1::Policy> Update(const balloon::v1::Policy& update,
                                             const google::protobuf::FieldMask& mask,
                                             absl::string_view expected_etag = "");
  // The same for one domain's override; an empty mask drops every API change of that domain.
  absl::StatusOr<balloon::v1::Policy> UpdateDomain(const std::string& domain,
                                                   const balloon::v1::DomainPolicy& update,
                                                   const google::protobuf::FieldMask& mask,
                                                   absl::string_view expected_etag = "");
  // The layers apart, to say where a setting came from: the config file's policy and the API's
  // changes over it.
  struct Layers {
    balloon::v1::Policy config;
    balloon::v1::Policy api_changes;
  };
  Layers GetLayers() const;
  // The mode for this run only (the --policy-mode flag); never saved.
  void OverrideMode(balloon::v1::PolicyMode mode);
  // The config file's policy, read again (SIGHUP): the API's changes and this run's mode stay over
  // it. INVALID_ARGUMENT, and nothing changes, when the result does not validate.
  absl::Status ReplaceConfig(const balloon::v1::Policy& config);

 private:
  PolicyStore(std::string state_dir, balloon::v1::Policy config)
      : state_dir_(std::move(state_dir)), config_(std::move(config)) {}
  balloon::v1::Policy InForce() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status CheckEtag(absl::string_view expected) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<balloon::v1::Policy> Commit(balloon::v1::Policy changes, bool mode_changed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string state_dir_;
  mutable absl::Mutex mu_;
  balloon::v1::Policy config_ ABSL_GUARDED_BY(mu_);
  balloon::v1::Policy api_changes_ ABSL_GUARDED_BY(mu_);
  std::optional<balloon::v1::PolicyMode> mode_override_ ABSL_GUARDED_BY(mu_);
};

// The policy's etag (Policy.etag): a digest of its settings, the same for the same settings in
// every run, that changes with any of them.
std::string PolicyEtag(const balloon::v1::Policy& policy);
// The policy as the API serves it: every default filled in, and its etag.
balloon::v1::Policy WithEtag(const balloon::v1::Policy& in_force);

// Sets the fields of `target` named by `mask` (dotted paths) from `source`; INVALID_ARGUMENT for a
// path the message does not have.
absl::Status ApplyFieldMask(const google::protobuf::Message& source,
                            const google::protobuf::FieldMask& mask,
                            google::protobuf::Message& target);

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_POLICY_STORE_H_
