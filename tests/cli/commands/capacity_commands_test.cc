// capacity, reserve, reservations, reservations release (unreserve) on mock stubs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/commands/command_test.h"

namespace balloond::cli {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::SetArgPointee;

using testing::CommandTest;
using testing::StreamOf;
using testing::TestNow;
namespace v1 = balloon::v1;

constexpr int64_t kGiB = int64_t{1} << 30;

v1::Reservation Reservation(const std::string& id, v1::ReservationState state, int64_t made) {
  v1::Reservation r;
  r.set_id(id);
  r.set_bytes(2 * kGiB);
  r.set_made_bytes(made);
  r.set_state(state);
  r.set_explanation(absl::StrCat("why ", id));
  r.mutable_expire_time()->set_seconds(absl::ToUnixSeconds(TestNow() + absl::Minutes(15)));
  return r;
}

v1::Event ReservationEvent(v1::EventKind kind, const std::string& id) {
  v1::Event e;
  e.set_kind(kind);
  e.set_reservation_id(id);
  return e;
}

class CapacityCommandsTest : public CommandTest {};

TEST_F(CapacityCommandsTest, CapacityShowsWhatANewVmCouldGet) {
  v1::HostCapacity capacity;
  capacity.set_placeable_bytes(5 * kGiB);
  capacity.set_reclaimable_bytes(kGiB);
  EXPECT_CALL(read_, GetHostCapacity(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(capacity), Return(grpc::Status::OK)));
  Result r = Run({"capacity"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("5 GiB"));
}

TEST_F(CapacityCommandsTest, CapacityBeforeTheFirstCycleSaysToRetry) {
  EXPECT_CALL(read_, GetHostCapacity(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "no policy cycle has judged the host yet: retry in a few "
                                    "seconds")));
  Result r = Run({"capacity"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no policy cycle has judged the host yet"));
}

TEST_F(CapacityCommandsTest, ReserveSendsSizeTtlAndDomainAndAFailedOneExitsOne) {
  v1::ReserveMemoryRequest sent;
  EXPECT_CALL(control_, ReserveMemory(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent),
                      SetArgPointee<2>(Reservation("r-3", v1::RESERVATION_STATE_FAILED, 0)),
                      Return(grpc::Status::OK)));
  Result r = Run({"reserve", "2G", "--ttl", "15m", "--domain", "new-vm", "--request-id", "x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(read_write_);
  EXPECT_EQ(sent.bytes(), 2 * kGiB);
  EXPECT_EQ(sent.ttl().seconds(), 900);
  EXPECT_EQ(sent.domain(), "new-vm");
  EXPECT_EQ(sent.request_id(), "x");
  EXPECT_EQ(r.out, "r-3: failed, 2 GiB\n    why r-3\n");
}

// --wait follows the host's events, not a poll: the reservation's READY ends it, and the
// reservation is shown as it is then.
TEST_F(CapacityCommandsTest, ReserveWaitFollowsTheEventsUntilTheReservationIsReady) {
  EXPECT_CALL(control_, ReserveMemory(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(Reservation("r-7", v1::RESERVATION_STATE_PENDING, 0)),
                      Return(grpc::Status::OK)));
  v1::WatchEventsRequest watched;
  EXPECT_CALL(read_, WatchEventsRaw(_, _))
      .WillOnce(
          DoAll(SaveArg<1>(&watched),
                Return(StreamOf<v1::Event>(
                    {ReservationEvent(v1::EVENT_KIND_RESERVATION_READY, "r-6"),  // another one's
                     ReservationEvent(v1::EVENT_KIND_RESERVATION_READY, "r-7")},
                    grpc::Status(grpc::StatusCode::CANCELLED, "Cancelled")))));
  v1::GetReservationRequest got;
  EXPECT_CALL(read_, GetReservation(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&got),
                      SetArgPointee<2>(Reservation("r-7", v1::RESERVATION_STATE_READY, 2 * kGiB)),
                      Return(grpc::Status::OK)));
  Result r = Run({"reserve", "2G", "--wait"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(got.id(), "r-7");
  EXPECT_FALSE(watched.only_new()) << "the history first: a READY before the watch counts";
  EXPECT_EQ(r.out, "r-7: ready, 2 GiB, expires in 15m\n    why r-7\n");
}

TEST_F(CapacityCommandsTest, ReserveWaitThatRunsOutSaysHowMuchWasMade) {
  EXPECT_CALL(control_, ReserveMemory(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(Reservation("r-8", v1::RESERVATION_STATE_PENDING, 0)),
                      Return(grpc::Status::OK)));
  EXPECT_CALL(read_, WatchEventsRaw(_, _))
      .WillOnce(Return(StreamOf<v1::Event>(
          {}, grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded"))));
  EXPECT_CALL(read_, GetReservation(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(Reservation("r-8", v1::RESERVATION_STATE_PENDING, kGiB)),
                      Return(grpc::Status::OK)));
  Result r = Run({"reserve", "2G", "--wait", "--timeout", "5s"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("r-8 is still PENDING after 5s (1 GiB of 2 GiB made)"));
}

TEST_F(CapacityCommandsTest, ABadTtlIsAUsageError) {
  EXPECT_CALL(control_, ReserveMemory(_, _, _)).Times(0);
  Result r = Run({"reserve", "1G", "--ttl", "-5m"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--ttl '-5m' is not a duration"));
}

TEST_F(CapacityCommandsTest, ReservationsListsEveryPageAndNamesTheirIds) {
  v1::ListReservationsResponse page;
  *page.add_reservations() = Reservation("r-1", v1::RESERVATION_STATE_READY, 2 * kGiB);
  *page.add_reservations() = Reservation("r-2", v1::RESERVATION_STATE_PENDING, 0);
  EXPECT_CALL(read_, ListReservations(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(page), Return(grpc::Status::OK)));
  Result r = Run({"reservations", "-o", "name"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "r-1\nr-2\n");
}

TEST_F(CapacityCommandsTest, ReservationsReleaseEndsOne) {
  v1::ReleaseReservationRequest sent;
  EXPECT_CALL(control_, ReleaseReservation(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent),
                      SetArgPointee<2>(Reservation("r-1", v1::RESERVATION_STATE_RELEASED, 0)),
                      Return(grpc::Status::OK)));
  Result r = Run({"reservations", "release", "r-1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_write_);
  EXPECT_EQ(sent.id(), "r-1");
  EXPECT_EQ(r.out, "r-1: released, 2 GiB\n    why r-1\n");
}

TEST_F(CapacityCommandsTest, UnreserveIsReleasesFirstNameAndAnUnknownIdIsNotFound) {
  EXPECT_CALL(control_, ReleaseReservation(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::NOT_FOUND, "no reservation \"r-404\"")));
  Result r = Run({"unreserve", "r-404"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no reservation \"r-404\""));
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
}

}  // namespace
}  // namespace balloond::cli
