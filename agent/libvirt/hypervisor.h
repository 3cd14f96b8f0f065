#ifndef BALLOOND_AGENT_LIBVIRT_HYPERVISOR_H_
#define BALLOOND_AGENT_LIBVIRT_HYPERVISOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace balloond {

enum class DomainRunState { kRunning, kPaused, kShuttingDown, kOther };

// QEMU's names of the statistics a guest's virtio-balloon driver reports (its guest-stats, which
// the QOM path reads), by which GuestStats is keyed; written here only.
namespace guest_stat {
inline constexpr char kAllocStalls[] = "stat-alloc-stalls";
inline constexpr char kAsyncReclaims[] = "stat-async-reclaims";
inline constexpr char kAsyncScans[] = "stat-async-scans";
inline constexpr char kAvailableMemory[] = "stat-available-memory";
inline constexpr char kDirectReclaims[] = "stat-direct-reclaims";
inline constexpr char kDirectScans[] = "stat-direct-scans";
inline constexpr char kDiskCaches[] = "stat-disk-caches";
inline constexpr char kFreeMemory[] = "stat-free-memory";
inline constexpr char kHtlbPgalloc[] = "stat-htlb-pgalloc";
inline constexpr char kHtlbPgfail[] = "stat-htlb-pgfail";
inline constexpr char kMajorFaults[] = "stat-major-faults";
inline constexpr char kMinorFaults[] = "stat-minor-faults";
inline constexpr char kOomKills[] = "stat-oom-kills";
inline constexpr char kSwapIn[] = "stat-swap-in";
inline constexpr char kSwapOut[] = "stat-swap-out";
inline constexpr char kTotalMemory[] = "stat-total-memory";
// Not the guest's: what the host holds of the domain (its QEMU's resident memory), from /proc.
inline constexpr char kResident[] = "rss";
}  // namespace guest_stat

// What a guest's virtio-balloon driver reported, as QEMU names it (stat-free-memory, ...): bytes
// for sizes, counts for events; only the statistics the guest reported.
struct GuestStats {
  std::map<std::string, int64_t> values;
  // QEMU's "last-update": host wall-clock seconds of the guest's last report; 0 = never.
  int64_t last_update_unix_seconds = 0;

  std::optional<int64_t> Get(absl::string_view name) const {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
};

struct DomainInfo {
  std::string name;
  std::string uuid;
  // libvirt's runtime ID: a new one at every start, so a changed ID means a new QEMU process.
  int id = -1;
  bool active = false;
  DomainRunState state = DomainRunState::kOther;
  // The memory the domain was started with; the largest balloon target.
  int64_t max_memory_bytes = 0;
};

// One running domain as one collection found it.
struct DomainStats {
  DomainInfo info;
  // The balloon's size (libvirt's balloon.current, kept current by QEMU's BALLOON_CHANGE events).
  std::optional<int64_t> actual_bytes;
  // False when libvirt did not read the guest's statistics this time: the domain's monitor was
  // busy (another call held it) or did not answer. `guest` is empty then.
  bool stats_read = false;
  // Left out on purpose (steady, and not busy): `info` as the last collection knew it.
  bool skipped = false;
  // For a domain the collection was told is steady: the CPU time its QEMU process has used.
  std::optional<int64_t> cpu_time_ns;
  GuestStats guest;
};

// Which domains a collection reads. With no steady domains, all of them, in one call. The steady
// ones are read only when `busy` says so of the CPU time their QEMU used (virDomainGetInfo, which
// libvirtd answers from /proc without asking QEMU): a guest that does not run cannot change its
// memory.
struct CollectionFilter {
  std::set<std::string> steady;
  std::function<bool(const std::string& uuid, int64_t cpu_time_ns)> busy;
  // Steady domains whose guest does not run (paused; libvirt's lifecycle event says when it
  // resumes): left out without a look at their CPU time.
  std::set<std::string> asleep;
};

// A virtio-mem device: memory plugged into the guest in blocks, beyond what it booted with.
struct MemoryDevice {
  std::string alias;            // libvirt's name for it (virtiomem0): how it is addressed
  int64_t size_bytes = 0;       // the most it can plug
  int64_t block_bytes = 0;      // it plugs and unplugs whole blocks
  int node = 0;                 // the guest NUMA node it plugs into
  int64_t requested_bytes = 0;  // what the guest was asked to have plugged
  int64_t current_bytes = 0;    // what the guest has plugged
  // The device's element of the live XML, as libvirt wrote it: a change of its requested size is
  // this element with another <requested> (libvirt finds the device by its address).
  std::string xml;
};

// What balloond needs of a domain's definition.
struct DomainConfig {
  bool has_balloon = false;
  // The guest's reporting period; 0 while it does not report.
  int stats_period_seconds = 0;
  bool autodeflate = false;
  bool free_page_reporting = false;
  // <memoryBacking><nosharepages/>: its QEMU keeps its memory out of KSM.
  bool nosharepages = false;
  // balloond's element of the domain's <metadata> (agent/policy_metadata.h), as XML; empty when
  // the domain has none.
  std::string policy_metadata;
  // Its virtio-mem devices, in the order of its XML.
  std::vector<MemoryDevice> memory_devices;
};

// Told (on any thread: libvirt's event loop) when a domain starts, stops or changes state, when its
// balloon changes size, a device is added or removed or its metadata changes, a virtio-mem device
// plugged or unplugged memory (`uuid`), and when the
// connection to libvirt is lost ("").
class DomainChangeListener {
 public:
  virtual ~DomainChangeListener() = default;
  virtual void OnDomainChanged(const std::string& uuid) = 0;
};

// What the agent needs of libvirt and QEMU. Everything balloond does by itself goes through
// libvirt's own API, which leaves the domains untainted; only RunQmp passes QMP through (libvirt
// then marks that domain tainted "custom-monitor"), and only for the QOM queries a client asks for.
// The real one is LibvirtHypervisor; unit tests use a fake. Calls to one domain that wait on its
// QEMU run one at a time and end at their deadline with DEADLINE_EXCEEDED (at once while an
// earlier one has gone unanswered for long: a hung QEMU); calls to other domains are never held up.
class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  // Every running or paused domain with its balloon statistics, without waiting on a QEMU whose
  // monitor is busy (its stats_read is false). Steady domains that are not busy (see
  // CollectionFilter) are listed but not read (skipped), which costs their QEMUs nothing.
  // UNAVAILABLE while libvirt cannot be reached; DEADLINE_EXCEEDED when libvirt did not answer by
  // `deadline` (a QEMU that stopped answering this moment; the next collection leaves it out).
  virtual absl::StatusOr<std::vector<DomainStats>> CollectStats(absl::Time deadline,
                                                                const CollectionFilter& filter) = 0;

