#ifndef BALLOOND_AGENT_CLOCK_H_
#define BALLOOND_AGENT_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace balloond {

// Time is injected so tests can set it instead of sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_CLOCK_H_
