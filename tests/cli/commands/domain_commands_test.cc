// list, stats, set, release on mock stubs (command_test.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/cli/commands/command_test.h"

namespace balloond::cli {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::SetArgPointee;

using testing::CommandTest;
using testing::StreamOf;
namespace v1 = balloon::v1;

constexpr int64_t kMiB = int64_t{1} << 20;

v1::Domain Domain(const std::string& name, int64_t actual) {
  v1::Domain d;
  d.set_name(name);
  d.set_uuid("00000000-0000-0000-0000-00000000000" + name.substr(name.size() - 1));
  d.set_state(v1::DOMAIN_STATE_RUNNING);
  d.set_max_memory_bytes(1024 * kMiB);
  d.set_balloon_actual_bytes(actual);
  return d;
}

v1::MemoryStats StatsOf(const std::string& name, int64_t actual) {
  v1::MemoryStats s;
  *s.mutable_domain() = Domain(name, actual);
  return s;
}

class DomainCommandsTest : public CommandTest {
 protected:
  // balloond answers `set` with `target` on `domain`.
  void SetIsAnswered(int64_t target, const v1::Domain& domain = Domain("web1", 1024 * kMiB)) {
    v1::SetBalloonTargetResponse answer;
    *answer.mutable_domain() = domain;
    answer.set_target_bytes(target);
    EXPECT_CALL(control_, SetBalloonTarget(_, _, _))
        .WillOnce(DoAll(SetArgPointee<2>(answer), Return(grpc::Status::OK)));
  }
};

TEST_F(DomainCommandsTest, ListFollowsEveryPageAndPrintsATableOrNames) {
  v1::ListDomainsResponse first, second;
  *first.add_domains() = Domain("web1", 512 * kMiB);
  first.set_next_page_token("page-2");
  *second.add_domains() = Domain("web2", 768 * kMiB);
  v1::ListDomainsRequest asked;
  EXPECT_CALL(read_, ListDomains(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(first), Return(grpc::Status::OK)))
      .WillOnce(DoAll(SaveArg<1>(&asked), SetArgPointee<2>(second), Return(grpc::Status::OK)));
  Result r = Run({"list", "-o", "name"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "web1\nweb2\n");
  EXPECT_EQ(asked.page_token(), "page-2");
  EXPECT_FALSE(read_write_) << "reading takes the read-only socket";
}

TEST_F(DomainCommandsTest, ListAsATableShowsEachDomainsBalloon) {
  v1::ListDomainsResponse list;
  *list.add_domains() = Domain("web1", 512 * kMiB);
  EXPECT_CALL(read_, ListDomains(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(list), Return(grpc::Status::OK)));
  Result r = Run({"list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("web1"));
  EXPECT_THAT(r.out, HasSubstr("512 MiB"));
}

TEST_F(DomainCommandsTest, ABalloondThatIsNotThereIsExplainedWithItsSocket) {
  EXPECT_CALL(read_, ListDomains(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "failed to connect to all addresses; No such file")));
  Result r = Run({"list", "--socket", "/run/nowhere.sock"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("balloonctl: "));
  EXPECT_THAT(r.err, HasSubstr("is balloond running and listening on /run/nowhere.sock?"));
}

TEST_F(DomainCommandsTest, StatsOfADomainWithoutABalloonSaysSo) {
  EXPECT_CALL(read_, GetMemoryStats(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                    "domain 'plain' has no virtio-balloon device")));
  Result r = Run({"stats", "plain"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("has no virtio-balloon device"));
  EXPECT_THAT(r.err, HasSubstr("FAILED_PRECONDITION"));
}

TEST_F(DomainCommandsTest, StatsWatchPrintsARowPerUpdateAndItsTimeoutIsSuccess) {
  EXPECT_CALL(read_, WatchMemoryStatsRaw(_, _))
      .WillOnce(Return(StreamOf<v1::MemoryStats>(
          {StatsOf("web1", 512 * kMiB), StatsOf("web1", 500 * kMiB)},
          grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"))));
  Result r = Run({"stats", "web1", "--watch", "--timeout", "3s", "-o", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"balloonActualBytes\":\"524288000\""));
}

TEST_F(DomainCommandsTest, SetSendsTheTargetOnTheReadWriteSocketAndSaysHowLongItIsHeld) {
  v1::SetBalloonTargetRequest sent;
  v1::SetBalloonTargetResponse answer;
  *answer.mutable_domain() = Domain("web1", 1024 * kMiB);
  answer.set_target_bytes(512 * kMiB);
  answer.set_previous_actual_bytes(1024 * kMiB);
  answer.mutable_hold()->mutable_until()->set_seconds(absl::ToUnixSeconds(testing::TestNow()) +
                                                      3600);
  answer.mutable_hold()->set_target_bytes(512 * kMiB);
  EXPECT_CALL(control_, SetBalloonTarget(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent), SetArgPointee<2>(answer), Return(grpc::Status::OK)));
  Result r = Run({"set", "web1", "512M", "--request-id", "change-1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_write_);
  EXPECT_EQ(sent.domain(), "web1");
  EXPECT_EQ(sent.target_bytes(), 512 * kMiB);
  EXPECT_EQ(sent.request_id(), "change-1");
  EXPECT_FALSE(sent.has_hold()) << "the policy's default_hold, decided by balloond";
  EXPECT_THAT(r.out, HasSubstr("web1: balloon target set to 512 MiB (now 1 GiB)"));
  EXPECT_THAT(r.out, HasSubstr("(the policy's default_hold; --hold=0 sets none)"));
  EXPECT_THAT(r.out, HasSubstr("`balloonctl release web1` ends the hold"));
}

TEST_F(DomainCommandsTest, SetDryRunWithoutAHoldSaysNothingWasSent) {
  v1::SetBalloonTargetRequest sent;
  v1::SetBalloonTargetResponse answer;
  *answer.mutable_domain() = Domain("web1", 1024 * kMiB);
  answer.set_target_bytes(768 * kMiB);
  EXPECT_CALL(control_, SetBalloonTarget(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent), SetArgPointee<2>(answer), Return(grpc::Status::OK)));
  Result r = Run({"set", "web1", "768MiB", "--dry-run", "--hold=0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(sent.validate_only());
  EXPECT_TRUE(sent.has_hold());
  EXPECT_EQ(sent.hold().seconds(), 0);
  EXPECT_THAT(r.out, HasSubstr("would set balloon target to 768 MiB; dry run, nothing sent"));
  EXPECT_THAT(r.out, HasSubstr("web1: not held"));
}

TEST_F(DomainCommandsTest, SetWaitWatchesTheBalloonUntilItArrives) {
  SetIsAnswered(512 * kMiB);
  EXPECT_CALL(read_, WatchMemoryStatsRaw(_, _))
      .WillOnce(Return(
          StreamOf<v1::MemoryStats>({StatsOf("web1", 1024 * kMiB), StatsOf("web1", 700 * kMiB),
                                     StatsOf("web1", 512 * kMiB), StatsOf("web1", 512 * kMiB)},
                                    grpc::Status(grpc::StatusCode::CANCELLED, "Cancelled"))));
  Result r = Run({"set", "web1", "512M", "--wait"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("web1: balloon reached 512 MiB"));
}

// `virsh setmem` (or a second agent) undoing the target a moment after it arrived: not reached.
TEST_F(DomainCommandsTest, SetWaitWantsTheBalloonToStayThere) {
  SetIsAnswered(512 * kMiB);
  EXPECT_CALL(read_, WatchMemoryStatsRaw(_, _))
      .WillOnce(Return(StreamOf<v1::MemoryStats>(
          {StatsOf("web1", 512 * kMiB), StatsOf("web1", 900 * kMiB)},
          grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"))));
  Result r = Run({"set", "web1", "512M", "--wait", "--timeout", "2s"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, Not(HasSubstr("reached")));
  EXPECT_THAT(r.err, HasSubstr("the balloon of web1 is at 900 MiB, not 512 MiB"));
  EXPECT_THAT(r.err, HasSubstr("something else moves its balloon (see `balloonctl events`)"));
}

TEST_F(DomainCommandsTest, SetWaitOnAPausedDomainSaysSoAtOnce) {
  v1::Domain paused = Domain("web1", 1024 * kMiB);
  paused.set_state(v1::DOMAIN_STATE_PAUSED);
  SetIsAnswered(512 * kMiB, paused);
  EXPECT_CALL(read_, WatchMemoryStatsRaw(_, _)).Times(0);
  Result r = Run({"set", "web1", "512M", "--wait"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("web1 is paused: its balloon cannot move until it runs (virsh "
                               "resume web1); the target is set"));
}

TEST_F(DomainCommandsTest, SetWaitOnADomainPausedWhileWaitingSaysSo) {
  SetIsAnswered(512 * kMiB);
  v1::MemoryStats paused = StatsOf("web1", 800 * kMiB);
  paused.mutable_domain()->set_state(v1::DOMAIN_STATE_PAUSED);
  EXPECT_CALL(read_, WatchMemoryStatsRaw(_, _))
      .WillOnce(Return(
          StreamOf<v1::MemoryStats>({StatsOf("web1", 900 * kMiB), paused},
                                    grpc::Status(grpc::StatusCode::CANCELLED, "Cancelled"))));
  Result r = Run({"set", "web1", "512M", "--wait"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("web1 is paused"));
}

TEST_F(DomainCommandsTest, SetForceAsksBalloondToGoBelowTheFloor) {
  v1::SetBalloonTargetRequest sent;
  EXPECT_CALL(control_, SetBalloonTarget(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent), Return(grpc::Status::OK)));
  Run({"set", "web1", "64M", "--force", "--hold=0"});
  EXPECT_TRUE(sent.force());
  EXPECT_EQ(sent.target_bytes(), 64 * kMiB);
}

TEST_F(DomainCommandsTest, SetWaitThatRunsOutSaysWhereTheBalloonStopped) {
  SetIsAnswered(128 * kMiB);
  EXPECT_CALL(read_, WatchMemoryStatsRaw(_, _))
      .WillOnce(Return(StreamOf<v1::MemoryStats>(
          {StatsOf("web1", 300 * kMiB)},
          grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"))));
  Result r = Run({"set", "web1", "128M", "--wait", "--timeout", "2s"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("the balloon of web1 is at 300 MiB, not 128 MiB, after 2s"));
  EXPECT_THAT(r.err, HasSubstr("raise --timeout"));
}

TEST_F(DomainCommandsTest, ABadSizeIsAUsageErrorAndNothingIsSent) {
  EXPECT_CALL(control_, SetBalloonTarget(_, _, _)).Times(0);
  Result r = Run({"set", "web1", "lots"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("balloonctl: size 'lots' does not start with a number; write a "
                               "number with a unit: 512M, 1.5G"));
}

// The typo that starved a guest: virsh's unit is KiB, the operator meant MiB.
TEST_F(DomainCommandsTest, ASizeWithoutAUnitIsRefusedWithWhatWasProbablyMeant) {
  EXPECT_CALL(control_, SetBalloonTarget(_, _, _)).Times(0);
  Result r = Run({"set", "web1", "512", "--wait"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("balloonctl: size '512' has no unit: did you mean 512M?"));
}

TEST_F(DomainCommandsTest, ATargetBelowTheFloorIsExplainedByBalloondFirst) {
  EXPECT_CALL(control_, SetBalloonTarget(_, _, _))
      .WillOnce(Return(testing::WithErrorInfo(
          grpc::StatusCode::FAILED_PRECONDITION,
          "balloon target 100 MiB (104857600 bytes) is below the floor of domain 'web1', 200 MiB "
          "(its min_bytes)",
          "TARGET_BELOW_FLOOR")));
  Result r = Run({"set", "web1", "100M"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("balloonctl: balloon target 100 MiB (104857600 bytes) is below the "
                               "floor of domain 'web1', 200 MiB (its min_bytes) "
                               "[FAILED_PRECONDITION TARGET_BELOW_FLOOR]"));
}

TEST_F(DomainCommandsTest, ABadHoldIsAUsageError) {
  EXPECT_CALL(control_, SetBalloonTarget(_, _, _)).Times(0);
  Result r = Run({"set", "web1", "512M", "--hold", "soon"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--hold 'soon' is not a duration; write e.g. 30m, 2h, or 0"));
}

TEST_F(DomainCommandsTest, ReleaseSaysWhatHoldEndedOrThatThereWasNone) {
  v1::ReleaseHoldResponse released;
  *released.mutable_domain() = Domain("web1", 512 * kMiB);
  released.mutable_released()->mutable_until()->set_seconds(
      absl::ToUnixSeconds(testing::TestNow()) + 1800);
  EXPECT_CALL(control_, ReleaseHold(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(released), Return(grpc::Status::OK)));
  Result r = Run({"release", "web1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_write_);
  EXPECT_THAT(r.out, HasSubstr("web1: hold released (it had "));
  EXPECT_THAT(r.out, HasSubstr("30m"));
  EXPECT_THAT(r.out, HasSubstr("the policy may move it again"));
}

TEST_F(DomainCommandsTest, ReleaseOfADomainNotHeld) {
  v1::ReleaseHoldResponse none;
  *none.mutable_domain() = Domain("web2", 512 * kMiB);
  EXPECT_CALL(control_, ReleaseHold(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(none), Return(grpc::Status::OK)));
  Result r = Run({"release", "web2"});
  EXPECT_EQ(r.out, "web2: was not held\n");
}

}  // namespace
}  // namespace balloond::cli
