#ifndef BALLOOND_AGENT_LIBVIRT_POLICY_METADATA_H_
#define BALLOOND_AGENT_LIBVIRT_POLICY_METADATA_H_

// A domain's balloond settings kept in its libvirt <metadata>, under balloond's XML namespace, so
// that they travel with the domain (migration, another host) and VM managers can read and set them:
//
//   <metadata>
//     <balloond:policy xmlns:balloond="http://balloond.dev/xmlns/policy/1">
//       <balloond:enabled>yes</balloond:enabled>
//       <balloond:min unit='MiB'>512</balloond:min>
//       <balloond:max unit='GiB'>4</balloond:max>
//       <balloond:shares>2000</balloond:shares>
//       <balloond:headroom unit='MiB'>256</balloond:headroom>
//       <balloond:headroomFraction>0.2</balloond:headroomFraction>
//       <balloond:lowWatermark unit='MiB'>128</balloond:lowWatermark>
//     </balloond:policy>
//   </metadata>
//
// Sizes take libvirt's units (b, KiB or k, MiB or M, GiB or G, TiB or T, KB, MB, GB, TB); without
// a unit, KiB, as libvirt's <memory>. Each element is optional. `virsh metadata DOMAIN
// --uri http://balloond.dev/xmlns/policy/1 --key balloond --set '<policy>...</policy>'` sets it.
// Settings made on the host (the config file's or the API's override of the domain) win over the
// metadata's, field by field; the metadata wins over the policy's defaults.

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

inline constexpr char kPolicyMetadataNamespace[] = "http://balloond.dev/xmlns/policy/1";
inline constexpr char kPolicyMetadataPrefix[] = "balloond";

// The settings of balloond's metadata element, as virDomainGetMetadata returns it or as the domain
// XML holds it (with its namespace prefix). INVALID_ARGUMENT naming the element for anything else:
// text that is not one <policy> element, unknown elements, numbers or units that do not parse,
// values the policy refuses.
absl::StatusOr<balloon::v1::DomainPolicy> ParsePolicyMetadata(absl::string_view element_xml);

// What a domain's metadata element gives the policy: nothing for an empty element; for one that
// does not parse, nothing and the problem ("...; ignored"), which the domain's status and the
// policy's explanation show. A domain's bad metadata never stops balloond from managing it.
struct MetadataSettings {
  std::optional<balloon::v1::DomainPolicy> settings;
  std::string problem;
};
MetadataSettings ReadMetadataSettings(absl::string_view element_xml);

// The element virDomainSetMetadata takes (libvirt adds the namespace). INVALID_ARGUMENT for a
// setting the metadata does not hold.
absl::StatusOr<std::string> FormatPolicyMetadata(const balloon::v1::DomainPolicy& settings);

// OK when the metadata holds the DomainPolicy field named `field` (e.g. "min_bytes");
// INVALID_ARGUMENT naming the fields it does hold otherwise.
absl::Status CheckMetadataHolds(absl::string_view field);

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_POLICY_METADATA_H_
