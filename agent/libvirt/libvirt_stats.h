#ifndef BALLOOND_AGENT_LIBVIRT_LIBVIRT_STATS_H_
#define BALLOOND_AGENT_LIBVIRT_LIBVIRT_STATS_H_

// What libvirt reports of a domain's balloon, as plain data: libvirt's bulk statistics
// (virConnectGetAllDomainStats, groups "state" and "balloon") and its domain XML, parsed without
// I/O so that both are tested against what real libvirtd returned (tests/testdata/libvirt-9.0).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/libvirt/hypervisor.h"

namespace balloond {

// One typed parameter of a libvirt statistics record, its value as an unsigned 64-bit number
// (libvirt's ints, uints, longs and unsigned longs all fit).
using StatParam = std::pair<std::string, uint64_t>;

// libvirt's "state.*" and "balloon.*" parameters of one domain, as DomainStats (whose info gets
// the state and maximum memory; name, UUID and ID are the caller's to fill). The guest's statistics
// take QEMU's names (stat-free-memory, ...), in bytes or counts, as the QOM path reads them; a
// balloon.* statistic libvirt has and QEMU's list does not (rss) keeps libvirt's name. Other
// parameters are ignored.
DomainStats ParseDomainStats(const std::vector<StatParam>& params);

// libvirt's domain state (virDomainState: "state.state", virDomainGetInfo's state) as balloond's.
DomainRunState LibvirtRunState(uint64_t state);

// The balloon's part of a domain's live XML: <memballoon model='virtio'> (or a transitional
// model), <stats period='N'/>, autodeflate='on', freePageReporting='on'; balloond's element of
// <metadata>; the virtio-mem devices (<memory model='virtio-mem'>). INVALID_ARGUMENT for text that
// is not a libvirt domain XML.
absl::StatusOr<DomainConfig> ParseDomainXml(absl::string_view xml);

// A virtio-mem device's element of the live XML (MemoryDevice::xml) asking for `requested_bytes`
// plugged: what virDomainUpdateDeviceFlags takes to resize it. INVALID_ARGUMENT for anything else.
absl::StatusOr<std::string> WithRequestedSize(absl::string_view device_xml,
                                              int64_t requested_bytes);

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_LIBVIRT_STATS_H_
