// What libvirt reports of a domain, as it might report it after a bug, a version change, or a
// guest that lies: statistics parameters ("name=value" lines, as `virsh domstats` prints them)
// and the domain XML, with balloond's policy in its metadata (which anyone allowed to define
// domains may write). Nothing may crash, leak or overflow; sizes never come out negative.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "agent/libvirt/libvirt_stats.h"
#include "agent/libvirt/policy_metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<balloond::StatParam> params;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    uint64_t value = 0;
    if (!absl::SimpleAtoi(kv.second, &value)) continue;
    params.emplace_back(kv.first, value);
  }
  const balloond::DomainStats d = balloond::ParseDomainStats(params);
  if (d.actual_bytes && *d.actual_bytes < 0) __builtin_trap();
  if (d.info.max_memory_bytes < 0) __builtin_trap();
  for (const auto& [name, value] : d.guest.values) {
    if (value < 0) __builtin_trap();
  }
  auto config = balloond::ParseDomainXml(text);
  for (const std::string& element : {text, config.ok() ? config->policy_metadata : ""}) {
    auto settings = balloond::ParsePolicyMetadata(element);
    if (!settings.ok()) continue;
    if (settings->min_bytes() < 0 || settings->max_bytes() < 0) __builtin_trap();
    // What balloond writes back reads the same.
    auto written = balloond::FormatPolicyMetadata(*settings);
    if (!written.ok()) __builtin_trap();
    auto again = balloond::ParsePolicyMetadata(*written);
    if (!again.ok() || again->SerializeAsString() != settings->SerializeAsString()) {
      __builtin_trap();
    }
  }
  return 0;
}
