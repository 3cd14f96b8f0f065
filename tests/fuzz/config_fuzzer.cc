// balloond's text formats: the config file, and the policy changes saved by the API, through
// parsing, validation, merging and defaults.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/base/files.h"
#include "agent/config.h"
#include "agent/steering/policy_store.h"
#include "policy/layers.h"
#include "policy/policy.h"
#include "policy/settings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto config = balloond::ParseAgentConfig(text, "fuzz.textproto"); config.ok()) {
    balloond::AgentSettings settings;
    (void)balloond::ApplyAgentConfig(*config, settings);
  }
  balloon::v1::Policy saved;
  if (!balloond::ParseTextFormat(text, "policy.textproto", saved).ok()) return 0;
  balloon::v1::Policy config;
  config.mutable_defaults()->set_headroom_bytes(128 << 20);
  const balloon::v1::Policy merged = balloond::policy::MergePolicy(config, saved);
  if (balloond::policy::ValidatePolicy(merged).ok()) {
    (void)balloond::policy::WithDefaults(merged);
    for (const auto& [name, d] : merged.domains()) {
      (void)balloond::policy::EffectiveDomainPolicy(merged, name);
    }
  }
  return 0;
}
