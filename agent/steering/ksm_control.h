#ifndef BALLOOND_AGENT_STEERING_KSM_CONTROL_H_
#define BALLOOND_AGENT_STEERING_KSM_CONTROL_H_

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "agent/collect/ksm_stats.h"
#include "agent/collect/snapshot_store.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/ksm.h"
#include "policy/standing.h"

namespace balloond {

// Where the kernel shows KSM; the real ones on a host, a directory of files in tests.
struct KsmPaths {
  std::string sysfs = "/sys/kernel/mm/ksm";
  std::string proc = "/proc";
  std::string qemu_run = "/run/libvirt/qemu";
};

// balloond's hands on KSM, driven by the policy runner (one thread). Each cycle it reads the
// host's KSM, ksmd's CPU and what each domain's QEMU has merged (Read), then lets the policy's KSM
// controller decide from where the host stands and, in enforce mode, writes what it decided
// (Decide). Its figures go out with the cycle's capacity.
class KsmControl {
 public:
  explicit KsmControl(KsmPaths paths) : paths_(std::move(paths)) {}

  // Reads the host and the domains (by UUID). False when the kernel has no KSM.
  bool Read(const std::map<std::string, DomainSnapshot>& domains, absl::Time now);
  // What sharing saves the host now, and the part of it that has lasted (0 before a Read).
  int64_t SavedBytes() const;
  int64_t LastingBytes(absl::Time now) const;

  // One decision of the controller; in enforce mode, what it decides is written. Returns the
  // decision's explanation when KSM changed (or, in observe mode, would have).
  std::optional<std::string> Decide(const balloon::v1::HostPolicy& full,
                                    balloon::v1::PolicyMode mode,
                                    const policy::HostStanding& standing, absl::Time now);

  // Where balloond changed KSM, puts back what it found (balloond stops).
  void Restore();

  // The figures of the last Read and Decide.
  balloon::v1::HostSharing HostStatus() const { return status_; }
  const std::map<std::string, balloon::v1::DomainSharing>& DomainStatus() const { return domains_; }

 private:
  void SetStatusFromReading();

  const KsmPaths paths_;
  std::optional<policy::KsmReading> reading_;
  policy::KsmHistory history_;
  balloon::v1::HostSharing status_;
  std::map<std::string, balloon::v1::DomainSharing> domains_;
  // ksmd (once looked for), and its CPU time at the last Read.
  bool ksmd_searched_ = false;
  std::optional<pid_t> ksmd_;
  std::optional<double> ksmd_seconds_;
  absl::Time ksmd_read_at_ = absl::InfinitePast();
  // The last write that failed for want of permission: not tried again every cycle.
  absl::Time no_access_until_ = absl::InfinitePast();
  // The knobs written last in enforce mode (a Decide in observe mode writes nothing).
  bool wrote_any_ = false;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_KSM_CONTROL_H_
