#include "policy/layers.h"

#include <google/protobuf/duration.pb.h>

#include "absl/strings/str_cat.h"
#include "policy/settings.h"

namespace balloond::policy {

namespace v1 = balloon::v1;

v1::Policy MergePolicy(const v1::Policy& base, const v1::Policy& changes) {
  v1::Policy out = base;
  v1::Policy rest = changes;
  // Message merging would replace a domain's override whole: domains are overlaid field by field,
  // like the rest (durations taken whole, at any depth).
  for (const auto& [name, domain] : rest.domains()) Overlay((*out.mutable_domains())[name], domain);
  rest.clear_domains();
  Overlay(out, rest);
  return out;
}

v1::Policy WithMetadata(const v1::Policy& policy,
                        const std::map<std::string, v1::DomainPolicy>& metadata,
                        std::map<std::string, std::string>* ignored) {
  v1::Policy out = policy;
  for (const auto& [name, settings] : metadata) {
    v1::DomainPolicy merged = settings;
    if (auto it = policy.domains().find(name); it != policy.domains().end()) {
      Overlay(merged, it->second);  // only the fields the override sets
    }
    if (absl::Status s = ValidateDomainPolicy(merged); !s.ok()) {
      if (ignored != nullptr) {
        (*ignored)[name] =
            absl::StrCat("with this host's override of '", name, "' over it: ", s.message());
      }
      continue;
    }
    (*out.mutable_domains())[name] = merged;
  }
  return out;
}

v1::DomainPolicyInForce ExplainDomainPolicy(const std::string& domain, const v1::Policy& config,
                                            const v1::Policy& api_changes,
                                            const v1::DomainPolicy* metadata) {
  v1::DomainPolicyInForce out;
  out.set_domain(domain);
  std::map<std::string, v1::DomainPolicy> by_name;
  if (metadata != nullptr) {
    *out.mutable_metadata() = *metadata;
    by_name[domain] = *metadata;
  }
  std::map<std::string, std::string> ignored;
  const v1::Policy policy = WithMetadata(MergePolicy(config, api_changes), by_name, &ignored);
  if (auto it = ignored.find(domain); it != ignored.end()) {
    out.set_metadata_problem(absl::StrCat("ignored: ", it->second));
    metadata = nullptr;
  }
  *out.mutable_settings() = EffectiveDomainPolicy(policy, domain);

  static const v1::DomainPolicy kNone;
  auto override_of = [&domain](const v1::Policy& p) -> const v1::DomainPolicy& {
    auto it = p.domains().find(domain);
    return it == p.domains().end() ? kNone : it->second;
  };
  // Highest precedence first.
  const std::pair<const v1::DomainPolicy*, v1::PolicySource> layers[] = {
      {&override_of(api_changes), v1::POLICY_SOURCE_API_DOMAIN},
      {&override_of(config), v1::POLICY_SOURCE_CONFIG_DOMAIN},
      {metadata != nullptr ? metadata : &kNone, v1::POLICY_SOURCE_METADATA},
      {&api_changes.defaults(), v1::POLICY_SOURCE_API_DEFAULTS},
      {&config.defaults(), v1::POLICY_SOURCE_CONFIG_DEFAULTS},
  };
  const auto* descriptor = v1::DomainPolicy::descriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* field = descriptor->field(i);
    v1::PolicySource source = v1::POLICY_SOURCE_BUILT_IN;
    for (const auto& [layer, from] : layers) {
      if (layer->GetReflection()->HasField(*layer, field)) {
        source = from;
        break;
      }
    }
    (*out.mutable_sources())[field->name()] = source;
  }
  return out;
}

}  // namespace balloond::policy