  // A defined or running domain by libvirt UUID or name (a UUID first: a domain may be named like
  // another one's UUID); NOT_FOUND if libvirt knows none.
  virtual absl::StatusOr<DomainInfo> LookupDomain(absl::string_view name_or_uuid,
                                                  absl::Time deadline) = 0;

  // The running domain's definition. NOT_FOUND when it stopped.
  virtual absl::StatusOr<DomainConfig> ReadConfig(const std::string& uuid, absl::Time deadline) = 0;

  // Sets the balloon target (the memory the guest keeps), rounded down to whole KiB.
  // FAILED_PRECONDITION when the domain has no balloon or is not running.
  virtual absl::Status SetBalloonTarget(const std::string& uuid, int64_t target_bytes,
                                        absl::Time deadline) = 0;

  // Asks the domain's virtio-mem device `alias` to have `requested_bytes` plugged (a multiple of
  // its block, at most its size: INVALID_ARGUMENT otherwise). The guest plugs or unplugs at its
  // pace; libvirt's memory-device-size-change event tells of each change (a DomainChangeListener
  // call). NOT_FOUND when the domain has no such device.
  virtual absl::Status SetMemoryDeviceRequest(const std::string& uuid, const std::string& alias,
                                              int64_t requested_bytes, absl::Time deadline) = 0;

  // Sets the guest's statistics reporting period (0 switches reporting off).
  virtual absl::Status SetStatsPeriod(const std::string& uuid, int seconds,
                                      absl::Time deadline) = 0;

  // Whether libvirt runs a job on the domain that ballooning must not disturb (a migration, a
  // save or dump).
  virtual absl::StatusOr<bool> JobActive(const std::string& uuid, absl::Time deadline) = 0;

  // Sends one QMP command (JSON text) to the domain's QEMU and returns the reply (JSON text).
  // For clients' QOM queries only: libvirt marks the domain tainted.
  virtual absl::StatusOr<std::string> RunQmp(const std::string& uuid, const std::string& command,
                                             absl::Time deadline) = 0;

  // balloond's element of the domain's <metadata> (agent/policy_metadata.h), whether or not the
  // domain runs; empty when it has none. NOT_FOUND for a domain libvirt does not know.
  virtual absl::StatusOr<std::string> ReadPolicyMetadata(const std::string& uuid,
                                                         absl::Time deadline) = 0;
  // Replaces that element (an empty `element` removes it) in the running domain and, for a
  // persistent domain, in its definition.
  virtual absl::Status WritePolicyMetadata(const std::string& uuid, const std::string& element,
                                           absl::Time deadline) = 0;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_HYPERVISOR_H_
