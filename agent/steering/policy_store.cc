#include "agent/steering/policy_store.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/field_mask_util.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/base/error_reason.h"
#include "agent/base/files.h"
#include "policy/layers.h"
#include "policy/policy.h"
#include "policy/settings.h"

namespace balloond {

namespace v1 = balloon::v1;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::util::FieldMaskUtil;

namespace {}  // namespace

absl::Status ApplyFieldMask(const Message& source, const google::protobuf::FieldMask& mask,
                            Message& target) {
  for (const std::string& path : mask.paths()) {
    std::vector<const FieldDescriptor*> fields;
    if (!FieldMaskUtil::GetFieldDescriptors(target.GetDescriptor(), path, &fields)) {
      return absl::InvalidArgumentError(absl::StrCat("update_mask: '", path, "' is not a field of ",
                                                     target.GetDescriptor()->full_name()));
    }
    if (fields.back()->is_repeated()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update_mask: '", path, "' cannot be updated as a whole; update its entries"));
    }
  }
  // A field named but unset in `source` is cleared in `target`; a message field (a duration) is
  // replaced whole, never merged.
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  FieldMaskUtil::MergeMessageTo(source, mask, options, &target);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PolicyStore>> PolicyStore::Open(const std::string& state_dir,
                                                               const v1::Policy& config) {
  if (absl::Status s = policy::ValidatePolicy(config); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("policy: ", s.message()));
  }
  std::unique_ptr<PolicyStore> store(new PolicyStore(state_dir, config));
  if (absl::Status s = EnsureDirectory(state_dir, "state directory"); !s.ok()) return s;
  auto text = ReadSavedState(store->saved_path(), "the policy changes saved by the API");
  if (!text.ok()) return text.status();
  if (*text) {
    v1::Policy saved;
    if (absl::Status s = ParseTextFormat(**text, store->saved_path(), saved); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          s.message(), " (the policy changes saved by the API; fix or remove the file)"));
    }
    if (absl::Status s = policy::ValidatePolicy(policy::MergePolicy(config, saved)); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(store->saved_path(), ": ", s.message()));
    }
    absl::MutexLock lock(&store->mu_);
    store->api_changes_ = std::move(saved);
  }
  return store;
}

v1::Policy PolicyStore::InForce() const {
  v1::Policy policy = policy::MergePolicy(config_, api_changes_);
  if (mode_override_) policy.set_mode(*mode_override_);
  return policy;
}

v1::Policy PolicyStore::Get() const {
  absl::ReaderMutexLock lock(&mu_);
  return InForce();
}

PolicyStore::Layers PolicyStore::GetLayers() const {
  absl::ReaderMutexLock lock(&mu_);
  return Layers{config_, api_changes_};
}

void PolicyStore::OverrideMode(v1::PolicyMode mode) {
  absl::MutexLock lock(&mu_);
  mode_override_ = mode;
}

absl::Status PolicyStore::ReplaceConfig(const v1::Policy& config) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = policy::ValidatePolicy(policy::MergePolicy(config, api_changes_)); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("policy: ", s.message()));
  }
  config_ = config;
  return absl::OkStatus();
}

absl::StatusOr<v1::Policy> PolicyStore::Commit(v1::Policy changes, bool mode_changed) {
  v1::Policy next = policy::MergePolicy(config_, changes);
  if (!mode_changed && mode_override_) next.set_mode(*mode_override_);
  if (absl::Status s = policy::ValidatePolicy(next); !s.ok()) return s;
  if (absl::Status s = SaveTextProto(saved_path(), changes, "the policy"); !s.ok()) return s;
  api_changes_ = std::move(changes);
  if (mode_changed) mode_override_.reset();
  return next;
}

absl::Status PolicyStore::CheckEtag(absl::string_view expected) const {
  if (expected.empty()) return absl::OkStatus();
  const std::string now = PolicyEtag(InForce());
  if (expected == now) return absl::OkStatus();
  return WithReason(absl::AbortedError(absl::StrCat(
                        "the policy changed since it was read (etag \"", expected, "\", now \"",
                        now, "\"): read it again and make the change over what it is now")),
                    "ETAG_MISMATCH", {{"etag", now}});
}

absl::StatusOr<v1::Policy> PolicyStore::Update(const v1::Policy& update,
                                               const google::protobuf::FieldMask& mask,
                                               absl::string_view expected_etag) {
  if (mask.paths_size() == 0) {
    return absl::InvalidArgumentError(
        "update_mask is empty; name the fields to change, e.g. \"mode\"");
  }
  if (std::find(mask.paths().begin(), mask.paths().end(), "etag") != mask.paths().end()) {
    return absl::InvalidArgumentError("etag is not a setting: balloond computes it");
  }
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckEtag(expected_etag); !s.ok()) return s;
  v1::Policy next = api_changes_;
  if (absl::Status s = ApplyFieldMask(update, mask, next); !s.ok()) return s;
  const bool mode_changed =
      std::find(mask.paths().begin(), mask.paths().end(), "mode") != mask.paths().end();
  return Commit(std::move(next), mode_changed);
}

absl::StatusOr<v1::Policy> PolicyStore::UpdateDomain(const std::string& domain,
                                                     const v1::DomainPolicy& update,
                                                     const google::protobuf::FieldMask& mask,
                                                     absl::string_view expected_etag) {
  if (domain.empty()) return absl::InvalidArgumentError("no domain given");
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckEtag(expected_etag); !s.ok()) return s;
  v1::Policy next = api_changes_;
  if (mask.paths_size() == 0) {
    next.mutable_domains()->erase(domain);
  } else {
    v1::DomainPolicy entry =
        next.domains().count(domain) ? next.domains().at(domain) : v1::DomainPolicy();
    if (absl::Status s = ApplyFieldMask(update, mask, entry); !s.ok()) return s;
    if (entry.ByteSizeLong() == 0) {
      next.mutable_domains()->erase(domain);  // nothing left of the API's change
    } else {
      (*next.mutable_domains())[domain] = entry;
    }
  }
  return Commit(std::move(next), /*mode_changed=*/false);
}

std::string PolicyEtag(const v1::Policy& policy) {
  v1::Policy settings = policy;
  settings.clear_etag();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);  // map order fixed: same settings, same bytes
    settings.SerializeToCodedStream(&out);
  }
  // FNV-1a: stable across runs and builds, unlike absl::Hash; an etag needs no more.
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return absl::StrFormat("%016x", hash);
}

balloon::v1::Policy WithEtag(const balloon::v1::Policy& in_force) {
  balloon::v1::Policy served = policy::WithDefaults(in_force);
  served.set_etag(PolicyEtag(in_force));
  return served;
}

}  // namespace balloond
