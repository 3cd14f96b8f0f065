#include "cli/top.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "policy/durations.h"
#include "policy/sizes.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

v1::Domain Domain(const std::string& name) {
  v1::Domain d;
  d.set_name(name);
  d.set_uuid("uuid-" + name);
  d.set_max_memory_bytes(1024 * kMiB);
  d.set_balloon_actual_bytes(768 * kMiB);
  return d;
}

v1::MemoryStats Report(const std::string& name, int64_t at, int64_t major_faults,
                       int64_t available_mib) {
  v1::MemoryStats s;
  *s.mutable_domain() = Domain(name);
  s.mutable_last_update_time()->set_seconds(at);
  s.mutable_stats_age()->set_seconds(1);
  s.mutable_guest()->set_major_faults(major_faults);
  s.mutable_guest()->set_swap_in_bytes(0);
  s.mutable_guest()->set_total_memory_bytes(750 * kMiB);
  s.mutable_guest()->set_available_memory_bytes(available_mib * kMiB);
  return s;
}

// A view of `name` (and `others`, which have not reported): a working set, 48 MiB reclaimable,
// 400 major faults in 2 s, and an observed decision to grow it to 1 GiB.
TopView BusyGuestView(const std::string& name, const std::vector<std::string>& others = {}) {
  TopView view;
  v1::ListDomainsResponse list;
  *list.add_domains() = Domain(name);
  for (const std::string& other : others) *list.add_domains() = Domain(other);
  list.mutable_domains(0)->set_working_set_bytes(312 * kMiB);
  *list.mutable_domains(0)->mutable_working_set_time() =
      ToProtoTimestamp(absl::Now() - absl::Seconds(40));
  list.mutable_domains(0)->set_reclaimable_bytes(48 * kMiB);
  view.SetDomains(list);
  view.Update(Report(name, 100, 10, 300));
  view.Update(Report(name, 102, 410, 150));  // 400 major faults in 2 s
  v1::Decision d;
  d.set_uuid("uuid-" + name);
  d.set_mode(v1::POLICY_MODE_OBSERVE);
  d.set_reason(v1::DECISION_REASON_GUEST_PRESSURE);
  d.set_target_bytes(1024 * kMiB);
  view.Update(d);
  return view;
}

TEST(TopViewTest, ShowsBalloonAvailableMemoryPressureAndTheLastDecision) {
  TopView view = BusyGuestView("web", {"db"});

  const std::string screen = absl::StrJoin(view.Render(50), "\n");
  EXPECT_THAT(screen, HasSubstr("NAME"));
  EXPECT_THAT(screen, HasSubstr("150 MiB (20%)"));
  EXPECT_THAT(screen, HasSubstr("200 flt/s"));
  EXPECT_THAT(screen, HasSubstr("guest-pressure -> 1 GiB (observed)"));
  // The working set probing found, from the listing: statistics updates do not drop it.
  EXPECT_THAT(screen, HasSubstr("WORKING SET"));
  EXPECT_THAT(screen, HasSubstr("312 MiB (40s ago)"));
  EXPECT_THAT(screen, HasSubstr("RECLAIMABLE"));
  EXPECT_THAT(screen, HasSubstr("48 MiB"));
  // "db" has not reported: dashes, listed before "web".
  EXPECT_LT(screen.find("db"), screen.find("web"));
}

TEST(TopViewTest, ANarrowTerminalLosesTheLeastNeededColumnsAndKeepsTheDecision) {
  TopView view = BusyGuestView("balloond-demo-1");
  ASSERT_GT(view.Render(50)[1].size(), 80u) << "the whole table is wider than 80 columns";

  const std::vector<std::string> lines = view.Render(50, 80);
  EXPECT_THAT(lines[0], StartsWith("[too narrow for AGE, MAX"));
  for (size_t i = 1; i < lines.size(); ++i) EXPECT_LE(lines[i].size(), 80u) << lines[i];
  const std::string screen = absl::StrJoin(lines, "\n");
  EXPECT_THAT(screen, HasSubstr("RECLAIMABLE"));
  EXPECT_THAT(screen, HasSubstr("48 MiB"));
  EXPECT_THAT(screen, HasSubstr("guest-pressure -> 1 GiB (observed)"));
  EXPECT_THAT(lines[1], Not(HasSubstr("AGE"))) << "the header";
}

TEST(TopViewTest, ADomainThatIsGoneLeavesTheScreenAndRowsAreCutToTheTerminal) {
  TopView view;
  v1::ListDomainsResponse list;
  for (const char* name : {"a", "b", "c", "d"}) *list.add_domains() = Domain(name);
  view.SetDomains(list);
  EXPECT_EQ(view.Render(4).size(), 4u);  // host line, header, two rows
  list.mutable_domains()->DeleteSubrange(1, 3);
  view.SetDomains(list);
  const std::string screen = absl::StrJoin(view.Render(50), "\n");
  EXPECT_THAT(screen, HasSubstr("1 domains"));
  EXPECT_THAT(screen, Not(HasSubstr("uuid-b")));
  EXPECT_THAT(view.Line("uuid-a", absl::UTCTimeZone()), HasSubstr("NAME=a  ACTUAL=768 MiB"));
  EXPECT_EQ(view.Line("uuid-b", absl::UTCTimeZone()), "");
}

}  // namespace
}  // namespace balloond
