#ifndef BALLOOND_POLICY_LAYERS_H_
#define BALLOOND_POLICY_LAYERS_H_

// Where a domain's settings come from: the policy's layers, lowest first: built-in defaults, the
// config file's policy, the API's changes over it, the domain's libvirt metadata, and the settings
// made on this host for that domain (the config file's override, the API's). Settings made on the
// host win over the metadata field by field; the metadata wins over the defaults.

#include <map>
#include <string>

#include "balloon/v1/balloon.pb.h"

namespace balloond::policy {

// `changes` applied over `base` field by field (a domain's override too); durations as a whole.
balloon::v1::Policy MergePolicy(const balloon::v1::Policy& base,
                                const balloon::v1::Policy& changes);

// `policy` with each domain's metadata settings (by domain name) beneath its overrides, field by
// field. A domain whose settings would then not validate keeps its overrides alone; the reason is
// put in `ignored` (by domain name) when given.
balloon::v1::Policy WithMetadata(const balloon::v1::Policy& policy,
                                 const std::map<std::string, balloon::v1::DomainPolicy>& metadata,
                                 std::map<std::string, std::string>* ignored = nullptr);

// Each of a domain's settings with the layer it came from. The layers, lowest first: built-in
// defaults, the config file's defaults, the API's defaults, the domain's metadata, the config
// file's override of the domain, the API's override of it. `metadata` is null for a domain without
// usable metadata. The settings are the ones the policy applies: the two layers merged as the
// policy store merges them, with the metadata beneath their overrides.
balloon::v1::DomainPolicyInForce ExplainDomainPolicy(const std::string& domain,
                                                     const balloon::v1::Policy& config,
                                                     const balloon::v1::Policy& api_changes,
                                                     const balloon::v1::DomainPolicy* metadata);

}  // namespace balloond::policy

#endif  // BALLOOND_POLICY_LAYERS_H_
