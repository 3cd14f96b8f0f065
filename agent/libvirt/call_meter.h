#ifndef BALLOOND_AGENT_LIBVIRT_CALL_METER_H_
#define BALLOOND_AGENT_LIBVIRT_CALL_METER_H_

#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"

namespace balloond {

// Hears how long each of a hypervisor's calls took and how it ended (the agent's metrics).
class CallMeter {
 public:
  virtual ~CallMeter() = default;
  // `call` says what for (e.g. "collect_stats"): one name per Hypervisor method.
  virtual void ObserveCall(absl::string_view call, absl::Duration took,
                           const absl::Status& status) = 0;
};

// A meter that keeps nothing.
inline CallMeter& NoCallMeter() {
  class Nothing final : public CallMeter {
    void ObserveCall(absl::string_view, absl::Duration, const absl::Status&) override {}
  };
  static Nothing* nothing = new Nothing;
  return *nothing;
}

// Runs `call` (returning a Status or StatusOr) and tells `meter` of it as `name`.
template <typename F>
auto Metered(CallMeter& meter, Clock& clock, absl::string_view name, F&& call) {
  const absl::Duration start = clock.Monotonic();
  auto result = std::forward<F>(call)();
  if constexpr (std::is_same_v<decltype(result), absl::Status>) {
    meter.ObserveCall(name, clock.Monotonic() - start, result);
  } else {
    meter.ObserveCall(name, clock.Monotonic() - start, result.status());
  }
  return result;
}

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_CALL_METER_H_
