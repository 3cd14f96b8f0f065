#include "agent/call_metrics.h"

#include <string>

#include "absl/strings/ascii.h"

namespace balloond {

const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *buckets;
}

CallMetrics::CallMetrics(prometheus::Registry& registry)
    : durations_(
          prometheus::BuildHistogram()
              .Name("balloon_libvirt_call_duration_seconds")
              .Help("How long balloond's calls to libvirt (and through it QEMU) took, by call.")
              .Register(registry)),
      errors_(prometheus::BuildCounter()
                  .Name("balloon_libvirt_call_errors_total")
                  .Help("balloond's calls to libvirt that failed, by call and gRPC code.")
                  .Register(registry)) {}

void CallMetrics::ObserveCall(absl::string_view call, absl::Duration took,
                              const absl::Status& status) {
  const std::string name(call);
  if (!durations_.Has({{"call", name}})) {
    // A call's first use: what libvirt's errors become (LastLibvirtError,
    // agent/libvirt/libvirt_glue.cc), at 0. Two first uses at once add the same series: no harm.
    for (absl::StatusCode code :
         {absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded,
          absl::StatusCode::kNotFound, absl::StatusCode::kFailedPrecondition,
          absl::StatusCode::kInvalidArgument, absl::StatusCode::kUnimplemented,
          absl::StatusCode::kUnknown}) {
      errors_.Add(
          {{"call", name}, {"code", absl::AsciiStrToLower(absl::StatusCodeToString(code))}});
    }
  }
  durations_.Add({{"call", name}}, DurationBuckets()).Observe(absl::ToDoubleSeconds(took));
  if (!status.ok()) {
    errors_
        .Add({{"call", name},
              {"code", absl::AsciiStrToLower(absl::StatusCodeToString(status.code()))}})
        .Increment();
  }
}

}  // namespace balloond
