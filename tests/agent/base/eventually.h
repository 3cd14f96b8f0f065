#ifndef BALLOOND_TESTS_AGENT_BASE_EVENTUALLY_H_
#define BALLOOND_TESTS_AGENT_BASE_EVENTUALLY_H_

// For work on real threads that no fake clock drives (a worker pool, gRPC's own threads): waits in
// real time, bounded, until `done`.

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace balloond::testing {

// Polls `done` every 5 ms until it holds or `timeout` passes; what it says last.
inline bool Eventually(const std::function<bool()>& done,
                       absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return done();
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

}  // namespace balloond::testing

#endif  // BALLOOND_TESTS_AGENT_BASE_EVENTUALLY_H_
