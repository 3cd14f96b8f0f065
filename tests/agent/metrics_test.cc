#include "agent/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/agent/libvirt/fake_hypervisor.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeClock;
using ::testing::HasSubstr;

class MetricsTest : public ::testing::Test {
 protected:
  SnapshotStore store_;
  DecisionLog decisions_;
  FakeClock clock_;
  AgentMetrics metrics_{{store_, decisions_, clock_, nullptr, [] { return 2; }}};
};

// One scrape shows the agent's own series, its calls to libvirt and the state's series.
TEST_F(MetricsTest, AScrapeShowsTheAgentsRoundsCallsConnectionAndState) {
  metrics_.ObserveRound(absl::Milliseconds(30));
  metrics_.calls().ObserveCall("set_balloon_target", absl::Milliseconds(4),
                               absl::DeadlineExceededError("QEMU did not answer"));
  metrics_.SetLibvirtConnected(true);

  const std::string text = metrics_.Scrape();
  EXPECT_THAT(text, HasSubstr("balloon_collection_round_duration_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("balloon_libvirt_call_duration_seconds_count{call="
                              "\"set_balloon_target\"} 1"));
  EXPECT_THAT(text, HasSubstr("balloon_libvirt_call_errors_total{call=\"set_balloon_target\",code="
                              "\"deadline_exceeded\"} 1"));
  EXPECT_THAT(text, HasSubstr("balloon_libvirt_connected 1"));
  EXPECT_THAT(text, HasSubstr("balloon_watch_streams 2"));
  EXPECT_THAT(text, HasSubstr("balloond_build_info{version=\""));
  // A call's other failure codes are there at 0 from its first use: rate() sees the first one.
  EXPECT_THAT(text, HasSubstr("balloon_libvirt_call_errors_total{call=\"set_balloon_target\",code="
                              "\"unavailable\"} 0"));
}

TEST_F(MetricsTest, ChangesFromOutsideAreCountedFromZero) {
  uint64_t outside = 0;
  AgentMetrics metrics({store_, decisions_, clock_, nullptr, [] { return 0; }, nullptr, nullptr,
                        [&outside] { return outside; }});
  EXPECT_THAT(metrics.Scrape(), HasSubstr("balloon_balloon_changes_outside_total 0"));
  outside = 2;
  EXPECT_THAT(metrics.Scrape(), HasSubstr("balloon_balloon_changes_outside_total 2"));
}

TEST_F(MetricsTest, ServeRefusesABadAddressAndServesOnPortZero) {
  EXPECT_EQ(metrics_.Serve("nonsense").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(metrics_.Serve("127.0.0.1:0").ok());
  EXPECT_GT(metrics_.port(), 0);
  metrics_.StopServing();
}

}  // namespace
}  // namespace balloond
