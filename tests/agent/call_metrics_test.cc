#include "agent/call_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

namespace balloond {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(CallMetricsTest, EveryCallIsTimedByNameAndFailuresAreCountedByCodeFromZero) {
  prometheus::Registry registry;
  CallMetrics calls(registry);
  calls.ObserveCall("collect_stats", absl::Milliseconds(3), absl::OkStatus());
  calls.ObserveCall("collect_stats", absl::Seconds(20), absl::UnavailableError("libvirtd gone"));
  calls.ObserveCall("read_config", absl::Milliseconds(1), absl::OkStatus());

  const std::string text = Scrape(registry);
  EXPECT_THAT(text,
              HasSubstr("balloon_libvirt_call_duration_seconds_count{call=\"collect_stats\"} 2"));
  // 3 ms falls in the 5 ms bucket; 20 s beyond the last one (10 s).
  EXPECT_THAT(text, HasSubstr("balloon_libvirt_call_duration_seconds_bucket{call=\"collect_stats\","
                              "le=\"0.005\"} 1"));
  EXPECT_THAT(text, HasSubstr("balloon_libvirt_call_duration_seconds_bucket{call=\"collect_stats\","
                              "le=\"10\"} 1"));
  EXPECT_THAT(text, HasSubstr("balloon_libvirt_call_errors_total{call=\"collect_stats\",code="
                              "\"unavailable\"} 1"));
  // A call that never failed shows its failures at 0 (an alert on increase() sees the first one).
  EXPECT_THAT(text, HasSubstr("balloon_libvirt_call_errors_total{call=\"read_config\",code="
                              "\"deadline_exceeded\"} 0"));
  EXPECT_THAT(text, Not(HasSubstr("code=\"ok\"")));
}

}  // namespace
}  // namespace balloond
