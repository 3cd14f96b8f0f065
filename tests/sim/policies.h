#ifndef BALLOOND_TESTS_SIM_POLICIES_H_
#define BALLOOND_TESTS_SIM_POLICIES_H_

// The policies the simulator races: balloond's (the real policy/ library), and re-implementations
// of oVirt MOM's default policy, Proxmox's alg1 and Xen squeezed's proportional policy, from their
// documented formulas (shared/facts/anchor-policies.md), plus no ballooning at all.

#include <deque>
#include <memory>
#include <vector>

#include "balloon/v1/balloon.pb.h"
#include "policy/capacity.h"
#include "tests/sim/model.h"

namespace balloond::sim {

// The real balloond policy in enforce mode with its default settings (`policy` overrides them).
// Like the agent, it reads a guest's statistics only when the policy's collection plan says they
// are due, or when the guest's balloon changed (the agent hears of that from libvirt's event); in
// between the policy sees the last reading, as old as it is.
class BalloondPolicy final : public SimPolicy {
 public:
  // balloond runs its policy every stats period.
  explicit BalloondPolicy(absl::Duration period = absl::Seconds(2),
                          balloon::v1::Policy policy = {});
  std::string name() const override { return "balloond"; }
  absl::Duration period() const override { return period_; }
  std::map<size_t, int64_t> Cycle(const HostView& host, const std::vector<GuestView>& guests,
                                  absl::Time now) override;
  std::map<size_t, int64_t> TakeRequests() override;
  // Memory promised to reservations from the next cycle on (HostInput.reserved_bytes): the
  // policy makes room for it. And, once asked for, the host's capacity as each cycle judged it
  // (what GetHostCapacity answers): a fleet's orchestrator places by it.
  void set_reserved_bytes(int64_t bytes) { reserved_bytes_ = bytes; }
  void track_capacity() { track_capacity_ = true; }
  const std::optional<policy::HostCapacity>& capacity() const { return capacity_; }
  int64_t cycles() const { return cycles_; }
  // The share of guest-cycles in which a guest's statistics were read.
  double read_fraction() const {
    return guest_cycles_ == 0 ? 1.0 : static_cast<double>(reads_) / guest_cycles_;
  }

 private:
  struct Reading {
    GuestView view;
    absl::Time at;
  };
  // Memory changing faster than this needs more CPU than the agent takes for idle (2 % of a CPU).
  static constexpr double kBusyBytesPerSecond = 20.0 * 1024 * 1024;
  absl::Duration period_;
  balloon::v1::Policy policy_;
  policy::State state_;
  // By guest name (the policy's UUIDs): guests come and go on a fleet's hosts.
  std::map<std::string, Reading> readings_;
  std::map<std::string, int64_t> last_work_;  // each guest's memory_work_bytes last cycle
  std::map<size_t, int64_t> requests_;        // virtio-mem requests of the last cycle
  std::map<std::string, int> plan_;           // the last cycle's collection plan, by UUID
  int64_t reserved_bytes_ = 0;
  bool track_capacity_ = false;
  int64_t cycles_ = 0;
  std::optional<policy::HostCapacity> capacity_;
  int64_t reads_ = 0;
  int64_t guest_cycles_ = 0;
};

// vdsm's 02-balloon.policy on MOM: sample every 15 s, average the last 10 samples; every guest
// shrinks 5% when the host's free fraction is under 20%, else grows 5%, never below
// used + free-fraction × current.
class MomPolicy final : public SimPolicy {
 public:
  std::string name() const override { return "mom"; }
  absl::Duration period() const override { return absl::Seconds(15); }
  std::map<size_t, int64_t> Cycle(const HostView& host, const std::vector<GuestView>& guests,
                                  absl::Time now) override;

 private:
  struct Sample {
    double balloon_cur = 0;
    double mem_unused = 0;
    bool has_stats = false;
  };
  std::deque<double> host_free_fraction_;
  std::vector<std::deque<Sample>> samples_;
};

// Proxmox VE's AutoBalloon compute_alg1, every 10 s: toward 80% host use, at most 100 MiB per VM
// per cycle, split by shares above each VM's minimum.
class ProxmoxPolicy final : public SimPolicy {
 public:
  std::string name() const override { return "proxmox"; }
  absl::Duration period() const override { return absl::Seconds(10); }
  std::map<size_t, int64_t> Cycle(const HostView& host, const std::vector<GuestView>& guests,
                                  absl::Time now) override;
};

// Xen squeezed's proportional policy, every 10 s: γ = surplus / Σ(max − min); target = min + γ(max
// − min); a domain that makes no progress for 5 s is stuck and left out.
class SqueezedPolicy final : public SimPolicy {
 public:
  explicit SqueezedPolicy(int64_t host_target_bytes = 512 * kMiB)
      : host_target_(host_target_bytes) {}
  std::string name() const override { return "squeezed"; }
  absl::Duration period() const override { return absl::Seconds(10); }
  std::map<size_t, int64_t> Cycle(const HostView& host, const std::vector<GuestView>& guests,
                                  absl::Time now) override;

 private:
  int64_t host_target_;
  std::vector<int64_t> last_target_;
  std::vector<int64_t> last_actual_;
  std::vector<absl::Time> last_progress_;
};

class NoBallooning final : public SimPolicy {
 public:
  std::string name() const override { return "none"; }
  absl::Duration period() const override { return absl::Seconds(10); }
  std::map<size_t, int64_t> Cycle(const HostView&, const std::vector<GuestView>&,
                                  absl::Time) override {
    return {};
  }
};

std::vector<std::unique_ptr<SimPolicy>> AllPolicies(const Scenario& scenario);

}  // namespace balloond::sim

#endif  // BALLOOND_TESTS_SIM_POLICIES_H_
