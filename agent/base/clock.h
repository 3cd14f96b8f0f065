#ifndef BALLOOND_AGENT_BASE_CLOCK_H_
#define BALLOOND_AGENT_BASE_CLOCK_H_

#include <chrono>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace balloond {

// Time, injected so that tests set it instead of sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time: for timestamps, and for ages measured against other clocks' stamps (a guest's
  // last-update).
  virtual absl::Time Now() = 0;
  // Time that only moves forward, from an arbitrary start (CLOCK_MONOTONIC): for intervals and
  // pacing, which a step of the wall clock (NTP, `date -s`) must neither stretch nor skip.
  virtual absl::Duration Monotonic() = 0;
  // With `mu` held: waits until `condition` holds or `timeout` has passed on this clock, releasing
  // `mu` meanwhile; true when the condition holds.
  virtual bool AwaitWithTimeout(absl::Mutex& mu, const absl::Condition& condition,
                                absl::Duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
  // The same until `deadline`, a time on this clock.
  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& condition, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return AwaitWithTimeout(mu, condition, deadline - Now());
  }
};

// The system's clocks. RealClock() below is the one balloond uses: it is never destroyed, so that
// threads that outlive the daemon (a libvirt call stuck on a hung QEMU) may still read it.
class SystemClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  absl::Duration Monotonic() override {
    return absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
  }
  bool AwaitWithTimeout(absl::Mutex& mu, const absl::Condition& condition,
                        absl::Duration timeout) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return mu.AwaitWithTimeout(condition, timeout);
  }
};

inline Clock& RealClock() {
  static Clock* const clock = new SystemClock();
  return *clock;
}

}  // namespace balloond

#endif  // BALLOOND_AGENT_BASE_CLOCK_H_
