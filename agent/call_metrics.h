#ifndef BALLOOND_AGENT_CALL_METRICS_H_
#define BALLOOND_AGENT_CALL_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/libvirt/call_meter.h"

namespace balloond {

// The buckets of balloond's duration histograms: from 1 ms (one domain's statistics) to 10 s (a
// libvirt that stopped answering).
const prometheus::Histogram::BucketBoundaries& DurationBuckets();

// balloond's calls to libvirt (and through it QEMU), as Prometheus series in `registry`: a duration
// histogram by call, and failures by call and gRPC code, each code that libvirt's failures map to
// shown at 0 from the call's first use, so that rate() and alerts see the first failure.
class CallMetrics final : public CallMeter {
 public:
  explicit CallMetrics(prometheus::Registry& registry);
  void ObserveCall(absl::string_view call, absl::Duration took,
                   const absl::Status& status) override;

 private:
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Family<prometheus::Counter>& errors_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_CALL_METRICS_H_
