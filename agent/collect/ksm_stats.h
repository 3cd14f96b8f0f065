#ifndef BALLOOND_AGENT_COLLECT_KSM_STATS_H_
#define BALLOOND_AGENT_COLLECT_KSM_STATS_H_

// Page sharing (KSM) as the kernel shows it: /sys/kernel/mm/ksm for the host, /proc/PID/ksm_stat
// for a process (a domain's QEMU), and ksmd's own CPU time.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace balloond {

// /sys/kernel/mm/ksm.
struct KsmSysfs {
  int run = 0;
  int64_t pages_to_scan = 0;
  int64_t sleep_millisecs = 0;
  int64_t pages_shared = 0;
  int64_t pages_sharing = 0;
  int64_t full_scans = 0;
  std::optional<int64_t> pages_scanned;         // newer kernels only
  std::optional<int64_t> general_profit_bytes;  // newer kernels only
};

// NOT_FOUND when the kernel has no KSM; UNAVAILABLE when a file the kernel must have is unreadable.
absl::StatusOr<KsmSysfs> ReadKsmSysfs(const std::string& dir = "/sys/kernel/mm/ksm");

// Writes pages_to_scan and sleep_millisecs, then run (so ksmd starts at the new pace). The error
// names the file (PERMISSION_DENIED when balloond may not write it).
absl::Status WriteKsmKnobs(int run, int64_t pages_to_scan, int64_t sleep_millisecs,
                           const std::string& dir = "/sys/kernel/mm/ksm");

// What KSM merged of one process.
struct ProcessSharing {
  int64_t merging_bytes = 0;            // ksm_merging_pages
  std::optional<int64_t> profit_bytes;  // ksm_process_profit (may be < 0)
};

// Parses /proc/PID/ksm_stat text.
std::optional<ProcessSharing> ParseKsmStat(absl::string_view text, int64_t page_bytes);
// Reads PROC_ROOT/PID/ksm_stat (or ksm_merging_pages on kernels without it); nothing when it is
// unreadable (another user's process without CAP_DAC_READ_SEARCH, an older kernel, a process gone).
std::optional<ProcessSharing> ReadProcessSharing(pid_t pid, const std::string& proc_root = "/proc");

// A running domain's QEMU, from libvirt's pid file (RUN_DIR/NAME.pid); nothing when unreadable.
std::optional<pid_t> QemuPidOf(const std::string& domain_name,
                               const std::string& run_dir = "/run/libvirt/qemu");

// ksmd, the kernel thread that merges pages; nothing when /proc hides it (ProtectProc=invisible).
std::optional<pid_t> FindKsmd(const std::string& proc_root = "/proc");
// The CPU time (user + system, seconds) ksmd, as `pid`, has used so far; nothing when `pid` is not
// ksmd (any more) or is hidden.
std::optional<double> KsmdCpuSeconds(pid_t pid, const std::string& proc_root = "/proc");

}  // namespace balloond

#endif  // BALLOOND_AGENT_COLLECT_KSM_STATS_H_
